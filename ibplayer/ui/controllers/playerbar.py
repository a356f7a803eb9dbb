"""The player bar: what is playing (and its chapter), play / pause, skips,
the slider with chapter ticks, elapsed and remaining time, speed, volume."""

from __future__ import annotations

import math

from PySide6.QtCore import QObject, QSize, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QSlider,
    QStyle,
    QToolButton,
    QVBoxLayout,
)

from ..artwork import ArtLoader, local_path
from ..models import fmt_time
from ..player import SPEEDS
from ..widgets import ChapterSlider

SLEEP_MINUTES = (15, 30, 45, 60)
ART_BOX = 40


def _volume(raw) -> int:
    try:
        v = float(raw)
    except (TypeError, ValueError):
        return 100
    return int(min(100, max(0, v))) if v == v else 100  # NaN -> default


class PlayerBarController(QObject):
    def __init__(self, w) -> None:
        super().__init__(w)
        self.w = w
        st = w.style()
        self.widget = bar = QFrame()
        bar.setFrameShape(QFrame.StyledPanel)
        bar.setAutoFillBackground(True)
        pb = QVBoxLayout(bar)
        pb.setContentsMargins(8, 4, 8, 6)
        self.now_label = QLabel("Nothing playing")
        self.now_label.setTextFormat(Qt.PlainText)
        self.now_label.setMinimumWidth(100)
        self.now_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        pb.addWidget(self.now_label)
        row = QHBoxLayout()
        # artwork (issue 10 §6): the current chapter's image, else the episode's, else the feed's
        self.art_label = QLabel()
        self.art_label.setFixedSize(ART_BOX, ART_BOX)
        self.art_label.setAlignment(Qt.AlignCenter)
        self.art_label.hide()
        self.art_paths: tuple[str | None, str | None] = (None, None)  # the loaded episode's (episode, feed)
        self.art_path: str | None = None  # the file shown (MPRIS sends it as mpris:artUrl)
        self._art_want: tuple = ()
        self.art = ArtLoader(self)
        w.player.chapterChanged.connect(lambda _i: self.update_art())
        w.player.episodeChanged.connect(lambda ep: ep is None and self.set_art_paths(None, None))
        row.addWidget(self.art_label)
        self.back_button = QToolButton()
        self.back_button.setIcon(st.standardIcon(QStyle.SP_MediaSeekBackward))
        self.back_button.clicked.connect(w.skip_back)
        self.play_button = QToolButton()
        self.play_button.setIcon(st.standardIcon(QStyle.SP_MediaPlay))
        self.play_button.setIconSize(QSize(28, 28))
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(w.toggle_play)
        self.fwd_button = QToolButton()
        self.fwd_button.setIcon(st.standardIcon(QStyle.SP_MediaSeekForward))
        self.fwd_button.clicked.connect(w.skip_forward)
        for b in (self.back_button, self.fwd_button):
            b.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.update_skip_labels()
        self.elapsed_label = QLabel("")
        self.remaining_label = QLabel("")
        for lab in (self.elapsed_label, self.remaining_label):
            lab.setMinimumWidth(w.fontMetrics().horizontalAdvance("-0:00:00") + 6)
            lab.setAlignment(Qt.AlignCenter)
        self.slider = ChapterSlider()
        self.slider.seekRequested.connect(lambda t: w.player.seek(t))
        self.speed_combo = QComboBox()
        for s in SPEEDS:
            self.speed_combo.addItem(f"{s:g}×", s)
        self.speed_combo.setToolTip("Playback speed (pitch kept)")
        self.set_speed(float(w.prefs["default_speed"]))
        self.speed_combo.currentIndexChanged.connect(lambda i: w.player.set_rate(self.speed_combo.itemData(i)))
        self.speed_combo.activated.connect(self._speed_chosen)  # the listener's choice (not ours): kept
        self.speed_combo.setContextMenuPolicy(Qt.CustomContextMenu)
        self.speed_combo.customContextMenuRequested.connect(self._speed_menu)
        self.speed_own = False  # the loaded episode's feed has its own speed
        self.mute_button = QToolButton(checkable=True, toolTip="Mute (M)")
        self.mute_button.setIcon(st.standardIcon(QStyle.SP_MediaVolume))
        self.mute_button.toggled.connect(self._mute_toggled)
        self.volume_slider = QSlider(Qt.Horizontal)
        self.volume_slider.setRange(0, 100)
        self.volume_slider.setValue(_volume(w.ui_settings.value("volume", 100)))
        self.volume_slider.setMaximumWidth(110)
        self.volume_slider.setToolTip("Volume")
        self.volume_slider.valueChanged.connect(w.player.set_volume)
        w.player.set_volume(self.volume_slider.value())
        # buffering (a stream waiting for data) shows here, not as silence
        self.buffering_label = QLabel("Buffering…")
        self.buffering_label.setToolTip("Waiting for the stream to send audio")
        self.buffering_label.hide()
        w.player.bufferingChanged.connect(self._buffering)
        w.player.stateChanged.connect(lambda st: st != "playing" and self._buffering(w.player.session.buffering))
        # the sleep timer: N minutes, the end of the episode or of the current chapter
        self.sleep_button = QToolButton()
        self.sleep_button.setPopupMode(QToolButton.InstantPopup)
        self.sleep_button.setToolButtonStyle(Qt.ToolButtonTextOnly)
        self.sleep_menu = QMenu(self.sleep_button)
        self.sleep_actions: dict[str, QAction] = {}
        for m in SLEEP_MINUTES:
            self._sleep_action(f"{m} minutes", f"min{m}", lambda _=False, m=m: self.set_sleep("minutes", m))
        self.sleep_menu.addSeparator()
        self._sleep_action("End of episode", "episode", lambda: self.set_sleep("episode"))
        self._sleep_action("End of chapter", "chapter", lambda: self.set_sleep("chapter"))
        self.sleep_menu.addSeparator()
        self._sleep_action("Cancel sleep timer", "cancel", lambda: self.set_sleep(None))
        self.sleep_button.setMenu(self.sleep_menu)
        self.sleep_menu.aboutToShow.connect(self.update_sleep)  # "End of chapter" only with chapters
        w.player.sleepChanged.connect(self._sleep_changed)
        self.update_sleep()
        for b in (self.back_button, self.play_button, self.fwd_button, self.elapsed_label):
            row.addWidget(b)
        row.addWidget(self.slider, 1)
        for b in (self.remaining_label, self.buffering_label, self.sleep_button, self.speed_combo,
                  self.mute_button, self.volume_slider):
            row.addWidget(b)
        pb.addLayout(row)
        for b in (self.back_button, self.play_button, self.fwd_button, self.slider, self.speed_combo,
                  self.mute_button, self.volume_slider, self.sleep_button):
            b.setFocusPolicy(Qt.NoFocus)  # keys belong to the shortcuts

    # ------------------------------------------------------------ sleep timer, buffering

    def _sleep_action(self, text: str, key: str, fn) -> None:
        act = self.sleep_menu.addAction(text)
        act.triggered.connect(fn)
        self.sleep_actions[key] = act

    def set_sleep(self, kind: str | None, minutes: float = 0.0) -> None:
        """Arm (or, with None, cancel) the session's sleep timer."""
        self.w.player.set_sleep_timer(kind, minutes)
        self.update_sleep()

    def _sleep_changed(self, what: str) -> None:
        if what == "fired":
            self.w.set_status("Sleep timer: paused.")
        self.update_sleep()

    def sleep_text(self) -> str:
        """What the button says: the armed timer, or just "Sleep"."""
        session = self.w.player.session
        s = session.sleep_timer()
        if s is None:
            return "Sleep"
        if s.kind == "minutes":
            left = max(0.0, (s.deadline or 0.0) - session.clock())
            return f"Sleep: {max(1, math.ceil(left / 60.0))} min"
        return "Sleep: end of chapter" if s.kind == "chapter" else "Sleep: end of episode"

    def update_sleep(self) -> None:
        text = self.sleep_text()
        if self.sleep_button.text() != text:
            self.sleep_button.setText(text)
        armed = text != "Sleep"
        self.sleep_button.setToolTip("Sleep timer: pause after a while (armed: " + text[7:] + ")" if armed
                                     else "Sleep timer: pause after a while, or at the end of the chapter or episode")
        self.sleep_actions["cancel"].setEnabled(armed)
        self.sleep_actions["chapter"].setEnabled(bool(self.w.sidebar.playing_chapters)
                                                 if hasattr(self.w, "sidebar") else False)

    # ------------------------------------------------------------ artwork

    def set_art_paths(self, episode_art: str | None, feed_art: str | None) -> None:
        self.art_paths = (episode_art, feed_art)
        self.update_art()

    def update_art(self) -> None:
        w = self.w
        chapters = w.sidebar.playing_chapters if hasattr(w, "sidebar") else []
        i = w.player.chapter()
        chapter_art = local_path(chapters[i].image) if 0 <= i < len(chapters) else None
        order = [p for p in (chapter_art, *self.art_paths) if p] if w.player.episode is not None else []
        want = tuple(order)
        if want == self._art_want:
            return
        self._art_want = want

        def shown(pm, path):
            if want != self._art_want:
                return  # the chapter moved on meanwhile
            if pm is None:
                self.art_label.clear()
                self.art_label.hide()
            else:
                self.art_label.setPixmap(pm)
                self.art_label.show()
            if path != self.art_path:
                self.art_path = path
                if getattr(w, "mpris", None) is not None:
                    w.mpris.metadata_changed()

        self.art.load_first(order, ART_BOX, shown, w._guard)

    def _buffering(self, on: bool) -> None:
        self.buffering_label.setVisible(bool(on) and self.w.player.episode is not None)

    def set_speed(self, rate: float) -> None:
        self.speed_combo.setCurrentIndex(min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - rate)))

    # ------------------------------------------------------------ speed: per feed, else the global default

    def use_speed_of(self, ep) -> None:
        """Play ``ep`` at its feed's speed (read off the GUI thread)."""
        if ep is None:
            return
        fid, eid = ep.feed_id, ep.id

        def got(speed):
            pe = self.w.player.episode
            if pe is not None and pe.id == eid:
                self.apply_speed(speed)

        def read(lib):
            from ibplayer.services.resume import speed_for  # (dataclasses: not before the first paint)

            return speed_for(lib, fid)

        self.w.read(read, got)

    def apply_speed(self, speed) -> None:
        self.speed_own = speed.own
        self.set_speed(speed.rate)  # the player follows the combo
        self._speed_tip()

    def _speed_tip(self) -> None:
        ep = self.w.player.episode
        where = f"this feed's own speed ({ep.feed_title})" if self.speed_own and ep is not None else "the default speed"
        self.speed_combo.setToolTip(f"Playback speed (pitch kept): {where}. Right-click to keep it for this feed.")

    def _speed_chosen(self, i: int) -> None:
        rate = float(self.speed_combo.itemData(i))
        ep = self.w.player.episode
        if self.speed_own and ep is not None:
            fid = ep.feed_id
            self.w.write(lambda core: core.set_feed_speed(fid, rate))
        else:
            self.w.prefs["default_speed"] = rate
            self.w.write(lambda core: core.settings.set({"default_speed": rate}))

    def set_feed_speed(self, own: bool) -> None:
        """Keep the current speed for the loaded episode's feed, or (``own``
        False) let the feed follow the default speed again."""
        ep = self.w.player.episode
        if ep is None:
            return
        fid, rate = ep.feed_id, float(self.speed_combo.currentData())
        self.speed_own = own
        if own:
            self.w.write(lambda core: core.set_feed_speed(fid, rate))
        else:
            self.w.write(lambda core: core.set_feed_speed(fid, None))
            self.set_speed(float(self.w.prefs["default_speed"]))
        self._speed_tip()

    def _speed_menu(self, pos) -> None:
        ep = self.w.player.episode
        if ep is None:
            return
        m = QMenu(self.w)
        rate = float(self.speed_combo.currentData())
        if self.speed_own:
            m.addAction(f"Use the default speed ({float(self.w.prefs['default_speed']):g}×) for {ep.feed_title}",
                        lambda: self.set_feed_speed(False))
        else:
            m.addAction(f"Always play {ep.feed_title} at {rate:g}×", lambda: self.set_feed_speed(True))
        m.exec(self.speed_combo.mapToGlobal(pos))

    def update_skip_labels(self) -> None:
        b, f = int(self.w.prefs["skip_back"]), int(self.w.prefs["skip_forward"])
        self.back_button.setText(f"{b}")
        self.back_button.setToolTip(f"Back {b} s (←)")
        self.fwd_button.setText(f"{f}")
        self.fwd_button.setToolTip(f"Forward {f} s (→)")

    def _mute_toggled(self, muted: bool) -> None:
        self.w.player.set_mute(muted)
        self.mute_button.setIcon(self.w.style().standardIcon(QStyle.SP_MediaVolumeMuted if muted
                                                             else QStyle.SP_MediaVolume))

    # ------------------------------------------------------------ player signals

    def on_time(self, t: float) -> None:
        length = (self.w.player.length() or 0.0) if self.w.player.episode is not None else 0.0
        self.slider.set_time(t)
        self.elapsed_label.setText(fmt_time(t))
        self.remaining_label.setText("-" + fmt_time(max(0.0, length - t)) if length else "")
        if self.w.player.session.sleep_timer() is not None:
            self.update_sleep()

    def on_length(self, length: float) -> None:
        self.slider.set_length(length)

    def on_state(self, state: str) -> None:
        icon = QStyle.SP_MediaPause if state == "playing" else QStyle.SP_MediaPlay
        self.play_button.setIcon(self.w.style().standardIcon(icon))
        self.update_now()
        self.update_sleep()

    def update_now(self) -> None:
        w = self.w
        ep = w.player.episode
        if ep is None:
            self.now_label.setText("Nothing playing")
            self.slider.set_ticks([])
            w.setWindowTitle("ibplayer")
            return
        text = ep.title
        ch = w.sidebar.current_title()
        if ch:
            text += f"  —  Chapter {w.player.chapter() + 1}: {ch}"
        self.now_label.setText(text)
        self.now_label.setToolTip(text)
        self.slider.set_length(w.player.length())
        w.setWindowTitle(f"{ep.title} — ibplayer")
