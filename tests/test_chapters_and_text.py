"""chapters_and_text: the notes go to text once at ingest, for both the
chapter finder and the plain text used for search."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from ibplayer.domain.chapters import chapters_and_text, chapters_from_notes
from ibplayer.domain.text import html_to_text, sanitize_html

REAL_FEED = Path(__file__).resolve().parent / "information-bottleneck.rss"


def _real_notes() -> list[str]:
    raw = REAL_FEED.read_text(encoding="utf-8")
    out = []
    for item in re.findall(r"<item>(.*?)</item>", raw, re.S):
        m = re.search(r"<content:encoded>(.*?)</content:encoded>", item, re.S) or re.search(
            r"<description>(.*?)</description>", item, re.S
        )
        if m:
            body = m.group(1).strip()
            body = body[9:-3] if body.startswith("<![CDATA[") else html.unescape(body)
            out.append(sanitize_html(body))
    return out


def test_same_text_and_chapters_as_the_two_separate_passes_on_our_feed():
    notes = _real_notes()
    assert len(notes) >= 19
    with_chapters = 0
    for n in notes:
        chs, text = chapters_and_text(n, 7200)
        assert text == html_to_text(n)
        assert chs == chapters_from_notes(n, 7200)
        with_chapters += bool(chs)
    assert with_chapters >= 19


@pytest.mark.parametrize(
    "raw",
    [
        "Plain text notes\n00:00 Intro\n05:00 Middle &amp; end",
        "<p>Hello &amp; welcome</p><ul><li>00:00 — Intro</li><li>04:00 — Q&amp;A</li></ul>",
        "<h2>Links</h2><p><a href='https://example.org'>A link</a> and text</p><table><tr><td>00:00</td><td>Start</td></tr></table>",
        "<p>Tabs\tand&nbsp;non-breaking spaces</p><p></p><div>  </div><p>last</p>",
        "",
    ],
)
def test_same_text_as_html_to_text_on_typical_shapes(raw):
    clean = sanitize_html(raw)
    chs, text = chapters_and_text(clean)
    assert text == html_to_text(clean)
    assert chs == chapters_from_notes(clean)
