"""Timestamps in show notes ("12:34", "1:02:03"; not clock times, dates or
ratios) and NPT values: pure string work, no models, so a front-end can link
the timestamps of notes without loading the chapter parser's models."""

from __future__ import annotations

import re

# Every dash-like character used as a separator: hyphen-minus, the Unicode
# hyphens and dashes, minus, fullwidth and small hyphen-minus, two/three-em dash.
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d\ufe63\ufe58\u2e3a\u2e3b"
_D = "".join("\\" + c if c == "-" else c for c in DASHES)  # for a regex character class

_RANGE_CLOCK_RE = re.compile(
    r"\s*(?:[" + _D + r"~]|to|until|till)\s*\d{1,2}(?::[0-5]\d)?\s?(?:[ap]\.?m\b|[AP]\.?M\b)", re.I
)
_RANGE_GAP_RE = re.compile(r"\s*(?:[" + _D + r"~]|to|until|till)\s*", re.I)
_RANGE_DASH = frozenset("~" + DASHES)

MAX_SECONDS = 7 * 86400  # a chapter start or an audio duration beyond a week is not real


def _has_ts(text: str) -> bool:
    """Fast path: is there any ``\\d:\\d\\d`` in the text?"""
    for m in _COLON_RE.finditer(text):
        i = m.start()
        if i and text[i - 1].isdigit():
            return True
    return False


# --------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------

# mm:ss (minutes may exceed 59: "75:10") or h:mm:ss, optional fraction.  Not
# followed by a word character, another ":dd" group or more decimals.  What may
# precede it is checked in Python (a leading look-behind makes the regex 2x
# slower): not a letter, digit, "_", ":", ".", "," or "/".
_TS_RE = re.compile(r"(\d{1,3}):([0-5]\d)(?::([0-5]\d))?(?:[.,](\d{1,3}))?(?!\w|:\d|[.,]\d)")
_TS_FULL_RE = re.compile(r"\s*(\d{1,3}):([0-5]\d)(?::([0-5]\d))?(?:[.,](\d{1,3}))?\s*")
_COLON_RE = re.compile(r":\d\d")
_BAD_BEFORE = frozenset("_:.,/")
# first characters after a timestamp that may start a clock/ratio suffix
_CLOCK_HINT = frozenset(" apAPo+-UGCBEMO\u00a0")

_NPT_RE = re.compile(
    r"\s*(?:npt:)?\s*(?:(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)|(\d+(?:\.\d*)?))\s*", re.I
)

# Context that makes a match a clock time, a date-time or a ratio.
_CLOCK_AFTER_RE = re.compile(
    r"\s?(?:am|pm|AM|PM|a\.m\.|p\.m\.|A\.M\.|P\.M\.|o'?clock|UTC|GMT|CES?T|BST|[ECMP][SD]?T)\b"
    r"|\+\d\d:?\d\d\b"
    r"|\s+(?:aspect|ratio|monitor|display|screen|odds)\b"
)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# A date right before a time makes it a date-time.  A bare year does not: in a
# flattened timeline "… models in 2019 3:13 – Next" the year ends a title.
_DATE_BEFORE_RE = re.compile(
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|"
    r"(?:\b" + _MONTH + r"\s+\d{1,2}(?:st|nd|rd|th)?|\b\d{1,2}(?:st|nd|rd|th)?\s+" + _MONTH + r")(?:,?\s+\d{4})?,?|"
    r"\b(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?)[T ,]*(?:at\s+)?$",
    re.I,
)
_DATE_WINDOW = 32


_DATE_WORDS = frozenset("jan feb mar apr may jun jul aug sep oct nov dec mon tue wed thu fri sat sun".split())


def _maybe_date(text: str, a: int) -> bool:
    """Cheap test before ``_DATE_BEFORE_RE``: can the text before offset
    ``a`` end in a date?  (It must end, past spaces, commas, "T" and "at", in
    a digit or a month or weekday word.)"""
    lo = max(0, a - _DATE_WINDOW)
    j = a
    while j > lo and text[j - 1] in " ,T\u00a0":
        j -= 1
    if j - 2 >= lo and text[j - 2 : j].lower() == "at" and (j - 2 == 0 or not text[j - 3].isalnum()):
        j -= 2
        while j > lo and text[j - 1] in " \u00a0":
            j -= 1
    if j <= lo:
        return False
    c = text[j - 1]
    if c.isdigit():
        return True
    if c == ".":
        j -= 1
    k = j
    while k > lo and text[k - 1].isalpha():
        k -= 1
    word = text[k:j].lower()
    if word in ("st", "nd", "rd", "th"):
        return k > lo and text[k - 1].isdigit()
    return word[:3] in _DATE_WORDS


def _seconds(m: re.Match[str]) -> float | None:
    a, b, c, frac = m.groups()
    if c is not None:
        if len(a) > 2:
            return None
        sec = int(a) * 3600 + int(b) * 60 + int(c)
    else:
        sec = int(a) * 60 + int(b)
    if frac:
        return sec + int(frac) / (10 ** len(frac))
    return float(sec)


def parse_timestamp(s: str) -> float | None:
    """``"75:10"``, ``"1:02:03"``, ``"00:00:00"``, ``"01:35:52.250"`` -> seconds, else None."""
    if not isinstance(s, str):
        return None
    m = _TS_FULL_RE.fullmatch(s)
    if not m:
        return None
    return _seconds(m)


def _sane(sec: float) -> float | None:
    """``sec`` when it is a possible position in an episode (finite, >= 0,
    at most ``MAX_SECONDS``), else None."""
    return sec if 0 <= sec <= MAX_SECONDS else None  # NaN fails both comparisons


def parse_npt(s: str) -> float | None:
    """Podlove normal play time: ``37``, ``37.5``, ``7:48``, ``01:35:52.250`` -> seconds.

    NaN, infinite, negative and absurd (> ``MAX_SECONDS``) times give None."""
    if isinstance(s, (int, float)) and not isinstance(s, bool):
        try:
            return _sane(float(s))
        except OverflowError:  # an int too large for a float
            return None
    if not isinstance(s, str) or len(s) > 40:
        return None
    m = _NPT_RE.fullmatch(s)
    if not m:
        return None
    h, mi, sec, plain = m.groups()
    if plain is not None:
        return _sane(float(plain))
    secs = float(sec)
    if h is not None:
        if int(mi) > 59 or secs >= 60:
            return None
        return _sane(int(h) * 3600 + int(mi) * 60 + secs)
    if secs >= 60:
        return None
    return _sane(int(mi) * 60 + secs)


def _valid_matches(
    text: str,
    duration: float | None = None,
    _match=_TS_RE.match,
    _clock=_CLOCK_AFTER_RE.match,
    _date=_DATE_BEFORE_RE.search,
) -> list[tuple[int, int, float]]:
    """Timestamps in ``text`` that are not clock times, date-times or ratios.

    Driven by the colons (``str.find``) rather than ``finditer``: every
    timestamp has 1-3 digits before its first colon, and trying the regex only
    there is about twice as fast as letting it scan every character."""
    out = []
    n = len(text)
    rejected = -2  # end of the last clock/date time ("09:14:55+02:00": skip the offset)
    i = text.find(":")
    while i != -1:
        a = i
        while a > 0 and i - a < 3 and text[a - 1].isdigit():
            a -= 1
        m = _match(text, a) if a < i else None
        if m is None:
            i = text.find(":", i + 1)
            continue
        b = m.end()
        i = text.find(":", b)
        if a:
            c = text[a - 1]
            if c.isalnum() or c in _BAD_BEFORE:
                rejected = b
                continue
        x, y, z, frac = m.groups()
        if z is not None:
            if len(x) > 2:
                continue
            sec = float(int(x) * 3600 + int(y) * 60 + int(z))
        else:
            sec = float(int(x) * 60 + int(y))
        if frac:
            sec += int(frac) / (10 ** len(frac))
        if a and a - 1 == rejected and text[a - 1] in "+-":
            continue
        if (b < n and text[b] in _CLOCK_HINT and _clock(text, b)) or (
            a and _maybe_date(text, a) and _date(text, max(0, a - _DATE_WINDOW), a)
        ):
            rejected = b
            continue
        # Clock ranges: "10:30 - 10:45am" (am/pm only on the end) and
        # "10:30am - 10:45" (only on the start) are both clock times.
        if (b + 2 < n and _range_ahead(text, b) and _RANGE_CLOCK_RE.match(text, b)) or (
            0 <= rejected < a and a - rejected < 12 and _RANGE_GAP_RE.fullmatch(text, rejected, a)
        ):
            rejected = b
            continue
        if duration is not None and sec > duration:
            continue
        out.append((a, b, sec))
    return out


def _range_ahead(text: str, b: int) -> bool:
    """Cheap test before ``_RANGE_CLOCK_RE``: a dash or "~" followed by a
    digit, or a word starting with t/u ("to", "until"), right after ``b``."""
    if text[b] == " ":
        b += 1
    c = text[b]
    if c in "tuTU":
        return True
    if c in _RANGE_DASH:
        b += 1
        if b < len(text) and text[b] == " ":
            b += 1
        return b < len(text) and text[b].isdigit()
    return False


def _is_clock(text: str, start: int, end: int) -> bool:
    return bool(
        (end < len(text) and _CLOCK_AFTER_RE.match(text, end))
        or (start and _DATE_BEFORE_RE.search(text, max(0, start - _DATE_WINDOW), start))
    )


def timestamp_mentions(text: str, duration: float | None = None) -> list[tuple[int, int, float]]:
    """Every timestamp in a plain text, prose mentions included, as
    ``(char_start, char_end, seconds)``.  Clock times, date-times and ratios are
    excluded, and so are times beyond a known ``duration``."""
    if not text or not _has_ts(text):
        return []
    if duration is not None and duration <= 0:
        duration = None
    found = _valid_matches(text, duration)
    if duration is not None:  # the very end is no place to seek to (as AntennaPod)
        found = [m for m in found if m[2] < duration]
    return found
