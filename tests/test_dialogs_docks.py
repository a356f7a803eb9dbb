# ruff: noqa: F811 - the fixtures come from test_ui
"""The Add Feed dialog (sized for a URL, a missing scheme added by the
services, the text kept after an error, a slow subscribe cancelled), the
Downloads dock (Retry, stale rows dropped, hidden when empty) and the
shortcuts dialog (every row).  pytest-qt offscreen, real SQLite, real libVLC,
a real server on 127.0.0.1."""

from __future__ import annotations

import pytest
from httpfixtures import file_server  # noqa: F401 - fixture
from shiboken6 import isValid
from test_ui import make_window, show  # noqa: F401 - fixtures
from ui_helpers import feed_xml, wait_until

from ibplayer.infra.feeds import FeedError
from ibplayer.services.core import Core
from ibplayer.services.library import feed_url_from_user


def test_feed_url_without_a_scheme_gets_https():
    assert feed_url_from_user("  example.com/feed.xml ") == "https://example.com/feed.xml"
    assert feed_url_from_user("feed://example.com/rss") == "https://example.com/rss"
    assert feed_url_from_user("feed:https://example.com/rss") == "https://example.com/rss"
    assert feed_url_from_user("http://example.com/rss") == "http://example.com/rss"
    assert feed_url_from_user("localhost:8000/rss") == "https://localhost:8000/rss"
    assert feed_url_from_user("javascript:alert(1)") == "javascript:alert(1)"  # refused later, not "fixed"
    assert feed_url_from_user("feed") == "feed"


def test_subscribe_without_a_scheme_tries_https(core):
    # nothing listens on port 9: the error names the https:// address it tried
    with pytest.raises(FeedError) as exc:
        core.subscribe("127.0.0.1:9/podcast.xml")
    assert "https://127.0.0.1:9/podcast.xml" in str(exc.value) or "127.0.0.1" in str(exc.value)
    assert core.library.feeds() == []


def test_add_feed_dialog_keeps_the_text_after_an_error_then_subscribes(qtbot, show, make_window):
    w = make_window()
    dlg = w.add_feed_dialog()
    qtbot.waitExposed(dlg)
    fm = dlg.url_edit.fontMetrics()
    assert dlg.url_edit.width() >= fm.horizontalAdvance("https://feeds.example.com/podcasts/a-long-show-name/feed.xml")
    bad = show.server.add("/missing.xml", b"", status=404)
    dlg.url_edit.setText(bad)
    dlg.subscribe_button.click()
    wait_until(qtbot, lambda: "Could not subscribe" in dlg.message.text(), timeout=10)
    assert dlg.isVisible() and dlg.url_edit.text() == bad and dlg.url_edit.isEnabled()
    other = show.server.add("/other.xml", feed_xml([dict(guid="o1", title="Other one", url=bad, length=10,
                                                         notes="<p>x</p>")], title="Other Show"),
                            content_type="application/rss+xml")
    dlg.url_edit.setText(other)
    dlg.subscribe_button.click()
    wait_until(qtbot, lambda: any(f.title == "Other Show" for f in w.feeds_model.feeds()), timeout=10)
    wait_until(qtbot, lambda: not isValid(dlg) or not dlg.isVisible())  # closed (and deleted)


def test_add_feed_dialog_cancels_a_slow_subscribe(qtbot, show, make_window, data_dir):
    w = make_window()
    slow = show.server.add("/slow-feed.xml", feed_xml([dict(guid="s1", title="Slow one", url="http://127.0.0.1:9/a",
                                                             length=10, notes="<p>x</p>")], title="Slow Show"),
                           content_type="application/rss+xml", delay_headers=2.0)
    dlg = w.add_feed_dialog()
    dlg.url_edit.setText(slow)
    dlg.subscribe_button.click()
    assert not dlg.url_edit.isEnabled() and dlg.busy.isVisible()
    qtbot.wait(200)
    dlg.buttons.button(dlg.buttons.StandardButton.Cancel).click()
    assert not dlg.isVisible()  # the window is the listener's again at once
    wait_until(qtbot, lambda: show.server.requests_for("/slow-feed.xml"), timeout=5)
    qtbot.wait(3500)  # the server answers after all; the subscription it made is undone
    w.writer.flush()
    with Core(data_dir) as core:
        assert [f.title for f in core.library.feeds()] == ["Loopback Show"]


def test_downloads_dock_retry_stale_rows_and_hidden_when_empty(qtbot, show, make_window):
    w = make_window()
    d = w.downloads
    assert not d.dock.isVisible()
    w.toggle_downloads()
    assert not d.dock.isVisible() and "No downloads" in w.status_label.text()
    eid = show.ids["ep-1"]
    route = show.server.routes["/ep1.mp3"]
    route.status = 404
    ep = w.episodes_model.episode_at(w.episodes_model.row_of(eid))
    d.download(ep)
    d.dock.show()
    wait_until(qtbot, lambda: (d.model.job(eid) or {}).get("state") == "error", timeout=15, msg="no failure")
    assert d.retry_button.isEnabled()
    route.status = None  # the server is back
    d.retry_button.click()
    wait_until(qtbot, lambda: (d.model.job(eid) or {}).get("state") == "done", timeout=20, msg="the retry never finished")
    wait_until(qtbot, lambda: w.episodes_model.episode_at(w.episodes_model.row_of(eid)).file, msg="no file")
    # a finished row goes after a while, and the empty dock hides
    d._drop_if_done(eid)  # what the stale timer calls
    assert d.model.rowCount() == 0 and not d.dock.isVisible()


def test_clear_finished_keeps_running_downloads(qtbot, show, make_window):
    w = make_window()
    d = w.downloads
    route = show.server.routes["/ep1.mp3"]
    route.status = 404
    d.download(w.episodes_model.episode_at(w.episodes_model.row_of(show.ids["ep-1"])))
    d.download(w.episodes_model.episode_at(w.episodes_model.row_of(show.ids["ep-2"])))  # the slow one
    d.dock.show()
    wait_until(qtbot, lambda: (d.model.job(show.ids["ep-1"]) or {}).get("state") == "error", timeout=15)
    d.clear_button.click()
    assert d.model.job(show.ids["ep-1"]) is None
    assert d.model.job(show.ids["ep-2"]) is not None and d.dock.isVisible()


def test_shortcuts_dialog_shows_every_row(qtbot, show, make_window):
    from ibplayer.ui import actions

    w = make_window()
    w.show_shortcuts()
    dlg = w.shortcuts_dialog
    qtbot.waitExposed(dlg)
    t = dlg.table
    assert t.rowCount() == len(actions.shortcut_rows()) >= 15
    assert t.verticalScrollBar().maximum() == 0  # no scrolling to find one
    last = t.visualItemRect(t.item(t.rowCount() - 1, 1))
    assert last.bottom() <= t.viewport().height()
