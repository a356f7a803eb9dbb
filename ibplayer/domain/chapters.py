"""Chapters: from show notes, Podlove Simple Chapters and Podcasting 2.0 JSON.

Pure Python (no Qt, no network).  The show-notes parser is the headline
feature: podcast hosts bury chapter timelines in their notes in many shapes
(one per line / paragraph / ``<li>`` / ``<br>``, a table, a timestamp alone
on a line with the title below it, title first, or a whole timeline flattened
into one paragraph) and we turn them into ``Chapter`` objects.

Design notes
------------
* HTML is turned into lines with a handful of precompiled regexes and one
  ``html.unescape`` call (no HTML parser per item: the core ingests thousands
  of episodes at once).  Block tags become line breaks, table cells become
  tabs, every other tag is dropped.
* Every line is scanned for timestamps.  A timestamp starts a chapter when it
  leads its line (after bullets and wrappers), when it ends a short
  "title first" line, when it is the start column of a table row, or when it
  sits in a flattened timeline (preceded by whitespace, followed by a title).
  Prose mentions ("at around 12:40"), clock times, times inside dates and
  ratios are rejected.
* Candidate entries are grouped into runs of strictly ascending starts; the
  longest run with at least two entries wins, unless it is shaped like a
  day's agenda (it starts at a clock hour and every time, read as h:mm, is on
  a 5-minute grid): a chapter list starts near 0:00.
* Headings and link text are marked (control characters) only in a second
  pass, when the finder needs them: a lone time takes the heading above it in
  Podlove / Open Shownotes layouts, and a paragraph of links does not split a
  list.
* Hostile input is bounded: notes beyond ``MAX_NOTES`` characters are not
  searched, nor are lines with more than ``MAX_GLUED`` glued times; explicit
  chapter data with NaN, infinite, negative or absurd times loses only those
  chapters, and malformed JSON (deep nesting included) is a one-line
  ``ValueError``.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter

from ibplayer.domain.models import Chapter
from ibplayer.domain.sources import any_disagree, best_source, sources_disagree  # noqa: F401 - re-exported
from ibplayer.domain.timestamps import (  # noqa: F401 - moved there (no models); used and re-exported here
    _BAD_BEFORE,
    _CLOCK_AFTER_RE,
    _CLOCK_HINT,
    _COLON_RE,
    _D,
    _DATE_BEFORE_RE,
    _DATE_WINDOW,
    _DATE_WORDS,
    _MONTH,
    _NPT_RE,
    _RANGE_CLOCK_RE,
    _RANGE_DASH,
    _RANGE_GAP_RE,
    _TS_FULL_RE,
    _TS_RE,
    DASHES,
    MAX_SECONDS,
    _has_ts,
    _is_clock,
    _maybe_date,
    _range_ahead,
    _sane,
    _seconds,
    _valid_matches,
    parse_npt,
    parse_timestamp,
    timestamp_mentions,
)

log = logging.getLogger(__name__)

# Validating the whole list in one call is ~30% faster than Chapter(...) each.
_CHAPTER_LIST = TypeAdapter(list[Chapter])

__all__ = [
    "parse_timestamp",
    "parse_npt",
    "chapters_from_notes",
    "chapters_and_text",
    "timestamp_mentions",
    "chapters_from_psc",
    "chapters_from_json",
    "finalize",
    "best_source",
    "sources_disagree",
]


# --------------------------------------------------------------------------
# HTML -> lines
# --------------------------------------------------------------------------

_HTML_HINT_RE = re.compile(r"<[A-Za-z!/]")
_UPPER_TAG_RE = re.compile(r"</?[A-Z]")
_DROP_RE = re.compile(
    r"<!--.*?(?:-->|$)|<(script|style|template|noscript)\b[^>]*>.*?(?:</\1\s*>|$)",
    re.I | re.S,
)
# The rest of a tag: quoted attribute values may contain ">" (unrolled for
# speed).  A tag never spans a "<", which keeps unclosed tags linear.
_TAG = r"[^<>\"']*(?:(?:\"[^\"<]*\"|'[^'<]*')[^<>\"']*)*>"
_BLOCK_NAMES = (
    r"(?:p|div|li|ul|ol|br|h[1-6]|tr|table|thead|tbody|tfoot|blockquote|hr|"
    r"section|article|header|footer|aside|nav|main|dd|dt|dl|pre|figure|figcaption|"
    r"iframe|video|audio|caption|details|summary|center|form)\b"
)
# Case-sensitive (lower-case) variants are ~3x faster; the re.I ones are only
# used when the notes contain upper-case tags.
_BLOCK_RE = re.compile(r"</?" + _BLOCK_NAMES + _TAG)
_BLOCK_RE_I = re.compile(r"</?" + _BLOCK_NAMES + _TAG, re.I)
_CELL_RE = re.compile(r"</?t[dh]\b" + _TAG, re.I)
_ANYTAG_RE = re.compile(r"</?[A-Za-z!?]" + _TAG)
# Markers left in the text for the chapter finder (removed by ``_norm``): a
# heading starts after HEAD, link text sits between LINK and END_LINK.
HEAD, LINK, END_LINK = "\x02", "\x03", "\x04"
_HEADING_RE = re.compile(r"<h[1-6]\b" + _TAG)
_HEADING_RE_I = re.compile(r"<h[1-6]\b" + _TAG, re.I)
_LINK_RE = re.compile(r"<a\b" + _TAG)
_LINK_RE_I = re.compile(r"<a\b" + _TAG, re.I)
_END_LINK_RE = re.compile(r"</a\s*>")
_END_LINK_RE_I = re.compile(r"</a\s*>", re.I)
_LINK_TEXT_RE = re.compile(LINK + "[^" + LINK + END_LINK + "]*" + END_LINK + "?")
_ZW_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]+")
_ZW_CHARS = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")


def _html_to_text(notes: str, marks: bool = False) -> str:
    """Block tags -> line breaks, table cells -> tabs, other tags dropped;
    with ``marks`` headings and link text are marked (``HEAD``,
    ``LINK``…``END_LINK``).
    Entities are NOT decoded here (see ``_norm``)."""
    text = notes
    if HEAD in text or LINK in text or END_LINK in text:
        text = text.replace(HEAD, "").replace(LINK, "").replace(END_LINK, "")  # the notes' own control characters are not markers
    if _HTML_HINT_RE.search(text):
        low = text.lower()
        if "<!--" in low or "<script" in low or "<style" in low or "<template" in low or "<noscript" in low:
            text = _DROP_RE.sub(" ", text)
        # Case-sensitive (lower-case) patterns are ~3x faster; the re.I ones
        # only when the notes contain upper-case tags.
        upper = _UPPER_TAG_RE.search(text) is not None
        heading = _HEADING_RE_I if upper else _HEADING_RE
        heads = marks and "<h" in low and heading.search(text) is not None
        if heads:
            text = heading.sub(HEAD, text)
        if marks and "<a" in low:
            # Link text is marked for the heading layout (a paragraph of links
            # under a heading) and for long link paragraphs, the only kind that
            # can be the "lot of other text" that would split a list.
            text = (_LINK_RE_I if upper else _LINK_RE).sub(LINK, text)
            text = (_END_LINK_RE_I if upper else _END_LINK_RE).sub(END_LINK, text)
        block = _BLOCK_RE_I if upper else _BLOCK_RE
        if block.search(text):
            # Real HTML: raw line breaks are just spaces, block tags break lines.
            # (Notes with only inline tags, e.g. a plain-text description with
            # one link, keep their line breaks.)
            if "\n" in text or "\r" in text:
                text = text.replace("\r", " ").replace("\n", " ")
            text = block.sub("\n", text)
        if heads:
            text = text.replace(HEAD, "\n" + HEAD)
        if "<t" in text or "<T" in text or "</t" in text or "</T" in text:
            text = _CELL_RE.sub("\t", text)
        text = _ANYTAG_RE.sub("", text)
    for ch in _ZW_CHARS:
        if ch in text:
            text = _ZW_RE.sub("", text)
            break
    return text


def _norm(line: str) -> str:
    """Decode entities, drop zero-width characters, collapse whitespace
    (cells stay tab-separated)."""
    if HEAD in line or LINK in line or END_LINK in line:
        line = line.replace(HEAD, "").replace(LINK, "").replace(END_LINK, "")
    if "&" in line:
        line = html.unescape(line)
    if "\t" in line:
        cells = [" ".join(c.split()) for c in line.split("\t")]
        if sum(1 for c in cells if c) >= 2:
            return "\t".join(c for c in cells if c)
        return " ".join(cells).strip()
    return " ".join(line.split())


# --------------------------------------------------------------------------
# Line analysis
# --------------------------------------------------------------------------

_BULLETS = "*•·▪▫◦‣⁃●○■□►▶➤→✓✔☐+>#~\\" + _D
# Decoration that may precede a leading timestamp: bullets, "1." numbering, an
# opening bracket, markdown emphasis.
_LEAD_RE = re.compile(r"(?:[" + _BULLETS + r"]+\s*|\d{1,3}[.)]\s+|\d{1,3}\s+(?=\d))*[(\[{]?\s*[*_]*")
# Closing wrapper right after a timestamp.
_CLOSE_RE = re.compile(r"[*_]*[)\]}]?[*_]*")
_RANGE_RE = re.compile(r"\s*(?:[" + _D + r"~]|to)\s*[(\[{]?\s*")
_AFTER_RE = re.compile(r"[*_]*[)\]}]?[*_]*(\s*(?:[" + _D + r":|•·]+|\.(?=\s))?)\s*")
# Decoration just before a mid-line timestamp ("Intro • (01:19)").
_DECO_BEFORE_RE = re.compile(r"(?:(?<=\s)[•·*▪|" + _D + r"]+\s*)?[(\[{]?[*_]*$")
_DASH_AFTER_RE = re.compile(r"[*_]*[)\]}]?[*_]*\s*[" + _D + r"|•]")
_PROSE_BEFORE_RE = re.compile(
    r"(?:\b(?:at|around|about|from|to|until|till|by|after|before|since|between|and|or|"
    r"approx|approximately|roughly|past|minutes?|min|mark|skip|jump|starting|"
    r"starts?|begins?|in|on|of|is|was|the|a|an|like)|[@~≈])\s*$",
    re.I,
)
_LABEL_BEFORE_RE = re.compile(
    r"(?:^|[:.!?]|\b(?:timeline|chapters?|timestamps?|time\s?codes?|contents|outline|"
    r"agenda|topics|highlights|index|breakdown|show\s?notes|in\s+this\s+episode))"
    r"\s*[:\-–—]?\s*$",
    re.I,
)
# Title-first: "Intro (00:00)", "Intro - 00:01:23", "Intro 0:00".
_TRAIL_PRE_RE = re.compile(r"(.*?\S)\s*([" + _D + r"|:@•·]+)?\s*([(\[{])?\s*[*_]*$")
_TRAIL_POST_RE = re.compile(r"[*_]*\s*([)\]}])?\s*(?P<note>[(\[][^()\[\]]{1,24}[)\]])?\s*[.;,]?\s*$")

# Section labels that end the last title of a flattened timeline ("Music:").
_SECTION_TAIL_RE = re.compile(
    r"(?:^|(?<=\s))(?=(?-i:[A-Z]))(?:Music|Songs?|Soundtrack|Theme(?: music)?|About(?: [A-Za-z]+){0,2}|"
    r"(?:Key )?Takeaways?|Links?|Resources?|Sponsors?|Sponsored by|Credits?|Notes|Show notes|"
    r"References?|Papers?(?: mentioned)?|Mentioned(?: in [a-z ]{0,20})?|Guests?|Hosts?|"
    r"Hosted by|Transcripts?|Follow(?: us)?|Subscribe|Support(?: us| the show)?|Contact|"
    r"Socials?|Social media|Further reading|Reading list|Books?|Where to find [^:]{1,40}|"
    r"Connect(?: with [^:]{1,40})?|Timeline|Chapters|Timestamps|Produced by|Production|"
    r"Edited by|Editing|Disclaimer|Tags|Keywords|Summary|Bio|Quotes?|Learn more|"
    r"Newsletter|Website|Episode (?:links|notes|resources))\s*$",
    re.I,
)
_RULE_RE = re.compile(r"\s*(?:-{3,}|_{3,}|={3,}|\*{3,}|[—―]{2,})")
_SENT_RE = re.compile(r"([.!?])[\"”’')\]]*\s+(?=[\"“‘'(\[]?[A-Z0-9])")
_ABBREV = frozenset(
    "vs v dr mr mrs ms prof st jr sr eg ie e.g i.e etc no vol approx inc ltd co mt fig cf al "
    "feat ft ca u.s dept est govt jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_TITLE_LSTRIP = " \t" + "*•·▪▫◦‣⁃●○■□►▶➤→|:" + DASHES
_TITLE_RSTRIP_END = " \t;,"
_TITLE_RSTRIP_MID = " \t;,*•·▪|([{" + DASHES

# A two-digit time glued to the lower-case word before it.
_GLUED_RE = re.compile(r"([a-z)\]])(\d\d:[0-5]\d(?::[0-5]\d)?)(?![\d:])")

# Show notes longer than this are only searched for chapters in their first
# MAX_NOTES characters (a real chapter list sits near the top; a hostile item
# may carry megabytes).
MAX_NOTES = 100_000
MAX_GLUED = 300
MAX_TITLE = 250  # longer "titles" between two timestamps mean prose, not a timeline


def _sentence_cut(title: str) -> str:
    for m in _SENT_RE.finditer(title):
        p = m.group(1)
        if p == ".":
            i = m.start(1)
            j = i
            while j > 0 and (title[j - 1].isalnum() or title[j - 1] == "."):
                j -= 1
            word = title[j:i].lower()
            if word in _ABBREV or (len(word) == 1 and word.isalpha()) or not word:
                continue
            return title[:i]
        return title[: m.start(1) + 1]
    return title


def _section_cut(title: str) -> str:
    """Cut before a section label such as ``Music:`` (never at position 0)."""
    i = title.find(":", 1)
    while i != -1:
        lo = max(0, i - 48)
        m = _SECTION_TAIL_RE.search(title, lo, i)
        if m and m.start() > 0:
            return title[: m.start()]
        i = title.find(":", i + 1)
    return title


# Boilerplate that ends the last title of a flattened timeline even without a
# colon label: a URL or an all-purpose phrase always; a lone word ("Links",
# "Sponsors") only after a lower-case word or before a URL / the end, so that
# Title Case titles ("How Links Rot") keep it.
_BOILER_RE = re.compile(
    r"(?<=\s)(?:(?P<url>https?://|www\.)"
    r"|(?=[A-Z])(?P<phrase>(?i:learn more|sponsored by|brought to you by|follow (?:us|me|the show|along)|"
    r"support (?:us|the show|this show)|find us|connect with (?:us|me)|get in touch|contact us|"
    r"subscribe (?:to|wherever|on|for)|check out our|this episode is sponsored))\b"
    r"|(?=[A-Z])(?P<word>(?i:disclaimer|sponsors?|links|resources|credits|subscribe|visit|"
    r"transcripts?|newsletter|references))\b)"
)
_URL_NEXT_RE = re.compile(r"\s*(?:https?://|www\.|$)")


def _boilerplate_cut(title: str) -> str:
    for m in _BOILER_RE.finditer(title, 1):
        if m.group("word"):
            before = title[: m.start()].rstrip()
            prev = before[before.rfind(" ") + 1 :]
            if not (prev[:1].islower() or prev[-1:] in ".!?)" or _URL_NEXT_RE.match(title, m.end())):
                continue
        return title[: m.start()]
    return title


def _cut_last(title: str, flattened: bool) -> str:
    """Where does the last title of a line end?  Always at a ``----`` rule; in a
    flattened timeline (or for an over-long title) also at a section label or a
    sentence break.  Never more than MAX_TITLE characters."""
    if "---" in title or "___" in title or "===" in title or "***" in title or "——" in title or "――" in title:
        m = _RULE_RE.search(title, 1)
        if m:
            title = title[: m.start()]
    if flattened or len(title) > MAX_TITLE:
        if ":" in title:
            title = _section_cut(title)
        title = _boilerplate_cut(title)
        title = _sentence_cut(title)
    if len(title) > MAX_TITLE:
        cut = title.rfind(" ", 0, MAX_TITLE)
        title = title[: cut if cut > 0 else MAX_TITLE]
    return title


def _clean_title(t: str, mid: bool = False) -> str:
    t = t.strip().lstrip(_TITLE_LSTRIP).strip()
    t = t.rstrip(_TITLE_RSTRIP_MID if mid else _TITLE_RSTRIP_END)
    # balanced "**Intro**" emphasis left by markdown
    if t.startswith("**") and t.endswith("**") and len(t) > 4:
        t = t[2:-2].strip()
    return t


class _Entry:
    """A chapter candidate; ``line``/``stop`` are the offsets of its line(s)."""

    __slots__ = ("start", "end", "title", "line", "stop", "pending", "hms")

    def __init__(self, start: float, end: float | None, title: str, line: int, pending: bool = False):
        self.start = start
        self.end = end
        self.title = title
        self.line = line
        self.stop = line
        self.pending = pending
        self.hms = False  # written as h:mm:ss (a clock time never is)


def _after_ts(line: str, k: int, ms: list[tuple[int, int, float]]) -> tuple[int, float | None, int, bool]:
    """Consume closing wrapper, an optional range end ("00:00 - 05:00") and a
    separator after match k.  Returns (title_start, range_end, index of the last
    match used, separator_seen)."""
    end = None
    b = ms[k][1]
    if k + 1 < len(ms):
        pos = _CLOSE_RE.match(line, b).end()
        rm = _RANGE_RE.match(line, pos)
        if rm and rm.end() == ms[k + 1][0] and rm.group().strip():
            end = ms[k + 1][2]
            k += 1
            b = ms[k][1]
    am = _AFTER_RE.match(line, b)
    return am.end(), end, k, bool(am.group(1).strip())


def _table_row(cells: list[str], ln: int) -> _Entry | None:
    start = None
    title = None
    for c in cells:
        c = c.strip(" *_")
        if not c:
            continue
        inner = c.strip("()[]{} ")
        if start is None:
            sec = parse_timestamp(inner)
            if sec is not None and not _is_clock(c, 0, len(c)):
                start = sec
                continue
        if title is None and parse_timestamp(inner) is None and not inner.replace(".", "").isdigit():
            if set(c) <= set("-:|= "):  # markdown separator row
                return None
            title = c
        if start is not None and title is not None:
            break
    if start is None or not title:
        return None
    t = _clean_title(title)
    return _Entry(start, None, t, ln) if t else None


_TRAIL_LEN_RE = re.compile(r"[*_]*[)\]}]?[*_]*\s*$")
_OPEN_BEFORE_RE = re.compile(r"[(\[{]\s*$")


def _trailing_length(line: str, ms: list[tuple[int, int, float]], k: int) -> int:
    """Where a trailing length ends the last title ("3  05:13  Meet the guest
    00:45": the last time is the row's length, not part of its title), else -1."""
    a, b, _ = ms[-1]
    if len(ms) - 1 <= k or not _TRAIL_LEN_RE.match(line, b) or _TRAIL_LEN_RE.match(line, b).end() != len(line):
        return -1
    pre = line[max(0, a - 16) : a]
    if _PROSE_BEFORE_RE.search(pre):
        return -1
    om = _OPEN_BEFORE_RE.search(line, 0, a)
    return om.start() if om else a


def _line_entries(line: str, ln: int, ms: list[tuple[int, int, float]]) -> list[_Entry]:
    """Chapter candidates on one line, given its valid timestamp matches."""
    n = len(ms)
    if not n:
        return []
    # --- table row (HTML cells become tabs; markdown uses pipes) ---
    if "\t" in line or line.count("|") >= 2:
        cells = line.split("\t") if "\t" in line else line.split("|")
        if len([c for c in cells if c.strip()]) >= 2:
            e = _table_row(cells, ln)
            if e is not None:
                return [e]
            if any(parse_timestamp(c.strip(" *_()[]{}")) is not None for c in cells):
                return []  # a table row without a usable title
            # not a table after all ("00:00 Intro | 05:00 Next"): read it as text

    a0 = ms[0][0]
    lead = a0 == 0 or _LEAD_RE.match(line).end() == a0
    if lead and n == 1:
        # the common case: one timestamp leading its line
        am = _AFTER_RE.match(line, ms[0][1])
        rest = line[am.end() :]
        if not rest:
            return [_Entry(ms[0][2], None, "", ln, pending=True)]
        title = _clean_title(_cut_last(rest, False))
        return [_Entry(ms[0][2], None, title, ln)] if title else []

    # candidates: (match index, title_start, deco_start, range_end, separator_seen, is_lead)
    cands: list[tuple[int, int, int, float | None, bool, bool]] = []
    k = 0
    while k < n:
        a = ms[k][0]
        if k == 0 and lead:
            ts, end, k2, sep = _after_ts(line, k, ms)
            cands.append((k, ts, 0, end, sep, True))
            k = k2 + 1
            continue
        window = line[max(0, a - 12) : a]
        dm = _DECO_BEFORE_RE.search(window)
        deco = a - (len(window) - dm.start())
        if deco > 0 and not line[deco - 1].isspace():
            k += 1
            continue
        ts, end, k2, sep = _after_ts(line, k, ms)
        # "at around 12:40" is a prose mention, unless a dash follows the time
        # ("… what success looks like 29:01 — Ian Goodfellow …").
        if not _DASH_AFTER_RE.match(line, ms[k2][1]) and _PROSE_BEFORE_RE.search(
            line, max(0, deco - 16), deco
        ):
            if not _LABEL_BEFORE_RE.search(line, max(0, deco - 40), deco):
                k += 1
                continue
        rest = line[ts : ts + 1]
        if (
            not rest
            or rest in ".,;:)]}!?"
            or (not sep and "a" <= rest <= "z")
        ):
            k += 1
            continue
        cands.append((k, ts, deco, end, sep, False))
        k = k2 + 1

    entries: list[_Entry] = []
    if cands:
        # A lone mid-line timestamp after a lead entry is most likely part of the
        # title ("05:00 — Why 12:40 Matters") unless it is formatted like the lead.
        if len(cands) == 2 and cands[0][5] and not (cands[0][4] and cands[1][4]):
            cands = cands[:1]
        # The first mid-line entry must follow a label ("Timeline", "Chapters:")
        # or a sentence end, unless the line clearly holds a timeline (3+ entries).
        if not cands[0][5] and len(cands) < 3:
            pre = line[: cands[0][2]].rstrip()
            if not _LABEL_BEFORE_RE.search(pre[-40:]):
                cands = []
    if cands:
        flattened = len(cands) >= 2 or not cands[0][5]
        trail = _trailing_length(line, ms, cands[-1][0])
        for i, (k, ts, _deco, end, _sep, is_lead) in enumerate(cands):
            start = ms[k][2]
            if i + 1 < len(cands):
                raw = line[ts : cands[i + 1][2]]
                if len(raw) > MAX_TITLE:
                    # prose between two "entries": stop the timeline here
                    title = _clean_title(_cut_last(raw, True))
                    if title:
                        entries.append(_Entry(start, end, title, ln))
                    return entries
                title = _clean_title(raw, mid=True)
            else:
                raw = line[ts:trail] if trail > ts else line[ts:]
                if not raw.strip():
                    if is_lead and len(cands) == 1:
                        entries.append(_Entry(start, end, "", ln, pending=True))
                    continue
                title = _clean_title(_cut_last(raw, flattened))
            if title:
                entries.append(_Entry(start, end, title, ln))
        return entries

    # --- title first: "Intro (00:00)", "Intro - 00:01:23" ---
    if n == 1:
        a, b, sec = ms[0]
        post = _TRAIL_POST_RE.match(line, b)
        if post and post.end() == len(line):
            pm = _TRAIL_PRE_RE.match(line, 0, a)
            if pm:
                title, sep, opener = pm.groups()
                closer = post.group(1)
                if (opener is None) != (closer is None):
                    return []
                title = _clean_title(title)
                if (
                    title
                    and len(title) <= 120
                    and not _PROSE_BEFORE_RE.search(title[-16:])
                    and (sep or opener or len(title) <= 80)
                ):
                    note = post.group("note")
                    return [_Entry(sec, None, f"{title} {note}" if note else title, ln)]
    return []


def _next_line(text: str, j: int) -> tuple[int, int, str] | None:
    """(start, end, raw text) of the first non-empty line at or after ``j``."""
    size = len(text)
    while j < size:
        k = text.find("\n", j)
        if k < 0:
            k = size
        raw = text[j:k]
        if _norm(raw):
            return j, k, raw
        j = k + 1
    return None


def _prev_line(text: str, ls: int) -> tuple[int, int, str] | None:
    """(start, end, raw text) of the last non-empty line before offset ``ls``."""
    k = ls - 1
    while k > 0:
        j = text.rfind("\n", 0, k) + 1
        raw = text[j:k]
        if _norm(raw):
            return j, k, raw
        k = j - 1
    return None


def _mostly_links(raw: str) -> bool:
    """Is this line (a paragraph) mostly link text?"""
    if LINK not in raw:
        return False
    rest = len("".join(_LINK_TEXT_RE.sub("", raw).split()))
    return rest * 2 < len("".join(raw.split()))


def _words_between(text: str, a: int, b: int) -> int:
    """Words of other text between two entries; link text does not count (a
    long paragraph of links under a chapter does not end the list)."""
    gap = text[a:b]
    if LINK in gap:
        gap = _LINK_TEXT_RE.sub(" ", gap)
    return len(gap.split())


_AGENDA_WORD_RE = re.compile(
    r"\b(?:doors|lunch|breakfast|dinner|registration|check-in|coffee|break|keynote|networking|"
    r"reception|arrivals?|drinks|tickets|venue|sessions?|workshops?)\b",
    re.I,
)
_AGENDA_CONTEXT_RE = re.compile(
    r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|\b" + _MONTH + r"\s+\d{1,2}\b|\b\d{1,2}(?:st|nd|rd|th)?\s+"
    + _MONTH + r"|\d{4}-\d\d-\d\d|\b(?:venue|location|schedule|agenda|programme|program|doors)\b",
    re.I,
)


def _looks_like_agenda(run: list[_Entry], text: str) -> bool:
    """A schedule of clock times, not chapters.  A chapter list starts near
    0:00; an agenda starts at a clock hour, and read as h:mm every time is a
    clock time on a 5-minute grid.  Prefer missing an agenda to inventing
    chapters."""
    first = run[0].start
    if first < 60 or any(e.hms for e in run):
        return False
    for e in run:
        hour, minute = divmod(e.start, 60)
        if e.start != int(e.start) or hour > 23 or minute % 5:
            return False
    if first >= 360:
        return True
    # An early clock hour ("1:00 Lunch"): only with agenda words and a date,
    # weekday or venue just before the list.
    words = any(_AGENDA_WORD_RE.search(e.title) for e in run)
    return words and bool(_AGENDA_CONTEXT_RE.search(text, max(0, run[0].line - 300), run[0].line + 1))


def chapters_from_notes(notes: str, duration: float | None = None) -> list[Chapter]:
    """Chapters found in show notes (HTML or plain text), source ``"notes"``.

    Returns [] unless the notes hold a real chapter list: at least two entries
    in strictly ascending order.  Starts beyond a known ``duration`` are
    rejected.  Ends are filled (next start; the last one gets ``duration``)."""
    if not notes or not isinstance(notes, str) or not _has_ts(notes):
        return []
    if len(notes) > MAX_NOTES:
        log.warning("show notes of %d characters: only the first %d are searched for chapters", len(notes), MAX_NOTES)
        notes = notes[:MAX_NOTES]
    chs = _chapters_in(_lines(notes), duration, _lazy(notes))
    if chs is None:
        chs = _chapters_in(_lines(notes, True), duration, None)
    return chs


def _lazy(notes: str) -> tuple[bool, bool] | None:
    """Headings and links are only marked when the chapter finder needs them
    (most notes never do): may the notes have (headings, links)?"""
    if "<" not in notes:
        return None
    h = "<h" in notes or "<H" in notes
    a = "<a" in notes or "<A" in notes
    return (h, a) if h or a else None


def chapters_and_text(notes: str, duration: float | None = None) -> tuple[list[Chapter], str]:
    """The chapters of the notes (as ``chapters_from_notes``) and their plain
    text, from one HTML-to-text pass (ingest would otherwise convert every
    item's notes twice).  The text is one block per line, spaces collapsed,
    entities decoded: what ``text.html_to_text`` gives for sanitised notes."""
    if not notes or not isinstance(notes, str):
        return [], ""
    text = _lines(notes)
    chs: list[Chapter] | None = []
    if _has_ts(notes):
        if len(text) > MAX_NOTES:
            log.warning("show notes of %d characters: only the first %d are searched for chapters", len(text), MAX_NOTES)
        chs = _chapters_in(text[:MAX_NOTES], duration, _lazy(notes))
        if chs is None:
            chs = _chapters_in(_lines(notes, True)[:MAX_NOTES], duration, None)
    return chs, _plain(text)


def _lines(notes: str, marks: bool = False) -> str:
    text = _html_to_text(notes, marks)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _plain(text: str) -> str:
    """The output of ``_lines`` as plain text for search."""
    if HEAD in text or LINK in text or END_LINK in text:
        text = text.replace(HEAD, "").replace(LINK, "").replace(END_LINK, "")
    if "&" in text:
        text = html.unescape(text)
    if "\t" in text:
        text = text.replace("\t", " ")
    if "\r" in text:  # an entity may decode to one
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(filter(None, (" ".join(line.split()) for line in text.split("\n"))))


def _chapters_in(text: str, duration: float | None, lazy: tuple[bool, bool] | None) -> list[Chapter] | None:
    """Chapters in the output of ``_lines``.  ``lazy``: the text is unmarked
    and the notes may have (headings, links); None is returned as soon as
    those marks would matter, for a second pass on marked text."""
    if duration is not None and duration <= 0:
        duration = None
    size = len(text)
    heads = HEAD in text
    above: bool | None = None  # lone times take the heading above them

    # Only lines holding a timestamp (and the title line after a lone
    # timestamp) are decoded and analysed: find them from the ":dd" hits.
    entries: list[_Entry] = []
    done = -1  # end offset of the last line analysed
    for cm in _COLON_RE.finditer(text):
        i = cm.start()
        if i < done or not i or not text[i - 1].isdigit():
            continue
        ls = text.rfind("\n", 0, i) + 1
        le = text.find("\n", i)
        if le < 0:
            le = size
        done = le
        line = _norm(text[ls:le])
        ms = _valid_matches(line, duration)
        if line.count(":") > len(ms) and _GLUED_RE.search(line):
            # "…first topic00:01:03 Second topic": some directory pages drop
            # the space; put it back when the line then holds a timeline (of
            # a sane length: a line of thousands of glued times is noise).
            spaced, glued = _GLUED_RE.subn(r"\1 \2", line, count=MAX_GLUED + 1)
            sms = _valid_matches(spaced, duration) if glued <= MAX_GLUED else []
            if len(sms) >= 2 and len(sms) > len(ms):
                line, ms = spaced, sms
        if not ms:
            continue
        hms = ms[0][1] - ms[0][0] >= 7 or ms[-1][1] - ms[-1][0] >= 7
        for e in _line_entries(line, ls, ms):
            e.stop = le
            e.hms = hms
            if not e.pending:
                entries.append(e)
                continue
            if lazy and lazy[0]:
                return None  # the heading layout needs the marks
            # A timestamp alone on its line: the title is the next non-empty
            # line, or the heading just above it (Podlove / Open Shownotes:
            # heading, time, links).  The first such time decides which way
            # the document goes: above when a heading sits above it and the
            # line below is a heading, a paragraph of links or nothing.
            use = nxt = _next_line(text, le + 1)
            if heads and above is not False:
                prv = _prev_line(text, ls)
                ok = bool(prv and prv[2].lstrip().startswith(HEAD) and prv[0] >= (entries[-1].stop if entries else -1))
                if above is None:
                    above = ok and (nxt is None or nxt[2].lstrip().startswith(HEAD) or _mostly_links(nxt[2]))
                if above and ok:
                    use = prv
            if use is None:
                continue
            j, k, raw = use
            cand = _norm(raw)
            if not (":" in cand and _has_ts(cand) and _line_entries(cand, j, _valid_matches(cand, duration))):
                title = _clean_title(_cut_last(cand, False))
                if title:
                    e.title = title
                    if use is nxt:
                        e.stop = done = k
                    entries.append(e)

    if duration is not None:
        entries = [e for e in entries if e.start < duration]
    if len(entries) < 2:
        return []

    # Longest run of strictly ascending starts.  A run also breaks when a lot
    # of other text (over ~120 words) separates two entries.
    best: list[_Entry] = []
    run: list[_Entry] = []
    for e in entries:
        if run:
            prev = run[-1]
            if e.start <= prev.start or (e.line - prev.stop > 600 and _words_between(text, prev.stop, e.line) > 120):
                if lazy and lazy[1] and e.start > prev.start:
                    return None  # link text must not count as other text
                if len(run) > len(best):
                    best = run
                run = []
        run.append(e)
    if len(run) > len(best):
        best = run
    if len(best) < 2 or _looks_like_agenda(best, text):
        return []

    rows = []
    for i, e in enumerate(best):
        nxt = best[i + 1].start if i + 1 < len(best) else duration
        end = nxt
        if e.end is not None and e.end > e.start and (nxt is None or e.end <= nxt):
            end = e.end
        rows.append({"start": e.start, "end": end, "title": e.title, "source": "notes"})
    return _CHAPTER_LIST.validate_python(rows)


# --------------------------------------------------------------------------
# Explicit chapter data
# --------------------------------------------------------------------------


def finalize(chapters: list[Chapter], duration: float | None) -> list[Chapter]:
    """Sort, drop starts < 0 or at/beyond ``duration``, and fill every end: an
    explicit end is kept when it is after the start (clamped to the duration),
    otherwise the next (greater) start, and the last one gets ``duration``."""
    if duration is not None:
        duration = float(duration) if duration > 0 else None
    # A chapter starting at (or after) the very end would be empty: dropped.
    kept = [c for c in chapters if c.start >= 0 and (duration is None or c.start < duration)]
    kept.sort(key=lambda c: c.start)
    n = len(kept)
    nexts: list[float | None] = [duration] * n  # the next strictly greater start
    for i in range(n - 2, -1, -1):
        nexts[i] = kept[i + 1].start if kept[i + 1].start > kept[i].start else nexts[i + 1]
    out: list[Chapter] = []
    for c, nxt in zip(kept, nexts):
        end = c.end
        if end is None or not (end > c.start):
            end = nxt
        elif duration is not None and end > duration:
            end = duration
        out.append(c.model_copy(update={"end": end}) if end != c.end else c.model_copy())
    return out


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _opt_str(v: Any) -> str | None:
    if v is None or not isinstance(v, (str, int, float)):
        return None
    s = str(v).strip()
    return s or None


def chapters_from_psc(entries: Iterable[dict]) -> list[Chapter]:
    """Podlove Simple Chapters (``<psc:chapter start=… title=… href=… image=…>``)."""
    out: list[Chapter] = []
    for d in entries or []:
        if not isinstance(d, dict):
            continue
        start = parse_npt(d.get("start"))  # type: ignore[arg-type]
        if start is None:
            continue
        out.append(
            Chapter(
                start=start,
                title=str(d.get("title") or "").strip(),
                source="psc",
                url=_opt_str(d.get("href")),
                image=_opt_str(d.get("image")),
            )
        )
    return finalize(out, None)


def _num(v: Any) -> float | None:
    """A time in seconds from a JSON number or numeric string; None when it is
    missing, NaN, infinite, negative or absurd."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        try:
            f = float(v)
        except OverflowError:  # a 400-digit integer
            return None
    elif isinstance(v, str):
        if len(v) > 40:
            return None
        try:
            f = float(v.strip())
        except ValueError:
            return parse_npt(v)
    else:
        return None
    return _sane(f)


def _json_str(v: Any) -> str:
    """A title: strings as they are, numbers spelt out, anything else empty
    (a hostile file may put a deeply nested structure there)."""
    if isinstance(v, str):
        from ibplayer.domain.text import strip_controls  # a title never carries terminal escapes

        return strip_controls(v).strip()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    return ""


def chapters_from_json(data: bytes | str | dict, duration: float | None = None) -> list[Chapter]:
    """Podcasting 2.0 chapters JSON -> chapters with source ``"podcast-chapters"``.

    Raises ``ValueError`` (one-line message) when the document is malformed."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"chapters JSON is not valid UTF-8: {exc.reason}") from None
    if isinstance(data, str):
        try:
            data = json.loads(data.lstrip("\ufeff"))
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"chapters JSON is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
        except RecursionError:
            raise ValueError("chapters JSON is nested too deeply to read") from None
        except ValueError as exc:  # e.g. an integer past the digit limit
            raise ValueError(f"chapters JSON cannot be read: {_first_line(exc)}") from None
    if not isinstance(data, dict):
        raise ValueError(f"chapters JSON must be an object, got {type(data).__name__}")
    raw = data.get("chapters")
    if not isinstance(raw, list):
        raise ValueError("chapters JSON has no 'chapters' list")
    out: list[Chapter] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        start = _num(item.get("startTime"))
        if start is None:
            continue
        end = _num(item.get("endTime"))
        out.append(
            Chapter(
                start=start,
                end=end,
                title=_json_str(item.get("title")),
                source="podcast-chapters",
                url=_opt_str(item.get("url")),
                image=_opt_str(item.get("img")),
                hidden=item.get("toc") is False,
            )
        )
    return finalize(out, duration)
