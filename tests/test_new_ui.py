# ruff: noqa: F811 - the fixtures come from test_ui
"""New episodes in the window: the "New" entry of the feed list, its marks,
"Mark all seen", "Mark older as played", the scheduled refresh, the
notification setting, themes.  pytest-qt offscreen, real SQLite, real libVLC
(--aout=dummy), the feed served on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

from httpfixtures import file_server  # noqa: F401 - fixture
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication
from test_ui import make_window, show  # noqa: F401 - fixtures
from ui_helpers import feed_xml, wait_until

from ibplayer.services.core import Core
from ibplayer.ui.controllers.episodes import NEW_VIEW
from ibplayer.ui.models import EpisodesModel, FeedIdRole, FeedsModel

M = EpisodesModel


def _two_more(show) -> list[dict]:
    """The show's feed with two newer episodes (the second refresh brings them)."""
    audio_url = show.server.url("/ep1.mp3") if hasattr(show.server, "url") else None
    items = []
    for n in (4, 3):
        items.append(dict(guid=f"ep-{n}", title=f"Fresh talk number {n}", url=audio_url or "http://127.0.0.1:9/x.mp3",
                          length=len(show.audio), duration=40, notes=f"<p>Fresh {n}</p>",
                          date=__import__("datetime").datetime(2025, 1, 1 + n,
                                                               tzinfo=__import__("datetime").UTC)))
    return items


def _refresh_with_new(show, data_dir) -> None:
    from ui_helpers import SAMPLE_CHAPTERS, notes_for

    items = _two_more(show) + [
        dict(guid="ep-1", title="The main idea with Ada Example", url=show.server.add("/ep1b.mp3", show.audio),
             length=len(show.audio), duration=40, notes=notes_for(SAMPLE_CHAPTERS, "At 0:18 we finally get to the point.")),
    ]
    show.server.add("/feed.xml", feed_xml(items), content_type="application/rss+xml")
    with Core(data_dir, timeout=5) as core:
        core.refresh()


def _select_view(qtbot, w, feed_id) -> None:
    fv = w.episodes.feed_view
    fv.setCurrentIndex(w.feeds_model.index(w.feeds_model.row_for_feed(feed_id)))
    wait_until(qtbot, lambda: w.episodes.feed_id == feed_id)


def test_new_view_marks_and_mark_all_seen(qtbot, show, make_window, data_dir):
    _refresh_with_new(show, data_dir)
    w = make_window()
    wait_until(qtbot, lambda: w.feeds_model.new_count() == 2, msg=f"new: {w.feeds_model.new_count()}")
    assert w.feeds_model.index(1).data() == "● New (2)"
    assert w.feeds_model.index(1).data(FeedIdRole) == FeedsModel.NEW == NEW_VIEW
    # the mark in the ordinary list
    _select_view(qtbot, w, None)
    wait_until(qtbot, lambda: w.episodes_model.rowCount() == 4)
    m = w.episodes_model
    titles = [m.data(m.index(r, M.TITLE)) for r in range(m.rowCount())]
    assert sum(t.startswith(M.NEW) for t in titles) == 2, titles
    assert any("New" in m.data(m.index(r, M.STATUS)) for r in range(m.rowCount()))
    # the New view lists only them, with "Mark all seen"
    w.show_new()
    wait_until(qtbot, lambda: w.episodes.feed_id == NEW_VIEW and m.rowCount() == 2)
    assert {m.episode_at(r).title for r in range(2)} == {"Fresh talk number 4", "Fresh talk number 3"}
    assert w.episodes.mark_seen_button.isVisible() and w.episodes.mark_seen_button.isEnabled()
    w.episodes.mark_seen_button.click()
    wait_until(qtbot, lambda: m.rowCount() == 0 and w.feeds_model.new_count() == 0,
               msg="mark all seen: {m.rowCount()} {w.feeds_model.new_count()} {w.status_label.text()}")
    assert w.feeds_model.index(1).data() == "New (0)"
    assert not w.episodes.mark_seen_button.isEnabled()  # nothing new left
    _select_view(qtbot, w, None)
    wait_until(qtbot, lambda: not w.episodes.mark_seen_button.isVisible())  # only in the New view
    with Core(data_dir) as core:
        assert core.marks.new_episodes() == []


def test_mark_older_and_all_played_from_the_list(qtbot, show, make_window, data_dir):
    _refresh_with_new(show, data_dir)
    w = make_window()
    m = w.episodes_model
    fid = w.feeds_model.feeds()[0].id
    _select_view(qtbot, w, fid)
    wait_until(qtbot, lambda: m.rowCount() == 4)
    by_title = {m.episode_at(r).title: m.episode_at(r) for r in range(4)}
    w.episodes.mark_older_played(by_title["Fresh talk number 3"])
    wait_until(qtbot, lambda: sum(m.episode_at(r).played for r in range(m.rowCount())) == 3, msg="older played")
    assert not next(e for e in m.rows() if e.title == "Fresh talk number 4").played
    assert m.data(m.index(m.row_of(by_title["A slow download"].id), M.STATUS)).startswith("Played")
    w.episodes.mark_all_played(confirm=False)
    wait_until(qtbot, lambda: all(e.played for e in m.rows()), msg="all played")
    wait_until(qtbot, lambda: w.feeds_model.new_count() == 0)


def test_scheduled_refresh_runs_and_brings_new_episodes(qtbot, show, make_window, data_dir):
    w = make_window(auto_refresh=True)
    # the schedule starts once the list has painted
    wait_until(qtbot, lambda: w.refresh_timer.isActive(), msg="no refresh scheduled")
    wait_until(qtbot, lambda: not w.refreshing, timeout=20, msg="the start-up refresh never finished")
    assert w.refresh_timer.isActive() and w.refresh_timer.interval() == 60 * 60_000  # the default: hourly
    from ui_helpers import SAMPLE_CHAPTERS, notes_for

    items = _two_more(show) + [dict(guid="ep-1", title="The main idea with Ada Example",
                                    url=show.server.add("/ep1c.mp3", show.audio), length=len(show.audio),
                                    duration=40, notes=notes_for(SAMPLE_CHAPTERS))]
    show.server.add("/feed.xml", feed_xml(items), content_type="application/rss+xml")
    w.refresh_timer.setInterval(300)  # the schedule, faster
    wait_until(qtbot, lambda: w.feeds_model.new_count() == 2, timeout=30, msg="the scheduled refresh brought nothing")
    # 0 turns it off
    w.apply_settings({"refresh_every": 0})
    wait_until(qtbot, lambda: not w.refresh_timer.isActive(), msg="the timer kept running")


def test_notification_without_a_bus_does_not_crash(qtbot, show, make_window):
    from ibplayer.ui.notify import Notifier

    w = make_window()
    n = Notifier(w, address="unix:path=/nonexistent/ibplayer-test-bus")
    n.notify("2 new episodes", "Loopback Show: 2 new")
    if n.process is not None:
        wait_until(qtbot, lambda: n.delivered is not None, timeout=10)
        assert n.delivered is False  # nobody heard it, nothing broke
    assert not w.closed


FAKE_SERVICE = Path(__file__).with_name("fake_notifications.py")


def test_notification_reaches_the_freedesktop_service(qtbot, show, make_window, tmp_path):
    """A private bus with a strict Notifications service (Qt's adaptor
    refuses a call whose signature is not susssasa{sv}i)."""
    import subprocess
    import sys

    from ibplayer.ui.notify import Notifier

    bus = subprocess.Popen(["dbus-daemon", "--session", "--print-address", "--nofork", "--nopidfile"],
                           stdout=subprocess.PIPE, text=True)
    service = None
    try:
        address = bus.stdout.readline().strip()
        service = subprocess.Popen([sys.executable, str(FAKE_SERVICE), address], stdout=subprocess.PIPE, text=True)
        assert service.stdout.readline().strip() == "READY"
        w = make_window()
        w.notifier = Notifier(w, address=address)
        from ibplayer.services.library import RefreshResult

        assert w.notify_new([RefreshResult(1, "http://127.0.0.1/f", "Loopback Show", "new", new=2)])
        wait_until(qtbot, lambda: w.notifier.delivered is not None, timeout=10)
        assert w.notifier.delivered is True
        got = json.loads(service.stdout.readline())
        assert got == {"app": "ibplayer", "summary": "2 new episodes", "body": "Loopback Show: 2 new",
                       "timeout": 8000}
    finally:
        for p in (service, bus):
            if p is not None:
                p.terminate()
                p.wait(5)


def test_settings_dialog_carries_refresh_notify_and_theme(qtbot, show, make_window):
    from ibplayer.ui.dialogs import SettingsDialog

    w = make_window()
    assert w.prefs["refresh_every"] == 60 and w.prefs["notify_new"] is False and w.prefs["theme"] == "system"
    dlg = SettingsDialog(dict(w.prefs), w)
    dlg.refresh_every.setValue(15)
    dlg.notify_new.setChecked(True)
    dlg.theme.setCurrentIndex(dlg.theme.findData("dark"))
    w.apply_settings(dlg.values())
    wait_until(qtbot, lambda: w.prefs["theme"] == "dark" and w.prefs["refresh_every"] == 15)
    assert w.prefs["notify_new"] is True
    pal = QApplication.palette()
    assert pal.color(QPalette.Window).lightness() < 80  # dark
    w.apply_settings({"theme": "light"})
    wait_until(qtbot, lambda: QApplication.palette().color(QPalette.Window).lightness() > 180)
    w.apply_settings({"theme": "system"})
    wait_until(qtbot, lambda: w.prefs["theme"] == "system")


def test_dark_theme_chips_and_text_keep_contrast(qtbot, show, make_window):
    from ibplayer.ui.theme import apply_theme, contrast

    w = make_window()
    try:
        apply_theme("dark")
        pal = QApplication.palette()
        # the chips: palette(text) on palette(alternate-base), hover: highlighted-text on highlight
        assert contrast(pal.color(QPalette.Text), pal.color(QPalette.AlternateBase)) >= 4.5
        assert contrast(pal.color(QPalette.HighlightedText), pal.color(QPalette.Highlight)) >= 3
        assert contrast(pal.color(QPalette.ButtonText), pal.color(QPalette.Button)) >= 4.5
        # a rendered chip: its text pixels differ clearly from its background
        w.pane.show_episode(w.episodes_model.episode_at(0))
        chips = w.pane.topics_box.findChildren(__import__("PySide6.QtWidgets", fromlist=["QPushButton"]).QPushButton)
        if chips:
            img = chips[0].grab().toImage()
            bg = QColor(img.pixel(img.width() // 2, 2))
            lightest = max((QColor(img.pixel(x, img.height() // 2)) for x in range(img.width())),
                           key=lambda c: c.lightness())
            assert contrast(lightest, bg) >= 3, (lightest.name(), bg.name())
        # the stock icons (player bar, pane): light on the dark buttons
        for button in (w.bar.play_button, w.pane.play_button):
            img = button.icon().pixmap(24, 24).toImage()
            opaque = [QColor.fromRgba(img.pixel(x, y)) for x in range(img.width()) for y in range(img.height())
                      if QColor.fromRgba(img.pixel(x, y)).alpha() > 200]
            assert opaque, "the icon drew nothing"
            ink = max(opaque, key=lambda c: c.lightness())
            assert contrast(ink, pal.color(QPalette.Button)) >= 4.5, ink.name()
    finally:
        apply_theme("system")
