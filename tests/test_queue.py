"""Up Next (the play queue) and "continue where I left off" in the services:
real SQLite files, a real feed server on 127.0.0.1, and the real CLI."""

from __future__ import annotations

import pytest
from conftest import run_cli
from werkzeug import Response

from ibplayer.infra.store import SCHEMA_VERSION, Library, LibraryError
from ibplayer.services.core import Core


def _item(n: int) -> str:
    return (f"<item><title>Talk number {n}</title><guid>talk-{n}</guid>"
            f'<enclosure url="http://127.0.0.1:9/t{n}.mp3" length="1000" type="audio/mpeg"/>'
            f"<pubDate>Mon, {n:02d} Jan 2024 10:00:00 +0000</pubDate><description>Talk {n}</description></item>")


def _rss(title: str, numbers) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
            + "".join(_item(n) for n in numbers) + "</channel></rss>").encode()


@pytest.fixture
def feed(httpserver):
    """A feed whose items the test can change between refreshes."""
    current = {"body": _rss("Queue Show", range(1, 6))}
    httpserver.expect_request("/q.xml").respond_with_handler(
        lambda r: Response(current["body"], content_type="application/rss+xml"))
    current["url"] = httpserver.url_for("/q.xml")
    return current


def _ids(core: Core) -> dict[str, int]:
    return {e.title: e.id for e in core.library.episodes()}


def _titles(core: Core) -> list[str]:
    return [e.title for e in core.queue.list()]


def test_play_last_next_move_remove_clear(core, feed):
    core.subscribe(feed["url"])
    ids = _ids(core)
    seen = []
    core.events.subscribe(seen.append)
    ch = core.queue.play_last([ids["Talk number 1"], ids["Talk number 2"]])
    assert ch.queue and seen and seen[-1].queue
    core.queue.play_next([ids["Talk number 3"]])
    assert _titles(core) == ["Talk number 3", "Talk number 1", "Talk number 2"]
    core.queue.play_last([ids["Talk number 3"]])  # already queued: moves, never twice
    assert _titles(core) == ["Talk number 1", "Talk number 2", "Talk number 3"]
    core.queue.move(ids["Talk number 3"], 0)
    assert _titles(core) == ["Talk number 3", "Talk number 1", "Talk number 2"]
    core.queue.reorder([ids["Talk number 2"], ids["Talk number 3"]])
    assert _titles(core) == ["Talk number 2", "Talk number 3", "Talk number 1"]
    core.queue.remove([ids["Talk number 3"]])
    assert _titles(core) == ["Talk number 2", "Talk number 1"]
    n = len(seen)
    assert not core.queue.remove([ids["Talk number 5"]])  # not queued: nothing changes, nothing emitted
    assert len(seen) == n
    core.queue.clear()
    assert _titles(core) == []


def test_queue_persists_and_follows_deleted_episodes(core, feed, data_dir):
    r = core.subscribe(feed["url"])
    ids = _ids(core)
    core.queue.play_last([ids["Talk number 4"], ids["Talk number 2"]])
    core.close()
    with Core(data_dir) as again:
        assert _titles(again) == ["Talk number 4", "Talk number 2"]
        again.unsubscribe(str(r.feed_id))
        assert again.queue.list() == []


def test_unknown_episode_is_refused_and_queue_kept(core, feed):
    core.subscribe(feed["url"])
    ids = _ids(core)
    core.queue.play_last([ids["Talk number 1"]])
    with pytest.raises(LibraryError):
        core.queue.play_last([ids["Talk number 2"], "nosuchid"])
    with pytest.raises(LibraryError):
        core.queue.play_next([999999])
    assert _titles(core) == ["Talk number 1"]


def test_advance_takes_the_ended_episode_out_and_hands_the_next(core, feed):
    core.subscribe(feed["url"])
    ids = _ids(core)
    core.queue.play_last([ids["Talk number 1"], ids["Talk number 2"], ids["Talk number 3"]])
    core.set_position(ids["Talk number 2"], 42.0)
    nxt, ch = core.queue.advance(ids["Talk number 1"])
    assert nxt.title == "Talk number 2" and nxt.position == 42.0  # starts at its resume position
    assert ch.queue
    assert _titles(core) == ["Talk number 3"]
    # an episode that ended while not queued: the head of the queue comes next
    nxt, _ = core.queue.advance(ids["Talk number 5"])
    assert nxt.title == "Talk number 3"
    last, _ = core.queue.advance(nxt.id)
    assert last is None
    assert _titles(core) == []


def test_new_episodes_of_chosen_feeds_join_the_queue_after_refresh(core, feed):
    r = core.subscribe(feed["url"])
    ids = _ids(core)
    core.queue.play_last([ids["Talk number 1"]])
    core.queue.set_auto_add(r.feed_id, True)
    plan = core.plan_policies()
    assert plan.queued == []  # the back catalogue is not queued when the setting is turned on
    feed["body"] = _rss("Queue Show", range(1, 8))
    core.refresh()
    plan = core.plan_policies()
    assert _titles(core) == ["Talk number 1", "Talk number 6", "Talk number 7"]  # oldest new one first
    assert plan.changes.queue and len(plan.queued) == 2
    core.queue.remove(plan.queued)
    core.refresh()
    assert core.plan_policies().queued == []  # each new episode is queued once, not at every refresh
    assert _titles(core) == ["Talk number 1"]


def test_feeds_without_the_setting_queue_nothing(core, feed):
    core.subscribe(feed["url"])
    feed["body"] = _rss("Queue Show", range(1, 8))
    core.refresh()
    assert core.plan_policies().queued == []
    assert core.queue.list() == []


def test_last_played_and_speeds(core, feed, data_dir):
    r = core.subscribe(feed["url"])
    ids = _ids(core)
    assert core.library.last_played_episode() is None
    core.set_position(ids["Talk number 2"], 10.0)
    core.set_position(ids["Talk number 4"], 20.0)
    assert core.library.last_played_episode() == ids["Talk number 4"]
    core.set_played(ids["Talk number 4"])  # finished: nothing to continue
    assert core.library.last_played_episode() is None
    assert core.speed_for(r.feed_id) == 1.0
    core.settings.set({"default_speed": 1.25})
    assert core.speed_for(r.feed_id) == 1.25
    core.set_feed_speed(r.feed_id, 1.75)
    with pytest.raises(ValueError):
        core.set_feed_speed(r.feed_id, 9)
    core.close()
    with Core(data_dir) as again:
        assert again.speed_for(r.feed_id) == 1.75
        again.set_feed_speed(r.feed_id, None)
        assert again.speed_for(r.feed_id) == 1.25


def test_schema_v5_upgrade_keeps_a_v4_library(data_dir):
    from conftest import make_old_library

    ids = make_old_library(data_dir, 4)
    with Library(data_dir) as lib:
        assert lib.schema_version() == SCHEMA_VERSION
        assert len(lib.episodes()) == len(ids) and lib.queue_ids() == []
        assert lib.episode(ids["old-1"]).position == 5.0


# ---------------------------------------------------------------- CLI


def test_cli_queue_commands(data_dir, feed):
    with Core(data_dir) as c:
        c.subscribe(feed["url"])
        short = {e.title: e.short_id for e in c.library.episodes()}
    r = run_cli("queue", "list", data_dir=data_dir)
    assert r.returncode == 0 and "Up Next is empty" in r.stdout
    r = run_cli("queue", "add", short["Talk number 1"], short["Talk number 2"], data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    r = run_cli("queue", "next", short["Talk number 5"], data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    r = run_cli("queue", data_dir=data_dir)  # no subcommand: the list
    lines = [ln for ln in r.stdout.splitlines() if "Talk number" in ln]
    assert [ln.split("Talk number ")[1].strip()[0] for ln in lines] == ["5", "1", "2"]
    assert short["Talk number 5"] in lines[0]
    r = run_cli("queue", "remove", short["Talk number 1"], data_dir=data_dir)
    assert r.returncode == 0
    r = run_cli("queue", "add", "doesnotexist", data_dir=data_dir)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "doesnotexist" in r.stderr
    r = run_cli("queue", "list", data_dir=data_dir)
    assert "Talk number 1" not in r.stdout and "Talk number 5" in r.stdout and "Talk number 2" in r.stdout
    r = run_cli("queue", "clear", data_dir=data_dir)
    assert r.returncode == 0
    with Core(data_dir) as c:
        assert c.queue.list() == []


def test_cli_refresh_queues_new_episodes_of_chosen_feed(data_dir, feed):
    with Core(data_dir) as c:
        fid = c.subscribe(feed["url"]).feed_id
    r = run_cli("feed-settings", str(fid), "--auto-queue", "on", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    feed["body"] = _rss("Queue Show", range(1, 7))
    r = run_cli("refresh", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    assert "Up Next" in r.stdout and "Talk number 6" in r.stdout
    r = run_cli("queue", "list", data_dir=data_dir)
    assert "Talk number 6" in r.stdout and "Talk number 5" not in r.stdout


def test_cli_feed_speed(data_dir, feed):
    with Core(data_dir) as c:
        fid = c.subscribe(feed["url"]).feed_id
    r = run_cli("feed-settings", str(fid), "--speed", "1.5", data_dir=data_dir)
    assert r.returncode == 0 and "speed: 1.5×" in r.stdout
    r = run_cli("feed-settings", str(fid), "--speed", "fast", data_dir=data_dir)
    assert r.returncode == 2 and "fast" in r.stderr and "Traceback" not in r.stderr
    with Core(data_dir) as c:
        assert c.speed_for(fid) == 1.5  # the bad value changed nothing
    r = run_cli("feed-settings", str(fid), "--speed", "default", data_dir=data_dir)
    assert r.returncode == 0 and "speed: default (1×)" in r.stdout
