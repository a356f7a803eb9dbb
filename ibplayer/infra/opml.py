"""OPML subscription lists (import and export)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from ibplayer.domain.text import strip_controls
from ibplayer.infra import http

MAX_OPML_BYTES = 10_000_000


class OpmlError(Exception):
    pass


def read_opml(source: str | os.PathLike[str]) -> list[str]:
    """Feed URLs from an OPML file (a path, or an http(s) URL), in order,
    without duplicates.  Outlines are not checked here: each URL is
    subscribed (or refused) on its own."""
    path = source
    if isinstance(source, str) and http.is_http_url(source.strip()):
        try:
            data = http.fetch(source.strip(), max_bytes=MAX_OPML_BYTES, what="the OPML file").content or b""
        except http.FetchError as exc:
            raise OpmlError(str(exc)) from exc
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise OpmlError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if b"<!ENTITY" in data:
        raise OpmlError(f"{path}: entity declarations are not allowed in OPML")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise OpmlError(f"{path}: not a valid OPML file ({exc})") from exc
    urls: list[str] = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url and url not in urls:
            urls.append(url)
    return urls


def write_opml(path: Path, feeds: list[tuple[str, str, str | None]]) -> None:
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "ibplayer subscriptions"
    ET.SubElement(head, "dateCreated").text = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = ET.SubElement(root, "body")
    for title, url, link in feeds:
        # Control characters are not allowed in XML: written raw, they make
        # the whole file unreadable.
        title, url, link = strip_controls(title or ""), strip_controls(url or ""), strip_controls(link or "")
        attrs = {"type": "rss", "text": title or url, "title": title or url, "xmlUrl": url}
        if link:
            attrs["htmlUrl"] = link
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    tmp = path.with_name(path.name + ".tmp")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
