"""The fast path (one expat pass over the items) and feedparser give the same
episodes, field by field, for every feed the tests hold: our real feed, a
big feed made from it, podcastparser's corpus and feeds written here with
the awkward values feedparser rewrites (Latin-1 read as UTF-8, Windows-1252
code points, entity-escaped ampersands in links, permalink guids, content
before description).  Feeds the fast path does not know fall back to
feedparser, so they come out the same too."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ROOT
from test_podcastparser_corpus import corpus  # noqa: F401  (the fixture)

from ibplayer.infra import feeds

sys.path.insert(0, str(ROOT / "benchmarks"))
from feedgen import big_feed  # noqa: E402

URL = "https://podcasts.example.org/show/feed.xml"
NS = ('xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
      'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"')


def rss(items: str, channel: str = "<title>Awkward Show</title><link>https://example.org/</link>") -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" {NS}><channel>{channel}{items}</channel></rss>'.encode()


AWKWARD = rss(
    # content:encoded before description, a permalink guid with no <link>
    "<item><title>  Spaced \u0093title\u0094  </title><guid>https://example.org/ep/1</guid>"
    "<content:encoded><![CDATA[<p>Full notes</p><p>00:00 Start</p><p>10:00 Middle</p>]]></content:encoded>"
    "<description>Short notes</description>"
    '<enclosure url="https://cdn.example.org/1.mp3" length="1234" type="AUDIO/MPEG"/>'
    "<pubDate>Tue, 03 Mar 2026 10:00:00 GMT</pubDate><itunes:duration>1:02:03</itunes:duration></item>"
    # Latin-1-read-as-UTF-8 in the title, a Windows-1252 code point, a non-permalink guid, &amp;amp; in the link
    "<item><title>Caf\u00c3\u00a9 talk</title><guid isPermaLink=\"false\">ep-2</guid>"
    "<link>https://example.org/ep?a=1&amp;amp;b=2</link>"
    "<description>&lt;p&gt;Hosted by Ana Lee and Bo Li.&lt;/p&gt; With Dr. Jane Roe (MIT)</description>"
    '<enclosure url="https://cdn.example.org/2.jpg" type="image/jpeg"/>'
    '<enclosure url="https://cdn.example.org/2.m4a" length="x" type="audio/x-m4a"/>'
    "<itunes:episode> 42 </itunes:episode><dc:creator>Someone</dc:creator></item>"
    # only content:encoded, a comment inside the title, a link before the permalink guid, a date feedparser must read
    "<item><title>Part <!-- note --> two</title><link>https://example.org/three</link><guid>https://example.org/ep/3</guid>"
    "<content:encoded>Plain notes\n0:00 Hello\n5:00 Bye</content:encoded>"
    '<enclosure url="relative/3.mp3" type="audio/mpeg"/><pubDate>2026-03-05T08:00:00+01:00</pubDate></item>'
    # no title, no guid, an empty description
    '<item><description></description><enclosure url="https://cdn.example.org/Episode%20Four.mp3"/></item>'
)


def fixture_feeds(corpus_dir: Path) -> dict[str, bytes]:
    out = {"information-bottleneck.rss": (ROOT / "tests" / "information-bottleneck.rss").read_bytes(),
           "resources/default-feed.rss": (ROOT / "resources" / "default-feed.rss").read_bytes(),
           "big feed (300 items)": big_feed(300), "awkward values": AWKWARD}
    for p in sorted(corpus_dir.glob("*.rss")):
        out[p.name] = p.read_bytes()
    return out


def both(data: bytes):
    got = []
    for fast in (True, False):
        try:
            got.append(feeds._parse_document(data, URL, fast=fast).model_dump())
        except feeds.FeedError as exc:
            got.append(("FeedError", str(exc)))
    return got


def test_fast_path_and_feedparser_give_the_same_episodes(corpus):  # noqa: F811
    fast_used = []
    for name, data in fixture_feeds(corpus).items():
        fast, slow = both(data)
        if isinstance(slow, dict):
            assert isinstance(fast, dict), name
            assert {k: v for k, v in fast.items() if k != "episodes"} == {k: v for k, v in slow.items() if k != "episodes"}, name
            assert len(fast["episodes"]) == len(slow["episodes"]), name
            for a, b in zip(fast["episodes"], slow["episodes"]):
                for field in b:
                    assert a[field] == b[field], f"{name}: episode {b['guid']!r}, field {field}"
        else:
            assert fast == slow, name
        if feeds._fast_parse(feeds._strip_c0_bytes(data), feeds._feedparser()) is not None:
            fast_used.append(name)
    # the comparison means something: the fast path did read these
    assert {"information-bottleneck.rss", "big feed (300 items)", "awkward values"} <= set(fast_used)
    assert len(fast_used) >= 15


def test_awkward_values_read_as_feedparser_reads_them():
    parsed = feeds._parse_document(AWKWARD, URL)
    first, second, third, fourth = parsed.episodes
    assert first.title == "Spaced \u201ctitle\u201d" and first.guid == "https://example.org/ep/1"
    assert first.link == "https://example.org/ep/1"  # a permalink guid is the link
    assert "Full notes" in first.notes_text and first.audio_type == "audio/mpeg"
    assert [c.title for c in first.chapters["notes"]] == ["Start", "Middle"]
    assert second.title == "Café talk"
    assert second.link == "https://example.org/ep?a=1&b=2"
    assert second.audio_url == "https://cdn.example.org/2.m4a" and second.audio_length == 0
    assert second.episode_number == 42
    assert third.title == "Part  two" and third.link == "https://example.org/three"
    assert third.audio_url == "https://podcasts.example.org/show/relative/3.mp3"
    assert third.published is not None and third.published.hour == 7
    assert fourth.title == "Episode Four"


@pytest.mark.parametrize(
    "doc",
    [
        rss("<item><title>A</title><itunes:summary>Other notes</itunes:summary>"
            '<enclosure url="https://e.org/a.mp3" type="audio/mpeg"/></item>'),  # an element it does not know
        rss('<item><title>A</title><title>B</title><enclosure url="https://e.org/a.mp3" type="audio/mpeg"/></item>'),
        rss('<item><title>A <b>bold</b></title><enclosure url="https://e.org/a.mp3" type="audio/mpeg"/></item>'),
        rss('<item xml:base="https://other.example/"><title>A</title><enclosure url="a.mp3" type="audio/mpeg"/></item>'),
        rss('<item><title>A</title><enclosure url="https://e.org/a.mp3" type="audio/mpeg"/></item>').replace(
            b'encoding="UTF-8"', b'encoding="ISO-8859-1"'),
        rss('<item><title>A &nbsp; B</title><enclosure url="https://e.org/a.mp3" type="audio/mpeg"/></item>'),
    ],
    ids=["unknown element", "element twice", "markup in a title", "xml:base", "Latin-1", "HTML entity"],
)
def test_what_the_fast_path_does_not_know_goes_to_feedparser(doc):
    assert feeds._fast_parse(doc, feeds._feedparser()) is None
    fast, slow = both(doc)
    assert fast == slow
    assert isinstance(fast, dict) and fast["episodes"], "the feed still opens"
