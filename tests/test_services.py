"""The Qt-free application layer: enrichment kept apart from feed data,
`Changes` for every mutation, typed settings, per-feed policies as a plan
both front-ends apply."""

from __future__ import annotations

import json
import logging

from werkzeug import Response

from ibplayer.services.changes import Changes
from ibplayer.services.core import Core
from ibplayer.services.settings import SETTINGS

CHAPTERS = {"version": "1.2.0", "chapters": [{"startTime": 0, "title": "Hello"}, {"startTime": 95, "title": "Deep dive"}]}


def _item(n: int, chapters_url: str, notes: str = "") -> str:
    return (f"<item><title>Episode {n}</title><guid>g{n}</guid>"
            f'<enclosure url="http://127.0.0.1:9/a{n}.mp3" length="1000" type="audio/mpeg"/>'
            f'<podcast:chapters url="{chapters_url}" type="application/json+chapters"/>'
            f"<pubDate>Mon, 0{n} Jan 2024 10:00:00 +0000</pubDate><description>{notes or 'Talk ' + str(n)}</description></item>")


def _rss(*items: str) -> bytes:
    return ('<?xml version="1.0"?><rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0">'
            "<channel><title>Enriched</title>" + "".join(items) + "</channel></rss>").encode()


def _chapter_server(httpserver, path: str, doc: dict, etag: str, hits: list):
    body = json.dumps(doc).encode()

    def handler(request):
        hits.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, status=200, headers={"ETag": etag, "Content-Type": "application/json+chapters"})

    httpserver.expect_request(path).respond_with_handler(handler)
    return httpserver.url_for(path)



def test_podcast_chapters_survive_every_refresh_of_a_changed_feed(core, httpserver):
    """Regression: fetching or skipping the chapter file used to change the
    item hash, so every refresh of a changed feed rewrote old episodes and
    dropped their podcast-chapters (and the next refresh fetched them again)."""
    hits: list = []
    ch1 = _chapter_server(httpserver, "/c1.json", CHAPTERS, '"v1"', hits)
    ch2 = _chapter_server(httpserver, "/c2.json", CHAPTERS, '"v1"', hits)
    feeds = [_rss(_item(1, ch1), _item(2, ch2)),
             _rss(_item(1, ch1), _item(2, ch2), _item(3, ch1)),
             _rss(_item(1, ch1), _item(2, ch2), _item(3, ch1), _item(4, ch2))]
    current = {"feed": feeds[0]}
    httpserver.expect_request("/feed.xml").respond_with_handler(
        lambda r: Response(current["feed"], content_type="application/rss+xml"))
    r = core.subscribe(httpserver.url_for("/feed.xml"))
    assert r.new == 2
    eps = {e.guid: e.id for e in core.library.episodes()}
    for guid in ("g1", "g2"):
        assert core.library.chapters(eps[guid])[0] == "podcast-chapters"
    for feed in feeds[1:]:
        current["feed"] = feed
        [res] = core.refresh()
        assert (res.new, res.updated) == (1, 0), res.line()  # the old episodes are left alone
        for guid in ("g1", "g2"):
            src, chs = core.library.chapters(eps[guid])
            assert src == "podcast-chapters" and [c.title for c in chs] == ["Hello", "Deep dive"]
    # each chapter file was fetched whole once; a new episode naming it only
    # re-validated it (a conditional GET answered 304)
    assert hits[:2] == [None, None] and set(hits[2:]) == {'"v1"'}


def test_changed_episode_revalidates_its_chapter_file_and_keeps_it_offline(core, httpserver):
    hits: list = []
    ch = _chapter_server(httpserver, "/c.json", CHAPTERS, '"v1"', hits)
    current = {"feed": _rss(_item(1, ch))}
    httpserver.expect_request("/feed.xml").respond_with_handler(
        lambda r: Response(current["feed"], content_type="application/rss+xml"))
    core.subscribe(httpserver.url_for("/feed.xml"))
    eid = core.library.episodes()[0].id
    current["feed"] = _rss(_item(1, ch, notes="New notes for the same episode"))
    [res] = core.refresh()
    assert res.updated == 1
    assert hits == [None, '"v1"']  # a conditional GET, answered 304
    assert core.library.chapters(eid)[0] == "podcast-chapters"
    assert eid in res.changes.episodes
    # the chapter server goes away: the cached file still applies
    httpserver.clear()
    current["feed"] = _rss(_item(1, ch, notes="Third version"))
    httpserver.expect_request("/feed.xml").respond_with_handler(
        lambda r: Response(current["feed"], content_type="application/rss+xml"))
    [res] = core.refresh()
    assert res.updated == 1
    assert [c.title for c in core.library.chapters(eid)[1]] == ["Hello", "Deep dive"]


def test_every_mutation_emits_changes(core, httpserver):
    httpserver.expect_request("/feed.xml").respond_with_data(_rss(_item(1, "http://127.0.0.1:9/none.json")),
                                                            content_type="application/rss+xml")
    seen: list[Changes] = []
    core.events.subscribe(seen.append)
    r = core.subscribe(httpserver.url_for("/feed.xml"))
    assert r.changes.feed_list and r.feed_id in r.changes.feeds and seen[-1] is r.changes
    eid = core.library.episodes()[0].id
    assert eid in core.set_played(eid, True).episodes and core.library.episode(eid).played
    assert eid in core.set_position(eid, 12.5).positions
    assert core.settings.set({"skip_back": 10}).settings == {"skip_back"}
    core.unsubscribe(str(r.feed_id))
    assert seen[-1].feeds_removed == {r.feed_id} and seen[-1].feed_list


def test_bad_setting_values_fall_back_to_defaults_with_a_warning(core, caplog):
    for key, raw in {"skip_forward": "loud", "skip_back": "-1e400", "default_speed": "1e999", "max_downloads": "nan"}.items():
        core.library.set_setting(key, raw)
    with caplog.at_level(logging.WARNING):
        values = core.settings.all()
    assert values["skip_forward"] == SETTINGS["skip_forward"].default
    assert values["skip_back"] == SETTINGS["skip_back"].default
    assert values["default_speed"] == SETTINGS["default_speed"].default
    assert values["max_downloads"] == SETTINGS["max_downloads"].default
    assert "skip_forward" in caplog.text and "loud" in caplog.text
    core.settings.set({"skip_back": "20"})
    assert Core(core.data_dir).settings.get("skip_back") == 20


def test_settings_refuse_bad_values_before_writing_any(core):
    import pytest

    with pytest.raises(ValueError):
        core.settings.set({"skip_back": 10, "skip_forward": "loud"})
    assert core.settings.get("skip_back") == SETTINGS["skip_back"].default


def test_a_v8_library_upgrades_and_a_304_refresh_still_fetches_a_chapter_file_never_fetched(data_dir, httpserver):
    """v9 indexes the episodes that name a chapters file (every refresh looks
    them up); an upgraded library keeps its episodes, and a refresh answered
    304 still fetches a chapter file that was never fetched and applies it."""
    from conftest import make_old_library

    from ibplayer.infra.store import DB_NAME, SCHEMA_VERSION

    ids = make_old_library(data_dir, 8)
    hits: list = []
    ch = _chapter_server(httpserver, "/c.json", CHAPTERS, '"c1"', hits)
    feed_hits: list = []

    def feed(request):
        feed_hits.append(request.headers.get("If-None-Match"))
        return Response(status=304, headers={"ETag": '"f1"'})

    httpserver.expect_request("/feed.xml").respond_with_handler(feed)
    import sqlite3

    db = sqlite3.connect(data_dir / DB_NAME)
    db.execute("UPDATE feeds SET url=?, etag=?", (httpserver.url_for("/feed.xml"), '"f1"'))
    db.execute("UPDATE episodes SET chapters_url=? WHERE id=?", (ch, ids["old-1"]))
    db.commit()
    db.close()
    with Core(data_dir, timeout=5) as core:
        lib = core.library
        assert lib.schema_version() == SCHEMA_VERSION == 9
        assert "episodes_chapter_files" in [r[1] for r in lib.db.execute("PRAGMA index_list(episodes)")]
        [res] = core.refresh()
        assert res.status == "not-modified" and feed_hits == ['"f1"']
        assert hits == [None]  # fetched whole, once
        src, chs = lib.chapters(ids["old-1"])
        assert src == "podcast-chapters" and [c.title for c in chs] == ["Hello", "Deep dive"]
        assert ids["old-1"] in res.changes.chapters
        assert lib.episode(ids["old-1"]).position == 5.0  # nothing else lost
        assert lib.chapters(ids["old-2"])[1] == []
