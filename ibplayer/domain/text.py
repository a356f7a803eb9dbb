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


def sanitize_html(raw: str) -> str:
    """Return notes HTML that is safe to render: no scripts, no styles, no
    event handlers, only http(s)/mailto links."""
    if not raw:
        return ""
    if "<" not in raw and "&" not in raw:
        # Plain text notes: keep the line structure visible in the viewer.
        return "<p>" + "<br>".join(html.escape(line) for line in raw.splitlines()) + "</p>"
    return nh3.clean(
        raw,
        tags=_ALLOWED_TAGS,
        clean_content_tags=_CLEAN_CONTENT,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


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
