"""The UI side of playback: a ``Player(QObject)`` that bridges the Qt-free
:class:`~ibplayer.services.playback.PlaybackSession` to Qt signals (after
Picard's widget-free player object).

Backend listener methods run on libVLC threads; they only emit signals
carrying plain values, which Qt queues to the GUI thread, where the session
handles them.  Every libVLC call happens on the GUI thread.  All playback
rules (resume, played, chapters, save cadence, timeouts) live in the
session; this class only forwards.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from ibplayer.services.playback import PlaybackSession, played_threshold  # noqa: F401 - re-exported

log = logging.getLogger(__name__)

POLL_MS = 200  # >= 4 highlight updates a second while playing
SPEEDS = (0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0)


class _Listener(QObject):
    """Called from libVLC threads: emit only (signals cross threads queued)."""

    event = Signal(str, object)

    def on_state(self, state: str) -> None:
        self.event.emit("state", str(state))

    def on_time(self, seconds: float) -> None:
        self.event.emit("time", float(seconds))

    def on_length(self, seconds: float) -> None:
        self.event.emit("length", float(seconds))

    def on_error(self, message: str) -> None:
        self.event.emit("error", str(message))

    def on_buffering(self, percent: float) -> None:
        self.event.emit("buffering", float(percent))


class _Forward:
    """Session listener (GUI thread): session hooks -> Player signals."""

    def __init__(self, player: Player) -> None:
        self.p = player

    def on_episode(self, ep) -> None:
        self.p.episodeChanged.emit(ep)
        self.p._sync_poll()

    def on_state(self, state: str) -> None:
        self.p._sync_poll()
        self.p.stateChanged.emit(state)

    def on_time(self, t: float) -> None:
        self.p.timeChanged.emit(t)

    def on_length(self, length: float) -> None:
        self.p.lengthChanged.emit(length)

    def on_chapter(self, i: int) -> None:
        self.p.chapterChanged.emit(i)

    def on_seeked(self, t: float) -> None:
        self.p.seeked.emit(t)

    def on_saved(self, eid: int, pos: float, played: bool) -> None:
        self.p.positionSaved.emit(eid, pos, played)

    def on_error(self, message: str) -> None:
        self.p.errorChanged.emit(message)
        if message:
            self.p.error.emit(message)

    def on_buffering(self, on: bool) -> None:
        self.p.bufferingChanged.emit(on)

    def on_ended(self, ep) -> None:
        self.p.ended.emit(ep)

    def on_sleep(self, what) -> None:
        self.p.sleepChanged.emit(what or "")

    def on_heard(self, eid: int, index: int, start: float) -> None:
        self.p.chapterHeard.emit(eid, index, start)


class DeferredBackend:
    """Stands in for the player backend until :meth:`realize` (libVLC's
    start-up costs ~100 ms: the window calls it once its list has painted,
    and any real playback call does it at once).  Until then it keeps the
    listener, rate, volume and mute it is given and reports a stopped,
    empty player; ``available`` is provisional (True) until then."""

    available = True

    def __init__(self, factory) -> None:
        import threading

        self._factory = factory
        self._real = None
        self._lock = threading.RLock()  # realize() may run on a pool thread
        self._released = False
        self._listener = None
        self._rate, self._volume, self._muted = 1.0, 100, False
        self._errors: list[BaseException] = []

    @property
    def realized(self) -> bool:
        return self._real is not None

    # the real backend's own state once it exists (Player swaps it in a moment later)
    @property
    def pending_seek(self):
        return self._real.pending_seek if self._real is not None else None

    @property
    def listener_errors(self) -> list[BaseException]:
        return self._real.listener_errors if self._real is not None else self._errors

    def realize(self):
        """The real backend (created now, once; from any thread)."""
        with self._lock:
            if self._real is None:
                if self._released:  # the window closed first: never start libVLC
                    from ibplayer.infra.playback import NullBackend

                    real = NullBackend(reason="closed")
                else:
                    real = self._factory()
                real.set_listener(self._listener)
                if self._rate != 1.0:
                    real.set_rate(self._rate)
                if self._volume != 100:
                    real.set_volume(self._volume)
                if self._muted:
                    real.set_mute(True)
                self._real = real
            return self._real

    def __getattr__(self, name):  # everything else is real playback: create the backend now
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.realize(), name)

    def set_listener(self, listener) -> None:
        with self._lock:
            self._listener = listener
            if self._real is not None:
                self._real.set_listener(listener)

    def set_rate(self, r: float) -> None:
        with self._lock:
            if self._real is not None:
                return self._real.set_rate(r)
            from ibplayer.infra.playback import MAX_RATE, MIN_RATE

            self._rate = max(MIN_RATE, min(MAX_RATE, float(r)))

    def rate(self) -> float:
        return self._real.rate() if self._real is not None else self._rate

    def set_volume(self, volume) -> None:
        with self._lock:
            if self._real is not None:
                return self._real.set_volume(volume)
            self._volume = max(0, min(100, int(round(volume))))

    def volume(self) -> int:
        return self._real.volume() if self._real is not None else self._volume

    def set_mute(self, muted: bool) -> None:
        with self._lock:
            if self._real is not None:
                return self._real.set_mute(muted)
            self._muted = bool(muted)

    def is_muted(self) -> bool:
        return self._real.is_muted() if self._real is not None else self._muted

    def state(self) -> str:
        return self._real.state() if self._real is not None else "stopped"

    def is_playing(self) -> bool:
        return self._real is not None and self._real.is_playing()

    def time(self) -> float:
        return self._real.time() if self._real is not None else 0.0

    def length(self) -> float | None:
        return self._real.length() if self._real is not None else None

    def stop(self) -> None:
        if self._real is not None:
            self._real.stop()

    def release(self) -> None:  # quitting before it was needed: never start libVLC
        with self._lock:
            self._released = True
            if self._real is not None:
                self._real.release()


def _realize_and_warm(deferred: DeferredBackend):
    """On a pool thread: the real backend, then its plugins warmed (the first
    chapter click then does not wait for libVLC to load its MP3 demuxer)."""
    real = deferred.realize()
    warm = getattr(real, "warm_up", None)
    if warm is not None:
        try:
            warm()
        except Exception:  # noqa: BLE001 - an optimisation: playback works without it
            log.exception("warming libVLC up")
    return real


class Player(QObject):
    stateChanged = Signal(str)
    timeChanged = Signal(float)
    lengthChanged = Signal(float)
    error = Signal(str)  # a new error message
    errorChanged = Signal(str)  # the current error ("" = cleared by a successful start)
    bufferingChanged = Signal(bool)
    chapterChanged = Signal(int)
    episodeChanged = Signal(object)  # EpisodeRow or None
    positionSaved = Signal(int, float, bool)  # episode id, position, played
    seeked = Signal(float)  # every jump: chapter clicks, slider, keys, links, D-Bus
    ended = Signal(object)  # the episode whose end was reached
    sleepChanged = Signal(str)  # sleep timer: "minutes"/"episode"/"chapter" armed, "fired", "" cancelled
    chapterHeard = Signal(int, int, float)  # episode id, chapter index, its start: played through to its end

    def __init__(self, backend, writer=None, parent=None, *, start_timeout: float | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.writer = writer  # the window's CoreWriter (or None: nothing saved)
        kw = {} if start_timeout is None else {"start_timeout": start_timeout}
        self.session = PlaybackSession(backend, writer.submit if writer is not None else None, **kw)
        self._listener = _Listener(self)
        self._listener.event.connect(self._on_backend)
        backend.set_listener(self._listener)
        self.session.add_listener(_Forward(self))
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._tick)

    backendReady = Signal()  # a DeferredBackend became the real one (``available`` is now known)

    def realize_backend(self, *, in_thread: bool = False, guard=None) -> None:
        """Create the real backend now, or (``in_thread``) on a pool thread
        (libVLC's start-up then never holds up the GUI thread); then
        ``backend`` is the real one and :attr:`backendReady` is emitted."""
        b = self.backend
        if not isinstance(b, DeferredBackend):
            return
        if in_thread:
            from . import workers

            workers.run_task(lambda: _realize_and_warm(b),
                             guard(self._backend_ready) if guard else self._backend_ready)
        else:
            self._backend_ready(b.realize())

    def _backend_ready(self, real) -> None:
        if isinstance(self.backend, DeferredBackend) and real is not None:
            self.backend = self.session.backend = real
            self.backendReady.emit()

    # ------------------------------------------------------------ state

    @property
    def available(self) -> bool:
        return self.session.available

    @property
    def episode(self):
        return self.session.episode

    @property
    def source(self) -> str | None:
        return self.session.source

    @property
    def _marked_played(self) -> bool:  # kept for the window's "Mark played"
        return self.session.marked_played

    @_marked_played.setter
    def _marked_played(self, value: bool) -> None:
        self.session.marked_played = value

    def state(self) -> str:
        return self.session.state()

    def is_playing(self) -> bool:
        return self.session.is_playing()

    def time(self) -> float:
        return self.session.time()

    def length(self) -> float | None:
        return self.session.length()

    def chapter(self) -> int:
        return self.session.chapter()

    def last_error(self) -> str | None:
        return self.session.last_error

    def set_chapters(self, starts: list[float], titles: list[str] | None = None) -> None:
        self.session.set_chapters(starts, titles)

    # ------------------------------------------------------------ commands

    def load(self, episode, *, start: float | None = None, play: bool = True) -> bool:
        """Load an episode (its downloaded file when there is one, else the
        enclosure URL if it is http(s)), resuming at its saved position
        unless ``start``.  The file's own duration is fetched off the GUI
        thread and handed to the session's played rule."""
        ok = self.session.load(episode, start=start, play=play)
        if ok and self.writer is not None and self.session.is_local:
            eid = episode.id
            self.writer.submit(lambda core: core.library.file_duration(eid),
                               lambda d: self.session.set_trusted_length(eid, d))
        self._sync_poll()
        return ok

    def unload(self) -> None:
        self.session.unload()

    def play(self) -> None:
        self.session.play()
        self._sync_poll()

    def pause(self) -> None:
        self.session.pause()

    def toggle(self) -> None:
        self.session.toggle()
        self._sync_poll()

    def seek(self, seconds: float, *, play: bool = False) -> None:
        self.session.seek(seconds, play=play)
        self._sync_poll()

    def skip(self, delta: float) -> None:
        self.session.skip(delta)

    def play_chapter(self, index: int) -> None:
        self.session.play_chapter(index)
        self._sync_poll()

    def next_chapter(self) -> None:
        self.session.next_chapter()

    def previous_chapter(self) -> None:
        self.session.previous_chapter()

    def set_rate(self, rate: float) -> None:
        self.session.set_rate(rate)

    def rate(self) -> float:
        return self.session.rate()

    def set_volume(self, volume: int) -> None:
        self.session.set_volume(volume)

    def set_mute(self, muted: bool) -> None:
        self.session.set_mute(muted)

    def set_sleep_timer(self, kind: str | None, minutes: float = 0.0) -> None:
        self.session.set_sleep_timer(kind, minutes)
        self._sync_poll()

    def set_skip_words(self, words: list[str]) -> None:
        """Per-feed skip words (chapters need titles: set_chapters(starts, titles))."""
        self.session.set_skip_words(words)

    def skip_chapter(self, index: int | None = None) -> None:
        """Skip the current chapter now (or chapter ``index`` when playback reaches it)."""
        self.session.skip_chapter(index)
        self._sync_poll()

    def save_position(self) -> None:
        self.session.save_position()

    def mark_played(self) -> None:
        self.session.mark_played()

    def shutdown(self) -> None:
        self._poll.stop()
        self.session.shutdown()

    # ------------------------------------------------------------ internals

    def _sync_poll(self) -> None:
        """Poll while playing or while a start is pending (for its timeout)."""
        s = self.session
        busy = s.episode is not None and (s.is_playing() or s._play_requested_at is not None)
        if busy and not self._poll.isActive():
            self._poll.start()
        elif not busy and self._poll.isActive():
            self._poll.stop()

    @Slot()
    def _tick(self) -> None:
        self.session.tick()
        self._sync_poll()

    @Slot(str, object)
    def _on_backend(self, kind: str, value) -> None:
        self.session.backend_event(kind, value)
