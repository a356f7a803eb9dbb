"""Chapters and duration embedded in downloaded audio files (via mutagen).

Supported chapter formats:

* ID3v2 ``CHAP``/``CTOC`` frames (MP3, also any ID3-tagged file) → "id3"
* Nero ``chpl`` chapters in MP4/M4A/M4B → "mp4"
* QuickTime chapter tracks in MP4/M4A/M4B (a text track named by the audio
  track's ``tref/chap``, what Auphonic, GarageBand and ffmpeg write) → "mp4".
  mutagen does not read them, so :func:`mp4_chapter_track` walks the boxes.
* ``CHAPTERnnn`` / ``CHAPTERnnnNAME`` / ``CHAPTERnnnURL`` comments in Ogg
  Vorbis, Opus, FLAC → "vorbis"

:func:`read_audio_info` never raises on a broken or unknown file.
No Qt here.
"""

from __future__ import annotations

import logging
import re
import struct
from dataclasses import dataclass, field
from os import PathLike

import mutagen
from mutagen.id3 import CHAP, CTOC, ID3, TIT2, CTOCFlags, ID3NoHeaderError
from mutagen.mp4 import MP4

from ibplayer.domain.chapters import MAX_SECONDS
from ibplayer.domain.models import Chapter

log = logging.getLogger(__name__)

__all__ = ["AudioInfo", "read_audio_info", "write_id3_chapters", "mp4_chapter_track"]


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
        if length:
            duration = _sane(float(length))
            if duration is None or duration == 0:
                duration = None
                log.warning("ignoring the impossible duration %r of %s", length, path)
    except Exception as e:  # pragma: no cover - defensive
        log.warning("no duration for %s: %s", path, e)

    chapters: list[Chapter] = []
    source = None
    try:
        tags = f.tags
        if isinstance(tags, ID3):
            chapters, source = _id3_chapters(tags), "id3"
        elif getattr(f, "chapters", None):  # mutagen.mp4.MP4, Nero chpl
            chapters, source = _mp4_chapters(f.chapters), "mp4"
        elif isinstance(f, MP4):
            chapters, source = mp4_chapter_track(path), "mp4"
        elif tags is not None and hasattr(tags, "keys") and _is_vcomment(tags):
            chapters, source = _vorbis_chapters(tags), "vorbis"
    except Exception as e:
        log.warning("cannot read chapters of %s: %s", path, e)
        chapters = []
    chapters = _sane_chapters(chapters)
    if not chapters:
        return AudioInfo(duration, [], None)
    _fill_ends(chapters, duration)
    return AudioInfo(duration, chapters, source)


# --------------------------------------------------------------------------


def _sane(sec: float | None) -> float | None:
    """A finite position in an episode, 0 <= sec <= MAX_SECONDS, else None."""
    if sec is None:
        return None
    return sec if 0 <= sec <= MAX_SECONDS else None  # NaN fails both


def _sane_chapters(chapters: list[Chapter]) -> list[Chapter]:
    """Drop chapters whose start is impossible (non-finite, absurd); impossible
    ends become unknown.  (Starts past the duration are the caller's call:
    mutagen's estimate of a VBR file's length can be short.)"""
    out = []
    for ch in chapters:
        if _sane(ch.start) is None:
            continue
        if ch.end is not None and _sane(ch.end) is None:
            ch.end = None
        out.append(ch)
    return out


def _fill_ends(chapters: list[Chapter], duration: float | None) -> None:
    """A missing end is the next chapter's start (the last one: the duration)."""
    for i, ch in enumerate(chapters):
        if ch.end is None or ch.end <= ch.start:
            nxt = chapters[i + 1].start if i + 1 < len(chapters) else duration
            ch.end = nxt if nxt is not None and nxt > ch.start else None


def _text(frame) -> str:
    """A text frame's value: its first string (a title ends at its NUL; what
    some taggers leave after it is not part of it, as AntennaPod reads it)."""
    try:
        return next((str(t).strip() for t in frame.text if str(t).strip()), "")
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
            return _sane(float(value))  # some taggers write plain seconds
        except (ValueError, OverflowError):
            return None
    h, mi, s = m.groups()
    return _sane(int(h or 0) * 3600 + int(mi) * 60 + float(s))


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


# --------------------------------------------------------------------------
# QuickTime chapter tracks (MP4/M4A/M4B)
# --------------------------------------------------------------------------

_MAX_MOOV = 64 * 1024 * 1024  # a real moov is KBs to a few MBs
_MAX_TEXT_SAMPLES = 5000
_MAX_SAMPLE = 64 * 1024
_BOX_CONTAINERS = frozenset((b"moov", b"trak", b"mdia", b"minf", b"stbl", b"tref", b"edts"))


def _boxes(buf: bytes, start: int, end: int):
    """(type, payload_start, payload_end) of the boxes in ``buf[start:end]``;
    stops at the first box whose size does not fit."""
    off = start
    while off + 8 <= end:
        size, typ = struct.unpack_from(">I4s", buf, off)
        hdr = 8
        if size == 1:
            if off + 16 > end:
                return
            size = struct.unpack_from(">Q", buf, off + 8)[0]
            hdr = 16
        elif size == 0:
            size = end - off
        if size < hdr or off + size > end:
            return
        yield typ, off + hdr, off + size
        off += size


def _child(buf: bytes, box: tuple[int, int] | None, *path: bytes) -> tuple[int, int] | None:
    """Payload span of the first box at ``path`` below ``box``."""
    for name in path:
        if box is None:
            return None
        box = next(((a, b) for t, a, b in _boxes(buf, box[0], box[1]) if t == name), None)
    return box


def _read_moov(fh) -> bytes | None:
    """The bytes of the top-level ``moov`` box (seeking past ``mdat``)."""
    fh.seek(0, 2)
    size_total = fh.tell()
    off = 0
    while off + 8 <= size_total:
        fh.seek(off)
        head = fh.read(16)
        if len(head) < 8:
            return None
        size, typ = struct.unpack_from(">I4s", head)
        hdr = 8
        if size == 1:
            if len(head) < 16:
                return None
            size = struct.unpack_from(">Q", head, 8)[0]
            hdr = 16
        elif size == 0:
            size = size_total - off
        if size < hdr:
            return None
        if typ == b"moov":
            if size > _MAX_MOOV or off + size > size_total:
                return None
            fh.seek(off)
            return fh.read(size)
        off += size
    return None


def _u32s(buf: bytes, span: tuple[int, int] | None, skip: int, per: int) -> list[tuple[int, ...]]:
    """Entries of a full box table: version/flags (4), count (4), entries of
    ``per`` uint32 each (``skip`` extra header bytes before the count)."""
    if span is None:
        return []
    a, b = span
    a += 4 + skip
    if a + 4 > b:
        return []
    (count,) = struct.unpack_from(">I", buf, a)
    a += 4
    count = min(count, (b - a) // (4 * per))
    fmt = ">" + "I" * per
    return [struct.unpack_from(fmt, buf, a + i * 4 * per) for i in range(count)]


def _sample_text(raw: bytes) -> tuple[str, str | None]:
    """A QuickTime text sample: a 16-bit length, the text (UTF-8, or UTF-16
    with a byte-order mark), then optional modifier boxes (``href``: a link)."""
    if len(raw) < 2:
        return "", None
    (n,) = struct.unpack_from(">H", raw)
    body = raw[2 : 2 + n]
    if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
        text = body.decode("utf-16", "replace")
    else:
        text = body.decode("utf-8", "replace")
    url = None
    for typ, a, b in _boxes(raw, 2 + n, len(raw)):
        if typ == b"href" and a + 5 <= b:
            ln = raw[a + 4]
            url = raw[a + 5 : min(b, a + 5 + ln)].decode("utf-8", "replace").strip() or None
    return " ".join(text.replace("\x00", " ").split()), url


def mp4_chapter_track(path: str | PathLike) -> list[Chapter]:
    """Chapters from a QuickTime chapter track: the text track that another
    track names in its ``tref/chap`` box.  [] when there is none; bounded
    work on hostile files (moov size, sample count and size are capped)."""
    with open(path, "rb") as fh:
        moov = _read_moov(fh)
        if moov is None:
            return []
        root = (8, len(moov))
        traks: dict[int, tuple[int, int]] = {}
        chap_ids: list[int] = []
        for typ, a, b in _boxes(moov, *root):
            if typ != b"trak":
                continue
            tkhd = _child(moov, (a, b), b"tkhd")
            if tkhd is None or tkhd[0] + 24 > tkhd[1]:
                continue
            version = moov[tkhd[0]]
            (tid,) = struct.unpack_from(">I", moov, tkhd[0] + (20 if version == 1 else 12))
            traks[tid] = (a, b)
            chap = _child(moov, (a, b), b"tref", b"chap")
            if chap is not None:
                for i in range(chap[0], chap[1] - 3, 4):
                    (ref,) = struct.unpack_from(">I", moov, i)
                    if ref not in chap_ids:
                        chap_ids.append(ref)
        for tid in chap_ids:
            trak = traks.get(tid)
            if trak is not None:
                chs = _text_track_chapters(fh, moov, trak)
                if chs:
                    return chs
    return []


def _text_track_chapters(fh, moov: bytes, trak: tuple[int, int]) -> list[Chapter]:
    mdhd = _child(moov, trak, b"mdia", b"mdhd")
    if mdhd is None or mdhd[0] + 24 > mdhd[1]:
        return []
    version = moov[mdhd[0]]
    (timescale,) = struct.unpack_from(">I", moov, mdhd[0] + (20 if version == 1 else 12))
    if not timescale:
        return []
    stbl = _child(moov, trak, b"mdia", b"minf", b"stbl")
    if stbl is None:
        return []
    # sample start times
    times: list[int] = []
    t = 0
    for count, delta in _u32s(moov, _child(moov, stbl, b"stts"), 0, 2):
        for _ in range(min(count, _MAX_TEXT_SAMPLES - len(times))):
            times.append(t)
            t += delta
    if not times:
        return []
    # sample sizes
    stsz = _child(moov, stbl, b"stsz")
    if stsz is None or stsz[0] + 12 > stsz[1]:
        return []
    fixed, count = struct.unpack_from(">II", moov, stsz[0] + 4)
    n = min(len(times), count)
    if fixed:
        sizes = [fixed] * n
    else:
        a = stsz[0] + 12
        n = min(n, (stsz[1] - a) // 4)
        sizes = list(struct.unpack_from(f">{n}I", moov, a))
    # chunk offsets and the samples in each chunk
    co = _child(moov, stbl, b"stco")
    if co is not None:
        offsets = [o for (o,) in _u32s(moov, co, 0, 1)]
    else:
        co64 = _child(moov, stbl, b"co64")
        offsets = [(hi << 32) | lo for hi, lo in _u32s(moov, co64, 0, 2)]
    stsc = _u32s(moov, _child(moov, stbl, b"stsc"), 0, 3)
    if not offsets or not stsc:
        return []
    positions: list[int] = []
    for i, (first, per_chunk, _desc) in enumerate(stsc):
        last = stsc[i + 1][0] - 1 if i + 1 < len(stsc) else len(offsets)
        for chunk in range(max(first, 1), min(last, len(offsets)) + 1):
            pos = offsets[chunk - 1]
            for _ in range(per_chunk):
                if len(positions) >= n:
                    break
                positions.append(pos)
                pos += sizes[len(positions) - 1]
            if len(positions) >= n:
                break
        if len(positions) >= n:
            break
    out: list[Chapter] = []
    for k, pos in enumerate(positions):
        fh.seek(pos)
        title, url = _sample_text(fh.read(min(sizes[k], _MAX_SAMPLE)))
        start = times[k] / timescale
        out.append(Chapter(start=start, title=title or f"Chapter {k + 1}", source="mp4", url=url))
    out.sort(key=lambda c: c.start)
    return out
