"""A refresh parses only the items that are new or changed (issue 9)."""

from __future__ import annotations

import json
import sys
import time

from conftest import ROOT

from ibplayer.services.core import Core

try:
    from tests.httpfixtures import file_server  # noqa: F401
except ImportError:  # tests/ not importable as a package
    from httpfixtures import file_server  # noqa: F401

sys.path.insert(0, str(ROOT / "benchmarks"))
from feedgen import big_feed  # noqa: E402


def snapshot(core: Core) -> dict:
    return core.library.export()


def test_refresh_with_one_new_episode_costs_a_fraction_of_a_subscribe(file_server, core):
    url = file_server.add("/big.xml", big_feed(2000))
    t0 = time.perf_counter()
    core.subscribe(url)
    subscribe = time.perf_counter() - t0
    file_server.add("/big.xml", big_feed(2001))
    t0 = time.perf_counter()
    [r] = core.refresh()
    refresh = time.perf_counter() - t0
    assert (r.new, r.updated) == (1, 0)
    assert len(core.library.episodes()) == 2001
    assert refresh < 0.35 * subscribe, (refresh, subscribe)


def _feed(items: list[tuple[str, str]], title="Incremental Show", author="Hal Host") -> bytes:
    body = "".join(
        f"<item><title>{t}</title><guid>{g}</guid>"
        f'<enclosure url="http://127.0.0.1:9/{g}.mp3" type="audio/mpeg"/>'
        f"<description>00:00 Intro\n03:00 {t} proper\n09:00 Goodbye. Hosted by {author}.</description></item>"
        for g, t in items
    )
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>{body}'
            "</channel></rss>").encode()


def test_incremental_refresh_equals_a_full_one(file_server, data_dir, tmp_path):
    """The library after an incremental refresh is exactly what a full
    parse of the same feed gives: new, changed and untouched items, hosts,
    chapters, and a channel change."""
    first = [("a", "Apples"), ("b", "Bees"), ("c", "Cider")]
    later = [("d", "Dew"), ("a", "Apples"), ("b", "Bees, revised"), ("c", "Cider")]
    url = file_server.add("/f.xml", _feed(first))
    with Core(data_dir) as c:
        c.subscribe(url)
        c.library.set_position(c.library.resolve_episode("c").id, 42)
        file_server.add("/f.xml", _feed(later))
        [r] = c.refresh()
        assert (r.new, r.updated) == (1, 1)
        incremental = snapshot(c)
        file_server.add("/f.xml", _feed(later, title="Renamed Show"))  # the channel changed: all re-read
        [r] = c.refresh()
        assert c.library.feeds()[0].title == "Renamed Show"
    full_dir = tmp_path / "full"
    full_dir.mkdir()
    with Core(full_dir) as c:
        file_server.add("/f.xml", _feed(first))
        c.subscribe(url)
        c.library.set_position(c.library.resolve_episode("c").id, 42)
        (full_dir / "cache").rename(tmp_path / "no-cache")  # no cache: a full parse
        file_server.add("/f.xml", _feed(later))
        c.refresh()
        full = snapshot(c)
    assert json.dumps(incremental, sort_keys=True) == json.dumps(full, sort_keys=True)


def test_a_damaged_or_stale_cache_only_costs_a_full_parse(file_server, data_dir):
    url = file_server.add("/f.xml", _feed([("a", "Apples"), ("b", "Bees")]))
    with Core(data_dir) as c:
        c.subscribe(url)
        [cache] = (data_dir / "cache").glob("*.json")
        cache.write_text("{not json")
        file_server.add("/f.xml", _feed([("a", "Apples"), ("b", "Bees"), ("e", "Elder")]))
        [r] = c.refresh()
        assert r.new == 1
        # A cache naming an episode the library no longer has is not trusted.
        saved = json.loads(cache.read_text())
        c.library.db.execute("DELETE FROM episodes WHERE guid='a'")
        file_server.add("/f.xml", _feed([("a", "Apples"), ("b", "Bees"), ("e", "Elder"), ("f", "Figs")]))
        [r] = c.refresh()
        assert r.new == 2, saved
        assert sorted(e.guid for e in c.library.episodes()) == ["a", "b", "e", "f"]


def test_a_failed_chapters_file_is_fetched_again_on_the_next_refresh(file_server, core):
    ch = file_server.add("/ch.json", status=503)
    ns = ' xmlns:podcast="https://podcastindex.org/namespace/1.0"'

    def feed(*guids):
        items = "".join(
            f'<item><title>Ep {g}</title><guid>{g}</guid><enclosure url="http://127.0.0.1:9/{g}.mp3" type="audio/mpeg"/>'
            f'<podcast:chapters url="{ch}" type="application/json+chapters"/></item>' for g in guids)
        return f'<?xml version="1.0"?><rss version="2.0"{ns}><channel><title>Chaps</title>{items}</channel></rss>'.encode()

    url = file_server.add("/f.xml", feed("a"))
    core.subscribe(url)
    a = core.library.resolve_episode("a")
    assert "podcast-chapters" not in core.library.chapter_sets(a.id)
    file_server.add("/ch.json", b'{"version": "1.2.0", "chapters": [{"startTime": 0, "title": "Back"}]}')
    file_server.add("/f.xml", feed("b", "a"))  # a new item; "a" itself is unchanged
    [r] = core.refresh()
    assert r.new == 1
    assert [c.title for c in core.library.chapter_sets(a.id)["podcast-chapters"]] == ["Back"]
