"""Playback backends (no Qt here).

``PlayerBackend`` is the interface the UI, the CLI and the selftest program
against.  Two implementations:

* :class:`VlcBackend` - real audio through libVLC (python-vlc).
* :class:`NullBackend` - a pure-Python fake clock with the same behaviour,
  used by UI tests and as the degraded mode when libVLC is missing
  (``available = False``: everything but actual sound works).

:func:`create_backend` picks the right one.

Threading contract
------------------
libVLC calls its event callbacks on its own threads (and sometimes
synchronously inside a libVLC call such as ``stop()``).  Our callbacks only
update a few plain Python fields under a lock and forward plain values
(``str`` / ``float``) to the listener; they never call back into libVLC (it is
not re-entrant).  So listener methods may run on a foreign thread: a Qt owner
must turn them into queued signals.  The NullBackend emits ``on_time`` /
the end of media from its own ticker thread too, so the same code path is
exercised with either backend.

Work that must happen once playback has really started (a seek requested
before the media was playing, volume/mute set before an audio output
existed) is kept as *pending*; the owner applies it from its own thread by
calling :meth:`apply_pending` when it sees ``on_state("playing")``.  Code
without an event loop (CLI, selftest, tests) calls
:meth:`wait_until_playing`, which polls and then applies it.

Listener exceptions raised on a libVLC / ticker thread cannot propagate
(there is no Python caller to receive them): they are logged with
``logging.exception`` and kept in ``backend.listener_errors``.  Listener
exceptions raised on the caller's own thread (e.g. ``on_time`` from
``seek()``) propagate to the caller as usual.
"""

from __future__ import annotations

import logging
import os
import threading
import time as _time
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlparse

log = logging.getLogger(__name__)

STATES = ("playing", "paused", "stopped", "ended", "error")

MIN_RATE = 0.5
MAX_RATE = 3.0

# time(): after a seek, VLC keeps reporting the old position for a moment.
# A reported time counts as "arrived" when it lies in this window around the
# target; failing that, VLC's own time wins again after SEEK_SETTLE seconds
# of playback.
_ARRIVE_BEFORE = 0.35
_ARRIVE_AFTER = 3.0
SEEK_SETTLE = 2.5

_MAX_KEPT_ERRORS = 50


class PlayerListener(Protocol):
    """What a backend reports.  All arguments are plain values.  Any method
    may be missing (it is then simply not called)."""

    def on_state(self, state: str) -> None: ...  # one of STATES
    def on_time(self, seconds: float) -> None: ...
    def on_length(self, seconds: float) -> None: ...
    def on_error(self, message: str) -> None: ...
    def on_buffering(self, percent: float) -> None: ...  # 100.0 = done


class NullListener:
    """A listener that ignores everything (handy base class)."""

    def on_state(self, state: str) -> None:
        pass

    def on_time(self, seconds: float) -> None:
        pass

    def on_length(self, seconds: float) -> None:
        pass

    def on_error(self, message: str) -> None:
        pass


@runtime_checkable
class PlayerBackend(Protocol):
    available: bool
    pending_seek: float | None
    listener_errors: list[BaseException]

    def set_listener(self, listener: PlayerListener | None) -> None: ...
    def load(self, mrl_or_path: str, start: float = 0.0) -> None: ...
    def play(self) -> None: ...
    def pause(self) -> None: ...
    def toggle(self) -> None: ...
    def stop(self) -> None: ...
    def seek(self, seconds: float) -> None: ...
    def time(self) -> float: ...
    def length(self) -> float | None: ...
    def state(self) -> str: ...
    def is_playing(self) -> bool: ...
    def set_rate(self, r: float) -> None: ...
    def rate(self) -> float: ...
    def set_volume(self, volume: int) -> None: ...
    def volume(self) -> int: ...
    def set_mute(self, muted: bool) -> None: ...
    def is_muted(self) -> bool: ...
    def apply_pending(self) -> bool: ...
    def wait_until_playing(self, timeout: float = 5.0) -> bool: ...
    def release(self) -> None: ...


# --------------------------------------------------------------------------
# helpers shared by both backends
# --------------------------------------------------------------------------

def _clamp_rate(r: float) -> float:
    return max(MIN_RATE, min(MAX_RATE, float(r)))


def _clamp_volume(v: int | float) -> int:
    return max(0, min(100, int(round(v))))


def _local_path(mrl_or_path: str) -> str | None:
    """The local file behind a path or file:// URL, else None (a stream)."""
    if "://" not in mrl_or_path:
        return os.path.abspath(os.path.expanduser(mrl_or_path))
    u = urlparse(mrl_or_path)
    if u.scheme == "file":
        path = unquote(u.path)
        if os.name == "nt" and path.startswith("/") and len(path) > 2 and path[2] == ":":
            path = path[1:]
        return path
    return None


def _error_message(mrl_or_path: str, local: str | None) -> str:
    if local is not None and not os.path.exists(local):
        return f"File not found: {local}"
    if local is not None:
        return f"Cannot play {local}: the file may be damaged or in an unsupported format."
    return (
        f"Cannot play {mrl_or_path}: the server may be unreachable, the URL wrong, "
        "or the stream in an unsupported format."
    )


DIAGNOSE_TIMEOUT = 4.0


def diagnose_stream(url: str, timeout: float = DIAGNOSE_TIMEOUT) -> str:
    """Why libVLC could not play the http(s) stream ``url``, in one line that
    tells apart "offline", "refused", an HTTP error (404...) and a stream
    that is there but not playable.  One small request (``Range: bytes=0-0``)."""
    import errno
    import http.client
    import socket

    shown = url if len(url) <= 200 else url[:200] + "…"
    try:
        parts = urlparse(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f"Cannot play {shown}: not a valid URL."
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return f"Cannot play {shown}: {host} cannot be found. You may be offline, or the address is wrong."
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(host, port, timeout=timeout)
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        from ibplayer import __version__

        conn.request("GET", path, headers={"Range": "bytes=0-0", "User-Agent": f"ibplayer/{__version__}"})
        r = conn.getresponse()
        status, reason = r.status, r.reason
    except ConnectionRefusedError:
        return f"Cannot play {shown}: the server {host} refused the connection (nothing listens on port {port})."
    except TimeoutError:
        return f"Cannot play {shown}: the server {host} did not answer within {timeout:g} s."
    except OSError as exc:
        if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN):
            return f"Cannot play {shown}: the network is unreachable. You may be offline."
        return f"Cannot play {shown}: {exc.strerror or exc}."
    except http.client.HTTPException as exc:
        return f"Cannot play {shown}: the server {host} sent a broken answer ({type(exc).__name__})."
    finally:
        conn.close()
    if status == 404 or status == 410:
        return f"Cannot play {shown}: the server has no such episode (HTTP {status} {reason})."
    if status >= 400:
        return f"Cannot play {shown}: the server refused it (HTTP {status} {reason})."
    return f"Cannot play {shown}: the server answers (HTTP {status}), but the stream is not playable audio."


class _ListenerMixin:
    """Listener registration and safe dispatch."""

    _listener: Any = None
    listener_errors: list[BaseException]

    def set_listener(self, listener: PlayerListener | None) -> None:
        self._listener = listener

    def _emit(self, method: str, *args: Any) -> None:
        """Call a listener method on the current (owner) thread; exceptions
        propagate."""
        fn = getattr(self._listener, method, None) if self._listener is not None else None
        if fn is not None:
            fn(*args)

    def _emit_foreign(self, method: str, *args: Any) -> None:
        """Call a listener method from a libVLC / ticker thread: exceptions are
        logged and kept in ``listener_errors``, never lost silently."""
        try:
            self._emit(method, *args)
        except Exception as exc:  # noqa: BLE001 - nobody up the stack could catch it
            log.exception("player listener %s%r raised", method, args)
            if len(self.listener_errors) < _MAX_KEPT_ERRORS:
                self.listener_errors.append(exc)


# --------------------------------------------------------------------------
# libVLC backend
# --------------------------------------------------------------------------

class VlcBackend(_ListenerMixin):
    """Audio playback through libVLC.  See the module docstring for threading."""

    available = True

    # --audio-time-stretch (the default, stated explicitly) keeps the pitch
    # when the rate changes (scaletempo audio filter).
    BASE_ARGS: tuple[str, ...] = ("--no-video", "--quiet", "--no-xlib", "--audio-time-stretch")

    def __init__(self, extra_args: Sequence[str] = (), *, vlc_module: Any = None) -> None:
        if vlc_module is None:
            from ibplayer.infra.vlcloader import load_error, load_vlc

            vlc_module = load_vlc()
            if vlc_module is None:
                raise RuntimeError(load_error or "libVLC is not available")
        self._vlc = vlc = vlc_module
        self._lock = threading.RLock()
        self.listener_errors = []
        self._listener = None
        self.pending_seek = None
        self.last_error: str | None = None

        args = list(self.BASE_ARGS) + [str(a) for a in extra_args]
        self._instance = vlc.Instance(args)
        if self._instance is None:
            raise RuntimeError(
                "libVLC failed to initialise (libvlc_new returned NULL): "
                f"bad options {args!r} or no VLC plugins found"
            )
        try:
            from ibplayer import __version__

            self._instance.set_user_agent("ibplayer", f"ibplayer/{__version__}")
        except Exception:  # noqa: BLE001 - cosmetic
            pass
        self._player = self._instance.media_player_new()
        self._media: Any = None
        self._mrl: str | None = None
        self._local: str | None = None

        # plain state, written by callbacks and by owner-thread methods
        self._state = "stopped"
        self._started = False  # saw MediaPlayerPlaying since the last (re)start
        self._length: float | None = None
        self._last_time = 0.0
        self._seek_target: float | None = None
        self._seek_at = 0.0
        self._rate = 1.0
        self._volume = 100
        self._muted = False
        self._audio_dirty = False
        self._released = False
        # the warm-up (a pool thread) and release (the GUI thread, at quit)
        # never overlap: libVLC freed under a parse in flight crashes
        self._warm_lock = threading.Lock()
        self._releasing = False
        self._buffering = False
        self._gen = 0  # bumped by each load()

        # keep the EventManager wrapper alive: it owns the ctypes callback
        self._events = self._player.event_manager()
        E = vlc.EventType
        self._attached = [
            (E.MediaPlayerPlaying, self._cb_playing),
            (E.MediaPlayerPaused, self._cb_paused),
            (E.MediaPlayerStopped, self._cb_stopped),
            (E.MediaPlayerEndReached, self._cb_end),
            (E.MediaPlayerEncounteredError, self._cb_error),
            (E.MediaPlayerTimeChanged, self._cb_time),
            (E.MediaPlayerLengthChanged, self._cb_length),
            (E.MediaPlayerBuffering, self._cb_buffering),
        ]
        for etype, cb in self._attached:
            self._events.event_attach(etype, cb)

    # ---- libVLC callbacks: plain data only, never call libVLC here -------

    def _cb_playing(self, event: Any) -> None:
        with self._lock:
            self._started = True
            self._state = "playing"
        self._emit_foreign("on_state", "playing")

    def _cb_paused(self, event: Any) -> None:
        with self._lock:
            self._state = "paused"
        self._emit_foreign("on_state", "paused")

    def _cb_stopped(self, event: Any) -> None:
        with self._lock:
            self._started = False
            if self._state in ("ended", "error"):
                return  # VLC 3 may send Stopped after these; keep the real cause
            self._state = "stopped"
        self._emit_foreign("on_state", "stopped")

    def _cb_end(self, event: Any) -> None:
        with self._lock:
            self._started = False
            self._state = "ended"
            self._seek_target = None
            if self._length:
                self._last_time = self._length
            end = self._last_time
        self._emit_foreign("on_time", end)
        self._emit_foreign("on_state", "ended")

    def _cb_buffering(self, event: Any) -> None:
        pct = float(event.u.new_cache)
        with self._lock:
            # only the edges: libVLC reports every percent
            buffering = pct < 100.0
            if buffering == self._buffering:
                return
            self._buffering = buffering
        self._emit_foreign("on_buffering", pct if buffering else 100.0)

    def _cb_error(self, event: Any) -> None:
        with self._lock:
            self._started = False
            self._state = "error"
            self._buffering = False
            mrl, local = self._mrl or "", self._local
            msg = _error_message(mrl, local)
            self.last_error = msg
            gen = self._gen
        if local is None and urlparse(mrl).scheme in ("http", "https"):
            # say *why* (offline / refused / 404 ...): one small request, off
            # this libVLC thread, then report as usual
            def diagnose() -> None:
                text = diagnose_stream(mrl)
                with self._lock:
                    if gen != self._gen:
                        return  # another media was loaded meanwhile
                    self.last_error = text
                self._emit_foreign("on_error", text)
                self._emit_foreign("on_state", "error")

            threading.Thread(target=diagnose, name="ibplayer-diagnose", daemon=True).start()
            return
        self._emit_foreign("on_error", msg)
        self._emit_foreign("on_state", "error")

    def _cb_time(self, event: Any) -> None:
        t = max(0, event.u.new_time) / 1000.0
        with self._lock:
            if not self._accept_time(t):
                return
            self._last_time = t
        self._emit_foreign("on_time", t)

    def _cb_length(self, event: Any) -> None:
        length = event.u.new_length / 1000.0
        if length <= 0:
            return
        with self._lock:
            self._length = length
        self._emit_foreign("on_length", length)

    def _accept_time(self, t: float) -> bool:
        """Under lock: does VLC's reported time win over a recent seek target?"""
        target = self._seek_target
        if target is None:
            return True
        if target - _ARRIVE_BEFORE <= t <= target + _ARRIVE_AFTER:
            self._seek_target = None
            return True
        if (
            self.pending_seek is None
            and self._state == "playing"
            and _time.monotonic() - self._seek_at > SEEK_SETTLE
        ):
            self._seek_target = None  # the seek landed elsewhere; trust VLC
            return True
        return False

    # ---- owner-thread API -------------------------------------------------

    def load(self, mrl_or_path: str, start: float = 0.0) -> None:
        if self._released:
            return
        self._player.stop()  # may emit "stopped" synchronously
        local = _local_path(mrl_or_path)
        if "://" in mrl_or_path:
            media = self._instance.media_new(mrl_or_path)
        else:
            media = self._instance.media_new_path(local)
        self._player.set_media(media)
        old, self._media = self._media, media
        if old is not None:
            old.release()
        start = max(0.0, float(start or 0.0))
        with self._lock:
            self._gen += 1
            self._buffering = False
            self._mrl = mrl_or_path
            self._local = local
            self._state = "stopped"
            self._started = False
            self._length = None
            self._last_time = start
            self.last_error = None
            self.pending_seek = start if start > 0 else None
            self._seek_target = start if start > 0 else None
            self._seek_at = _time.monotonic()
        self._audio_dirty = True

    def play(self) -> None:
        if self._released:
            return
        if self._media is None:
            self.last_error = "Nothing to play: no episode loaded."
            self._emit("on_error", self.last_error)
            return
        st = self._player.get_state()
        S = self._vlc.State
        if st in (S.Ended, S.Error):
            # VLC 3 needs a stop() before a finished/failed media plays again
            self._player.stop()
            with self._lock:
                self._state = "stopped"
                if st == S.Ended and self.pending_seek is None:
                    self._last_time = 0.0
        if self._rate != 1.0:
            self._player.set_rate(self._rate)
        if self._player.play() == -1:
            msg = _error_message(self._mrl or "", self._local)
            with self._lock:
                self._state = "error"
                self.last_error = msg
            self._emit("on_error", msg)
            self._emit("on_state", "error")

    def pause(self) -> None:
        if self._released:
            return
        self._player.set_pause(1)

    def toggle(self) -> None:
        if self._released:
            return
        S = self._vlc.State
        if self._player.get_state() in (S.Playing, S.Opening, S.Buffering):
            self.pause()
        else:
            self.play()

    def stop(self) -> None:
        if self._released:
            return
        self._player.stop()  # emits MediaPlayerStopped (if something was playing)
        with self._lock:
            changed = self._state != "stopped"
            self._state = "stopped"
            self._started = False
            self._seek_target = None
            self.pending_seek = None
            self._last_time = 0.0
        if changed:
            self._emit("on_state", "stopped")

    def seek(self, seconds: float) -> None:
        if self._released:
            return
        # no clamping to self.length(): libVLC's estimate of a VBR MP3
        # without a Xing header can be far too short (the session clamps to
        # a trustworthy length)
        target = max(0.0, float(seconds))
        with self._lock:
            started = self._started
            self._seek_target = target
            self._seek_at = _time.monotonic()
            self._last_time = target
            if not started:
                self.pending_seek = target
            else:
                self.pending_seek = None
        if started:
            self._player.set_time(int(round(target * 1000)))
        elif self._started:
            # MediaPlayerPlaying arrived meanwhile; apply now (we are on the owner thread)
            self.apply_pending()
        self._emit("on_time", target)

    def apply_pending(self) -> bool:
        """Apply a seek / volume / mute that had to wait for playback to start.
        Call from the owner's thread when the state becomes "playing".
        Returns True when something was applied."""
        if self._released:
            return False
        S = self._vlc.State
        if self._player.get_state() not in (S.Playing, S.Paused):
            return False
        did = False
        with self._lock:
            target = self.pending_seek
            self.pending_seek = None
            if target is not None:
                self._seek_target = target
                self._seek_at = _time.monotonic()
        if target is not None:
            self._player.set_time(int(round(target * 1000)))
            did = True
        if self._audio_dirty:
            ok = self._player.audio_set_volume(self._volume) == 0
            self._player.audio_set_mute(self._muted)
            self._audio_dirty = not ok
            did = True
        return did

    def warm_up(self, path: str | None = None, timeout: float = 1.0) -> bool:
        """Load the plugins a first local MP3 needs before the first playback:
        libVLC loads its demuxer and tag readers at the first open (~40 ms of
        a first chapter click, measured).  Parses a small local file (the
        shipped sample) with a media object of its own: the player is not
        touched and nothing plays, so any thread may call it (the window does
        it on the pool thread that created the instance).  `release` waits
        for it and makes it stop early.  True when parsed."""
        if path is None:
            from ibplayer.infra.paths import resource

            path = str(resource("sample-episode.mp3"))
        if not os.path.isfile(path):
            return False
        with self._warm_lock:
            if self._released or self._releasing:
                return False
            vlc = self._vlc
            media = self._instance.media_new_path(path)
            try:
                if media.parse_with_options(vlc.MediaParseFlag.local, int(timeout * 1000)) != 0:
                    return False
                deadline = _time.monotonic() + timeout + 0.5
                while media.get_parsed_status().value == 0 and not self._releasing \
                        and _time.monotonic() < deadline:
                    _time.sleep(0.005)
                done = media.get_parsed_status().value == vlc.MediaParsedStatus.done.value
                if not done:
                    media.parse_stop()
                return done
            finally:
                media.release()

    def wait_until_playing(self, timeout: float = 5.0) -> bool:
        """Poll (from the calling thread) until VLC is playing, then apply
        what was pending.  False on timeout, error or end of media."""
        if self._released:
            return False
        S = self._vlc.State
        deadline = _time.monotonic() + timeout
        while True:
            st = self._player.get_state()
            if st == S.Playing:
                self.apply_pending()
                return True
            if st in (S.Error, S.Ended) or _time.monotonic() >= deadline:
                return False
            _time.sleep(0.02)

    def time(self) -> float:
        if self._released:
            return self._last_time
        S = self._vlc.State
        st = self._player.get_state()
        vlc_ms = self._player.get_time() if st in (S.Playing, S.Paused) else -1
        with self._lock:
            if st == S.Ended:
                return self._length or self._last_time
            if vlc_ms < 0:
                return self._seek_target if self._seek_target is not None else self._last_time
            t = vlc_ms / 1000.0
            if st == S.Paused and self._seek_target is not None:
                return self._seek_target
            if self._accept_time(t):
                self._last_time = t
                return t
            return self._seek_target if self._seek_target is not None else self._last_time

    def length(self) -> float | None:
        if self._released:
            return self._length
        with self._lock:
            if self._length:
                return self._length
        ms = self._player.get_length()
        if ms and ms > 0:
            with self._lock:
                self._length = ms / 1000.0
                return self._length
        if self._media is not None:
            ms = self._media.get_duration()
            if ms and ms > 0:
                return ms / 1000.0
        return None

    def state(self) -> str:
        with self._lock:
            return self._state

    def is_playing(self) -> bool:
        if self._released:
            return False
        return self._player.get_state() == self._vlc.State.Playing

    def set_rate(self, r: float) -> None:
        self._rate = _clamp_rate(r)
        if not self._released:
            self._player.set_rate(self._rate)

    def rate(self) -> float:
        return self._rate

    def set_volume(self, volume: int) -> None:
        self._volume = _clamp_volume(volume)
        if self._released:
            return
        # VLC 3 drops volume changes while no audio output exists (before
        # playback); keep it pending and re-apply in apply_pending().
        if self._player.audio_set_volume(self._volume) != 0 or not self._started:
            self._audio_dirty = True

    def volume(self) -> int:
        return self._volume

    def set_mute(self, muted: bool) -> None:
        self._muted = bool(muted)
        if self._released:
            return
        self._player.audio_set_mute(self._muted)
        if not self._started:
            self._audio_dirty = True

    def is_muted(self) -> bool:
        return self._muted

    def release(self) -> None:
        if self._released:
            return
        self._releasing = True  # a warm-up in flight stops within ~5 ms
        with self._warm_lock:
            self._release()

    def _release(self) -> None:
        if self._released:
            return
        self._released = True
        for etype, _cb in self._attached:
            try:
                self._events.event_detach(etype)
            except Exception:  # noqa: BLE001
                pass
        try:
            self._player.stop()
            self._player.release()
            if self._media is not None:
                self._media.release()
            self._instance.release()
        finally:
            self._media = None

    def __del__(self) -> None:
        """Best effort; owners should call release().  Never touch libVLC from
        a libVLC thread (GC can run anywhere): there the object is kept alive
        instead, so libVLC never calls into a freed ctypes callback."""
        try:
            if self._released:
                return
            if isinstance(threading.current_thread(), threading._DummyThread):
                _KEEP_ALIVE.append(self)  # resurrect; leak rather than deadlock
                return
            self.release()
        except Exception:  # noqa: BLE001
            pass


_KEEP_ALIVE: list[VlcBackend] = []


# --------------------------------------------------------------------------
# fake clock backend
# --------------------------------------------------------------------------

def _probe_length(path: str) -> float | None:
    try:
        import mutagen

        f = mutagen.File(path)
        if f is not None and f.info is not None and f.info.length:
            return float(f.info.length)
    except Exception:  # noqa: BLE001 - unknown length is fine
        pass
    return None


class NullBackend(_ListenerMixin):
    """A silent player: a wall-clock × rate timer with VLC-like behaviour.

    ``length`` fixes the media length; otherwise it is read from local files
    with mutagen (unknown for streams).  ``reason`` says why there is no real
    audio (e.g. vlcloader.load_error).  A daemon ticker thread emits
    ``on_time`` every ``tick`` seconds while playing and detects the end.
    """

    available = False

    def __init__(
        self,
        length: float | None = None,
        *,
        tick: float = 0.25,
        reason: str | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._listener = None
        self.listener_errors = []
        self.pending_seek = None
        self.reason = reason
        self.last_error: str | None = None
        self._fixed_length = length
        self._tick = tick
        self._mrl: str | None = None
        self._local: str | None = None
        self._length: float | None = None
        self._state = "stopped"
        self._pos = 0.0  # position at _anchor
        self._anchor = 0.0  # monotonic time when _pos was taken (playing)
        self._rate = 1.0
        self._volume = 100
        self._muted = False
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    # under lock
    def _now_pos(self) -> float:
        if self._state == "playing":
            pos = self._pos + (_time.monotonic() - self._anchor) * self._rate
        else:
            pos = self._pos
        if self._length is not None:
            pos = min(pos, self._length)
        return pos

    def _check_end(self) -> bool:
        """Under lock: switch to "ended" if the clock ran out.  Returns True
        when it just did (the caller then emits)."""
        if self._state == "playing" and self._length is not None and self._now_pos() >= self._length:
            self._pos = self._length
            self._state = "ended"
            return True
        return False

    def _ticker(self) -> None:
        while not self._closed.wait(self._tick):
            with self._lock:
                if self._state != "playing":
                    continue
                ended = self._check_end()
                t = self._now_pos()
            self._emit_foreign("on_time", t)
            if ended:
                self._emit_foreign("on_state", "ended")

    def _ensure_ticker(self) -> None:
        if self._thread is None and self._tick > 0 and not self._closed.is_set():
            self._thread = threading.Thread(target=self._ticker, name="ibplayer-nullclock", daemon=True)
            self._thread.start()

    def load(self, mrl_or_path: str, start: float = 0.0) -> None:
        local = _local_path(mrl_or_path)
        length = self._fixed_length
        if length is None and local is not None and os.path.isfile(local):
            length = _probe_length(local)
        with self._lock:
            was = self._state
            self._mrl = mrl_or_path
            self._local = local
            self._length = length
            self._pos = max(0.0, float(start or 0.0))
            if length is not None:
                self._pos = min(self._pos, length)
            self._state = "stopped"
            self.last_error = None
        if was not in ("stopped",):
            self._emit("on_state", "stopped")

    def play(self) -> None:
        if self._closed.is_set():
            return
        if self._mrl is None:
            self.last_error = "Nothing to play: no episode loaded."
            self._emit("on_error", self.last_error)
            return
        if self._local is not None and not os.path.exists(self._local):
            msg = _error_message(self._mrl, self._local)
            with self._lock:
                self._state = "error"
                self.last_error = msg
            self._emit("on_error", msg)
            self._emit("on_state", "error")
            return
        with self._lock:
            if self._state == "playing":
                return
            if self._state in ("ended", "error"):
                self._pos = 0.0
            self._state = "playing"
            self._anchor = _time.monotonic()
            length = self._length
        self._emit("on_state", "playing")
        if length is not None:
            self._emit("on_length", length)
        self._ensure_ticker()

    def pause(self) -> None:
        with self._lock:
            if self._state != "playing":
                return
            self._pos = self._now_pos()
            self._state = "paused"
        self._emit("on_state", "paused")

    def toggle(self) -> None:
        if self.is_playing():
            self.pause()
        else:
            self.play()

    def stop(self) -> None:
        with self._lock:
            changed = self._state != "stopped"
            self._state = "stopped"
            self._pos = 0.0
        if changed:
            self._emit("on_state", "stopped")

    def seek(self, seconds: float) -> None:
        target = max(0.0, float(seconds))
        with self._lock:
            if self._length is not None:
                target = min(target, self._length)
            self._pos = target
            self._anchor = _time.monotonic()
        self._emit("on_time", target)

    def apply_pending(self) -> bool:
        return False

    def wait_until_playing(self, timeout: float = 5.0) -> bool:
        return self.state() == "playing"

    def time(self) -> float:
        with self._lock:
            ended = self._check_end()
            t = self._now_pos()
        if ended:
            self._emit("on_time", t)
            self._emit("on_state", "ended")
        return t

    def length(self) -> float | None:
        return self._length

    def state(self) -> str:
        self.time()  # notices the end of media
        with self._lock:
            return self._state

    def is_playing(self) -> bool:
        return self.state() == "playing"

    def set_rate(self, r: float) -> None:
        with self._lock:
            self._pos = self._now_pos()
            self._anchor = _time.monotonic()
            self._rate = _clamp_rate(r)

    def rate(self) -> float:
        return self._rate

    def set_volume(self, volume: int) -> None:
        self._volume = _clamp_volume(volume)

    def volume(self) -> int:
        return self._volume

    def set_mute(self, muted: bool) -> None:
        self._muted = bool(muted)

    def is_muted(self) -> bool:
        return self._muted

    def release(self) -> None:
        self._closed.set()
        with self._lock:
            self._state = "stopped"
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=1.0)


# --------------------------------------------------------------------------

def create_backend(args: Sequence[str] = (), *, listener: PlayerListener | None = None) -> PlayerBackend:
    """A VlcBackend when libVLC loads and starts, else a NullBackend
    (``available = False``, ``reason`` says why)."""
    from ibplayer.infra.vlcloader import load_error, load_vlc

    vlc = load_vlc()
    backend: PlayerBackend
    if vlc is None:
        backend = NullBackend(reason=load_error)
    else:
        try:
            backend = VlcBackend(args, vlc_module=vlc)
        except Exception as exc:  # noqa: BLE001 - degrade, don't crash
            log.warning("libVLC backend unavailable: %s", exc)
            backend = NullBackend(reason=str(exc))
    if listener is not None:
        backend.set_listener(listener)
    return backend
