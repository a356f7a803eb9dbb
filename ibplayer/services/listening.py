"""Listening marks and chapter skipping (issue 10 §5), with no Qt.

- Per-feed *skip words*: a chapter whose title contains one (whole words,
  any case: "sponsor", "ad break") is jumped over during playback (the
  playback session applies :func:`title_matches`) and shown dimmed.
- *Heard* chapters: the playback session reports a chapter played through
  to its end (not jumped over); they are stored per episode, keyed by the
  chapter's start, and "continue from the first unheard chapter" starts at
  :func:`first_unheard`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from ibplayer.services.changes import Changes

MAX_WORDS = 50
MAX_WORD_LEN = 80


def parse_skip_words(text: str | Iterable[str]) -> list[str]:
    """Skip words from "sponsor, ad break" (or a list): trimmed, lower-case,
    without duplicates.  ValueError (one line) on unusable input."""
    parts = text.split(",") if isinstance(text, str) else [str(p) for p in text]
    out: list[str] = []
    for p in parts:
        w = " ".join(p.split()).lower()
        if not w:
            continue
        if any(ord(c) < 32 for c in p.strip(" \t")):
            raise ValueError(f"skip word {p.strip()[:40]!r} contains a control character")
        if len(w) > MAX_WORD_LEN:
            raise ValueError(f"skip word {w[:40]!r}… is longer than {MAX_WORD_LEN} characters")
        if w not in out:
            out.append(w)
    if len(out) > MAX_WORDS:
        raise ValueError(f"{len(out)} skip words: at most {MAX_WORDS}")
    return out


def title_matches(title: str, words: Sequence[str]) -> bool:
    """Whether a chapter title contains one of ``words`` (whole words, any case)."""
    if not words or not title:
        return False
    t = title.lower()
    return any(re.search(r"(?<!\w)" + re.escape(w.lower()) + r"(?!\w)", t) for w in words if w)


def same_start(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) < 0.0005


def heard_indexes(starts: Sequence[float], heard: Iterable[float]) -> set[int]:
    """Indexes of ``starts`` whose chapter is in ``heard`` (stored starts)."""
    hs = list(heard)
    return {i for i, s in enumerate(starts) if any(same_start(s, h) for h in hs)}


def first_unheard(starts: Sequence[float], heard: Iterable[float],
                  skipped: Callable[[int], bool] = lambda i: False) -> int | None:
    """The first chapter neither heard nor skipped (None: every chapter is)."""
    done = heard_indexes(starts, heard)
    for i in range(len(starts)):
        if i not in done and not skipped(i):
            return i
    return None


class ListeningService:
    """Skip words and heard chapters of one library (through its Core)."""

    def __init__(self, core) -> None:
        self.core = core

    @property
    def library(self):
        return self.core.library

    def skip_words(self, feed_id: int) -> list[str]:
        return self.library.skip_words(feed_id)

    def set_skip_words(self, feed_id: int, words: str | Iterable[str]) -> Changes:
        if self.library.feed(feed_id) is None:
            raise ValueError(f"no feed {feed_id}")
        self.library.set_skip_words(feed_id, parse_skip_words(words))
        return self.core.emit(Changes(feeds={feed_id}))

    def heard(self, episode_id: int) -> set[float]:
        return self.library.heard_chapters(episode_id)

    def mark_heard(self, episode_id: int, start: float) -> Changes:
        """A chapter (by its start) was heard through."""
        if not self.library.add_heard_chapter(episode_id, start):
            return Changes()
        return self.core.emit(Changes(positions={episode_id}))
