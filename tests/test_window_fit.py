# ruff: noqa: F811 - the fixtures come from test_ui
"""The window fits: titles stay readable at 1024x700, the window opens inside
the screen at any scale factor, a saved geometry bigger than the screen is
clamped, the episode list marks what plays and shows the feed in mixed
lists.  pytest-qt offscreen, real SQLite, real libVLC (--aout=dummy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from httpfixtures import file_server  # noqa: F401 - fixture
from PySide6.QtCore import QSettings
from test_ui import VLC_ARGS, make_window, show  # noqa: F401 - fixtures
from ui_helpers import feed_xml, wait_until

from ibplayer.ui.controllers.episodes import NEW_VIEW
from ibplayer.ui.models import EpisodesModel

M = EpisodesModel


def _title_chars(w) -> float:
    """How many average characters of a title the column shows."""
    v = w.episode_view
    fm = v.fontMetrics()
    return (v.header().sectionSize(M.TITLE) - 16) / fm.averageCharWidth()


def test_title_keeps_30_characters_at_1024x700(qtbot, show, make_window):
    w = make_window()
    w.resize(1024, 700)
    qtbot.waitUntil(lambda: w.width() == 1024)
    w.episodes.feed_id = None  # "All episodes": the feed column wants room too
    w.episodes.reload_episodes()
    wait_until(qtbot, lambda: not w.episode_view.isColumnHidden(M.FEED) or _title_chars(w) >= 30)
    qtbot.wait(50)
    title = w.episode_view.header().sectionSize(M.TITLE)
    sample = "The main idea with Ada Example and more words"[:30]
    assert title >= w.episode_view.fontMetrics().horizontalAdvance(sample), (title, _title_chars(w))
    assert _title_chars(w) >= 30
    # the columns that gave way: they are narrower or hidden, never wider than the title
    for col in (M.GUEST, M.DATE, M.FEED):
        if not w.episode_view.isColumnHidden(col):
            assert w.episode_view.header().sectionSize(col) < title
    # no horizontal scrolling to read the status
    h = w.episode_view.header()
    used = sum(h.sectionSize(c) for c in range(M._NC) if not w.episode_view.isColumnHidden(c))
    assert used <= w.episode_view.viewport().width() + 1


def test_wide_window_shows_every_column_and_title_takes_the_spare_width(qtbot, show, make_window):
    w = make_window()
    w.resize(1600, 1000)
    qtbot.waitUntil(lambda: w.width() == 1600)
    # (the episode pane keeps room for its buttons: ~470 px)
    w.splitter.setSizes([960, 470, 170])
    qtbot.wait(50)
    v = w.episode_view
    for col in (M.GUEST, M.DATE, M.LENGTH, M.STATUS):
        assert not v.isColumnHidden(col), col
    wide = v.header().sectionSize(M.TITLE)
    guest = v.header().sectionSize(M.GUEST)
    w.splitter.setSizes([1040, 470, 130])
    qtbot.wait(50)
    assert v.header().sectionSize(M.TITLE) > wide  # the spare width went to the title
    assert v.header().sectionSize(M.GUEST) == guest


def test_feed_column_only_in_mixed_lists(qtbot, show, make_window):
    from ibplayer.services.core import Core

    w = make_window()
    v = w.episode_view
    w.resize(1600, 1000)
    w.splitter.setSizes([1000, 470, 130])
    # one feed subscribed: "All episodes" names no feed on every row
    wait_until(qtbot, lambda: w.episodes.feed_id is None and w.episodes_model.rowCount() == 2)
    assert v.isColumnHidden(M.FEED)
    w.close()
    other = feed_xml([dict(guid="o-1", title="Another show's talk", url=show.server.url("/ep1.mp3"), length=1000,
                           duration=40, notes="<p>Notes</p>")], title="Second Show")
    with Core(show.data_dir) as core:
        core.subscribe(show.server.add("/other.xml", other, content_type="application/rss+xml"))
    w = make_window()
    v = w.episode_view
    w.resize(1600, 1000)
    w.splitter.setSizes([1000, 470, 130])
    fid = next(f.id for f in w.feeds_model.feeds() if f.title == "Loopback Show")
    w.episodes.feed_view.setCurrentIndex(w.feeds_model.index(w.feeds_model.row_for_feed(fid)))
    wait_until(qtbot, lambda: w.episodes.feed_id == fid and v.isColumnHidden(M.FEED))
    w.episodes.feed_view.setCurrentIndex(w.feeds_model.index(w.feeds_model.row_for_feed(None)))
    wait_until(qtbot, lambda: w.episodes.feed_id is None and not v.isColumnHidden(M.FEED))
    feeds = {w.episodes_model.data(w.episodes_model.index(r, M.FEED)) for r in range(w.episodes_model.rowCount())}
    assert feeds == {"Loopback Show", "Second Show"}
    assert v.header().visualIndex(M.FEED) == 1  # beside the title
    assert NEW_VIEW != fid


def test_now_playing_mark_follows_the_player(qtbot, show, make_window):
    w = make_window()
    m = w.episodes_model
    ep1, ep2 = show.ids["ep-1"], show.ids["ep-2"]
    row1 = m.row_of(ep1)
    assert not m.data(m.index(row1, M.TITLE)).startswith(M.NOW_PLAYING)
    w.play_episode(m.episode_at(row1))
    wait_until(qtbot, lambda: m.data(m.index(m.row_of(ep1), M.TITLE)).startswith(M.NOW_PLAYING), timeout=10)
    assert not m.data(m.index(m.row_of(ep2), M.TITLE)).startswith(M.NOW_PLAYING)
    w.play_episode(m.episode_at(m.row_of(ep2)))
    wait_until(qtbot, lambda: m.data(m.index(m.row_of(ep2), M.TITLE)).startswith(M.NOW_PLAYING), timeout=10)
    assert not m.data(m.index(m.row_of(ep1), M.TITLE)).startswith(M.NOW_PLAYING)


def test_listened_fraction_shows_in_the_status(qtbot, show, make_window, data_dir):
    from ibplayer.services.core import Core

    with Core(data_dir) as core:
        core.set_position(show.ids["ep-2"], 10.0)
    w = make_window()
    m = w.episodes_model
    r = m.row_of(show.ids["ep-2"])
    assert m.data(m.index(r, M.STATUS)).startswith("25 %")


def test_saved_geometry_bigger_than_the_screen_is_clamped(qtbot, show, make_window, data_dir):
    w = make_window()
    w.resize(1500, 950)
    w.move(300, 200)  # sticks out of the 1600x1000 screen
    qtbot.wait(20)
    w.close()
    settings = QSettings(str(data_dir / "ui.ini"), QSettings.IniFormat)
    assert settings.value("geometry") is not None
    w2 = make_window()
    avail = w2.screen().availableGeometry()
    assert avail.contains(w2.frameGeometry()), (w2.frameGeometry(), avail)


_PROBE = r"""
import json, sys
from ibplayer.ui.mainwindow import build_main_window
w = build_main_window(sys.argv[1], backend_args=("--aout=dummy",))
a = w.screen().availableGeometry()
g = w.frameGeometry()
print(json.dumps({"avail": [a.x(), a.y(), a.width(), a.height()], "win": [g.x(), g.y(), g.width(), g.height()],
                  "scale": w.screen().devicePixelRatio()}))
w.close()
"""


def _open_in(tmp_path, data_dir, width, height, scale, geometry=None):
    cfg = tmp_path / f"screen-{width}x{height}.json"
    cfg.write_text(json.dumps({"screens": [{"name": "s", "x": 0, "y": 0, "width": width, "height": height,
                                            "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={cfg}", QT_SCALE_FACTOR=str(scale))
    out = subprocess.run([sys.executable, "-c", _PROBE, str(data_dir)], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_window_opens_inside_the_screen_at_scale_2(tmp_path, show, data_dir):
    got = _open_in(tmp_path, data_dir, 2560, 1440, 2)
    assert got["scale"] == 2
    ax, ay, aw, ah = got["avail"]
    x, y, ww, wh = got["win"]
    assert (aw, ah) == (1280, 720)
    assert ax <= x and ay <= y and x + ww <= ax + aw and y + wh <= ay + ah, got


def test_window_opens_inside_a_1024x700_screen(tmp_path, show, data_dir):
    got = _open_in(tmp_path, data_dir, 1024, 700, 1)
    ax, ay, aw, ah = got["avail"]
    x, y, ww, wh = got["win"]
    assert x + ww <= ax + aw and y + wh <= ay + ah, got


def test_columns_survive_a_restart_and_an_old_header_is_ignored(qtbot, show, make_window, data_dir):
    from PySide6.QtCore import QByteArray

    w = make_window()
    w.close()
    settings = QSettings(str(data_dir / "ui.ini"), QSettings.IniFormat)
    # what an older version saved (five columns, the last ones moved): not restored into six
    settings.setValue("episode_header", QByteArray(b"\x00\x00\x00\xff\x00\x00\x00\x00"))
    settings.sync()
    w2 = make_window()
    h = w2.episode_view.header()
    assert h.visualIndex(M.FEED) == 1 and h.visualIndex(M.TITLE) == 0
    assert _title_chars(w2) >= 30
