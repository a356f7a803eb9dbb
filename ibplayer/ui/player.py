"""The UI side of playback: a ``Player(QObject)`` with Qt signals around a
core :class:`~ibplayer.infra.playback.PlayerBackend` (after Picard's player).

Backend listener methods run on libVLC threads; they only emit signals,
which Qt queues to the GUI thread.  Every libVLC call happens on the GUI
thread.
"""

from __future__ import annotations

import bisect
import logging
import os
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

log = logging.getLogger(__name__)

POLL_MS = 200  # >= 4 highlight updates a second while playing
SAVE_EVERY_MS = 5000
SPEEDS = (0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0)


class _Listener(QObject):
    """Called from libVLC threads: emit only (signals cross threads queued)."""

    state = Signal(str)
    time = Signal(float)
    length = Signal(float)
    error = Signal(str)

    def on_state(self, state: str) -> None:
        self.state.emit(str(state))

    def on_time(self, seconds: float) -> None:
        self.time.emit(float(seconds))

    def on_length(self, seconds: float) -> None:
        self.length.emit(float(seconds))

    def on_error(self, message: str) -> None:
        self.error.emit(str(message))


def played_threshold(length: float) -> float:
    """Seconds before the end after which an episode counts as played."""
    return min(30.0, max(2.0, 0.05 * length))


class Player(QObject):
    stateChanged = Signal(str)
    timeChanged = Signal(float)
    lengthChanged = Signal(float)
    error = Signal(str)
    chapterChanged = Signal(int)
    episodeChanged = Signal(object)  # EpisodeRow or None
    positionSaved = Signal(int, float, bool)  # episode id, position, played

    def __init__(self, backend, writer=None, parent=None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.writer = writer  # CoreWriter (or None: nothing saved)
        self._listener = _Listener(self)
        self._listener.state.connect(self._on_state)
        self._listener.time.connect(self._on_time)
        self._listener.length.connect(self._on_length)
        self._listener.error.connect(self.error)
        backend.set_listener(self._listener)
        self.episode = None
        self.source: str | None = None
        self._starts: list[float] = []
        self._chapter = -1
        self._state = "stopped"
        self._time = 0.0
        self._length: float | None = None
        self._marked_played = False
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._tick)
        self._saver = QTimer(self)
        self._saver.setInterval(SAVE_EVERY_MS)
        self._saver.timeout.connect(self.save_position)

    # ------------------------------------------------------------ state

    @property
    def available(self) -> bool:
        return bool(getattr(self.backend, "available", False))

    def state(self) -> str:
        return self._state

    def is_playing(self) -> bool:
        return self._state == "playing"

    def time(self) -> float:
        return self._time

    def length(self) -> float | None:
        return self._length or (self.episode.duration if self.episode else None)

    def chapter(self) -> int:
        return self._chapter

    def set_chapters(self, starts: list[float]) -> None:
        self._starts = sorted(starts)
        self._chapter = -2
        self._update_chapter(self._time)

    # ------------------------------------------------------------ loading

    def load(self, episode, *, start: float | None = None, play: bool = True) -> None:
        """Load an episode (its downloaded file when there is one, else the
        enclosure URL), resuming at its saved position unless ``start``."""
        if self.episode is not None:
            self.save_position()
        self.episode = episode
        self._marked_played = False
        self._length = episode.duration
        src = episode.audio_url
        if episode.file and os.path.exists(episode.file):
            src = str(Path(episode.file))
        self.source = src
        if start is None:
            start = episode.position if not episode.played else 0.0
            if episode.duration and start >= episode.duration - played_threshold(episode.duration):
                start = 0.0
        start = max(0.0, float(start or 0.0))
        self.backend.load(src, start)
        self._time = start
        self._state = "stopped"
        self.episodeChanged.emit(episode)
        self.timeChanged.emit(start)
        if self._length:
            self.lengthChanged.emit(self._length)
        self._update_chapter(start)
        if play:
            self.play()

    def unload(self) -> None:
        if self.episode is not None:
            self.save_position()
        self.backend.stop()
        self.episode = None
        self.episodeChanged.emit(None)

    # ------------------------------------------------------------ transport

    def play(self) -> None:
        if self.episode is None:
            return
        self.backend.play()
        self._poll.start()

    def pause(self) -> None:
        if self.episode is None:
            return
        self.backend.pause()

    def toggle(self) -> None:
        if self.episode is None:
            return
        if self._state == "playing" or self.backend.is_playing():
            self.backend.pause()
        else:
            self.play()

    def seek(self, seconds: float, *, play: bool = False) -> None:
        """Seek (the backend defers it until the media plays); the new time
        is announced at once, paused or not."""
        if self.episode is None:
            return
        length = self.length()
        t = max(0.0, float(seconds))
        if length:
            t = min(t, max(0.0, length - 0.5))
        if self._state in ("ended", "error"):
            # a finished media must be restarted before it can seek
            self.backend.load(self.source, t)
        else:
            self.backend.seek(t)
        self._set_time(t)
        if play and self._state != "playing":
            self.play()
        elif self._state != "playing":
            self.save_position()

    def skip(self, delta: float) -> None:
        if self.episode is not None:
            self.seek(self._time + delta)

    def play_chapter(self, index: int) -> None:
        if 0 <= index < len(self._starts):
            self.seek(self._starts[index], play=True)

    def next_chapter(self) -> None:
        i = bisect.bisect_right(self._starts, self._time + 0.05)
        if i < len(self._starts):
            self.seek(self._starts[i])

    def previous_chapter(self) -> None:
        i = bisect.bisect_right(self._starts, self._time + 0.05) - 1
        if i < 0:
            self.seek(0)
            return
        # more than 3 s into a chapter: back to its start; else the one before
        if self._time - self._starts[i] > 3 or i == 0:
            self.seek(self._starts[i])
        else:
            self.seek(self._starts[i - 1])

    def set_rate(self, rate: float) -> None:
        self.backend.set_rate(rate)

    def rate(self) -> float:
        return self.backend.rate()

    def set_volume(self, volume: int) -> None:
        self.backend.set_volume(volume)

    def set_mute(self, muted: bool) -> None:
        self.backend.set_mute(muted)

    # ------------------------------------------------------------ persistence

    def save_position(self) -> None:
        ep = self.episode
        if ep is None or self.writer is None or self._marked_played:
            return
        t = self._time
        ep.position = t
        eid = ep.id
        self.writer.submit(lambda core: core.set_position(eid, t))
        self.positionSaved.emit(eid, t, False)

    def mark_played(self) -> None:
        ep = self.episode
        if ep is None or self._marked_played:
            return
        self._marked_played = True
        ep.played = True
        ep.position = 0.0
        if self.writer is not None:
            eid = ep.id
            self.writer.submit(lambda core: core.set_played(eid, True))
        self.positionSaved.emit(ep.id, 0.0, True)

    def shutdown(self) -> None:
        self._poll.stop()
        self._saver.stop()
        if self.episode is not None and self._state in ("playing", "paused"):
            self._time = self.backend.time()
        self.save_position()
        try:
            self.backend.set_listener(None)
            self.backend.stop()
            self.backend.release()
        except Exception:  # noqa: BLE001 - quitting anyway
            log.exception("releasing the player")

    # ------------------------------------------------------------ internals

    def _set_time(self, t: float) -> None:
        self._time = t
        self.timeChanged.emit(t)
        self._update_chapter(t)
        length = self.length()
        if (self._state == "playing" and length and length > 5
                and t >= length - played_threshold(length)):
            self.mark_played()

    def _update_chapter(self, t: float) -> None:
        i = bisect.bisect_right(self._starts, t + 0.05) - 1 if self._starts else -1
        if i != self._chapter:
            self._chapter = i
            self.chapterChanged.emit(i)

    @Slot()
    def _tick(self) -> None:
        if self._state != "playing":
            return
        self._set_time(self.backend.time())

    @Slot(str)
    def _on_state(self, state: str) -> None:
        if self.episode is None:
            return
        self._state = state
        if state == "playing":
            self.backend.apply_pending()
            self._poll.start()
            self._saver.start()
            self._set_time(self.backend.time())
        else:
            self._poll.stop()
            self._saver.stop()
            if state == "paused":
                self._time = self.backend.time()
                self.timeChanged.emit(self._time)
                self.save_position()
            elif state == "ended":
                self.mark_played()
        self.stateChanged.emit(state)

    @Slot(float)
    def _on_time(self, t: float) -> None:
        if self.episode is None:
            return
        self._set_time(t)

    @Slot(float)
    def _on_length(self, length: float) -> None:
        if length > 0:
            self._length = length
            self.lengthChanged.emit(length)
