"""The playback session: every playback rule, with no Qt (after Quod Libet's
backend-neutral player).

A :class:`PlaybackSession` drives a :class:`~ibplayer.infra.playback.PlayerBackend`
and owns what a listener cares about: which episode is loaded and from
where (streams only over http(s), local files only as the episode's own
download), where to resume, when an episode counts as played, the chapter
index and what next / previous do, when positions are saved, the start
timeout of a silent stream, and the hooks a sleep timer or a queue plug into.

Threading: every method runs on the *owner's* thread (the GUI thread in the
app).  Backend events arrive on libVLC threads; the owner forwards them
with :meth:`backend_event` on its own thread (the Qt player does it through
queued signals, code without an event loop uses :class:`QueuedEvents` and
:meth:`pump`).  The owner also calls :meth:`tick` a few times a second
while an episode is loaded.  Database writes go through the ``write``
callable the front-end supplies: ``write(job)`` must run ``job(store)`` (anything with set_position and set_played: the app passes its services Core)
somewhere (the app's writer thread), so no SQLite runs on the GUI thread.

The played rule: an episode is played when playback *really* reached its
end: the end-of-media event after at least :data:`MIN_PLAY_BEFORE_END` s of
uninterrupted playback, or playback (not a seek) crossing into the last
``end_margin`` seconds of a *trustworthy* length: the file's own (given to
:meth:`set_trusted_length`, and not contradicted by libVLC) or a libVLC
length that stayed the same over :data:`STABLE_REPORTS` reports spanning
:data:`STABLE_SECONDS`.  libVLC's first estimates of a VBR MP3 without a
Xing header can be far too short, so they are never trusted, and seeks are
never clamped to them.
"""

from __future__ import annotations

import bisect
import logging
import os
import queue
import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ibplayer.domain.timefmt import fmt_clock
from ibplayer.services.listening import title_matches

log = logging.getLogger(__name__)

SAVE_EVERY = 5.0  # seconds of wall clock between position saves while playing
END_MARGIN = 5.0  # "within a few seconds of the end"
MIN_PLAY_BEFORE_END = 2.0  # an end-of-media this soon after a seek/start is not "played"
STABLE_REPORTS = 3
STABLE_SECONDS = 10.0
PREVIOUS_GRACE = 3.0  # previous() within this many seconds of a chapter start goes one back
START_TIMEOUT = 10.0  # a stream that sends nothing for this long after play() is an error
FADE_SECONDS = 3.0  # sleep timer fade-out
JUMP_RETRIES = 3  # a jump libVLC ends at once, to a place the file has, is made again (see _jump_again)
JUMP_SETTLE = 0.05  # ... and then only this long after playback started (libVLC has read the audio by then)

STREAM_SCHEMES = ("http", "https")


class SourceRefused(ValueError):
    """The episode has no source the player may open (one-line message)."""


def stream_url_problem(url: str) -> str | None:
    """Why ``url`` may not be streamed (None: it may).  Only http(s) URLs with
    a host: no ``file://``, no paths, no ftp/rtsp/mms/tcp/sftp/... (the
    download's rule; a local file plays only as the episode's own download)."""
    text = str(url or "").strip()
    shown = text[:200]
    if not text:
        return "this episode has no audio URL"
    if any(ord(c) < 32 for c in text):
        return f"refusing to stream {shown!r}: the URL contains control characters"
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return f"refusing to stream {shown!r}: not a valid URL"
    scheme = parts.scheme.lower()
    if scheme not in STREAM_SCHEMES:
        what = f"a {scheme}:// URL" if scheme and len(scheme) > 1 else "a local path"
        return f"refusing to stream {shown!r}: {what}; only http(s) enclosures are streamed"
    if not host:
        return f"refusing to stream {shown!r}: the URL has no host"
    return None


def _fmt(seconds: float) -> str:
    return fmt_clock(seconds)


def played_threshold(length: float) -> float:
    """Seconds before a (trustworthy) end within which playback counts as
    having reached it."""
    return min(END_MARGIN, max(1.0, 0.05 * length))


@dataclass(slots=True)
class SleepTimer:
    """What the sleep timer waits for: ``kind`` is "minutes", "episode" or
    "chapter"; ``deadline`` (monotonic) for "minutes"; ``chapter`` the index
    whose end it waits for."""

    kind: str
    deadline: float | None = None
    chapter: int | None = None
    fading_since: float | None = None


class QueuedEvents:
    """A backend listener for code without an event loop: backend events
    (from libVLC threads) are queued as plain tuples; :meth:`PlaybackSession.pump`
    applies them on the owner's thread."""

    def __init__(self) -> None:
        self.q: queue.Queue = queue.Queue()

    def on_state(self, state: str) -> None:
        self.q.put(("state", str(state)))

    def on_time(self, seconds: float) -> None:
        self.q.put(("time", float(seconds)))

    def on_length(self, seconds: float) -> None:
        self.q.put(("length", float(seconds)))

    def on_error(self, message: str) -> None:
        self.q.put(("error", str(message)))

    def on_buffering(self, percent: float) -> None:
        self.q.put(("buffering", float(percent)))


class PlaybackSession:
    """See the module docstring.  Listeners (:meth:`add_listener`) are plain
    objects with any of: ``on_episode(ep|None)``, ``on_state(str)``,
    ``on_time(float)``, ``on_length(float)``, ``on_chapter(int)``,
    ``on_seeked(float)`` (every jump: chapters, slider, keys, links, D-Bus),
    ``on_saved(eid, position, played)``, ``on_error(str)`` ("" = cleared),
    ``on_buffering(bool)``, ``on_ended(ep)``, ``on_tick(float)``,
    ``on_sleep(str|None)`` (sleep timer armed / fired / cancelled),
    ``on_heard(eid, index, start)`` (a chapter played through to its end)."""

    def __init__(
        self,
        backend: Any,
        write: Callable[[Callable[[Any], Any]], Any] | None = None,
        *,
        clock: Callable[[], float] = _time.monotonic,
        save_every: float = SAVE_EVERY,
        start_timeout: float = START_TIMEOUT,
        fade_seconds: float = FADE_SECONDS,
    ) -> None:
        self.backend = backend
        self.write = write
        self.clock = clock
        self.save_every = float(save_every)
        self.start_timeout = float(start_timeout)
        self.fade_seconds = float(fade_seconds)
        self._listeners: list[Any] = []
        self.events: QueuedEvents | None = None
        self.episode: Any = None
        self.source: str | None = None
        self.is_local = False  # the source is the episode's downloaded file (not a stream)
        self.last_error: str | None = None
        self.buffering = False
        self._starts: list[float] = []
        self._titles: list[str] = []
        self._skip_words: list[str] = []
        self._skip_once: set[int] = set()  # chapters the listener chose to skip this time
        self._chapter = -1
        self._state = "stopped"
        self._time = 0.0
        self._length: float | None = None  # best known (display), never trusted by itself
        self._file_length: float | None = None
        self._vlc_reports: list[tuple[float, float]] = []  # (clock, length)
        self._marked_played = False
        self._started_ok = False  # reached "playing" since load: only then is a position worth saving
        self._play_requested_at: float | None = None
        self._anchor_clock = 0.0  # when continuous playback last (re)started: load, seek, resume
        self._anchor_time = 0.0
        self._last_save = 0.0
        self._saved_time: float | None = None
        self._sleep: SleepTimer | None = None
        self._volume_before_fade: int | None = None
        self._jump_retries = 0  # how often the current jump was made again (_jump_again)
        self._jump_waiting = False  # a jump made again waits for playback ...
        self._jump_due: float | None = None  # ... and then for JUMP_SETTLE s (since when it plays)

    # ------------------------------------------------------------ listeners

    def add_listener(self, listener: Any) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Any) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, name: str, *args: Any) -> None:
        for listener in list(self._listeners):
            fn = getattr(listener, name, None)
            if fn is not None:
                fn(*args)

    def use_queued_events(self) -> QueuedEvents:
        """Make the backend report into a queue that :meth:`pump` drains (for
        code without an event loop: the CLI, tests)."""
        self.events = QueuedEvents()
        self.backend.set_listener(self.events)
        return self.events

    def pump(self, timeout: float = 0.0) -> int:
        """Apply queued backend events on this thread, then :meth:`tick`.
        Waits up to ``timeout`` for the first event.  Returns how many."""
        n = 0
        if self.events is not None:
            try:
                item = self.events.q.get(timeout=timeout) if timeout > 0 else self.events.q.get_nowait()
                while True:
                    self.backend_event(*item)
                    n += 1
                    item = self.events.q.get_nowait()
            except queue.Empty:
                pass
        self.tick()
        return n

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
        """The best known length, for display (may be an estimate)."""
        return self.trusted_length() or self._length or (self.episode.duration if self.episode else None)

    def chapter(self) -> int:
        return self._chapter

    @property
    def marked_played(self) -> bool:
        return self._marked_played

    @marked_played.setter
    def marked_played(self, value: bool) -> None:
        """The front-end marked the loaded episode (un)played by hand."""
        self._marked_played = bool(value)
        if self.episode is not None:
            self.episode.played = bool(value)
            if value:
                self.episode.position = 0.0

    def trusted_length(self) -> float | None:
        """The file's own length when libVLC does not contradict it, else a
        libVLC length that stayed stable; None when neither is known."""
        vlc = self._stable_vlc_length()
        latest = self._vlc_reports[-1][1] if self._vlc_reports else None
        if self._file_length:
            if latest is None or abs(latest - self._file_length) <= max(3.0, 0.02 * self._file_length):
                return self._file_length
            return vlc if vlc and abs(vlc - self._file_length) <= max(3.0, 0.02 * vlc) else None
        return vlc

    def _stable_vlc_length(self) -> float | None:
        """libVLC's length when its last reports agree (at least
        STABLE_REPORTS of them, spanning STABLE_SECONDS)."""
        reps = self._vlc_reports
        if not reps:
            return None
        last = reps[-1][1]
        i = len(reps) - 1
        while i > 0 and abs(reps[i - 1][1] - last) <= 0.5:
            i -= 1
        if len(reps) - i >= STABLE_REPORTS and reps[-1][0] - reps[i][0] >= STABLE_SECONDS:
            return last
        return None

    def set_trusted_length(self, episode_id: int, seconds: float | None) -> None:
        """The downloaded file's own duration (e.g. the store's file_duration),
        delivered by the front-end, possibly after the load."""
        if self.episode is None or self.episode.id != episode_id:
            return
        if seconds and seconds > 0 and self.is_local:
            self._file_length = float(seconds)
            self._emit("on_length", self.length() or float(seconds))

    def set_chapters(self, starts: Sequence[float], titles: Sequence[str] | None = None) -> None:
        pairs = sorted(zip(starts, titles or [""] * len(starts), strict=False), key=lambda p: p[0])
        self._starts = [float(s) for s, _ in pairs]
        self._titles = [str(t or "") for _, t in pairs]
        self._skip_once = set()
        self._chapter = -2
        self._update_chapter(self._time)

    def set_skip_words(self, words: Sequence[str]) -> None:
        """Chapters whose title contains one of these words (whole words, any
        case) are jumped over during playback (per feed, issue 10 §5)."""
        self._skip_words = [w.strip().lower() for w in words if w and w.strip()]

    def chapter_skipped(self, index: int) -> bool:
        if index in self._skip_once:
            return True
        if not self._skip_words or not (0 <= index < len(self._titles)):
            return False
        return title_matches(self._titles[index], self._skip_words)

    def skip_chapter(self, index: int | None = None) -> None:
        """Skip a chapter once: the current one (or ``index``) now, a later
        one when playback reaches it."""
        i = self._chapter if index is None else int(index)
        if not (0 <= i < len(self._starts)):
            return
        if i != self._chapter:
            self._skip_once.add(i)
            return
        j = i + 1
        while j < len(self._starts) and self.chapter_skipped(j):
            j += 1
        if j < len(self._starts):
            self.seek(self._starts[j], play=self._state == "playing")
        else:
            tl = self.trusted_length() or self.length()
            if tl:
                self.seek(tl)

    # ------------------------------------------------------------ loading

    @staticmethod
    def _local_file(episode: Any) -> str | None:
        f = getattr(episode, "file", None)
        if f and os.path.isfile(f):
            return str(f)
        return None

    def source_for(self, episode: Any) -> str:
        """The episode's downloaded file, else its enclosure URL when that may
        be streamed; else :class:`SourceRefused`."""
        local = self._local_file(episode)
        if local is not None:
            return local
        problem = stream_url_problem(getattr(episode, "audio_url", ""))
        if problem:
            raise SourceRefused(problem[0].upper() + problem[1:])
        return str(episode.audio_url).strip()

    def load(self, episode: Any, *, start: float | None = None, play: bool = True,
             trusted_length: float | None = None) -> bool:
        """Load an episode, resuming at its saved position unless ``start``.
        False (with ``on_error``) when it has no playable source; the
        previously loaded episode is then kept."""
        try:
            src = self.source_for(episode)
        except SourceRefused as exc:
            self._set_error(str(exc))
            return False
        self._leave_episode()
        self.episode = episode
        self.source = src
        self.is_local = src == self._local_file(episode)
        self._marked_played = False
        self._started_ok = False
        self._length = episode.duration
        self._file_length = None
        self._vlc_reports = []
        self.buffering = False
        if trusted_length and self.is_local:
            self._file_length = float(trusted_length)
        if start is None:
            start = float(episode.position or 0.0) if not episode.played else 0.0
            tl = self.trusted_length() or episode.duration
            # at the very end: start over.  Far *past* the stated length: that
            # length is wrong (an estimate), keep the place.
            if tl and tl - played_threshold(tl) <= start <= tl + played_threshold(tl):
                start = 0.0
        start = max(0.0, float(start or 0.0))
        self.backend.load(src, start)
        self._no_jump_again()
        self._time = start
        self._saved_time = float(episode.position or 0.0)
        self._anchor(start)
        # a start far into the file is a jump too: where to come back if it fails
        self._seek_from = (0.0 if episode.played else float(episode.position or 0.0)) if start > 0 else None
        self._state = "stopped"
        self._play_requested_at = None
        self._emit("on_episode", episode)
        self._emit("on_time", start)
        if self.length():
            self._emit("on_length", self.length())
        self._chapter = -2
        self._update_chapter(start)
        if play:
            self.play()
        return True

    def _leave_episode(self) -> None:
        if self.episode is not None:
            self.save_position()
        self.cancel_sleep_timer()

    def unload(self) -> None:
        self._leave_episode()
        self.backend.stop()
        self.episode = None
        self.source = None
        self._state = "stopped"
        self._play_requested_at = None
        self._emit("on_episode", None)

    # ------------------------------------------------------------ transport

    def play(self) -> None:
        if self.episode is None:
            return
        if self._state != "playing":
            self._play_requested_at = self.clock()
        self.backend.play()

    def pause(self) -> None:
        if self.episode is None:
            return
        self._play_requested_at = None
        self.backend.pause()

    def toggle(self) -> None:
        if self.episode is None:
            return
        if self._state == "playing" or self.backend.is_playing():
            self.pause()
        else:
            self.play()

    def seek(self, seconds: float, *, play: bool = False) -> None:
        """Jump (the backend defers it until the media plays); the new time is
        announced at once, paused or not.  Clamped only to a trustworthy
        length: an estimate may be far too short."""
        if self.episode is None:
            return
        before = self._time
        t = max(0.0, float(seconds))
        length = self.trusted_length()
        if length:
            t = min(t, max(0.0, length - 0.5))
        if self._state in ("ended", "error"):
            # a finished media must be restarted before it can seek
            self.backend.load(self.source, t)
            self._state = "stopped"
        else:
            self.backend.seek(t)
        self._no_jump_again()
        self._seek_from = before
        self._anchor(t)
        self._set_time(t)
        self._note_progress()
        self._emit("on_seeked", t)
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
        # more than a few seconds into a chapter: back to its start; else the one before
        if self._time - self._starts[i] > PREVIOUS_GRACE or i == 0:
            self.seek(self._starts[i])
        else:
            self.seek(self._starts[i - 1])

    def set_rate(self, rate: float) -> None:
        self.backend.set_rate(rate)

    def rate(self) -> float:
        return self.backend.rate()

    def set_volume(self, volume: int) -> None:
        self._volume_before_fade = None
        self.backend.set_volume(volume)

    def set_mute(self, muted: bool) -> None:
        self.backend.set_mute(muted)

    # ------------------------------------------------------------ sleep timer

    def set_sleep_timer(self, kind: str | None, minutes: float = 0.0) -> None:
        """Pause after ``minutes`` ("minutes"), at the end of the episode
        ("episode") or of the current chapter ("chapter"); None cancels."""
        if kind is None:
            self.cancel_sleep_timer()
            return
        if kind not in ("minutes", "episode", "chapter"):
            raise ValueError(f"unknown sleep timer {kind!r}")
        self._restore_volume()
        if kind == "minutes":
            self._sleep = SleepTimer(kind, deadline=self.clock() + max(0.0, float(minutes)) * 60.0)
        elif kind == "chapter":
            self._sleep = SleepTimer(kind, chapter=self._chapter)
        else:
            self._sleep = SleepTimer(kind)
        self._emit("on_sleep", kind)

    def sleep_timer(self) -> SleepTimer | None:
        return self._sleep

    def cancel_sleep_timer(self) -> None:
        if self._sleep is not None:
            self._sleep = None
            self._restore_volume()
            self._emit("on_sleep", None)

    def _restore_volume(self) -> None:
        if self._volume_before_fade is not None:
            v, self._volume_before_fade = self._volume_before_fade, None
            self.backend.set_volume(v)

    def _sleep_remaining(self) -> float | None:
        """Seconds of playback left before the sleep timer fires (None: never)."""
        s = self._sleep
        if s is None:
            return None
        if s.kind == "minutes":
            return (s.deadline or 0.0) - self.clock()
        if s.kind == "chapter":
            i = s.chapter if s.chapter is not None else self._chapter
            if self._chapter > i >= 0 or (i < 0 and self._chapter >= 0):
                return 0.0  # crossed the boundary already
            if 0 <= i + 1 < len(self._starts):
                end = self._starts[i + 1]
            else:
                end = self.trusted_length()
                if end is None:
                    return None  # the episode's end: on_ended fires it
            return (end - self._time) / max(0.1, self.backend.rate())
        if s.kind == "episode":
            end = self.trusted_length()
            return None if end is None else (end - self._time) / max(0.1, self.backend.rate())
        return None

    def _check_sleep(self) -> None:
        if self._sleep is None or self._state != "playing":
            return
        left = self._sleep_remaining()
        if left is None:
            return
        if left <= 0.05:
            s = self._sleep
            self._sleep = None
            if s.kind == "chapter" and 0 <= (s.chapter or 0) + 1 < len(self._starts):
                # stop exactly at the boundary: the next chapter starts there on resume
                nxt = self._starts[(s.chapter or 0) + 1]
                if self._time > nxt:
                    self.backend.seek(nxt)
                    self._set_time(nxt)
            self.pause()
            self._restore_volume()
            self._emit("on_sleep", "fired")
            return
        if self.fade_seconds > 0 and left <= self.fade_seconds:
            if self._volume_before_fade is None:
                self._volume_before_fade = self.backend.volume()
            target = int(round(self._volume_before_fade * max(0.0, left) / self.fade_seconds))
            self.backend.set_volume(target)

    # ------------------------------------------------------------ persistence

    def save_position(self) -> None:
        ep = self.episode
        if ep is None or self._marked_played or not self._started_ok:
            return
        t = float(self._time)
        self._last_save = self.clock()
        if self._saved_time is not None and abs(t - self._saved_time) < 0.01:
            return
        self._saved_time = t
        ep.position = t
        eid = ep.id
        if self.write is not None:
            self.write(lambda core: core.set_position(eid, t))
        self._emit("on_saved", eid, t, False)

    def mark_played(self) -> None:
        ep = self.episode
        if ep is None or self._marked_played:
            return
        self._marked_played = True
        ep.played = True
        ep.position = 0.0
        eid = ep.id
        if self.write is not None:
            self.write(lambda core: core.set_played(eid, True))
        self._emit("on_saved", eid, 0.0, True)

    def shutdown(self) -> None:
        if self.episode is not None and self._state in ("playing", "paused"):
            self._time = self.backend.time()
        self.save_position()
        try:
            self.backend.set_listener(None)
            self.backend.stop()
            self.backend.release()
        except Exception:  # noqa: BLE001 - quitting anyway
            log.exception("releasing the player")

    # ------------------------------------------------------------ driving

    def tick(self) -> None:
        """Call a few times a second while an episode is loaded: polls the
        clock, saves on cadence, times out a silent start, runs the sleep timer."""
        if self.episode is None:
            return
        now = self.clock()
        if self._state == "playing" and self._jump_due is not None and now - self._jump_due >= JUMP_SETTLE:
            self._jump_due = None
            self._jump_waiting = False
            self.backend.apply_pending()
        if self._state == "playing":
            length = self.backend.length()
            if length and (not self._vlc_reports or self._vlc_reports[-1][1] != length
                           or now - self._vlc_reports[-1][0] >= 1.0):
                self._note_vlc_length(length, emit=False)
            self._set_time(self.backend.time())
            if self._time > self._progress_t + 0.05 or self._time < self._progress_t - 0.05:
                self._progress_t, self._progress_at = self._time, now
            elif self._is_stream() and now - self._progress_at > self.start_timeout:
                self._stream_stalled()
                return
            if now - self._last_save >= self.save_every:
                self.save_position()
            self._check_sleep()
            self._emit("on_tick", self._time)
        elif self._play_requested_at is not None and now - self._play_requested_at > self.start_timeout:
            self._start_timed_out()

    _progress_t = 0.0  # the playback time last seen moving, and when
    _progress_at = 0.0

    def _is_stream(self) -> bool:
        return self.source is not None and not self.is_local

    def _note_progress(self) -> None:
        self._progress_t, self._progress_at = self._time, self.clock()

    def _stream_stalled(self) -> None:
        """Playing, but the stream sent nothing for start_timeout s (libVLC
        would stay silent forever): keep the place, drop the connection, say so."""
        t = self._time
        self.save_position()
        host = urlsplit(self.source or "").hostname or "the server"
        self.backend.load(self.source, t)  # a new connection on the next play, at t
        self._anchor(t)
        self._seek_from = None
        self._state = "error"
        self._set_error(f"The stream from {host} stopped sending audio at {_fmt(t)} "
                        f"(nothing for {self.start_timeout:g} s). Play resumes there; or download the episode.")
        self._set_buffering(False)
        self._emit("on_state", "error")

    def _start_timed_out(self) -> None:
        self._play_requested_at = None
        host = urlsplit(self.source or "").hostname if "://" in (self.source or "") else None
        where = f"the server {host}" if host else "the file"
        secs = f"{self.start_timeout:g}"
        msg = (f"No audio from {where} after {secs} s: it accepted the connection but sent nothing. "
               "Try again later, or download the episode.")
        self.backend.stop()
        self._fail(msg)

    def backend_event(self, kind: str, value: Any) -> None:
        """A backend report (``kind`` one of state/time/length/error/buffering),
        on the owner's thread."""
        if kind == "state":
            self._on_state(str(value))
        elif kind == "time":
            if self.episode is not None:
                self._set_time(float(value))
        elif kind == "length":
            self._note_vlc_length(float(value), emit=True)
        elif kind == "error":
            if self.episode is not None:
                self._pending_error = str(value)
        elif kind == "buffering":
            self._set_buffering(float(value) < 100.0)

    _pending_error: str | None = None

    def _set_buffering(self, on: bool) -> None:
        if on != self.buffering:
            self.buffering = on
            self._emit("on_buffering", on)

    def _note_vlc_length(self, length: float, *, emit: bool) -> None:
        if length <= 0 or self.episode is None:
            return
        self._vlc_reports.append((self.clock(), length))
        del self._vlc_reports[:-20]
        self._length = length
        if emit:
            self._emit("on_length", self.length() or length)

    def _set_error(self, message: str) -> None:
        self.last_error = message
        self._emit("on_error", message)

    def _fail(self, message: str) -> None:
        """The start failed: say why; save nothing; the episode does not stay loaded."""
        self._set_error(message)
        self._state = "error"
        self._set_buffering(False)
        unload = not self._started_ok
        if unload:
            self.cancel_sleep_timer()
            self.episode = None
            self.source = None
            self._chapter = -1
        self._emit("on_state", "error")
        if unload:
            self._time = 0.0
            self._emit("on_time", 0.0)
            self._emit("on_chapter", -1)
            self._emit("on_episode", None)

    def _on_state(self, state: str) -> None:
        if self.episode is None:
            return
        if state == "error":
            self._play_requested_at = None
            msg = self._pending_error or getattr(self.backend, "last_error", None) or "Playback failed."
            self._pending_error = None
            if self._started_ok:
                self.save_position()
            self._fail(msg)
            return
        self._state = state
        if state == "playing":
            self._play_requested_at = None
            self._started_ok = True
            self._set_buffering(False)
            if self.last_error:
                self.last_error = None
                self._emit("on_error", "")
            if self._jump_waiting:  # a jump made again: applied from tick, once libVLC has read some audio
                self._jump_due = self.clock()
            else:
                self.backend.apply_pending()
            self._last_save = self.clock()
            self._note_progress()
            self._set_time(self.backend.time())
        elif state == "paused":
            self._time = self.backend.time()
            self._emit("on_time", self._time)
            self.save_position()
        elif state == "ended" and not self._on_end():
            return  # recovered from an unreachable seek: playing on elsewhere
        self._emit("on_state", state)

    def _on_end(self) -> bool:
        """The end of media: False when it was no real end (see below)."""
        ep = self.episode
        played_for = self.clock() - self._anchor_clock
        if played_for >= MIN_PLAY_BEFORE_END:
            if self._starts and self._chapter == len(self._starts) - 1:
                self._maybe_heard(self._chapter, at_end=True)
            self.mark_played()
        elif self._jump_again():
            return False
        elif (self._seek_from is not None and self.source is not None and self._length is not None
              and self._anchor_time > self._length + 0.5):
            # an end right after a jump past libVLC's length estimate: libVLC
            # seeks by that estimate, which can be far too short for a VBR MP3
            # without a Xing header, so it could not reach the target.  The
            # listener did not hear the end: back to where they were, say so.
            target, back = self._anchor_time, self._seek_from
            self._seek_from = None
            self._set_error(f"Could not jump to {_fmt(target)}: the player cannot reach that far into "
                            "this file yet (its length is not known). Play on, or download the episode.")
            reachable = back < self._length - 1.0
            self.backend.load(self.source, back)
            self._time = back
            self._anchor(back)
            self._state = "stopped"
            self._emit("on_time", back)
            self._update_chapter(back)
            if reachable:
                self.play()
            else:  # even the saved place is out of reach: stay stopped there, keep it stored
                self._seek_from = back
                self._emit("on_state", "stopped")
            return False
        # else: an end heard for under MIN_PLAY_BEFORE_END s after a jump: not
        # "played" (never by a seek), and the stored place is kept
        if self._sleep is not None and self._sleep.kind in ("episode", "chapter"):
            self._sleep = None
            self._restore_volume()
            self._emit("on_sleep", "fired")
        self._emit("on_ended", ep)
        return True

    _seek_from: float | None = None  # where the last seek left from

    def _no_jump_again(self) -> None:
        """A new load or jump: no earlier jump is being made again."""
        self._jump_retries, self._jump_waiting, self._jump_due = 0, False, None

    def _jump_again(self) -> bool:
        """An end right after a jump to a place the file has: make the jump
        again (True), up to JUMP_RETRIES times.

        libVLC 3 seeks an MP3 by a bitrate it guesses from the first frame it
        read; a jump applied in the very first moments of playback can use
        the guess of a LAME Info frame (56 kb/s for a 32 kb/s file: 343 s of
        a 600 s file) and end the media at once, a race with libVLC's own
        thread.  Made again, the jump is applied only JUMP_SETTLE s after
        playback started, when libVLC knows the real bitrate.  The place must
        lie within the episode's own downloaded file (its duration), or
        within a libVLC length that stayed stable; else (a stream whose
        length is only estimated) the jump is not repeated."""
        ep = self.episode
        if self._seek_from is None or self.source is None or ep is None or self._jump_retries >= JUMP_RETRIES:
            return False
        target = self._anchor_time
        if self.is_local:
            known = self._file_length or (float(ep.duration) if getattr(ep, "duration", None) else None)
        else:
            known = self._stable_vlc_length()
        if not known or target >= known - played_threshold(known):
            return False
        self._jump_retries += 1
        log.info("libVLC ended the media right after a jump to %.1f s of a %.1f s file: jumping again (%d)",
                 target, known, self._jump_retries)
        self.backend.load(self.source, target)
        self._jump_waiting, self._jump_due = True, None
        self._state = "stopped"
        self._time = target
        self._emit("on_time", target)
        self._update_chapter(target)
        self.play()
        return True

    def _anchor(self, t: float) -> None:
        self._anchor_clock = self.clock()
        self._anchor_time = t

    def _set_time(self, t: float) -> None:
        self._time = t
        self._emit("on_time", t)
        self._update_chapter(t)
        if self._state != "playing" or self._marked_played:
            return
        length = self.trusted_length()
        if length and length > 5:
            line = length - played_threshold(length)
            # playback (not a seek) crossed into the last seconds
            if t >= line > self._anchor_time and self.clock() - self._anchor_clock >= 0.5:
                self.mark_played()

    def _update_chapter(self, t: float) -> None:
        i = bisect.bisect_right(self._starts, t + 0.05) - 1 if self._starts else -1
        if i != self._chapter:
            old, self._chapter = self._chapter, i
            if old >= 0 and i == old + 1:
                self._maybe_heard(old)
            self._emit("on_chapter", i)
            if self._state == "playing" and self.chapter_skipped(i):
                self._skip_from(i)

    def _maybe_heard(self, i: int, *, at_end: bool = False) -> None:
        """Chapter ``i`` ended under playback: heard through when playback
        (not a jump) carried it to its end."""
        end = self._starts[i + 1] if i + 1 < len(self._starts) else None
        if (self.episode is None or (self._state != "playing" and not at_end) or self.chapter_skipped(i)
                or (end is not None and self._anchor_time > end - 0.3)
                or self.clock() - self._anchor_clock < 0.3):
            return
        self._emit("on_heard", self.episode.id, i, self._starts[i])

    def _skip_from(self, i: int) -> None:
        j = i
        while self.chapter_skipped(j):
            j += 1
        if j < len(self._starts):
            self.seek(self._starts[j])
        else:
            tl = self.trusted_length()
            if tl:
                self.seek(tl)
