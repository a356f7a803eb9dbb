"""OPML subscription lists (import and export)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path


class OpmlError(Exception):
    pass


def read_opml(path: Path) -> list[str]:
    """Feed URLs from an OPML file, in order, without duplicates."""
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
        attrs = {"type": "rss", "text": title or url, "title": title or url, "xmlUrl": url}
        if link:
            attrs["htmlUrl"] = link
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    tmp = path.with_name(path.name + ".tmp")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
