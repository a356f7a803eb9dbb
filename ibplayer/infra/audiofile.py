"""Chapters and duration embedded in downloaded audio files (via mutagen).

Supported chapter formats:

* ID3v2 ``CHAP``/``CTOC`` frames (MP3, also any ID3-tagged file) → "id3"
* Nero ``chpl`` chapters in MP4/M4A/M4B → "mp4"
* ``CHAPTERnnn`` / ``CHAPTERnnnNAME`` / ``CHAPTERnnnURL`` comments in Ogg
  Vorbis, Opus, FLAC → "vorbis"

:func:`read_audio_info` never raises on a broken or unknown file.
No Qt here.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from os import PathLike

import mutagen
from mutagen.id3 import CHAP, CTOC, ID3, TIT2, CTOCFlags, ID3NoHeaderError

from ibplayer.domain.models import Chapter

log = logging.getLogger(__name__)

__all__ = ["AudioInfo", "read_audio_info", "write_id3_chapters"]


@dataclass
class AudioInfo:
    duration: float | None = None  # seconds
    chapters: list[Chapter] = field(default_factory=list)
    source: str | None = None  # "id3" | "mp4" | "vorbis" when chapters were found


def read_audio_info(path: str | PathLike) -> AudioInfo:
    """Duration and embedded chapters of an audio file; empty info on failure."""
    try:
        f = mutagen.File(path)
    except Exception as e:  # mutagen raises many kinds on corrupt files
        log.warning("cannot read audio file %s: %s", path, e)
        return AudioInfo()
    if f is None:
        log.info("unknown audio format: %s", path)
        return AudioInfo()

    duration = None
    try:
        length = getattr(f.info, "length", None)
        if length and length > 0:
            duration = float(length)
    except Exception as e:  # pragma: no cover - defensive
        log.warning("no duration for %s: %s", path, e)

    chapters: list[Chapter] = []
    source = None
    try:
        tags = f.tags
        if isinstance(tags, ID3):
            chapters, source = _id3_chapters(tags), "id3"
        elif getattr(f, "chapters", None):  # mutagen.mp4.MP4
            chapters, source = _mp4_chapters(f.chapters), "mp4"
        elif tags is not None and hasattr(tags, "keys") and _is_vcomment(tags):
            chapters, source = _vorbis_chapters(tags), "vorbis"
    except Exception as e:
        log.warning("cannot read chapters of %s: %s", path, e)
        chapters = []
    if not chapters:
        return AudioInfo(duration, [], None)
    _fill_ends(chapters, duration)
    return AudioInfo(duration, chapters, source)


# --------------------------------------------------------------------------


def _fill_ends(chapters: list[Chapter], duration: float | None) -> None:
    """A missing end is the next chapter's start (the last one: the duration)."""
    for i, ch in enumerate(chapters):
        if ch.end is None or ch.end <= ch.start:
            nxt = chapters[i + 1].start if i + 1 < len(chapters) else duration
            ch.end = nxt if nxt is not None and nxt > ch.start else None


def _text(frame) -> str:
    try:
        return " ".join(str(t) for t in frame.text).strip()
    except Exception:  # pragma: no cover
        return ""


def _id3_chapters(tags: ID3) -> list[Chapter]:
    chaps: dict[str, CHAP] = {f.element_id: f for f in tags.getall("CHAP")}
    if not chaps:
        return []
    # Order by the table of contents when there is one (top-level first,
    # nested tables flattened), else by start time.
    tocs: dict[str, CTOC] = {t.element_id: t for t in tags.getall("CTOC")}
    order: list[str] = []
    if tocs:
        tops = [t for t in tocs.values() if t.flags & CTOCFlags.TOP_LEVEL] or list(tocs.values())[:1]
        seen_tocs: set[str] = set()

        def walk(toc: CTOC) -> None:
            if toc.element_id in seen_tocs:
                return
            seen_tocs.add(toc.element_id)
            for child in toc.child_element_ids:
                if child in chaps and child not in order:
                    order.append(child)
                elif child in tocs:
                    walk(tocs[child])

        for top in tops:
            walk(top)
    rest = sorted((c for c in chaps if c not in order), key=lambda c: chaps[c].start_time)
    out = []
    for n, element_id in enumerate(order + rest, 1):
        frame = chaps[element_id]
        title = ""
        url = None
        for sub in frame.sub_frames.values():
            if sub.FrameID == "TIT2":
                title = _text(sub)
            elif sub.FrameID == "WXXX" and getattr(sub, "url", None):
                url = sub.url
        start = max(0.0, frame.start_time / 1000.0)
        end = frame.end_time / 1000.0 if frame.end_time not in (None, 0xFFFFFFFF) else None
        out.append(Chapter(start=start, end=end, title=title or f"Chapter {n}",
                           source="id3", url=url))
    return out


def _mp4_chapters(chapters) -> list[Chapter]:
    out = []
    for n, ch in enumerate(sorted(chapters, key=lambda c: c.start), 1):
        title = (ch.title or "").strip() or f"Chapter {n}"
        out.append(Chapter(start=max(0.0, float(ch.start)), title=title, source="mp4"))
    return out


_VC_KEY = re.compile(r"^CHAPTER(\d+)(NAME|URL)?$", re.I)
_VC_TIME = re.compile(r"^\s*(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)\s*$")


def _is_vcomment(tags) -> bool:
    try:
        return any(_VC_KEY.match(k) for k in tags.keys())
    except Exception:  # pragma: no cover
        return False


def _parse_vc_time(value: str) -> float | None:
    m = _VC_TIME.match(value)
    if not m:
        try:
            return float(value)  # some taggers write plain seconds
        except ValueError:
            return None
    h, mi, s = m.groups()
    return int(h or 0) * 3600 + int(mi) * 60 + float(s)


def _vorbis_chapters(tags) -> list[Chapter]:
    found: dict[int, dict[str, str]] = {}
    for key in tags.keys():
        m = _VC_KEY.match(key)
        if not m:
            continue
        values = tags[key]
        value = values[0] if isinstance(values, list) and values else str(values)
        found.setdefault(int(m.group(1)), {})[(m.group(2) or "TIME").upper()] = value
    out = []
    for num in sorted(found):
        entry = found[num]
        start = _parse_vc_time(entry.get("TIME", ""))
        if start is None:
            continue
        title = entry.get("NAME", "").strip() or f"Chapter {len(out) + 1}"
        out.append(Chapter(start=start, title=title, source="vorbis",
                           url=entry.get("URL") or None))
    out.sort(key=lambda c: c.start)
    return out


# --------------------------------------------------------------------------


def write_id3_chapters(path: str | PathLike, chapters: list[tuple[float, float, str]]) -> None:
    """Replace the ID3 chapters of ``path`` with ``(start_s, end_s, title)`` tuples.

    Writes one ``CHAP`` per chapter (``chp0``, ``chp1``...) and an ordered,
    top-level ``CTOC`` listing them in the given order.
    """
    try:
        tags = ID3(path)
    except ID3NoHeaderError:
        tags = ID3()
    tags.delall("CHAP")
    tags.delall("CTOC")
    ids = []
    for i, (start, end, title) in enumerate(chapters):
        element_id = f"chp{i}"
        ids.append(element_id)
        tags.add(CHAP(
            element_id=element_id,
            start_time=int(round(start * 1000)),
            end_time=int(round(end * 1000)),
            start_offset=0xFFFFFFFF,
            end_offset=0xFFFFFFFF,
            sub_frames=[TIT2(encoding=3, text=[title])],
        ))
    tags.add(CTOC(
        element_id="toc",
        flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
        child_element_ids=ids,
        sub_frames=[TIT2(encoding=3, text=["Chapters"])],
    ))
    tags.save(path)
