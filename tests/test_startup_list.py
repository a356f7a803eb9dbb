# ruff: noqa: F811 - the fixtures come from test_ui
"""The window's start-up read (one worker read for the feed list and the
episode list): the feeds' counts and the guests' affiliations it shows are
the library's.  pytest-qt offscreen, real SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Qt
from test_ui import make_window  # noqa: F401 - fixture

from ibplayer.domain.models import ParsedEpisode, ParsedFeed, Person
from ibplayer.infra.store import Library
from ibplayer.ui.models import EpisodesModel, FeedIdRole

M = EpisodesModel

GUESTS = [Person(name="Ada Example", affiliations=["Example Labs", "Sample University"]),
          Person(name="Ben Placeholder", affiliations=[]),
          Person(name="Cy Stand-in", affiliations=["Stand-in Institute"])]


def _library(data_dir) -> dict[str, tuple[int, int]]:
    """Two shows (some episodes played; a guest on many episodes, with and
    without affiliations); {show title: (unplayed, total)} as set up."""
    base = datetime(2025, 3, 1, tzinfo=UTC)
    plan = {"Alpha Talks": (7, {1, 4}), "Beta Hour": (5, {0, 1, 2, 3, 4})}  # episodes, the played ones
    lib = Library(data_dir)
    try:
        for k, (title, (n, played)) in enumerate(plan.items()):
            eps = [ParsedEpisode(guid=f"{title}-{i}", title=f"{title} conversation {i}",
                                 published=base - timedelta(days=i * 2 + k), audio_url=f"http://127.0.0.1:9/{k}/{i}.mp3",
                                 duration=1800, notes_html=f"<p>{'Long notes. ' * 400}</p>",
                                 guests=[GUESTS[(i + k) % len(GUESTS)]])
                   for i in range(n)]
            fid = lib.add_feed(f"http://127.0.0.1:9/{k}.xml", title)
            lib.store_feed(fid, ParsedFeed(title=title, episodes=eps))
            for ep in lib.episodes(fid):
                if int(ep.guid.rsplit("-", 1)[1]) in played:
                    lib.set_played(ep.id, True)
    finally:
        lib.close()
    return {title: (n - len(played), n) for title, (n, played) in plan.items()}


def test_first_list_shows_the_feeds_counts_and_every_guests_affiliations(qtbot, make_window, data_dir):
    expected = _library(data_dir)
    total = sum(t for _u, t in expected.values())
    w = make_window(need_vlc=False, wait_rows=total)
    fm = w.feeds_model
    assert fm.index(0).data() == f"All episodes ({total})"
    shown = {}
    for r in range(fm.FIRST_FEED_ROW, fm.rowCount()):
        text = fm.index(r).data()
        title = text.split("  (")[0]
        shown[title] = text
        assert fm.index(r).data(FeedIdRole) is not None
    assert shown == {title: f"{title}  ({u}/{t})" for title, (u, t) in expected.items()}
    # the guest column's tooltip names each guest's affiliations, on every one of their episodes
    m = w.episodes_model
    want = {p.name: p.name + (f" ({', '.join(p.affiliations)})" if p.affiliations else "") for p in GUESTS}
    seen = set()
    for r in range(m.rowCount()):
        name = m.data(m.index(r, M.GUEST))
        assert m.data(m.index(r, M.GUEST), Qt.ToolTipRole) == want[name], (r, name)
        seen.add(name)
    assert seen == set(want)
    # the rows' guests do not share one list: changing one leaves the others as stored
    ada = [ep for ep in m.rows() if ep.guests and ep.guests[0].name == "Ada Example"]
    assert len(ada) >= 2
    ada[0].guests[0].affiliations.append("Changed here only")
    assert ada[1].guests[0].affiliations == ["Example Labs", "Sample University"]


def _run_gui_until(qtbot, data_dir, check):
    """`run_gui` (the entry point's window path: settings and list read
    started before the window's modules load) until ``check(app)`` returns
    True; it is polled from the event loop, and quits it."""
    from argparse import Namespace

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ibplayer.ui.app import run_gui

    app = QApplication.instance()
    state = {"polls": 0}

    def poll():
        state["polls"] += 1
        if check(app) or state["polls"] > 750:  # 15 s at most
            app.quit()
        else:
            QTimer.singleShot(20, poll)

    QTimer.singleShot(20, poll)
    quits = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)  # a Quit posted when the window closes would end the next test's loops
    try:
        return run_gui(Namespace(data_dir=str(data_dir)))
    finally:
        app.setQuitOnLastWindowClosed(quits)


def test_the_entry_points_window_lists_the_library(qtbot, data_dir, monkeypatch):
    from ibplayer.ui.mainwindow import MainWindow

    expected = _library(data_dir)
    total = sum(t for _u, t in expected.values())
    monkeypatch.setattr(MainWindow, "start", _no_refresh(MainWindow.start))
    seen = {}

    def check(app):
        wins = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and not w._closed]
        if wins and wins[0].episodes_model.rowCount() == total:
            w = wins[0]
            seen["feeds"] = [w.feeds_model.index(r).data() for r in range(w.feeds_model.rowCount())]
            seen["shown"] = w.shown_episode.title if w.shown_episode is not None else None
            w.close()
            return True
        return False

    assert _run_gui_until(qtbot, data_dir, check) == 0
    assert seen["feeds"][0] == f"All episodes ({total})"
    assert sorted(seen["feeds"][2:]) == sorted(f"{t}  ({u}/{n})" for t, (u, n) in expected.items())
    assert seen["shown"] == "Alpha Talks conversation 0"  # the newest, selected


def _no_refresh(start):
    def wrapped(self):
        self.auto_refresh = False  # the shows' URLs lead nowhere: no start-up refresh
        self._want_mpris = False
        start(self)

    return wrapped


def test_a_library_that_cannot_open_says_so_and_exits(qtbot, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    (tmp_path / "library.sqlite3").mkdir()  # a directory where the library file belongs
    said = []

    def check(app):
        for box in app.topLevelWidgets():
            if isinstance(box, QMessageBox) and box.isVisible():
                said.append((box.windowTitle(), box.text()))
                box.accept()
                return True
        return False

    assert _run_gui_until(qtbot, tmp_path, check) == 1
    assert said and said[0][0].endswith("ibplayer cannot open its library") and "is a directory" in said[0][1]
