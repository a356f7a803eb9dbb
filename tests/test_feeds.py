"""Feeds end to end: a real HTTP server on 127.0.0.1, a real SQLite library."""

from __future__ import annotations

import json
import os
import re
import time

import pytest
from werkzeug import Response

from ibplayer.infra import feeds
from ibplayer.infra.feeds import FeedError
from ibplayer.services.core import Core

QICHAO = "AI for Science with Qichao Hu (Molecular Universe / SES AI)"


def serve_feed(httpserver, data: bytes, path="/feed.xml", **headers):
    httpserver.expect_request(path).respond_with_data(data, content_type="application/rss+xml", headers=headers)
    return httpserver.url_for(path)


def library_snapshot(core: Core) -> str:
    """Everything a user could see, to compare before and after."""
    return json.dumps(core.library.export(), sort_keys=True, default=str)


# ---------------------------------------------------------------- the real feed


def test_real_feed_gives_19_episodes_without_the_text_post(httpserver, core, real_feed_bytes):
    url = serve_feed(httpserver, real_feed_bytes)
    r = core.subscribe(url)
    assert r.new == 19
    eps = core.library.episodes()
    titles = [e.title for e in eps]
    assert len(eps) == 19
    assert "Editing a Compressed Memory" not in titles  # image enclosure, a text post
    assert QICHAO in titles
    # newest first
    dates = [e.published for e in eps]
    assert dates == sorted(dates, reverse=True)


def test_real_feed_chapters_match_the_show_notes(httpserver, core, real_feed_bytes):
    core.subscribe(serve_feed(httpserver, real_feed_bytes))
    lib = core.library
    by_title = {e.title: e for e in lib.episodes()}

    source, chs = lib.chapters(by_title[QICHAO].id)
    assert source == "notes"
    assert len(chs) == 19
    assert (chs[0].start, chs[0].title) == (13, "Intro and welcome")
    assert (chs[1].start, chs[1].title) == (79, "Shovel vs. gold")
    assert chs[8].title == (
        "\u201cA foundation model for everything\u201d \u2014 and the black box between "
        "molecular properties and device performance"
    )
    assert (chs[-1].start, chs[-1].title) == (3637, "Closing thoughts and wrap")
    assert chs[0].end == chs[1].start

    # "(00:12) Intros" style, hours switching in
    rao = by_title["Reasoning Models and Planning - with Rao Kambhampati (Arizona State)"]
    _, chs = lib.chapters(rao.id)
    assert (chs[0].start, chs[0].title) == (12, "Intros")
    assert (chs[-1].start, chs[-1].title) == (3600 + 9 * 60 + 57, "Closing thoughts: the bridge analogy")

    # "00:00  Intro" with two spaces, and a title with quotes inside
    jurgen = by_title["Jürgen Schmidhuber - World Models, RL, and the Year that changed AI (Part 1)"]
    _, chs = lib.chapters(jurgen.id)
    assert (chs[0].start, chs[0].title) == (0, "Intro")
    assert (chs[-1].start, chs[-1].title) == (3600 + 34 * 60 + 2, "Closing: who really invented deep learning?")

    for ep in lib.episodes():
        _, chs = lib.chapters(ep.id)
        assert len(chs) >= 10, ep.title
        starts = [c.start for c in chs]
        assert starts == sorted(starts), ep.title


def test_real_feed_guests_hosts_and_topics(httpserver, core, real_feed_bytes):
    core.subscribe(serve_feed(httpserver, real_feed_bytes))
    lib = core.library
    by_title = {e.title: e for e in lib.episodes()}
    wenhu = by_title["Why AI Benchmarks Are Lying to You - with Wenhu Chen (Meta/University of Waterloo)"]
    assert [(p.name, p.affiliations) for p in wenhu.guests] == [("Wenhu Chen", ["Meta", "University of Waterloo"])]
    hosts = {p.name for p in lib.hosts(wenhu.feed_id)}
    assert "Ravid Shwartz Ziv" in hosts
    for ep in lib.episodes():
        assert not any("Ravid" in g.name or "Allen Roush" in g.name for g in ep.guests), ep.title
    # people are entities: both Schmidhuber episodes hang off one person
    pid = lib.person_id("Jürgen Schmidhuber")
    assert pid is not None
    assert len(lib.episodes_with_person(pid)) == 2
    # one topic across episodes is one topic
    topics = dict(lib.all_topics())
    assert topics.get("world models", 0) >= 2


def test_search_finds_world_models_by_stem_and_case(httpserver, core, real_feed_bytes):
    core.subscribe(serve_feed(httpserver, real_feed_bytes))
    hits = core.library.search("world models")
    chapter_titles = [h.title for h in hits if h.kind == "chapter"]
    assert "World models and physics" in chapter_titles
    assert "World models, diffusion, and what may come next" in chapter_titles
    episode_titles = [h.title for h in hits if h.kind == "episode"]
    assert "Jürgen Schmidhuber - World Models, RL, and the Year that changed AI (Part 1)" in episode_titles
    # stemming and case: "World Model" finds the plural chapter too
    assert "World models and physics" in [h.title for h in core.library.search("WORLD MODEL")]
    # a chapter hit knows where to land
    hit = next(h for h in hits if h.title == "World models and physics")
    assert hit.start == 30 * 60 + 1 and hit.episode_title == QICHAO
    # guests are searchable by name, accents folded
    assert any(h.kind == "guest" and h.title == "Jürgen Schmidhuber" for h in core.library.search("jurgen"))


# ---------------------------------------------------------------- fetching rules


def test_conditional_get_304_parses_nothing(httpserver, core, real_feed_bytes, monkeypatch):
    etag = '"v1"'
    httpserver.expect_ordered_request("/feed.xml").respond_with_data(
        real_feed_bytes, content_type="application/rss+xml", headers={"ETag": etag, "Last-Modified": "Tue, 30 Jun 2026 07:16:34 GMT"}
    )
    seen = {}

    def conditional(request):
        seen.update(request.headers)
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304)
        return Response(real_feed_bytes, status=200)

    httpserver.expect_ordered_request("/feed.xml").respond_with_handler(conditional)
    core.subscribe(httpserver.url_for("/feed.xml"))
    before = library_snapshot(core)

    def must_not_parse(*a, **k):
        raise AssertionError("a 304 must not be parsed")

    monkeypatch.setattr(feeds, "parse_feed", must_not_parse)
    [r] = core.refresh()
    assert r.status == "not-modified"
    assert seen["If-None-Match"] == etag
    assert seen["If-Modified-Since"] == "Tue, 30 Jun 2026 07:16:34 GMT"
    assert seen["User-Agent"].startswith("ibplayer/")
    assert library_snapshot(core) == before


def test_unchanged_body_without_validators_is_not_reparsed(httpserver, core, real_feed_bytes, monkeypatch):
    url = serve_feed(httpserver, real_feed_bytes)
    core.subscribe(url)
    monkeypatch.setattr(feeds, "parse_feed", lambda *a, **k: (_ for _ in ()).throw(AssertionError("parsed")))
    [r] = core.refresh()
    assert r.status == "unchanged"


def test_permanent_redirect_updates_the_feed_url(httpserver, core, real_feed_bytes):
    new = serve_feed(httpserver, real_feed_bytes, path="/new.xml")
    httpserver.expect_request("/old.xml").respond_with_data("", status=301, headers={"Location": new})
    r = core.subscribe(httpserver.url_for("/old.xml"))
    assert core.library.feed(r.feed_id).url == new


def test_temporary_redirect_keeps_the_feed_url(httpserver, core, real_feed_bytes):
    new = serve_feed(httpserver, real_feed_bytes, path="/today.xml")
    httpserver.expect_request("/feed.xml").respond_with_data("", status=302, headers={"Location": new})
    old = httpserver.url_for("/feed.xml")
    r = core.subscribe(old)
    assert core.library.feed(r.feed_id).url == old
    assert len(core.library.episodes()) == 19


def _item(guid, title, extra=""):
    return (
        f"<item><title>{title}</title><guid>{guid}</guid>"
        f'<enclosure url="http://127.0.0.1/{guid}.mp3" type="audio/mpeg" length="100"/>'
        f"<description>00:00 Intro\n05:00 Middle part\n10:00 The end</description>{extra}</item>"
    )


def _feed(*items, title="Tiny Show"):
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<title>{title}</title>{''.join(items)}</channel></rss>"
    ).encode()


def test_refresh_updates_in_place_adds_new_and_never_duplicates(httpserver, core):
    httpserver.expect_ordered_request("/f").respond_with_data(_feed(_item("a", "First"), _item("b", "Second")))
    httpserver.expect_ordered_request("/f").respond_with_data(
        _feed(_item("c", "Third"), _item("a", "First (remastered)"), _item("b", "Second"))
    )
    core.subscribe(httpserver.url_for("/f"))
    a = core.library.resolve_episode("a")
    core.library.set_position(a.id, 321)
    [r] = core.refresh()
    assert (r.new, r.updated) == (1, 1)
    eps = core.library.episodes()
    assert sorted(e.guid for e in eps) == ["a", "b", "c"]
    a2 = core.library.resolve_episode("a")
    assert a2.id == a.id and a2.title == "First (remastered)" and a2.position == 321


def test_item_without_guid_is_identified_by_its_enclosure(httpserver, core):
    item = '<item><title>No guid</title><enclosure url="http://127.0.0.1/x.mp3" type="audio/mpeg"/></item>'
    httpserver.expect_request("/f").respond_with_data(_feed(item))
    core.subscribe(httpserver.url_for("/f"))
    core.library.db.execute("UPDATE feeds SET content_hash=NULL")  # force a full re-read
    core.refresh()
    [ep] = core.library.episodes()
    assert ep.guid == "http://127.0.0.1/x.mp3"


def test_audio_by_extension_when_type_missing(httpserver, core):
    items = (
        '<item><title>Typed</title><guid>1</guid><enclosure url="http://h/a.mp3" type="audio/mpeg"/></item>'
        '<item><title>Untyped</title><guid>2</guid><enclosure url="http://h/b.m4a?x=1"/></item>'
        '<item><title>Picture</title><guid>3</guid><enclosure url="http://h/c.jpg" type="image/jpeg"/></item>'
        '<item><title>Post</title><guid>4</guid></item>'
    )
    httpserver.expect_request("/f").respond_with_data(_feed(items))
    core.subscribe(httpserver.url_for("/f"))
    assert sorted(e.title for e in core.library.episodes()) == ["Typed", "Untyped"]


# ---------------------------------------------------------------- bad feeds


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>x</title><guid>1</guid><enclosure url="http://h/a.mp3" type="audio/mpeg"/></item>
</channel></rss>"""

BAD_BODIES = {
    "html": (b"<!DOCTYPE html><html><head><title>Blog</title></head><body><p>Hi</p></body></html>", "web page"),
    "truncated": (None, "broken XML"),
    "empty": (b"", "empty"),
    "random": (bytes(range(256)) * 8, ""),
    "bomb": (BOMB, ""),
}


@pytest.mark.parametrize("kind", sorted(BAD_BODIES))
def test_bad_feed_body_is_a_clear_error_and_adds_nothing(httpserver, core, real_feed_bytes, kind):
    body, words = BAD_BODIES[kind]
    if body is None:
        body = real_feed_bytes[: len(real_feed_bytes) // 2]
    httpserver.expect_request("/bad").respond_with_data(body, content_type="application/rss+xml")
    t0 = time.monotonic()
    with pytest.raises(FeedError) as err:
        core.subscribe(httpserver.url_for("/bad"))
    assert time.monotonic() - t0 < 10
    msg = str(err.value)
    assert "\n" not in msg and httpserver.url_for("/bad") in msg and words in msg
    assert core.library.feeds() == []


@pytest.mark.parametrize("status", [404, 500])
def test_http_errors_are_clear(httpserver, core, status):
    httpserver.expect_request("/gone").respond_with_data("nope", status=status)
    with pytest.raises(FeedError, match=f"HTTP {status}"):
        core.subscribe(httpserver.url_for("/gone"))
    assert core.library.feeds() == []


def test_timeout_is_clear(httpserver, data_dir):
    def slow(request):
        time.sleep(2.5)
        return Response(b"<rss/>")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with Core(data_dir, timeout=0.5) as c:
        with pytest.raises(FeedError, match="too long"):
            c.subscribe(httpserver.url_for("/slow"))
        assert c.library.feeds() == []


def test_size_cap(httpserver, data_dir, real_feed_bytes):
    url = serve_feed(httpserver, real_feed_bytes)
    with Core(data_dir, max_feed_bytes=50_000) as c:
        with pytest.raises(FeedError, match="too large"):
            c.subscribe(url)
        assert c.library.feeds() == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/feed", "javascript:alert(1)", "feed"])
def test_non_http_urls_are_refused(core, url):
    with pytest.raises(FeedError, match="not an http"):
        core.subscribe(url)
    assert core.library.feeds() == []


def test_feed_turning_to_garbage_keeps_episodes_and_chapters(httpserver, core, real_feed_bytes):
    httpserver.expect_ordered_request("/f").respond_with_data(real_feed_bytes)
    httpserver.expect_ordered_request("/f").respond_with_data(b"<html><body>502 Bad Gateway</body></html>")
    httpserver.expect_ordered_request("/f").respond_with_data(real_feed_bytes[:5000])
    core.subscribe(httpserver.url_for("/f"))
    before = library_snapshot(core)
    for _ in range(2):
        [r] = core.refresh()
        assert r.status == "error" and r.error
        assert library_snapshot(core) == before
    assert core.library.feeds()[0].last_error


# ---------------------------------------------------------------- default feed & snapshot


def test_default_subscription_offline_loads_the_bundled_snapshot(core, httpserver, real_feed_bytes, monkeypatch):
    r = core.subscribe()
    assert r.status == "snapshot"
    [f] = core.library.feeds()
    assert f.snapshot and f.url == os.environ["IBPLAYER_DEFAULT_FEED_URL"]
    assert len(core.library.episodes()) == 19

    # Later the network is back: a refresh replaces the snapshot, keeping
    # what the user played and dropping what the live feed no longer has.
    eps = core.library.episodes()
    played, untouched = eps[-1], eps[-2]
    core.library.set_played(played.id)
    live = re.sub(rb"<item>(?:(?!</item>).)*?" + re.escape(untouched.guid.encode()) + rb".*?</item>", b"", real_feed_bytes, flags=re.S)
    live = re.sub(rb"<item>(?:(?!</item>).)*?" + re.escape(played.guid.encode()) + rb".*?</item>", b"", live, flags=re.S)
    url = serve_feed(httpserver, live)
    core.library.db.execute("UPDATE feeds SET url=?", (url,))
    [r] = core.refresh()
    assert r.status == "updated"
    f = core.library.feeds()[0]
    assert not f.snapshot
    guids = {e.guid for e in core.library.episodes()}
    assert played.guid in guids and untouched.guid not in guids
    assert len(guids) == 18


def test_refresh_offline_changes_nothing(core):
    core.subscribe()  # snapshot
    before = library_snapshot(core)
    [r] = core.refresh()
    assert r.status == "offline"
    assert library_snapshot(core) == before


def test_podcast_chapters_and_psc_are_read_and_win_over_notes(httpserver, core):
    chapters_json = {
        "version": "1.2.0",
        "chapters": [
            {"startTime": 0, "title": "Cold open"},
            {"startTime": 61.5, "title": "Sponsor", "toc": False},
            {"startTime": 90.25, "title": "Main part", "url": "https://example.org", "img": "https://example.org/i.png"},
        ],
    }
    httpserver.expect_request("/ch.json").respond_with_json(chapters_json)
    item = (
        '<item><title>Both</title><guid>both</guid><enclosure url="http://h/a.mp3" type="audio/mpeg"/>'
        f'<podcast:chapters url="{httpserver.url_for("/ch.json")}" type="text/plain"/>'
        '<psc:chapters version="1.2"><psc:chapter start="0" title="Start"/>'
        '<psc:chapter start="7:48" title="Later"/><psc:chapter start="01:35:52.250" title="Much later"/></psc:chapters>'
        "<description>00:00 Intro\n01:00 Talk\n02:00 Outro</description></item>"
    )
    feed = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0" '
        'xmlns:psc="http://podlove.org/simple-chapters"><channel><title>P20</title>' + item + "</channel></rss>"
    ).encode()
    httpserver.expect_request("/f").respond_with_data(feed)
    core.subscribe(httpserver.url_for("/f"))
    ep = core.library.resolve_episode("both")
    sets = core.library.chapter_sets(ep.id)
    assert set(sets) == {"notes", "psc", "podcast-chapters"}
    assert [c.start for c in sets["psc"]] == [0, 468, 5752.25]
    source, chs = core.library.chapters(ep.id)
    assert source == "podcast-chapters"
    assert [(c.start, c.title, c.hidden) for c in chs] == [(0, "Cold open", False), (61.5, "Sponsor", True), (90.25, "Main part", False)]
    assert chs[2].url == "https://example.org" and chs[2].image == "https://example.org/i.png"
    # the user can pick another source
    core.library.set_chapter_source(ep.id, "notes")
    assert core.library.chapters(ep.id)[0] == "notes"
