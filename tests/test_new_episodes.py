"""New episodes and bulk played marks through the services and the CLI:
real SQLite in a tmp dir, a real feed served on 127.0.0.1."""

from __future__ import annotations

from conftest import run_cli

from ibplayer.infra.store import SCHEMA_VERSION, Library
from ibplayer.services.core import Core


def _rss(*nums: int, title: str = "Marks Show") -> bytes:
    items = "".join(
        f"<item><title>Talk {n}</title><guid>m{n}</guid>"
        f'<enclosure url="http://127.0.0.1:9/m{n}.mp3" length="1000" type="audio/mpeg"/>'
        f"<pubDate>Mon, {n:02d} Jan 2024 10:00:00 +0000</pubDate><description>Talk number {n}</description></item>"
        for n in nums)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>{items}'
            "</channel></rss>").encode()


def _serve(httpserver, body: bytes, path: str = "/marks.xml") -> str:
    httpserver.clear()
    httpserver.expect_request(path).respond_with_data(body, content_type="application/rss+xml")
    return httpserver.url_for(path)


def _ids(core, feed_id) -> dict[str, int]:
    return {e.title: e.id for e in core.library.episodes(feed_id)}


def test_only_episodes_a_refresh_brings_are_new_until_seen(core, httpserver):
    url = _serve(httpserver, _rss(1, 2, 3))
    fid = core.subscribe(url).feed_id
    assert core.marks.new_episodes() == []  # a fresh subscription's back catalogue is not "new"
    _serve(httpserver, _rss(1, 2, 3, 4, 5))
    core.refresh([fid])
    assert [e.title for e in core.marks.new_episodes()] == ["Talk 5", "Talk 4"]
    assert core.marks.new_count() == 2
    ids = _ids(core, fid)
    assert core.library.episode(ids["Talk 5"]).is_new
    assert not core.library.episode(ids["Talk 3"]).is_new
    # playing one (a saved position) is looking at it
    core.set_position(ids["Talk 5"], 12.0)
    assert [e.title for e in core.marks.new_episodes()] == ["Talk 4"]
    seen = []
    core.events.subscribe(seen.append)
    ch = core.marks.mark_all_seen()
    assert ch.episodes == {ids["Talk 4"]} and ch.feeds == {fid}
    assert seen == [ch]
    assert core.marks.new_episodes() == []
    assert not core.marks.mark_all_seen()  # nothing left: no changes, nothing announced
    assert len(seen) == 1


def test_marked_played_is_no_longer_new_and_new_survives_a_reopen(data_dir, httpserver):
    url = _serve(httpserver, _rss(1))
    with Core(data_dir, timeout=5) as core:
        fid = core.subscribe(url).feed_id
        _serve(httpserver, _rss(1, 2, 3))
        core.refresh([fid])
        ids = _ids(core, fid)
        core.set_played(ids["Talk 3"])
    with Library(data_dir) as lib:
        assert lib.schema_version() == SCHEMA_VERSION
        assert [e.title for e in lib.episodes(new=True)] == ["Talk 2"]


def test_mark_older_played_marks_this_one_and_older_of_its_feed_only(core, httpserver):
    url = _serve(httpserver, _rss(1, 2, 3, 4))
    fid = core.subscribe(url).feed_id
    other_url = _serve(httpserver, _rss(1, 2, title="Other Show"), "/other.xml")
    other = core.subscribe(other_url).feed_id
    ids = _ids(core, fid)
    ch = core.marks.mark_older_played(ids["Talk 2"])
    assert ch.episodes == {ids["Talk 1"], ids["Talk 2"]} and ch.feeds == {fid}
    played = {e.title for e in core.library.episodes(fid) if e.played}
    assert played == {"Talk 1", "Talk 2"}
    assert not any(e.played for e in core.library.episodes(other))
    ch = core.marks.mark_all_played(fid)
    assert ch.episodes == {ids["Talk 3"], ids["Talk 4"]}
    assert all(e.played for e in core.library.episodes(fid))
    assert not any(e.played for e in core.library.episodes(other))
    core.marks.mark_all_played()
    assert all(e.played for e in core.library.episodes(other))


def test_a_v4_library_migrates_with_nothing_new(data_dir):
    from conftest import make_old_library

    ids = make_old_library(data_dir, 4)
    with Core(data_dir, timeout=5) as core:
        assert core.library.schema_version() == SCHEMA_VERSION
        assert core.marks.new_episodes() == []
        assert core.library.episode(ids["old-1"]).position == 5.0  # nothing lost


def test_cli_new_mark_seen_and_mark_played(data_dir, httpserver):
    url = _serve(httpserver, _rss(1, 2))
    with Core(data_dir, timeout=5) as core:
        fid = core.subscribe(url).feed_id
        _serve(httpserver, _rss(1, 2, 3, 4))
        core.refresh([fid])
        short = {e.title: e.short_id for e in core.library.episodes(fid)}
    out = run_cli("new", data_dir=data_dir)
    assert out.returncode == 0, out.stderr
    assert "Talk 4" in out.stdout and "Talk 3" in out.stdout and "Talk 2" not in out.stdout
    out = run_cli("mark-played", short["Talk 3"], "--older", data_dir=data_dir)
    assert out.returncode == 0, out.stderr
    assert "marked 3 episodes played" in out.stdout
    out = run_cli("new", data_dir=data_dir)
    assert "Talk 4" in out.stdout and "Talk 3" not in out.stdout
    out = run_cli("mark-seen", data_dir=data_dir)
    assert out.returncode == 0 and "1 episode no longer new" in out.stdout
    assert "no new episodes" in run_cli("new", data_dir=data_dir).stdout
    out = run_cli("mark-played", "nosuchid", data_dir=data_dir)
    assert out.returncode != 0 and out.stderr.count("\n") == 1 and "no episode" in out.stderr
