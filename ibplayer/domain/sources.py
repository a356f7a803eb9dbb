"""Where chapters come from: the sources, their priority and their names
(no dependencies, so a front-end can show them without loading the models)."""

from __future__ import annotations

SOURCE_PRIORITY: dict[str, int] = {
    "id3": 60,
    "mp4": 60,
    "vorbis": 60,
    "podcast-chapters": 50,
    "psc": 40,
    "notes": 10,
}

SOURCE_LABELS: dict[str, str] = {
    "notes": "Show notes",
    "podcast-chapters": "Podcasting 2.0",
    "psc": "Podlove",
    "id3": "ID3 (MP3 file)",
    "mp4": "MP4 chapters",
    "vorbis": "Vorbis comments",
}


# Over chapter lists of any row type with a ``start`` (models or plain rows):
# the window reads plain rows, so these stay free of the models.

def best_source(by_source: dict[str, list]) -> str | None:
    """The source to show: explicit chapter data wins over notes (``SOURCE_PRIORITY``).
    Sources with no chapters are ignored; None when there is nothing."""
    best: str | None = None
    best_p = -1
    for src, chs in (by_source or {}).items():
        if not chs:
            continue
        p = SOURCE_PRIORITY.get(src, 0)
        if p > best_p:
            best, best_p = src, p
    return best


def sources_disagree(a: list, b: list, tolerance: float = 5.0) -> bool:
    """True when two chapter lists differ in count or any start differs by more
    than ``tolerance`` seconds."""
    if len(a) != len(b):
        return True
    sa = sorted(c.start for c in a)
    sb = sorted(c.start for c in b)
    return any(abs(x - y) > tolerance for x, y in zip(sa, sb))


def any_disagree(sets: dict[str, list]) -> bool:
    """Whether any two of an episode's chapter lists differ."""
    lists = list(sets.values())
    return any(sources_disagree(lists[i], lists[j]) for i in range(len(lists)) for j in range(i + 1, len(lists)))
