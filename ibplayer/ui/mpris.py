"""Linux media keys: MPRIS (org.mpris.MediaPlayer2) over QtDBus.

Next/Previous move between chapters; the metadata title includes the
current chapter.  Where QtDBus or a session bus is missing, `start_mpris`
returns None and nothing else happens.

The service binds to the :class:`~ibplayer.ui.player.Player`'s signals (the
playback session's hooks), not to the window: every jump, from wherever it
came (a chapter click, the slider, a key, a notes link, D-Bus), sends one
``Seeked``; state and chapter changes send ``PropertiesChanged``.  The window
is used only to raise / quit it, for the volume slider and the chapter titles.
"""

from __future__ import annotations

import logging
import os
import sys

from PySide6.QtCore import ClassInfo, Property, QMetaType, QObject, Signal, Slot

log = logging.getLogger(__name__)

BUS_NAME = "org.mpris.MediaPlayer2.ibplayer"
OBJECT_PATH = "/org/mpris/MediaPlayer2"
DESKTOP_ENTRY = "io.github.ibplayer.ibplayer"  # resources/io.github.ibplayer.ibplayer.desktop


def start_mpris(window):
    """Register on the session bus; None when that is impossible."""
    if not sys.platform.startswith("linux") or os.environ.get("IBPLAYER_NO_MPRIS"):
        return None
    try:
        from PySide6 import QtDBus
    except ImportError:
        return None
    try:
        bus = QtDBus.QDBusConnection.sessionBus()
        if not bus.isConnected():
            return None
        svc = MprisService(window, bus, QtDBus)
        if not svc.ok:
            return None
        return svc
    except Exception:  # noqa: BLE001 - media keys are optional
        log.debug("MPRIS unavailable", exc_info=True)
        return None


def _make_adaptors():
    from PySide6.QtDBus import QDBusAbstractAdaptor

    @ClassInfo({"D-Bus Interface": "org.mpris.MediaPlayer2"})
    class RootAdaptor(QDBusAbstractAdaptor):
        def __init__(self, parent, window):
            super().__init__(parent)
            self.window = window

        @Slot()
        def Raise(self):  # noqa: N802
            self.window.showNormal()
            self.window.raise_()
            self.window.activateWindow()

        @Slot()
        def Quit(self):  # noqa: N802
            self.window.close()

        CanQuit = Property(bool, lambda self: True)
        CanRaise = Property(bool, lambda self: True)
        HasTrackList = Property(bool, lambda self: False)
        Identity = Property(str, lambda self: "ibplayer")
        DesktopEntry = Property(str, lambda self: DESKTOP_ENTRY)
        SupportedUriSchemes = Property("QStringList", lambda self: [])
        SupportedMimeTypes = Property("QStringList", lambda self: [])

    @ClassInfo({"D-Bus Interface": "org.mpris.MediaPlayer2.Player"})
    class PlayerAdaptor(QDBusAbstractAdaptor):
        Seeked = Signal("qlonglong")

        def __init__(self, parent, window):
            super().__init__(parent)
            self.window = window
            self.player = window.player

        @Slot()
        def PlayPause(self):  # noqa: N802
            self.window.toggle_play()

        @Slot()
        def Play(self):  # noqa: N802
            if not self.player.is_playing():
                self.window.toggle_play()

        @Slot()
        def Pause(self):  # noqa: N802
            self.player.pause()

        @Slot()
        def Stop(self):  # noqa: N802
            self.player.pause()

        # no Seeked here: the player's `seeked` signal sends it for every jump

        @Slot()
        def Next(self):  # noqa: N802
            self.window.next_chapter()

        @Slot()
        def Previous(self):  # noqa: N802
            self.window.previous_chapter()

        @Slot("qlonglong")
        def Seek(self, offset_us):  # noqa: N802
            self.player.skip(offset_us / 1e6)

        @Slot("QDBusObjectPath", "qlonglong")
        def SetPosition(self, track, pos_us):  # noqa: N802
            ep = self.player.episode
            path = track.path() if hasattr(track, "path") else str(track)
            # the spec: ignore a stale track id
            if ep is None or path != f"/org/ibplayer/episode/{int(ep.id)}" or pos_us < 0:
                return
            self.player.seek(pos_us / 1e6)

        def _status(self):
            st = self.player.state()
            if self.player.episode is None:
                return "Stopped"
            return {"playing": "Playing", "paused": "Paused"}.get(st, "Stopped")

        def _metadata(self):
            return self.window.mpris.metadata()

        PlaybackStatus = Property(str, _status)
        Metadata = Property("QVariantMap", _metadata)
        Position = Property("qlonglong", lambda self: int(self.player.time() * 1e6))
        Rate = Property(float, lambda self: float(self.player.rate()))
        MinimumRate = Property(float, lambda self: 0.5)
        MaximumRate = Property(float, lambda self: 3.0)
        Volume = Property(float, lambda self: self.window.volume_slider.value() / 100.0)
        CanGoNext = Property(bool, lambda self: True)
        CanGoPrevious = Property(bool, lambda self: True)
        CanPlay = Property(bool, lambda self: True)
        CanPause = Property(bool, lambda self: True)
        CanSeek = Property(bool, lambda self: True)
        CanControl = Property(bool, lambda self: True)

    return RootAdaptor, PlayerAdaptor


class MprisService:
    def __init__(self, window, bus, QtDBus) -> None:
        self.window = window
        self.bus = bus
        self.QtDBus = QtDBus
        self.ok = False
        self._last_status = None
        self._last_title = None
        self.service_name = None
        Root, Player = _make_adaptors()
        self.obj = QObject()
        self.root = Root(self.obj, window)
        self.adaptor = Player(self.obj, window)
        if not bus.registerObject(OBJECT_PATH, self.obj, QtDBus.QDBusConnection.ExportAdaptors):
            return
        player = window.player
        player.seeked.connect(self.seeked)
        player.stateChanged.connect(self.state_changed)
        player.chapterChanged.connect(lambda _i: self.metadata_changed())
        player.episodeChanged.connect(lambda _ep: self.metadata_changed())
        player.lengthChanged.connect(lambda _l: self.metadata_changed())
        # the plain name when free (what media-key daemons look for first),
        # else the per-process name the MPRIS spec allows for a 2nd instance
        for name in (BUS_NAME, BUS_NAME + f".instance{os.getpid()}"):
            if bus.registerService(name):
                self.service_name = name
                break
        else:
            bus.unregisterObject(OBJECT_PATH)
            return
        self.ok = True

    def metadata(self) -> dict:
        """a{sv}.  Every value must be a str, bool, float, int, list of str
        or QDBusObjectPath: QtDBus aborts the whole process on a value it
        cannot marshal (None, an int subclass, ...).

        Known limit: PySide6 turns a Python int below 2**31 into an int32
        QVariant and offers no way to force qlonglong inside a QVariantMap,
        so mpris:length goes out as D-Bus "i" (not "x") for episodes shorter
        than ~35 min; GNOME Shell, KDE and playerctl's plain metadata read it
        as a number either way."""
        w = self.window
        ep = w.player.episode
        if ep is None:
            return {}
        title = str(ep.title or "")
        ch = w.current_chapter_title()
        ch = str(ch) if ch else ""
        if ch:
            title = f"{title} — {ch}" if title else ch
        md = {
            "mpris:trackid": self.QtDBus.QDBusObjectPath(f"/org/ibplayer/episode/{int(ep.id)}"),
            "xesam:title": title,
            "xesam:album": str(getattr(ep, "feed_title", "") or ""),
            "xesam:artist": [str(p.name) for p in (getattr(ep, "guests", None) or []) if p.name]
            or [str(getattr(ep, "feed_title", "") or "ibplayer")],
        }
        length = w.player.length()
        if length and length > 0:
            md["mpris:length"] = int(round(float(length) * 1e6))
        if ch:
            md["ibplayer:chapter"] = ch
        art = getattr(w.bar, "art_path", None)  # the cached image shown in the player bar
        if art:
            from PySide6.QtCore import QUrl

            md["mpris:artUrl"] = str(QUrl.fromLocalFile(str(art)).toString())
        return md

    def _changed(self, props: dict) -> None:
        try:
            msg = self.QtDBus.QDBusMessage.createSignal(OBJECT_PATH, "org.freedesktop.DBus.Properties",
                                                        "PropertiesChanged")
            # invalidated_properties must be "as": a plain [] would go out as
            # "av" and GDBus clients (GNOME Shell) drop the whole signal
            invalidated = self.QtDBus.QDBusArgument()
            invalidated.beginArray(QMetaType.Type.QString)
            invalidated.endArray()
            msg.setArguments(["org.mpris.MediaPlayer2.Player", props, invalidated])
            self.bus.send(msg)
        except Exception:  # noqa: BLE001
            log.debug("MPRIS PropertiesChanged failed", exc_info=True)

    def state_changed(self, _state: str) -> None:
        if not self.ok:
            return
        st = self.adaptor._status()
        if st != self._last_status:
            self._last_status = st
            self._changed({"PlaybackStatus": st, "Metadata": self.metadata()})

    def metadata_changed(self) -> None:
        if not self.ok:
            return
        md = self.metadata()
        ep = self.window.player.episode
        # a VBR file's length estimate moves several times a second: tell
        # clients only when it moved by 5 s or more
        length = md.get("mpris:length")
        key = (None if ep is None else ep.id, md.get("xesam:title"), None if length is None else length // 5_000_000,
               md.get("mpris:artUrl"))
        if key != self._last_title:
            self._last_title = key
            self._changed({"Metadata": md})

    def time_changed(self, _t: float) -> None:
        pass  # clients poll Position; Seeked is for jumps

    def seeked(self, t: float) -> None:
        """A jump inside the track: clients that extrapolate Position from
        PlaybackStatus need Seeked (MPRIS spec)."""
        if self.ok and self.window.player.episode is not None:
            self.adaptor.Seeked.emit(int(round(float(t) * 1e6)))

    def close(self) -> None:
        try:
            self.bus.unregisterObject(OBJECT_PATH)
            self.bus.unregisterService(BUS_NAME + f".instance{os.getpid()}")
            self.bus.unregisterService(BUS_NAME)
        except Exception:  # noqa: BLE001
            pass
