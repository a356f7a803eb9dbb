"""Show-notes HTML: sanitised once at ingest (nh3), and turned into plain text.

feedparser's own sanitiser is most of its cost on big feeds, so the feed is
parsed with it switched off and the notes are cleaned here instead.
"""

from __future__ import annotations

import html
import re

import nh3

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt",
    "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "li", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
# Dropped together with everything inside them.
_CLEAN_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg"}


# C0 and C1 control characters (and DEL, and the two non-characters XML
# forbids), except tab and newline: they reach terminals (escape sequences)
# and make XML files unreadable.  A carriage return goes too (it can
# overwrite a terminal line); line breaks stay as \n.
_CONTROLS = dict.fromkeys([*range(0, 9), *range(11, 32), 127, *range(0x80, 0xA0), 0xFFFE, 0xFFFF])


def strip_controls(text: str) -> str:
    """``text`` without control characters other than tab and newline."""
    if not text:
        return text
    if text.isascii():  # (most text) bytes.translate deletes several times faster than str.translate maps
        raw = text.encode("ascii")
        kept = raw.translate(None, _ASCII_CONTROLS)
        return text if len(kept) == len(raw) else kept.decode("ascii")
    return text.translate(_CONTROLS)


_ASCII_CONTROLS = bytes(c for c in _CONTROLS if c < 128)


MAX_DEPTH = 48  # nesting kept in notes HTML; deeper tags are dropped (their text stays)
MAX_HTML_CHARS = 256_000  # notes HTML handed to the cleaner at most
_ANY_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)\b[^>]*>")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
         "track", "wbr"}
_CLOSE_SEARCH = 64  # how far down the open-tag stack a closing tag may match
# The same tags as _ANY_TAG, as (slash, name, self-closing slash) tuples for the quick check.
_TAG_PARTS = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)\b[^>]*?(/?)>")


def _nesting_fits(raw: str, max_depth: int) -> bool:
    """True when `limit_nesting` would keep every tag: each closing tag closes
    the innermost open one and no open tag is deeper than ``max_depth``.
    (Most notes: one cheap pass instead of the full one.)"""
    stack: list[str] = []
    for close, name, selfclose in _TAG_PARTS.findall(raw):
        name = name.lower()
        if selfclose or name in _VOID:
            continue
        if close:
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
            if len(stack) > max_depth:
                return False
    return True


def limit_nesting(raw: str, max_depth: int = MAX_DEPTH) -> str:
    """Drop the tags nested deeper than ``max_depth`` (keeping their text),
    in one linear pass: the HTML cleaner and Qt are slow (quadratic) on
    very deep trees, and no show notes need them."""
    if raw.count("<") <= max_depth or _nesting_fits(raw, max_depth):
        return raw
    return _drop_deep_tags(raw, max_depth)


def _drop_deep_tags(raw: str, max_depth: int) -> str:
    """The full pass of `limit_nesting`."""
    out: list[str] = []
    stack: list[tuple[str, bool]] = []  # (tag name, kept)
    kept_depth = 0
    pos = 0
    changed = False
    for m in _ANY_TAG.finditer(raw):
        name = m.group(2).lower()
        if name in _VOID or m.group(0).endswith("/>"):
            continue
        drop = False
        if m.group(1):  # a closing tag: match it near the top of the stack
            for i in range(len(stack) - 1, max(-1, len(stack) - 1 - _CLOSE_SEARCH), -1):
                if stack[i][0] == name:
                    drop = not stack[i][1]
                    for _n, kept in stack[i:]:
                        kept_depth -= kept
                    del stack[i:]
                    break
            else:
                drop = True  # nothing to close: meaningless anyway
        else:
            keep = kept_depth < max_depth
            stack.append((name, keep))
            kept_depth += keep
            drop = not keep
        if drop:
            out.append(raw[pos:m.start()])
            pos = m.end()
            changed = True
    if not changed:
        return raw
    out.append(raw[pos:])
    return "".join(out)


def sanitize_html(raw: str) -> str:
    """Return notes HTML that is safe to render: no scripts, no styles, no
    event handlers, only http(s)/mailto links, no control characters, at
    most ``MAX_HTML_CHARS`` long and ``MAX_DEPTH`` deep."""
    if not raw:
        return ""
    raw = strip_controls(raw[:MAX_HTML_CHARS])
    if "<" not in raw and "&" not in raw:
        # Plain text notes: keep the line structure visible in the viewer.
        return "<p>" + "<br>".join(html.escape(line) for line in raw.splitlines()) + "</p>"
    return _clean(limit_nesting(raw))


_CLEAN_OPTIONS = {
    "tags": _ALLOWED_TAGS,
    "clean_content_tags": _CLEAN_CONTENT,
    "attributes": _ALLOWED_ATTRIBUTES,
    "url_schemes": {"http", "https", "mailto"},
    "link_rel": "noopener noreferrer nofollow",
}
if hasattr(nh3, "Cleaner"):  # nh3 >= 0.2.20: the options are converted once, not for every note
    _clean = nh3.Cleaner(**_CLEAN_OPTIONS).clean
else:
    def _clean(raw: str) -> str:
        return nh3.clean(raw, **_CLEAN_OPTIONS)


_BLOCK = re.compile(r"<(?:br|hr|/?(?:p|div|li|ul|ol|tr|h\d|blockquote|table|pre|dt|dd|figcaption))\b[^>]*>", re.I)
_CELL = re.compile(r"<\s*/?t[dh]\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, one block per line, spaces collapsed
    (for search, guest extraction and topics)."""
    if not fragment:
        return ""
    if "<" in fragment:
        fragment = _BLOCK.sub("\n", fragment)
        fragment = _CELL.sub(" ", fragment)
        fragment = _TAG.sub("", fragment)
    text = html.unescape(fragment)
    # str.split() is several times faster than a unicode whitespace regex here
    return "\n".join(filter(None, (" ".join(line.split()) for line in text.split("\n"))))
