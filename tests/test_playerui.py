"""Issue 10 in the window: playback that never hangs silently (§7), the sleep
timer control (§4), skipping chapters and listened marks (§5), artwork (§6).
Real libVLC (--aout=dummy), real loopback servers, pytest-qt offscreen."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from httpfixtures import FileServer, file_server, stalling_server  # noqa: F401 - fixtures
from test_ui import make_window, open_episode, player_time, show, wait_playing_near  # noqa: F401 - fixtures
from ui_helpers import SAMPLE_CHAPTERS, feed_xml, notes_for, sample_bytes, wait_until

from ibplayer.services.core import Core

# --------------------------------------------------------------------- helpers


def _subscribe(data_dir, server, items, path="/feed.xml", title="Loopback Show", **settings):
    feed_url = server.add(path, feed_xml(items, title=title), content_type="application/rss+xml")
    with Core(data_dir, timeout=5) as core:
        if settings:
            core.settings.set(settings)
        res = core.subscribe(feed_url)
        ids = {e.guid: e.id for e in core.library.episodes(res.feed_id)}
    return SimpleNamespace(feed_url=feed_url, feed_id=res.feed_id, ids=ids)


# --------------------------------------------------------------------- §7 never silent


def test_a_never_answering_stream_errors_in_the_pane_within_the_timeout_and_retry_tries_again(
        qtbot, file_server, stalling_server, data_dir, make_window):  # noqa: F811
    url, held = stalling_server
    items = [dict(guid="never", title="A stream that never answers", url=f"{url}/never.mp3", length=1000,
                  duration=40, notes=notes_for(SAMPLE_CHAPTERS))]
    sub = _subscribe(data_dir, file_server, items, start_timeout=3)
    w = make_window()
    open_episode(qtbot, w, sub.ids["never"])
    assert not w.pane.error_box.isVisible()
    t0 = time.monotonic()
    w.pane.play_button.click()
    wait_until(qtbot, lambda: w.pane.error_text(), timeout=12, msg=f"state {w.player.state()}")
    waited = time.monotonic() - t0
    assert held, "libVLC never connected: the test did not test a stall"
    assert 2.5 <= waited <= 6.0, waited
    assert "No audio from the server 127.0.0.1 after 3 s" in w.pane.error_text()
    assert w.pane.retry_button.isVisible()
    # nothing stays looking loaded; the status bar says it too
    assert w.player.episode is None and "Nothing playing" in w.now_label.text()
    assert w.chapters_model.current() == -1 and w.highlighted_chapter() == -1
    assert "Playback error" in w.status_label.text()
    # Retry connects again, and fails the same way (the error comes back)
    n = len(held)
    w.pane.retry_button.click()
    assert not w.pane.error_box.isVisible()
    wait_until(qtbot, lambda: len(held) > n, timeout=5, msg="Retry did not connect again")
    wait_until(qtbot, lambda: w.pane.error_text(), timeout=10)
    # another episode shown: its pane has no error
    w.pane.show_episode(None)
    assert not w.pane.error_box.isVisible()


def test_an_error_clears_from_the_pane_when_retry_succeeds(qtbot, file_server, data_dir, make_window):  # noqa: F811
    audio = sample_bytes()
    items = [dict(guid="gone", title="Moved for a while", url=file_server.url("/later.mp3"), length=len(audio),
                  duration=40, notes=notes_for(SAMPLE_CHAPTERS))]
    sub = _subscribe(data_dir, file_server, items)
    w = make_window()
    open_episode(qtbot, w, sub.ids["gone"])
    w.pane.play_button.click()
    wait_until(qtbot, lambda: w.pane.error_text(), timeout=10, msg=f"state {w.player.state()}")
    assert "404" in w.pane.error_text(), w.pane.error_text()
    assert w.chapters_model.current() == -1  # no chapter looks playing after a failed start
    file_server.add("/later.mp3", audio)  # the file is back
    w.pane.retry_button.click()
    wait_playing_near(qtbot, w, 0.5, tol=1.5)
    assert not w.pane.error_box.isVisible()


def test_start_timeout_is_a_setting_passed_to_the_player(qtbot, show, make_window):  # noqa: F811
    w = make_window()
    assert w.player.session.start_timeout == 10.0  # the default
    w.apply_settings({"start_timeout": 4})
    wait_until(qtbot, lambda: w.player.session.start_timeout == 4.0, msg="the new timeout never reached the player")
    with Core(show.data_dir) as core:
        assert core.settings.get("start_timeout") == 4.0


def test_offline_shows_only_when_no_feed_got_through(qtbot, show, data_dir, make_window):  # noqa: F811
    other = FileServer()
    try:
        _subscribe(data_dir, other, [dict(guid="o1", title="Elsewhere", url=other.url("/o.mp3"), length=10,
                                          notes="<p>x</p>")], path="/other.xml", title="Other Show")
    finally:
        other.stop()  # this feed's server is gone: connection refused = offline
    w = make_window()
    done = []
    w.refreshed.connect(done.append)
    w.refresh_all()
    wait_until(qtbot, lambda: done, timeout=20, msg=w.status_label.text())
    assert not w.offline_label.isVisible(), "one unreachable feed is not 'offline'"
    show.server.stop()  # now nothing answers
    w.refresh_all()
    wait_until(qtbot, lambda: len(done) == 2, timeout=20, msg=w.status_label.text())
    assert w.offline_label.isVisible()


# --------------------------------------------------------------------- §4 sleep timer


def test_sleep_timer_at_chapter_end_pauses_within_a_second_of_the_boundary(qtbot, show, make_window):  # noqa: F811
    w = make_window()
    open_episode(qtbot, w, show.ids["ep-1"])
    bar = w.bar
    assert bar.sleep_button.text() == "Sleep"
    w.play_episode(w.shown_episode, start=5.0)
    wait_playing_near(qtbot, w, 5.2, tol=1.0)
    bar.sleep_actions["chapter"].trigger()
    assert bar.sleep_button.text() == "Sleep: end of chapter"
    wait_until(qtbot, lambda: w.player.state() == "paused", timeout=8, msg=f"time {player_time(w):.2f}")
    assert abs(player_time(w) - 8.0) <= 1.0, player_time(w)
    assert bar.sleep_button.text() == "Sleep"
    assert "Sleep timer" in w.status_label.text()
    # resume goes on at the next chapter
    assert w.player.chapter() in (0, 1)


def test_sleep_timer_minutes_shows_what_is_left_and_cancels(qtbot, show, make_window):  # noqa: F811
    w = make_window()
    open_episode(qtbot, w, show.ids["ep-1"])
    bar = w.bar
    w.play_episode(w.shown_episode)
    wait_until(qtbot, lambda: w.player.state() == "playing")
    assert not bar.sleep_actions["cancel"].isEnabled()
    bar.sleep_actions["min30"].trigger()
    assert bar.sleep_button.text() == "Sleep: 30 min"
    assert bar.sleep_actions["cancel"].isEnabled()
    bar.sleep_actions["episode"].trigger()
    assert bar.sleep_button.text() == "Sleep: end of episode"
    bar.sleep_actions["cancel"].trigger()
    assert bar.sleep_button.text() == "Sleep"
    assert w.player.session.sleep_timer() is None
    qtbot.wait(500)
    assert w.player.state() == "playing"


# --------------------------------------------------------------------- §5 skipping chapters, heard marks


def _feed_id(data_dir, episode_id):
    with Core(data_dir) as core:
        return core.library.episode(episode_id).feed_id


def test_a_skip_word_jumps_over_its_chapter_and_heard_chapters_get_a_mark(qtbot, show, make_window):  # noqa: F811
    from PySide6.QtCore import Qt

    eid = show.ids["ep-1"]
    fid = _feed_id(show.data_dir, eid)
    with Core(show.data_dir) as core:
        core.listening.set_skip_words(fid, "Introductions, ad break")
    w = make_window()
    open_episode(qtbot, w, eid)
    m = w.chapters_model
    # the skipped chapter is dimmed in the sidebar, the others are not
    assert m.skipped() == {1}
    assert m.data(m.index(1, 1), Qt.ForegroundRole) is not None
    assert m.data(m.index(2, 1), Qt.ForegroundRole) is None
    w.play_episode(w.shown_episode, start=6.0)
    wait_playing_near(qtbot, w, 6.2, tol=1.0)
    # crossing 8 s jumps straight to "The main idea" at 18 s
    wait_until(qtbot, lambda: w.player.chapter() == 2, timeout=8, msg=f"time {player_time(w):.2f}")
    wait_until(qtbot, lambda: player_time(w) >= 18.0, timeout=4)
    assert player_time(w) < 20.5, player_time(w)
    assert w.highlighted_chapter() == 2
    # "Cold open" was played through to its end: a check mark, stored for the episode
    assert m.heard() == {0}
    assert m.data(m.index(0, 1), Qt.DisplayRole) == "✓ Cold open"
    w.writer.flush()
    with Core(show.data_dir) as core:
        assert core.listening.heard(eid) == {0.0}
    # a one-off "Skip this chapter" (the actions table) jumps to the next one
    w.actions_by_name["skip_chapter"].trigger()
    wait_until(qtbot, lambda: w.player.chapter() == 3 and player_time(w) >= 30.0, timeout=6,
               msg=f"time {player_time(w):.2f}")
    assert 2 not in m.heard()  # jumped over, not heard


def test_continue_from_the_first_unheard_chapter(qtbot, show, make_window):  # noqa: F811
    eid = show.ids["ep-1"]
    with Core(show.data_dir) as core:
        core.listening.mark_heard(eid, 0.0)
        core.listening.mark_heard(eid, 8.0)
    w = make_window()
    open_episode(qtbot, w, eid)
    assert w.chapters_model.heard() == {0, 1}
    w.actions_by_name["continue_unheard"].trigger()
    wait_playing_near(qtbot, w, 18.3, tol=1.0)
    assert w.highlighted_chapter() == 2


def test_skip_words_edited_in_the_window_are_stored_and_bad_ones_change_nothing(qtbot, show, make_window):  # noqa: F811
    eid = show.ids["ep-1"]
    fid = _feed_id(show.data_dir, eid)
    w = make_window()
    open_episode(qtbot, w, eid)
    assert w.chapters_model.skipped() == set()
    w.sidebar.set_skip_words(fid, "Wrap-up ,  housekeeping")
    wait_until(qtbot, lambda: w.chapters_model.skipped() == {3}, msg=w.status_label.text())
    assert "2 skip words" in w.status_label.text()
    with Core(show.data_dir) as core:
        assert core.listening.skip_words(fid) == ["wrap-up", "housekeeping"]
    from ibplayer.ui.controllers import sidebar

    shown = []
    orig = sidebar.warn
    sidebar.warn = lambda *a, **k: shown.append(a[2])  # no modal dialog in a test
    try:
        w.sidebar.set_skip_words(fid, "fine, bad\x01word")
        wait_until(qtbot, lambda: shown, msg=w.status_label.text())
    finally:
        sidebar.warn = orig
    assert "control character" in shown[0] and "\n" not in shown[0]
    with Core(show.data_dir) as core:
        assert core.listening.skip_words(fid) == ["wrap-up", "housekeeping"]
    assert w.chapters_model.skipped() == {3}


def test_cli_feed_settings_skip_words(show):  # noqa: F811
    from conftest import run_cli

    r = run_cli("feed-settings", "Loopback Show", "--skip-words", "Sponsor,  Ad  Break", data_dir=show.data_dir)
    assert r.returncode == 0, r.stderr
    assert "skip chapters about: sponsor, ad break" in r.stdout
    r = run_cli("feed-settings", "Loopback Show", "--skip-words", "ok,\x01", data_dir=show.data_dir)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "control character" in r.stderr, r.stderr
    r = run_cli("feed-settings", "Loopback Show", data_dir=show.data_dir)
    assert "skip chapters about: sponsor, ad break" in r.stdout  # the bad call changed nothing
    r = run_cli("feed-settings", "Loopback Show", "--skip-words", "", data_dir=show.data_dir)
    assert "skip chapters about: nothing" in r.stdout


# --------------------------------------------------------------------- §6 artwork


def png(rgb: tuple[int, int, int], size: int = 24) -> bytes:
    """A real PNG of one colour (written by hand: no Qt needed)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def art_feed(server, audio: bytes) -> bytes:
    import json

    server.add("/art/show.png", png((10, 120, 10)), content_type="image/png")
    server.add("/art/ep1.png", png((200, 200, 0)), content_type="image/png")
    server.add("/art/red.png", png((220, 0, 0)), content_type="image/png")
    server.add("/art/blue.png", png((0, 0, 220)), content_type="image/png")
    server.add("/art/truncated.png", png((1, 2, 3))[:40], content_type="image/png")  # a PNG's start, then nothing
    server.add("/art/garbage.png", b"<html>this is no image</html>", content_type="image/png")
    server.add("/art/ch.json", json.dumps({"version": "1.2.0", "chapters": [
        {"startTime": 0, "title": "Cold open", "img": server.url("/art/red.png")},
        {"startTime": 8, "title": "Introductions", "img": server.url("/art/blue.png")},
        {"startTime": 18, "title": "The main idea"},
        {"startTime": 30, "title": "Wrap-up"}]}).encode(), content_type="application/json+chapters")
    url = server.add("/art/ep1.mp3", audio)

    def item(guid, title, image, chapters=""):
        return (f"<item><guid>{guid}</guid><title>{title}</title>"
                "<pubDate>Mon, 06 Jan 2025 10:00:00 +0000</pubDate>"
                f'<enclosure url="{url}" length="{len(audio)}" type="audio/mpeg"/>'
                f'<itunes:image href="{server.url(image)}"/>'
                + (f'<podcast:chapters url="{server.url(chapters)}" type="application/json+chapters"/>'
                   if chapters else "")
                + f"<itunes:duration>40</itunes:duration><description>{title}</description></item>")

    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
            'xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel><title>Art Show</title>'
            f'<itunes:image href="{server.url("/art/show.png")}"/>'
            + item("a1", "With pictures", "/art/ep1.png", "/art/ch.json")
            + item("a2", "A broken picture", "/art/truncated.png")
            + item("a3", "Not a picture at all", "/art/garbage.png")
            + "</channel></rss>").encode()


@pytest.fixture
def art_show(file_server, data_dir):  # noqa: F811
    audio = sample_bytes()
    feed_url = file_server.add("/art/feed.xml", art_feed(file_server, audio), content_type="application/rss+xml")
    with Core(data_dir, timeout=5) as core:
        res = core.subscribe(feed_url)
        ids = {e.guid: e.id for e in core.library.episodes(res.feed_id)}
    return SimpleNamespace(server=file_server, feed_url=feed_url, ids=ids, feed_id=res.feed_id, data_dir=data_dir)


def test_refresh_caches_artwork_size_capped_and_skips_what_is_no_image(art_show):
    from pathlib import Path

    from ibplayer.services.enrichment import cached_image
    from ibplayer.services.views import episode_details

    srv = art_show.server
    with Core(art_show.data_dir, timeout=5) as core:
        lib = core.library
        d = episode_details(lib, art_show.ids["a1"])
        assert d.feed_art and Path(d.feed_art).read_bytes() == png((10, 120, 10))
        assert d.episode_art and Path(d.episode_art).read_bytes() == png((200, 200, 0))
        # chapter images are cached at refresh too, and the chapters name the cached files
        imgs = [c.image for c in d.chapters.chapters]
        assert imgs[0].startswith("file://") and imgs[1].startswith("file://") and imgs[2] is None
        assert Path(cached_image(lib, imgs[1])).read_bytes() == png((0, 0, 220))
        # a truncated PNG starts like one: cached (the window's decoder skips it, see below)
        assert episode_details(lib, art_show.ids["a2"]).episode_art is not None
        # no image at all: not cached, the reason noted, not fetched again at every refresh
        assert episode_details(lib, art_show.ids["a3"]).episode_art is None
        row = lib.enrichment(srv.url("/art/garbage.png"))
        assert row.path is None and "not a PNG" in row.error
        core.refresh()
        assert len(srv.requests_for("/art/garbage.png")) == 1
        assert len(srv.requests_for("/art/show.png")) == 1  # cached: not fetched again
    srv.stop()  # offline: the artwork is still there
    with Core(art_show.data_dir, timeout=2) as core:
        core.refresh()
        d = episode_details(core.library, art_show.ids["a1"])
        assert d.feed_art and d.episode_art and Path(d.episode_art).is_file()


def test_artwork_in_the_pane_and_the_player_bar_follows_the_chapter(qtbot, art_show, make_window):  # noqa: F811
    from PySide6 import QtDBus

    from ibplayer.services.enrichment import image_name
    from ibplayer.ui.mpris import MprisService

    srv = art_show.server
    w = make_window()
    open_episode(qtbot, w, art_show.ids["a1"])
    wait_until(qtbot, lambda: w.pane.art_label.isVisible(), msg="no artwork in the pane")
    assert w.pane.art_path.endswith(image_name(srv.url("/art/ep1.png")))
    assert w.pane.art_label.pixmap().toImage().pixelColor(5, 5).red() == 200
    w.play_episode(w.shown_episode, start=6.0)
    wait_playing_near(qtbot, w, 6.2, tol=1.0)
    red, blue = image_name(srv.url("/art/red.png")), image_name(srv.url("/art/blue.png"))
    wait_until(qtbot, lambda: (w.bar.art_path or "").endswith(red), msg=f"bar shows {w.bar.art_path}")
    assert w.bar.art_label.isVisible()
    # MPRIS sends the shown art as a cached file:// URL
    md = MprisService.metadata(SimpleNamespace(window=w, QtDBus=QtDBus))
    assert md["mpris:artUrl"].startswith("file://") and md["mpris:artUrl"].endswith(red)
    # the chapter changes at 8 s: so does the image
    wait_until(qtbot, lambda: (w.bar.art_path or "").endswith(blue), timeout=6, msg=f"bar shows {w.bar.art_path}")
    # "The main idea" has no image: the episode's own shows
    w.player.seek(18.5)
    wait_until(qtbot, lambda: (w.bar.art_path or "").endswith(image_name(srv.url("/art/ep1.png"))), timeout=6)


def test_a_broken_image_is_skipped_never_a_crash(qtbot, art_show, make_window):  # noqa: F811
    from ibplayer.services.enrichment import image_name

    srv = art_show.server
    w = make_window()
    # the truncated PNG looks like an image and was cached; it cannot be decoded: the feed's image shows
    open_episode(qtbot, w, art_show.ids["a2"], chapters=0)
    wait_until(qtbot, lambda: w.pane.art_label.isVisible(), msg="no fallback artwork")
    assert w.pane.art_path.endswith(image_name(srv.url("/art/show.png")))
    open_episode(qtbot, w, art_show.ids["a3"], chapters=0)
    wait_until(qtbot, lambda: (w.pane.art_path or "").endswith(image_name(srv.url("/art/show.png"))))


def test_a_download_caches_the_episode_art_a_refresh_could_not_get(file_server, data_dir):  # noqa: F811
    from ibplayer.services.views import episode_details

    feed = art_feed(file_server, sample_bytes())
    art = file_server.routes.pop("/art/ep1.png")  # not there at refresh time
    feed_url = file_server.add("/art/feed.xml", feed, content_type="application/rss+xml")
    with Core(data_dir, timeout=5) as core:
        res = core.subscribe(feed_url)
        eid = {e.guid: e.id for e in core.library.episodes(res.feed_id)}["a1"]
        assert episode_details(core.library, eid).episode_art is None
        file_server.routes["/art/ep1.png"] = art
        results = core.download([eid])
        assert results[0].ok, results[0]
        d = episode_details(core.library, eid)
        assert d.episode_art and Path(d.episode_art).read_bytes() == png((200, 200, 0))


def test_buffering_shows_in_the_player_bar(qtbot, file_server, data_dir, make_window):  # noqa: F811
    audio = sample_bytes()
    url = file_server.add("/trickle.mp3", audio, rate=3000, piece=1500)  # far slower than it plays
    items = [dict(guid="slow", title="A slow stream", url=url, length=len(audio), duration=40,
                  notes=notes_for(SAMPLE_CHAPTERS))]
    sub = _subscribe(data_dir, file_server, items, start_timeout=30)
    w = make_window()
    open_episode(qtbot, w, sub.ids["slow"])
    assert not w.bar.buffering_label.isVisible()
    seen = []
    w.player.bufferingChanged.connect(lambda on: seen.append((on, w.bar.buffering_label.isVisible())))
    w.pane.play_button.click()
    wait_until(qtbot, lambda: (True, True) in seen, timeout=10, msg=f"buffering reports {seen}")
    assert w.bar.buffering_label.text() == "Buffering…"
