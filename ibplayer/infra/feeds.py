"""Fetching (httpx, conditional GET) and parsing (feedparser) podcast feeds.

Nothing here touches the library: `fetch_feed` returns bytes (or "not
modified"), `parse_feed` turns bytes into a `ParsedFeed`.  Either raises
`FeedError` with a one-line message a user can act on.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from ibplayer import __version__
from ibplayer.infra import http

if TYPE_CHECKING:
    from ibplayer.domain.models import Chapter, ParsedFeed, Person


def _load_parse_stack() -> None:
    """Import what parsing needs (the models, chapters, people, topics, the
    HTML cleaner) on first use: a refresh answered 304 never pays for them."""
    global chapters, people, topics, Chapter, ParsedEpisode, ParsedFeed, Person
    global html_to_text, sanitize_html, strip_controls
    if "sanitize_html" in globals():
        return
    from ibplayer.domain import chapters, people, topics  # noqa: F811
    from ibplayer.domain.models import Chapter, ParsedEpisode, ParsedFeed, Person  # noqa: F811
    from ibplayer.domain.text import html_to_text, sanitize_html, strip_controls  # noqa: F811

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 64 * 1024 * 1024
DEFAULT_TIMEOUT = http.DEFAULT_TIMEOUT
DEFAULT_DEADLINE = http.DEFAULT_DEADLINE
USER_AGENT = http.USER_AGENT
AUDIO_EXTENSIONS = (".mp3", ".m4a", ".m4b", ".aac", ".ogg", ".oga", ".opus", ".flac", ".wav", ".mp2", ".wma")


class FeedError(Exception):
    """A feed could not be fetched or is not a usable podcast feed."""


class NetworkUnreachable(FeedError):
    """The host could not be reached at all (offline, DNS, refused)."""


@dataclass
class FetchResult:
    """A feed fetched (or answered 304)."""  # (a docstring: @dataclass would build one with inspect)

    url: str  # the URL to store: the new one after a permanent redirect
    status: int
    content: bytes | None  # None when not modified (304)
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.content is None


def check_url(url: str) -> str:
    url = (url or "").strip()
    if not http.is_http_url(url):
        raise FeedError(f"not an http(s) URL: {url[:200]!r}")
    return url


make_client = http.make_client


def fetch_feed(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    client: httpx.Client | None = None,
    max_bytes: int = MAX_FEED_BYTES,
    deadline: float = DEFAULT_DEADLINE,
) -> FetchResult:
    """GET a feed with conditional headers.  A 304 returns no content."""
    check_url(url)
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        got = http.fetch(url, max_bytes=max_bytes, deadline=deadline, client=client, headers=headers,
                         what="the feed", allow_private=True)
    except http.Unreachable as exc:
        raise NetworkUnreachable(str(exc)) from exc
    except http.FetchError as exc:
        raise FeedError(str(exc)) from exc
    # Store the new address only when every hop was permanent.
    new_url = got.url if got.permanent else url
    if got.status == 304:
        return FetchResult(new_url, 304, None, etag, last_modified)
    return FetchResult(new_url, got.status, got.content, got.headers.get("etag"), got.headers.get("last-modified"))


def content_hash(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


# --------------------------------------------------------------------------- parsing


class _lazy_re:  # noqa: N801 - stands in for re.compile
    """A regular expression of the parser, compiled where it is first used:
    a refresh answered 304 imports this module only to fetch, and compiling
    these ~20 patterns cost ~2 ms at every start.  The first use puts the
    compiled pattern in the module's globals in its place."""

    __slots__ = ("args",)

    def __init__(self, pattern: str | bytes, flags: int = 0):
        self.args = (pattern, flags)

    def __getattr__(self, name: str):
        compiled = re.compile(*self.args)
        g = globals()
        for key in [k for k, v in g.items() if v is self]:
            g[key] = compiled
        return getattr(compiled, name)


# Bounded: an unclosed <podcast:person> must not make every later match scan
# to the end of the document (that was quadratic on 20,000 of them).
_PERSON_RE = _lazy_re(
    rb"<podcast:person\b([^>]{0,4000})>((?:<!\[CDATA\[.{0,2000}?\]\]>|[^<]){0,2000})</podcast:person>", re.S
)
MAX_PERSONS = 50  # per item (and for the channel): a real episode has a handful
_ATTR_RE = _lazy_re(rb"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ITEM_SPLIT = _lazy_re(rb"<item[\s>]")


_BASE_ATTR = _lazy_re(rb"""\bxml:base\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ROOT_TAGS = _lazy_re(rb"<(?:rss|channel|feed)\b[^>]*>")
_ENCLOSURE_TAG = _lazy_re(rb"<(?:enclosure|media:content)\b[^>]*>")


def _bases_by_item(parts: list[bytes], feed_url: str) -> list[str]:
    """The base URL of each item, for relative enclosure URLs: the feed's
    URL, then any xml:base on the root and channel, then on the item (or on
    its enclosure).  feedparser does not resolve enclosure URLs."""
    base = feed_url
    for tag in _ROOT_TAGS.findall(parts[0]):
        for a, b in _BASE_ATTR.findall(tag):
            base = _join(base, (a or b).decode("utf-8", "replace"))
    out = []
    for part in parts[1:]:
        item_base = base
        start_tag = part[: part.find(b">") + 1]
        tags = [start_tag] + [t for t in _ENCLOSURE_TAG.findall(part, 0, 65536) if b"xml:base" in t][:1]
        for tag in tags:
            for a, b in _BASE_ATTR.findall(tag):
                item_base = _join(item_base, (a or b).decode("utf-8", "replace"))
        out.append(item_base)
    return out


def _join(base: str, ref: str) -> str:
    try:
        return urljoin(base, _text(ref))
    except ValueError:
        return base


def _persons_by_item(raw: bytes, parts: list[bytes] | None = None) -> tuple[list[dict], list[list[dict]]]:
    """feedparser keeps only one <podcast:person> per element and loses its
    attributes, so read them from the raw XML: (channel persons, per item)."""
    if b"podcast:person" not in raw:
        return [], []
    import html as _html

    def persons(chunk: bytes) -> list[dict]:
        out = []
        for m in _PERSON_RE.finditer(chunk):
            if len(out) >= MAX_PERSONS:
                break
            attrs, name = m.groups()
            d = {k.decode().lower(): _text(_html.unescape((a or b).decode("utf-8", "replace")))
                 for k, a, b in _ATTR_RE.findall(attrs)}
            d["name"] = _text(_html.unescape(re.sub(r"<!\[CDATA\[(.*?)\]\]>", r"\1", name.decode("utf-8", "replace"))))
            out.append(d)
        return out

    parts = parts if parts is not None else _ITEM_SPLIT.split(raw)
    return persons(parts[0]), [persons(p) for p in parts[1:]]


MAX_NOTES_CHARS = 256_000  # show notes read (for chapters, guests, topics) and stored per episode
MAX_DURATION = 7 * 24 * 3600.0  # longer than a week is a broken value, not an episode


def parse_duration(value: str | None) -> float | None:
    """Seconds from ``3723``, ``62:03`` or ``1:02:03``; None for anything
    else, including non-finite (``inf``, ``nan``), negative and absurd values."""
    if not value:
        return None
    value = str(value).strip()
    if len(value) > 32:
        return None
    try:
        if ":" in value:
            secs = 0.0
            for part in value.split(":"):
                secs = secs * 60 + float(part or 0)
        else:
            secs = float(value)
    except ValueError:
        return None
    return secs if math.isfinite(secs) and 0 < secs <= MAX_DURATION else None


def _text(value) -> str:
    """A text value read from a feed: a string, without control characters
    (they reach terminals as escape sequences), stripped."""
    _load_parse_stack()
    if not value:
        return ""
    return strip_controls(str(value)).strip()


def _is_audio(link: dict) -> bool:
    mime = (link.get("type") or "").lower()
    if mime.startswith("audio/"):
        return True
    if mime and not mime.startswith(("application/octet-stream", "binary/")) and mime != "":
        # video/mp4 podcasts are not what we play; images are never episodes
        return False
    path = urlsplit(link.get("href") or "").path.lower()
    return path.endswith(AUDIO_EXTENSIONS)


def _audio_enclosure(entry) -> dict | None:
    for link in entry.get("links", ()):
        if link.get("rel") == "enclosure" and link.get("href") and _is_audio(link):
            return link
    for enc in entry.get("enclosures", ()):
        if enc.get("href") and _is_audio(enc):
            return enc
    for media in entry.get("media_content", ()) or ():  # <media:content> without an <enclosure>
        link = {"href": media.get("url"), "type": media.get("type") or "",
                "length": media.get("filesize") or media.get("fileSize") or "0"}
        if link["href"] and (_is_audio(link) or (media.get("medium") == "audio" and not link["type"])):
            return link
    return None


def _title_text(obj, atom: bool) -> str:
    """A title as text: an Atom title declared type="html" (or "xhtml") is
    markup, its entities and tags are not part of the name (AntennaPod
    AtomText).  An RSS title is shown as written (feedparser only guesses
    that it is HTML)."""
    title = obj.get("title") or ""
    if atom and ("&" in title or "<" in title) and (obj.get("title_detail") or {}).get("type") in (
            "text/html", "application/xhtml+xml"):
        title = html_to_text(title)
    return _text(title)


def _title_from_url(url: str) -> str:
    """An untitled item is named after its file, as gPodder does."""
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return _text(stem)


def fit_explicit(chs: list[Chapter], stated: float | None) -> list[Chapter]:
    """Explicit chapters (PSC, Podcasting 2.0) are kept whole: a feed's
    itunes:duration is often wrong, so it only closes the last chapter when
    every chapter starts before it.  The file's real duration, once
    downloaded, is the check that may drop some.  Titles lose control
    characters like every other text from a feed."""
    _load_parse_stack()
    chs = [c if c.title == (t := _text(c.title)) else c.model_copy(update={"title": t}) for c in chs]
    if stated and all(c.start < stated for c in chs):
        return chapters.finalize(chs, stated)
    return chapters.finalize(chs, None)


# Zone names feedparser does not know (it reads them as UTC), in hours east.
_ZONE_HOURS = {"CET": 1, "CEST": 2, "MET": 1, "MEST": 2, "MEZ": 1, "MESZ": 2, "BST": 1, "WET": 0, "WEST": 1,
               "EET": 2, "EEST": 3, "MSK": 3, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11, "ACST": 9.5,
               "AWST": 8, "NZST": 12, "NZDT": 13, "HST": -10, "AKST": -9, "AKDT": -8}
_ZONE_NAME_RE = _lazy_re(r"\b([A-Z]{3,4})\s*$")
_NUMERIC_ZONE_RE = _lazy_re(r"[+-]\d\d:?\d\d\b")
_TWO_DIGIT_YEAR_RE = _lazy_re(r"^\s*(?:[A-Za-z]+,?\s+)?\d{1,2}\s+[A-Za-z]+\.?\s+(\d{2})\s")


# An <item> closed and followed by the end of something other than the
# channel: some item sits inside an element that is not the channel.
_NESTED_ITEM_HINT = _lazy_re(rb"</item\s*>\s*(?:<!--.*?-->\s*)*</(?!channel\s*>|rdf:RDF\s*>|RDF\s*>|rss\s*>)", re.S)
_XML_TOKEN = _lazy_re(rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<[?!][^>]*>|<(/?)([^\s/>]+)[^>]*?(/?)>", re.S)


def _stray_items(data: bytes) -> set[int]:
    """The document positions of the <item>s that are not the channel's own
    (wrapped in an element a reader does not know): AntennaPod reads only
    the channel's items.  A cheap check first; the tag walk only for the
    rare feed that has such an item."""
    if not _NESTED_ITEM_HINT.search(data):
        return set()
    stray: set[int] = set()
    stack: list[bytes] = []
    n = 0
    for m in _XML_TOKEN.finditer(data):
        closing, name, empty = m.groups()
        if name is None:
            continue
        if closing:
            if name in stack:
                while stack and stack.pop() != name:
                    pass
            continue
        if name == b"item":
            # the channel's (RSS 1.0: the document's; a broken feed's, after
            # its channel: the <rss>'s, as feedparser reads them)
            if stack and stack[-1].rsplit(b":", 1)[-1] not in (b"channel", b"RDF", b"rss"):
                stray.add(n)
            n += 1
        if not empty:
            stack.append(name)
    return stray


def _published(entry) -> datetime | None:
    """The item's date as AntennaPod and gPodder read it: feedparser's, and
    where feedparser gives none or reads it wrong, RFC 2822's rules: a
    date without a zone is UTC, a two-digit year 50-99 is 19xx, and the
    common zone names feedparser does not know (CET, CEST...) count."""
    st = entry.get("published_parsed")
    if st:
        raw = entry.get("published")
    else:
        st = entry.get("updated_parsed")
        raw = entry.get("updated") if st else entry.get("published")
    try:
        if st:
            dt = datetime.fromtimestamp(calendar.timegm(st), tz=UTC)
        else:
            import email.utils

            t = email.utils.parsedate_tz(raw) if isinstance(raw, str) and raw.strip() else None
            if not t:
                return None
            dt = datetime.fromtimestamp(calendar.timegm(t[:9]) - (t[9] or 0), tz=UTC)
        if isinstance(raw, str) and raw:
            if raw.rstrip()[-1:].isalpha():  # ends in a zone name
                zone = _ZONE_NAME_RE.search(raw)
                if zone and zone.group(1) in _ZONE_HOURS and not _NUMERIC_ZONE_RE.search(raw):
                    dt -= timedelta(hours=_ZONE_HOURS[zone.group(1)])
            if dt.year >= 2050:  # maybe a two-digit year of the last century
                yy = _TWO_DIGIT_YEAR_RE.match(raw)
                if yy and int(yy.group(1)) >= 50 and dt.year == 2000 + int(yy.group(1)):
                    dt = dt.replace(year=dt.year - 100)
        return dt
    except (OverflowError, ValueError, OSError):
        return None


KNOWN_NAMESPACES = {
    b"itunes": b"http://www.itunes.com/dtds/podcast-1.0.dtd",
    b"podcast": b"https://podcastindex.org/namespace/1.0",
    b"psc": b"http://podlove.org/simple-chapters",
    b"media": b"http://search.yahoo.com/mrss/",
    b"content": b"http://purl.org/rss/1.0/modules/content/",
    b"atom": b"http://www.w3.org/2005/Atom",
    b"dc": b"http://purl.org/dc/elements/1.1/",
    b"googleplay": b"http://www.google.com/schemas/play-podcasts/1.0",
    b"sy": b"http://purl.org/rss/1.0/modules/syndication/",
    b"fh": b"http://purl.org/syndication/history/1.0",
}
_USED_PREFIX = _lazy_re(rb"</?([A-Za-z_][\w.-]*):[A-Za-z_]|\s([A-Za-z_][\w.-]*):[A-Za-z_][\w.-]*\s*=")
_DECLARED = _lazy_re(rb"xmlns:([A-Za-z_][\w.-]*)\s*=")
_ROOT = _lazy_re(rb"<(rss|feed|rdf:RDF)\b")


def _declare_missing_prefixes(data: bytes) -> bytes | None:
    """A feed that uses itunes:, podcast:, psc: ... without declaring them is
    not namespace-well-formed; feedparser and podcastparser read it anyway.
    Declare the missing prefixes on the root element (the known ones with
    their real namespace) so that the strict parser reads it; None when
    there is nothing to declare."""
    root = _ROOT.search(data)
    if not root:
        return None
    used = {a or b for a, b in _USED_PREFIX.findall(data)} - {b"xml", b"xmlns"}
    missing = sorted(used - set(_DECLARED.findall(data)))
    if not missing:
        return None
    decl = b"".join(b' xmlns:%s="%s"' % (p, KNOWN_NAMESPACES.get(p, b"urn:ibplayer:undeclared:" + p)) for p in missing)
    return data[: root.end()] + decl + data[root.end():]


def _check_parsed(d, url: str) -> None:
    exc = d.get("bozo_exception")
    version = d.get("version") or ""
    if not version and not d.entries:
        if exc:
            raise FeedError(f"{url}: not a valid feed ({_one_line(exc)})")
        raise FeedError(f"{url}: not a podcast feed")
    import xml.sax  # (loaded with feedparser, which parsing needs: a 304 loads neither)

    if d.get("bozo") and isinstance(exc, xml.sax.SAXParseException):
        msg = str(exc.getMessage() if hasattr(exc, "getMessage") else exc)
        # Undefined HTML entities (&nbsp; in a feed) are common and harmless;
        # truncation and broken nesting are not: refuse rather than store half.
        if "undefined entity" not in msg:
            raise FeedError(f"{url}: the feed is broken XML ({_one_line(exc)})")


def _one_line(exc) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


_ITEM_BOUNDARY = _lazy_re(rb"</item>\s*(?=<item[\s>])")


# Part of every item cache: a new parser (or a new ibplayer) re-reads every item once.
CACHE_VERSION = f"{__version__}/2"  # /2: schema v8 stores guests' href and img


class ItemCache:
    """Digests of a feed's raw ``<item>`` elements as last stored, so that a
    refresh parses only new and changed items (hashing 2,000 raw items takes
    milliseconds; parsing them takes seconds).

    It is a cache file: it is trusted only while it names the same feed URL
    and every episode it saw is still in the library, so a stale, missing or
    damaged file only costs a full parse."""

    def __init__(self, path: Path, url: str, hosts: list[Person] | None = None):
        self.path, self.url, self.hosts = Path(path), url, list(hosts or [])
        self.head: str | None = None
        self.items: set[str] = set()
        self.retry: set[bytes] = set()  # guids of items to read again (their chapters file failed)
        self._pending: tuple[str, list[str]] | None = None

    @classmethod
    def load(cls, path: Path, url: str, library_guids: set[str], hosts: list[Person] | None = None) -> ItemCache:
        cache = cls(path, url, hosts)
        try:
            saved = json.loads(Path(path).read_text("utf-8"))
            if (saved.get("version") == CACHE_VERSION and saved.get("url") == url
                    and set(saved.get("guids", ())) <= library_guids):
                cache.head, cache.items = saved["head"], set(saved["items"])
                cache.retry = {g.encode("utf-8", "surrogatepass") for g in saved.get("retry", ())}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        return cache

    def note(self, data: bytes) -> None:
        """Remember the digests of ``data`` (saved by `save`, once stored)."""
        split = _split_items(data)
        if split is not None:
            head, items, tail = split
            self._pending = (_digest(head + tail), [_digest(it) for it in items])

    def save(self, library_guids: set[str], retry: set[str] = frozenset()) -> None:
        """Save the noted digests; ``retry``: guids whose items are read
        again next time (e.g. their Podcasting 2.0 chapters could not be fetched)."""
        if self._pending is None:
            return
        head, items = self._pending
        try:
            from ibplayer.infra.paths import write_atomic

            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps({"version": CACHE_VERSION, "url": self.url, "head": head, "items": items,
                                                "guids": sorted(library_guids), "retry": sorted(retry)}).encode())
        except OSError as exc:  # a cache: never fatal
            log.debug("item cache %s: %s", self.path, exc)


_GUID = _lazy_re(rb"<guid\b[^>]*>\s*(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?\s*</guid>", re.S)


def _raw_guid(item: bytes) -> bytes | None:
    m = _GUID.search(item)
    return m.group(1).strip() if m else None


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _split_items(data: bytes) -> tuple[bytes, list[bytes], bytes] | None:
    """(everything before the first <item>, the items, everything after the
    last one) of an RSS document; None when it does not look like one."""
    first = re.search(rb"<item[\s>]", data)
    close = data.rfind(b"</channel>")
    if not first or close < first.start():
        return None
    last = data.rfind(b"</item>", first.start(), close)
    if last < 0:
        return None
    end = last + len(b"</item>")  # channel elements after the last item belong to the tail
    body = data[first.start() : end]
    cuts = [0] + [m.end() for m in _ITEM_BOUNDARY.finditer(body)] + [len(body)]
    return data[: first.start()], [body[a:b] for a, b in zip(cuts, cuts[1:])], data[end:]


def parse_feed(data: bytes, url: str = "feed", *, cache: ItemCache | None = None) -> ParsedFeed:
    """Parse feed bytes into episodes with chapters, guests and topics.

    With a `cache`, only the items that are new or changed since it was
    saved are parsed (the channel part must be unchanged too); the result
    then holds only those episodes, and the hosts known before.

    A feed is parsed in this process.  (Forking the parse of a big feed over
    the cores was dropped: since the fast XML path it no longer paid —
    bench_ingest on this 2-core machine, forked 6.50 s against 6.32 s in one
    process — and it cost CPU in pickling and a second channel parse.)"""
    _load_parse_stack()
    if cache is not None and data:
        cache.note(data)
        split = _split_items(data) if cache.head is not None else None
        if split is not None and cache._pending is not None and cache._pending[0] == cache.head:
            head, items, tail = split
            todo = [it for it, d in zip(items, cache._pending[1])
                    if d not in cache.items or (cache.retry and _raw_guid(it) in cache.retry)]
            if len(todo) < len(items):
                parsed = _parse_document(head + b"".join(todo) + tail, url, known_hosts=cache.hosts)
                parsed.hosts = _merge_people(cache.hosts, parsed.hosts)
                return parsed
    return _parse_document(data, url)


_C0_BYTES = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0e, 0x20))  # all but tab, LF, CR


def _strip_c0_bytes(data: bytes) -> bytes:
    """Raw control characters are not allowed in XML: a strict parser stops
    at the first one, the loose one keeps them (they then reach terminals).
    Drop them from the bytes, as lenient readers do.  Safe for UTF-8 and
    8-bit encodings (those bytes never occur inside a character); UTF-16
    and UTF-32 documents are left alone."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:64]:
        return data
    # (bytes.translate: ~8x faster than a regex scan of a 10 MB feed)
    out = data.translate(None, _C0_BYTES)
    return data if len(out) == len(data) else out


_feedparser_module = None


def _feedparser():
    """feedparser, imported on first use, with one fix: its Podlove reader
    crashes on a <psc:chapter> without ``start`` (a TypeError that refused
    the whole feed); such a chapter now just has no start and is dropped by
    `chapters.chapters_from_psc`."""
    global _feedparser_module
    if _feedparser_module is None:
        import feedparser
        import feedparser.namespaces.psc as psc

        parse_start = psc._parse_psc_chapter_start
        psc._parse_psc_chapter_start = lambda s: parse_start(s) if isinstance(s, str) else None
        _feedparser_module = feedparser
    return _feedparser_module


# ------------------------------------------------------------------ the fast path
#
# feedparser is the parser of record, but it is most of a big feed's parse
# (a Python callback per element).  A well-formed UTF-8 RSS 2.0 feed whose
# items hold only the elements below is read in one expat pass instead
# (xml.etree.ElementTree.iterparse), giving the same values feedparser gives
# for every field ibplayer reads: the channel still goes through feedparser
# (the document without its items, a few kB), and anything else (Atom, RDF,
# another encoding, a DOCTYPE, xml:base, an element or attribute not listed,
# an element twice, markup inside a text element, broken XML) falls back to
# feedparser for the whole document.  tests/test_fast_parse.py runs both
# paths over every fixture feed and compares the results field by field.

_ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
_CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
# item children read as text: ElementTree name -> feedparser key
_FAST_TEXT = {
    "title": "title",
    "link": "link",
    "description": "summary",
    "guid": "id",
    "pubDate": "published",
    _CONTENT_ENCODED: "content",
    _ITUNES + "duration": "itunes_duration",
    _ITUNES + "episode": "itunes_episode",
}
# item children feedparser keeps in fields ibplayer never reads
_FAST_IGNORED = {
    "{http://purl.org/dc/elements/1.1/}creator",
    _ITUNES + "explicit",
    _ITUNES + "episodeType",
    _ITUNES + "author",
}
_XML_DECL = _lazy_re(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


class _FastDict(dict):
    """An item or a result as feedparser's FeedParserDict is read here
    (``entry.content``, ``d.entries``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class _NotFast(Exception):
    """The fast path meets something it does not know: feedparser reads the feed."""


def _fast_parse(data: bytes, feedparser) -> _FastDict | None:
    """feedparser's result for the fields ibplayer reads, or None when the
    feed is not one the fast path reads exactly as feedparser does."""
    if data[:3] == b"\xef\xbb\xbf" or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None
    start = data[:4096].lstrip()
    m = _XML_DECL.match(start)
    if m and m.group(1).lower() != b"utf-8":
        return None
    if b"<!DOCTYPE" in start or b"<!doctype" in start or b"base=" in data:
        return None
    if not re.match(rb"(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<rss\b", start, re.S):
        return None
    split = _split_items(data)
    if split is None:
        return None
    head, _items, tail = split
    import xml.etree.ElementTree as ET  # (only where a feed is parsed)

    try:
        entries = _fast_items(data, feedparser)
    except (_NotFast, ET.ParseError, ValueError):
        return None
    channel = feedparser.parse(head + tail, sanitize_html=False, resolve_relative_uris=False)
    if channel.get("bozo") or channel.entries or not str(channel.get("version") or "").startswith("rss"):
        return None
    return _FastDict(feed=channel.feed, entries=entries, version=channel.version, bozo=0,
                       encoding=channel.get("encoding"))


def _fp_text(value: str | None, cp1252: dict) -> str:
    """What feedparser's pop() makes of an element's text in a UTF-8 document:
    stripped, the common UTF-8-read-as-Latin-1 mistake undone, the
    Windows-1252 code points mapped."""
    out = (value or "").strip()
    if out.isascii():  # (most values: both steps would leave them unchanged)
        return out
    try:
        out = out.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    # the map's keys are U+0080..U+009F: translate (slow on non-ASCII text) only when one occurs
    return out.translate(cp1252) if _C1_RE.search(out) else out


_C1_RE = _lazy_re("[\x80-\x9f]")


def _fast_items(data: bytes, feedparser) -> list[_FastDict]:
    import xml.etree.ElementTree as ET

    from feedparser.datetimes import _parse_date
    from feedparser.html import _cp1252 as cp1252
    from feedparser.urls import _urljoin

    entries: list[_FastDict] = []
    depth = 0
    for event, el in ET.iterparse(io.BytesIO(data), events=("start", "end")):
        if event == "start":
            depth += 1
            if (depth == 1 and el.tag != "rss") or (depth == 2 and el.tag != "channel"):
                raise _NotFast("not rss/channel")
            continue
        depth -= 1
        if el.tag != "item":
            if depth == 2:
                el.clear()  # a channel element: feedparser reads the channel
            continue
        if depth != 2 or el.attrib:
            raise _NotFast("an item outside rss/channel, or with attributes")
        e = _FastDict()
        links: list[dict] = []
        seen: set[str] = set()
        guid_is_link = False
        for child in el:
            tag = child.tag
            if len(child):
                raise _NotFast("markup inside an item element")
            if tag == "enclosure":
                a = {}
                for k, v in child.attrib.items():
                    if "{" in k:
                        raise _NotFast("a namespaced enclosure attribute")
                    k = k.lower()
                    a[k] = v.lower() if k in ("rel", "type") and v else v
                href = a.get("url", a.get("uri", a.get("href")))
                if href:
                    a.pop("url", None)
                    a.pop("uri", None)
                    a["href"] = href
                a["rel"] = "enclosure"
                links.append(a)
                continue
            if tag in _FAST_IGNORED:
                continue
            key = _FAST_TEXT.get(tag)
            if key is None or key in seen:
                raise _NotFast(f"item element {tag}")
            seen.add(key)
            if child.attrib and not (tag == "guid" and set(child.attrib) == {"isPermaLink"}):
                raise _NotFast(f"attributes on {tag}")
            value = _fp_text(child.text, cp1252)
            if key == "id":
                guid_is_link = child.attrib.get("isPermaLink", "true") == "true"
                if guid_is_link and value:
                    value = _urljoin("", value)
                e["id"] = value
                if guid_is_link and "link" not in e:
                    e["link"] = value
            elif key == "link":
                if value:
                    value = _urljoin("", value)
                value = re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", value.replace("&amp;", "&"))
                e["link"] = value
                links.append({"rel": "alternate", "type": "text/html", "href": value} if value
                             else {"rel": "alternate", "type": "text/html"})
            elif key == "content":
                e["content"] = [{"type": "text/html", "value": value}]
                e.setdefault("summary", value)
            elif key == "summary":
                e["summary"] = value
            elif key == "published":
                e["published"] = value
                e["published_parsed"] = _parse_date(value)
            else:
                e[key] = value
        if links:
            e["links"] = links
        entries.append(e)
        el.clear()
    return entries


def _parse_document(data: bytes, url: str, known_hosts: list[Person] | None = None, fast: bool = True) -> ParsedFeed:
    _load_parse_stack()
    feedparser = _feedparser()

    if not data or not data.strip():
        raise FeedError(f"{url}: the server sent an empty document")
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise FeedError(f"{url}: this is a web page, not a podcast feed")
    prolog = data[: max(0, min(i for i in (data.find(b"<rss"), data.find(b"<feed"), data.find(b"<rdf"), 65536) if i >= 0))]
    if b"<!ENTITY" in prolog:
        # Feeds never need their own entities; this is how XML bombs start.
        raise FeedError(f"{url}: the feed declares XML entities (refused: possible entity-expansion attack)")
    data = _strip_c0_bytes(data)
    d = _fast_parse(data, feedparser) if fast else None
    try:
        if d is None:
            d = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
        if d.get("bozo") and "unbound prefix" in str(d.get("bozo_exception")):
            fixed = _declare_missing_prefixes(data)
            if fixed is not None:
                retry = feedparser.parse(fixed, sanitize_html=False, resolve_relative_uris=False)
                if not retry.get("bozo") or "unbound prefix" not in str(retry.get("bozo_exception")):
                    d, data = retry, fixed
    except Exception as exc:  # feedparser should not raise, but never trust it
        raise FeedError(f"{url}: cannot parse the feed ({_one_line(exc)})") from exc
    _check_parsed(d, url)
    f = d.feed
    atom = str(d.get("version") or "").startswith("atom")
    title = _title_text(f, atom)
    if not title and not d.entries:
        raise FeedError(f"{url}: not a podcast feed (no title, no items)")

    parts = _ITEM_SPLIT.split(data)
    channel_persons, item_persons = _persons_by_item(data, parts)
    item_bases = _bases_by_item(parts, url if http.is_http_url(url) else "")
    author = _text(f.get("itunes_author") or f.get("author")) or None
    channel_notes = html_to_text(_text(f.get("summary") or f.get("subtitle"))[:MAX_NOTES_CHARS])
    # the show's team: channel <podcast:person> tags (no role = host, per the
    # Podcasting 2.0 spec) and Podlove <atom:contributor> entries
    team = f.get("contributors") or []
    hosts = people.hosts_from(author, channel_persons + people.contributor_persons(team, team), channel_notes)
    if known_hosts:
        hosts = _merge_people(hosts, known_hosts)
    image = _text((f.get("image") or {}).get("href")) or None if isinstance(f.get("image"), dict) else None
    image = image or _text(f.get("logo")) or None  # Atom's <logo>

    episodes: list[ParsedEpisode] = []
    seen: set[str] = set()
    # Hosts named in any episode's "hosted by ..." line count for the whole show.
    extra_hosts: list[Person] = []
    stray = _stray_items(data)
    all_hosts: list[Person] | None = None
    for i, entry in enumerate(d.entries):
        if i in stray:
            continue  # an <item> inside an unknown element is not the feed's
        enc = _audio_enclosure(entry)
        if enc is None:
            continue  # a text post, a video, an image: not an episode
        audio_url = _text(enc.get("href"))
        if not urlsplit(audio_url).scheme and i < len(item_bases) and item_bases[i]:
            audio_url = _join(item_bases[i], audio_url)  # relative: against xml:base and the feed's URL
        guid = _text(entry.get("id")) or audio_url
        if guid in seen:
            continue
        seen.add(guid)
        ep_title = _title_text(entry, atom) or _title_from_url(audio_url) or "Untitled episode"
        content = ""
        if entry.get("content"):
            content = max((c.get("value") or "" for c in entry.content), key=len)
        summary_raw = entry.get("summary") or ""
        notes_raw = content if len(content) >= len(summary_raw) else summary_raw
        if len(notes_raw) > MAX_NOTES_CHARS:
            log.warning("%s: the show notes of %r are %d kB: only the first %d kB are read and kept",
                        url, ep_title[:80], len(notes_raw) // 1000, MAX_NOTES_CHARS // 1000)
        same = notes_raw is summary_raw
        notes_raw = strip_controls(notes_raw[:MAX_NOTES_CHARS])
        summary_raw = notes_raw if same else strip_controls(summary_raw[:MAX_NOTES_CHARS])
        notes_html = sanitize_html(notes_raw)
        notes_text = html_to_text(notes_html)
        summary = html_to_text(summary_raw) if summary_raw else notes_text[:500]
        duration = parse_duration(entry.get("itunes_duration"))
        length = enc.get("length") or "0"
        try:
            audio_length = max(0, int(str(length).strip()[:20] or 0))
        except ValueError:
            audio_length = 0
        if audio_length >= 1 << 50:  # a petabyte is a broken value (and overflows SQLite)
            audio_length = 0

        by_source: dict[str, list[Chapter]] = {}
        try:  # bad chapter data costs only those chapters, never the feed
            notes_chapters = chapters.chapters_from_notes(notes_html, duration)
            if len(notes_chapters) < 2 and summary_raw and summary_raw is not notes_raw:
                notes_chapters = chapters.chapters_from_notes(summary_raw, duration)
        except (ValueError, TypeError, RecursionError) as exc:
            log.warning("%s: chapters in the notes of %r: %s", url, ep_title[:80], _one_line(exc))
            notes_chapters = []
        if notes_chapters:
            by_source["notes"] = notes_chapters
        psc = entry.get("psc_chapters")
        if psc and psc.get("chapters"):
            try:
                psc_chapters = fit_explicit(chapters.chapters_from_psc(psc["chapters"]), duration)
            except (ValueError, TypeError, RecursionError) as exc:
                log.warning("%s: Podlove chapters of %r: %s", url, ep_title[:80], _one_line(exc))
                psc_chapters = []
            if psc_chapters:
                by_source["psc"] = psc_chapters
        pc = entry.get("podcast_chapters")
        chapters_url = _text(pc.get("url")) or None if isinstance(pc, dict) else None

        persons = (item_persons[i] if i < len(item_persons) else []) \
            + people.contributor_persons(entry.get("contributors") or [], team)
        if "hosted by" in notes_text.lower() and not extra_hosts:
            extra_hosts = people.hosts_from(None, [], notes_text)
            all_hosts = None
        if all_hosts is None:  # the show's hosts change only when extra_hosts does: merged once
            all_hosts = _merge_people(hosts, extra_hosts)
        guests = people.extract_guests(ep_title, summary or notes_text, all_hosts, persons)
        chapter_titles = [c.title for c in _best(by_source)]
        episodes.append(
            ParsedEpisode(
                guid=guid,
                title=ep_title,
                published=_published(entry),
                audio_url=audio_url,
                audio_type=(enc.get("type") or None),
                audio_length=audio_length,
                duration=duration,
                episode_number=_episode_number(entry, ep_title),
                link=_text(entry.get("link")) or None,
                image=_text((entry.get("image") or {}).get("href")) or None if isinstance(entry.get("image"), dict) else None,
                summary=summary[:2000],
                notes_html=notes_html,
                notes_text=notes_text,
                chapters_url=chapters_url,
                chapters=by_source,
                guests=guests,
                topics=topics.extract_topics(ep_title, chapter_titles, summary or notes_text[:3000]),
            )
        )
    all_hosts = _merge_people(hosts, extra_hosts)
    return ParsedFeed(
        title=title or url,
        link=_text(f.get("link")) or None,
        description=channel_notes[:4000],
        author=author,
        image=image,
        hosts=all_hosts,
        episodes=episodes,
    )


def _best(by_source: dict[str, list[Chapter]]) -> list[Chapter]:
    src = chapters.best_source(by_source)
    return by_source.get(src, []) if src else []


def _merge_people(a: list[Person], b: list[Person]) -> list[Person]:
    out = list(a)
    for p in b:
        if not any(people.same_person(p.name, q.name) for q in out):
            out.append(p)
    return out


def _episode_number(entry, title: str) -> int | None:
    raw = entry.get("itunes_episode")
    if raw:
        try:
            n = int(str(raw).strip()[:12])
            if 0 <= n < 10**9:
                return n
        except ValueError:
            pass
    n = people.episode_number(title)
    return n if n is None or 0 <= n < 10**9 else None
