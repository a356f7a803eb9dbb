"""Feeds other podcast apps open (issue 9, "Feeds"): undeclared namespace
prefixes, <media:content> episodes, relative enclosure URLs, untitled items,
explicit chapters beyond a wrong itunes:duration.  All test data is made up."""

from __future__ import annotations

import json

import pytest

from ibplayer.infra import feeds
from ibplayer.infra.feeds import FeedError

try:
    from tests.httpfixtures import file_server  # noqa: F401
except ImportError:  # tests/ not importable as a package
    from httpfixtures import file_server  # noqa: F401

ITUNES = ' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
PODCAST = ' xmlns:podcast="https://podcastindex.org/namespace/1.0"'
PSC = ' xmlns:psc="http://podlove.org/simple-chapters"'
MEDIA = ' xmlns:media="http://search.yahoo.com/mrss/"'


def rss(body: str, ns: str = "", channel_attrs: str = "", rss_attrs: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"{ns}{rss_attrs}>'
            f"<channel{channel_attrs}><title>Garden Talk</title>{body}</channel></rss>").encode()


UNDECLARED_ITEM = (
    "<item><title>Tomatoes in winter</title><guid>t1</guid>"
    '<enclosure url="http://127.0.0.1:9/t1.mp3" type="audio/mpeg" length="5000"/>'
    "<itunes:duration>30:00</itunes:duration><itunes:episode>7</itunes:episode>"
    '<podcast:chapters url="http://127.0.0.1:9/t1.json" type="application/json+chapters"/>'
    '<psc:chapters version="1.2"><psc:chapter start="0" title="Hello"/>'
    '<psc:chapter start="05:00" title="Seeds"/><psc:chapter start="20:00" title="Frost"/></psc:chapters>'
    "<description>Growing under glass.</description></item>"
)


def test_undeclared_namespace_prefixes_are_read(file_server, core):
    body = rss("<itunes:author>Ada Gardener</itunes:author><wild:thing>x</wild:thing>" + UNDECLARED_ITEM)
    declared = rss("<itunes:author>Ada Gardener</itunes:author>" + UNDECLARED_ITEM, ns=ITUNES + PODCAST + PSC)
    sloppy = feeds.parse_feed(body, "sloppy")
    proper = feeds.parse_feed(declared, "proper")
    assert sloppy.author == proper.author == "Ada Gardener"
    [ep] = sloppy.episodes
    assert ep.model_dump() == proper.episodes[0].model_dump()
    assert ep.duration == 1800 and ep.episode_number == 7
    assert ep.chapters_url == "http://127.0.0.1:9/t1.json"
    assert [c.title for c in ep.chapters["psc"]] == ["Hello", "Seeds", "Frost"]
    # and end to end, through the library
    r = core.subscribe(file_server.add("/f.xml", body))
    assert r.new == 1


@pytest.mark.parametrize("garbage", [
    rss(UNDECLARED_ITEM)[:-40],  # truncated
    rss(UNDECLARED_ITEM).replace(b"</guid>", b"</gid>"),  # mismatched tag
    rss(UNDECLARED_ITEM).replace(b"<item>", b"<item><<<"),
])
def test_real_garbage_is_still_refused_in_one_line(file_server, core, garbage):
    url = file_server.add("/bad.xml", garbage)
    with pytest.raises(FeedError, match="broken XML|not a valid feed") as err:
        core.subscribe(url)
    assert "\n" not in str(err.value) and url in str(err.value)
    assert core.library.feeds() == []


def test_media_content_audio_without_enclosure_is_an_episode():
    body = rss(
        '<item><title>Only media</title><guid>m1</guid><media:content url="http://h/m1.m4a" type="audio/mp4" fileSize="4321"/></item>'
        '<item><title>A video</title><guid>m2</guid><media:content url="http://h/m2.mp4" type="video/mp4"/></item>'
        '<item><title>Audio by medium</title><guid>m3</guid><media:content url="http://h/m3" medium="audio"/></item>'
        '<item><title>Both</title><guid>m4</guid><enclosure url="http://h/m4.mp3" type="audio/mpeg"/>'
        '<media:content url="http://h/m4-low.mp3" type="audio/mpeg"/></item>',
        ns=MEDIA,
    )
    eps = {e.guid: e for e in feeds.parse_feed(body, "media").episodes}
    assert sorted(eps) == ["m1", "m3", "m4"]
    assert (eps["m1"].audio_url, eps["m1"].audio_type, eps["m1"].audio_length) == ("http://h/m1.m4a", "audio/mp4", 4321)
    assert eps["m4"].audio_url == "http://h/m4.mp3"  # the enclosure wins


def test_relative_enclosure_urls_are_resolved(file_server, core):
    body = rss(
        '<item><title>Plain</title><guid>r1</guid><enclosure url="audio/r1.mp3" type="audio/mpeg"/></item>'
        '<item xml:base="http://cdn.example.org/shows/"><title>Item base</title><guid>r2</guid>'
        '<enclosure url="r2.mp3" type="audio/mpeg"/></item>'
        '<item><title>Rooted</title><guid>r3</guid><enclosure url="/files/r3.mp3" type="audio/mpeg"/></item>'
        '<item><title>Absolute</title><guid>r4</guid><enclosure url="https://x.example/r4.mp3" type="audio/mpeg"/></item>',
    )
    url = file_server.add("/pod/feed.xml", body)
    core.subscribe(url)
    got = {e.title: e.audio_url for e in core.library.episodes()}
    root = file_server.url("")
    assert got == {
        "Plain": root + "/pod/audio/r1.mp3",
        "Item base": "http://cdn.example.org/shows/r2.mp3",
        "Rooted": root + "/files/r3.mp3",
        "Absolute": "https://x.example/r4.mp3",
    }
    # a channel-level xml:base, itself relative to the feed's URL
    based = rss('<item><title>C</title><guid>c1</guid><enclosure url="c1.mp3" type="audio/mpeg"/></item>',
                channel_attrs=' xml:base="media/"')
    [ep] = feeds.parse_feed(based, "http://feeds.example.net/show/rss").episodes
    assert ep.audio_url == "http://feeds.example.net/show/media/c1.mp3"


def test_untitled_item_is_named_after_its_file():
    body = rss(
        '<item><guid>u1</guid><enclosure url="http://h/shows/Spring%20Planting%20-%20part%202.mp3?src=rss" type="audio/mpeg"/></item>'
        '<item><title>  </title><guid>u2</guid><enclosure url="http://h/ep-0042.m4a" type="audio/mp4"/></item>'
    )
    titles = {e.guid: e.title for e in feeds.parse_feed(body, "u").episodes}
    assert titles == {"u1": "Spring Planting - part 2", "u2": "ep-0042"}


def test_explicit_chapters_survive_a_wrong_itunes_duration(file_server, core):
    chapters_json = json.dumps({"version": "1.2.0", "chapters": [
        {"startTime": 0, "title": "Wel\u001b[2Jcome\u009b"}, {"startTime": 700, "title": "Mulch"}, {"startTime": 1500, "title": "Q and A"}]})
    ch = file_server.add("/ch.json", chapters_json.encode(), content_type="application/json")
    item = (
        "<item><title>Short says the feed</title><guid>w1</guid>"
        '<enclosure url="http://127.0.0.1:9/w1.mp3" type="audio/mpeg"/>'
        "<itunes:duration>10:00</itunes:duration>"  # the file is really 30 minutes long
        f'<podcast:chapters url="{ch}" type="application/json+chapters"/>'
        '<psc:chapters version="1.2"><psc:chapter start="0" title="Intro"/>'
        '<psc:chapter start="12:00" title="Com&#x9b;post"/><psc:chapter start="24:00" title="Goodbye"/></psc:chapters></item>'
    )
    core.subscribe(file_server.add("/f.xml", rss(item, ns=ITUNES + PODCAST + PSC)))
    ep = core.library.resolve_episode("w1")
    sets = core.library.chapter_sets(ep.id)
    assert [c.title for c in sets["psc"]] == ["Intro", "Compost", "Goodbye"]
    assert [c.title for c in sets["podcast-chapters"]] == ["Wel[2Jcome", "Mulch", "Q and A"]  # no ESC, no CSI
    # When the stated duration fits, it still closes the last chapter.
    fits = rss(item.replace("10:00</itunes", "40:00</itunes").replace("w1", "w2"), ns=ITUNES + PODCAST + PSC)
    [ep2] = feeds.parse_feed(fits, "fits").episodes
    assert ep2.chapters["psc"][-1].end == 2400


def test_podlove_chapter_without_start_costs_only_that_chapter(core, file_server):
    item = ('<item><title>Half marked</title><guid>p1</guid><enclosure url="http://127.0.0.1:9/p1.mp3" type="audio/mpeg"/>'
            '<psc:chapters version="1.2"><psc:chapter start="0" title="Opening"/><psc:chapter title="Lost its time"/>'
            '<psc:chapter start="05:00" title="Second part"/></psc:chapters></item>')
    core.subscribe(file_server.add("/psc.xml", rss(item, ns=ITUNES + PSC)))
    ep = core.library.resolve_episode("p1")
    assert [(c.start, c.title) for c in core.library.chapter_sets(ep.id)["psc"]] == [(0, "Opening"), (300, "Second part")]


ATOM = ' xmlns:atom="http://www.w3.org/2005/Atom"'


def test_channel_person_without_role_is_a_host_and_podlove_contributors_are_read():
    body = ('<podcast:person img="https://img.example/mara.png">Mara Quill</podcast:person>'
            "<atom:contributor><atom:name>Mara Quill</atom:name></atom:contributor>"
            "<item><title>Soil and sunlight</title><guid>c1</guid>"
            '<enclosure url="http://h/c1.mp3" type="audio/mpeg"/>'
            "<atom:contributor><atom:name>Mara Quill</atom:name></atom:contributor>"
            "<atom:contributor><atom:name>Ivo Brandt</atom:name><atom:uri>https://ivo.example</atom:uri></atom:contributor>"
            "<description>A talk about soil.</description></item>")
    feed = feeds.parse_feed(rss(body, ns=ITUNES + PODCAST + ATOM), "http://h/feed")
    assert [h.name for h in feed.hosts] == ["Mara Quill"]
    [ep] = feed.episodes
    assert [(g.name, g.role) for g in ep.guests] == [("Ivo Brandt", "guest")]
    assert ep.guests[0].href == "https://ivo.example"
