"""The desktop window, end to end: pytest-qt offscreen, REAL libVLC with
``--aout=dummy``, a real loopback HTTP server, a library in tmp_path.

libVLC is required here: when it cannot be loaded these tests fail (they
are never skipped).  Exceptions raised in Qt slots / worker callbacks fail
the test (pytest-qt's exception capture; worker errors are routed to
``sys.excepthook``)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from httpfixtures import file_server  # noqa: F401 - fixture
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QTextCursor, QTextDocument
from ui_helpers import SAMPLE_CHAPTERS, big_library, feed_xml, notes_for, sample_bytes, wait_until

from ibplayer.infra import vlcloader
from ibplayer.infra.playback import NullBackend
from ibplayer.services.core import Core
from ibplayer.ui import workers
from ibplayer.ui.mainwindow import build_main_window
from ibplayer.ui.models import DownloadRole, EpisodesModel
from ibplayer.ui.player import DeferredBackend
from ibplayer.ui.widgets import NotesBrowser, linkify_timestamps

VLC_ARGS = ("--aout=dummy",)


# --------------------------------------------------------------------- fixtures


@pytest.fixture
def show(file_server, data_dir):  # noqa: F811
    audio = sample_bytes()
    url1 = file_server.add("/ep1.mp3", audio)
    url2 = file_server.add("/slow.mp3", audio, rate=len(audio) / 2.0, piece=8192)
    items = [
        dict(guid="ep-1", title="The main idea with Ada Example", url=url1, length=len(audio), duration=40,
             notes=notes_for(SAMPLE_CHAPTERS, "At 0:18 we finally get to the point.")),
        dict(guid="ep-2", title="A slow download", url=url2, length=len(audio), duration=40,
             notes=notes_for(SAMPLE_CHAPTERS)),
    ]
    feed_url = file_server.add("/feed.xml", feed_xml(items), content_type="application/rss+xml")
    with Core(data_dir, timeout=5) as core:
        res = core.subscribe(feed_url)
        ids = {e.guid: e.id for e in core.library.episodes(res.feed_id)}
    return SimpleNamespace(server=file_server, feed_url=feed_url, ids=ids, audio=audio, data_dir=data_dir)


@pytest.fixture
def make_window(qtbot, data_dir):
    wins = []

    def make(*, need_vlc: bool = True, wait_rows: int | None = None, **kw):
        if need_vlc:
            assert vlcloader.load_vlc() is not None, f"libVLC is required for the UI tests: {vlcloader.load_error}"
            kw.setdefault("backend_args", VLC_ARGS)
        w = build_main_window(data_dir, **kw)
        qtbot.addWidget(w)
        wins.append(w)
        w.activateWindow()
        if wait_rows is None:
            wait_until(qtbot, lambda: w.episodes_model.rowCount() > 0, msg="episode list never loaded")
        else:
            wait_until(qtbot, lambda: w.episodes_model.rowCount() == wait_rows, timeout=15,
                       msg=f"episode list has {w.episodes_model.rowCount()} rows")
        if need_vlc:
            assert w.player.available, "expected the real libVLC backend"
        return w

    yield make
    for w in wins:
        if not w._closed:
            w.close()
        errs = getattr(w.player.backend, "listener_errors", [])
        assert not errs, f"player listener raised on a libVLC thread: {errs!r}"


def open_episode(qtbot, w, episode_id: int, chapters: int = 4) -> None:
    assert w.select_episode(episode_id)
    wait_until(qtbot, lambda: w.shown_episode is not None and w.shown_episode.id == episode_id)
    # the pane's details and chapters are read in a worker, never on the GUI thread
    wait_until(qtbot, lambda: w.pane.details_id == episode_id)
    assert w.chapters_model.rowCount() == chapters, [c.title for c in w.chapters_model.chapters()]


def click_chapter(qtbot, w, row: int) -> None:
    idx = w.chapters_model.index(row, 1)
    w.chapter_view.scrollTo(idx)
    rect = w.chapter_view.visualRect(idx)
    assert rect.isValid()
    qtbot.mouseClick(w.chapter_view.viewport(), Qt.LeftButton, pos=rect.center())


def player_time(w) -> float:
    return w.player.backend.time()


def wait_playing_near(qtbot, w, t: float, tol: float = 1.0, timeout: float = 8.0) -> None:
    wait_until(qtbot, lambda: w.player.state() == "playing" and abs(player_time(w) - t) <= tol, timeout,
               msg=f"state {w.player.state()}, time {player_time(w):.2f}, wanted ~{t}")


# --------------------------------------------------------------------- tests


def test_chapter_click_seeks_and_plays(qtbot, show, make_window):
    w = make_window()
    open_episode(qtbot, w, show.ids["ep-1"])
    assert [c.title for c in w.chapters_model.chapters()] == [t for _, t in SAMPLE_CHAPTERS]
    assert "show notes" in w.source_label.text()
    click_chapter(qtbot, w, 2)
    wait_playing_near(qtbot, w, 18.5, tol=1.0)
    assert w.highlighted_chapter() == 2
    assert w.chapter_view.currentIndex().row() == 2
    assert "The main idea" in w.now_label.text()
    assert w.slider.ticks() == [8.0, 18.0, 30.0]
    # a second click in the same episode seeks again
    click_chapter(qtbot, w, 1)
    wait_playing_near(qtbot, w, 8.5, tol=1.0)
    assert w.highlighted_chapter() == 1


def test_highlight_follows_playback_and_seeks(qtbot, show, make_window):
    w = make_window()
    open_episode(qtbot, w, show.ids["ep-1"])
    w.play_episode(w.shown_episode, start=6.5)
    wait_playing_near(qtbot, w, 6.7, tol=1.0)
    assert w.highlighted_chapter() == 0
    # the highlight moves on by itself as playback crosses 8 s
    updates = []
    w.player.timeChanged.connect(updates.append)
    wait_until(qtbot, lambda: w.highlighted_chapter() == 1, timeout=6, msg=f"time {player_time(w)}")
    assert player_time(w) >= 7.8
    t0 = time.monotonic()
    n0 = len(updates)
    qtbot.wait(1000)
    rate = (len(updates) - n0) / (time.monotonic() - t0)
    assert rate >= 4, f"only {rate:.1f} time updates a second while playing"
    # paused: a seek moves the highlight at once
    w.player.pause()
    wait_until(qtbot, lambda: w.player.state() == "paused")
    w.player.seek(31.0)
    assert w.highlighted_chapter() == 3  # synchronously, no event loop needed
    assert w.chapter_view.currentIndex().row() == 3
    assert abs(w.player.time() - 31.0) < 0.01
    assert w.elapsed_label.text() == "0:31"
    qtbot.wait(400)
    assert w.player.state() == "paused"
    assert abs(player_time(w) - 31.0) < 1.0
    assert w.highlighted_chapter() == 3
    # previous chapter while paused: >3 s into a chapter goes to its start
    w.player.seek(34.0)
    w.previous_chapter()
    assert w.highlighted_chapter() == 3 and abs(w.player.time() - 30.0) < 0.01
    w.previous_chapter()
    assert w.highlighted_chapter() == 2 and abs(w.player.time() - 18.0) < 0.01
    w.player.play()
    wait_playing_near(qtbot, w, 18.5, tol=1.0)
    assert w.highlighted_chapter() == 2


def test_resume_position_survives_restart(qtbot, show, make_window, data_dir):
    eid = show.ids["ep-1"]
    w = make_window()
    open_episode(qtbot, w, eid)
    click_chapter(qtbot, w, 2)
    wait_playing_near(qtbot, w, 18.5, tol=1.0)
    qtbot.wait(1200)
    saved_at = player_time(w)
    assert saved_at > 18.5
    w.close()
    with Core(data_dir) as core:
        pos = core.library.episode(eid).position
    assert abs(pos - saved_at) < 1.0, (pos, saved_at)

    w2 = make_window()
    # the last shown episode comes back selected; play resumes where we left
    wait_until(qtbot, lambda: w2.shown_episode is not None and w2.shown_episode.id == eid)
    assert "stopped at 0:" in w2.meta_label.text()
    w2.episode_view.setFocus()
    qtbot.keyClick(w2.episode_view, Qt.Key_Space)
    wait_playing_near(qtbot, w2, pos + 0.5, tol=1.2)
    assert w2.highlighted_chapter() == 2


def test_download_progress_in_row_and_file_lands(qtbot, show, make_window, data_dir):
    eid = show.ids["ep-2"]
    w = make_window()
    open_episode(qtbot, w, eid)
    row = w.episodes_model.row_of(eid)
    idx = w.episodes_model.index(row, EpisodesModel.STATUS)
    seen = []

    def observe():
        frac = idx.data(DownloadRole)
        if frac is not None and 0 < frac < 1:
            seen.append(frac)
            w.episode_view.viewport().grab()  # the delegate paints the bar
        return len(seen) >= 2

    w.download(w.shown_episode)
    assert w.download_button.text() == "Cancel download"
    wait_until(qtbot, observe, timeout=10, msg="no partial download progress was ever shown in the row")
    assert w.pane_progress.isVisible()
    wait_until(qtbot, lambda: w.episodes_model.episode_at(row).file is not None, timeout=15,
               msg="the download never finished")
    path = Path(w.episodes_model.episode_at(row).file)
    assert path.exists() and path.read_bytes() == show.audio
    assert path.is_relative_to(data_dir / "downloads")
    assert idx.data(DownloadRole) is None
    assert "Downloaded" in idx.data()
    # the file's ID3 chapters were read in and are offered as a source
    wait_until(qtbot, lambda: w.source_combo.isVisible())
    assert any("ID3" in w.source_combo.itemText(i) for i in range(w.source_combo.count()))
    assert w.download_button.text() == "Delete download"
    # the record's Changes and its callback are two deliveries: either may come first
    wait_until(qtbot, lambda: w.downloads_model.job(eid)["state"] == "done")
    # playing now uses the local file
    click_chapter(qtbot, w, 1)
    wait_playing_near(qtbot, w, 8.5)
    assert w.player.source == str(path)


def test_search_hit_plays_at_its_chapter(qtbot, show, make_window):
    w = make_window()
    with qtbot.waitSignal(w.search_done, timeout=5000):
        qtbot.keyClicks(w.search_box, "main idea")
    hits = w.hits_model.hits()
    rows = [i for i, h in enumerate(hits) if h.kind == "chapter" and h.episode_id == show.ids["ep-2"]]
    assert rows, [(h.kind, h.title) for h in hits]
    assert w.results_panel.isVisible()
    idx = w.hits_model.index(rows[0])
    assert "Loopback Show" in idx.data()  # each hit says which feed it is from
    qtbot.mouseClick(w.results_view.viewport(), Qt.LeftButton, pos=w.results_view.visualRect(idx).center())
    wait_playing_near(qtbot, w, 18.5, tol=1.0)
    assert w.player.episode.id == show.ids["ep-2"]
    assert w.shown_episode.id == show.ids["ep-2"]
    assert w.highlighted_chapter() == 2


def test_keyboard_shortcuts(qtbot, show, make_window):
    w = make_window()
    open_episode(qtbot, w, show.ids["ep-1"])
    w.episode_view.setFocus()
    qtbot.keyClick(w.episode_view, Qt.Key_Space)
    wait_until(qtbot, lambda: w.player.state() == "playing")
    qtbot.keyClick(w.episode_view, Qt.Key_Space)
    wait_until(qtbot, lambda: w.player.state() == "paused")
    w.player.seek(1.0)
    qtbot.keyClick(w.episode_view, Qt.Key_N)
    assert abs(w.player.time() - 8.0) < 0.01 and w.highlighted_chapter() == 1
    qtbot.keyClick(w.episode_view, Qt.Key_Right, Qt.ControlModifier)
    assert abs(w.player.time() - 18.0) < 0.01
    qtbot.keyClick(w.episode_view, Qt.Key_Left, Qt.ControlModifier)
    assert abs(w.player.time() - 8.0) < 0.01
    qtbot.keyClick(w.episode_view, Qt.Key_Right)
    assert abs(w.player.time() - 38.0) < 0.01 and w.highlighted_chapter() == 3
    qtbot.keyClick(w.episode_view, Qt.Key_Left)
    assert abs(w.player.time() - 23.0) < 0.01 and w.highlighted_chapter() == 2
    qtbot.keyClick(w.episode_view, Qt.Key_P)
    assert abs(w.player.time() - 18.0) < 0.01
    # the episode list's own arrows/space did not steal these keys
    assert w.episode_view.currentIndex().row() == w.episodes_model.row_of(show.ids["ep-1"])
    # Ctrl+F focuses the search box; there, Space and arrows are text keys
    qtbot.keyClick(w.episode_view, Qt.Key_F, Qt.ControlModifier)
    assert w.search_box.hasFocus()
    state = w.player.state()
    qtbot.keyClicks(w.search_box, "a b")
    qtbot.keyClick(w.search_box, Qt.Key_Left)
    assert w.search_box.text() == "a b" and w.search_box.cursorPosition() == 2
    assert w.player.state() == state and abs(w.player.time() - 18.0) < 0.01
    # Help > Keyboard Shortcuts lists them
    w.show_shortcuts()
    table = w.shortcuts_dialog.table
    keys = [table.item(r, 0).text() for r in range(table.rowCount())]
    for k in ("Space", "←", "→", "Ctrl+← or P", "Ctrl+→ or N", "Ctrl+F"):
        assert k in keys
    w.shortcuts_dialog.close()
    w.episode_view.setFocus()
    qtbot.keyClick(w.episode_view, Qt.Key_Space)
    wait_playing_near(qtbot, w, 18.5)


def test_missing_libvlc_degrades(qtbot, show, make_window, monkeypatch):
    monkeypatch.setenv("IBPLAYER_NO_VLC", "1")
    w = make_window(need_vlc=False, backend_args=VLC_ARGS, show_vlc_dialog=True)
    # libVLC is looked for once the list has painted
    wait_until(qtbot, lambda: not isinstance(w.player.backend, DeferredBackend), msg="backend never created")
    assert isinstance(w.player.backend, NullBackend) and not w.player.available
    wait_until(qtbot, lambda: w.vlc_dialog is not None and w.vlc_dialog.isVisible(), msg="no install dialog")
    assert not w.vlc_dialog.isModal()
    assert vlcloader.install_hint() in w.vlc_dialog.informativeText()
    assert "VLC missing" in w.vlc_label.text()
    # chapters, seeking, highlight still work on the silent backend
    open_episode(qtbot, w, show.ids["ep-1"])
    click_chapter(qtbot, w, 2)
    wait_until(qtbot, lambda: w.player.state() == "playing")
    assert abs(player_time(w) - 18.0) < 1.0 and w.highlighted_chapter() == 2
    # search still works
    with qtbot.waitSignal(w.search_done, timeout=5000):
        qtbot.keyClicks(w.search_box, "wrap")
    assert any(h.kind == "chapter" and h.title == "Wrap-up" for h in w.hits_model.hits())


def test_injected_unavailable_backend_shows_dialog(qtbot, show, make_window):
    w = make_window(need_vlc=False, backend=NullBackend(reason="test: no libVLC"), show_vlc_dialog=True)
    wait_until(qtbot, lambda: w.vlc_dialog is not None and w.vlc_dialog.isVisible())
    assert "test: no libVLC" in w.vlc_dialog.detailedText()


def test_timestamp_link_in_notes_seeks(qtbot, show, make_window):
    w = make_window()
    open_episode(qtbot, w, show.ids["ep-1"])
    html_ = w.notes.toHtml()
    assert "ibplayer-seek:18" in html_ and "ibplayer-seek:30" in html_
    doc: QTextDocument = w.notes.document()
    cur = doc.find("0:18")  # the prose mention "At 0:18 we finally…"
    assert not cur.isNull()
    assert cur.charFormat().isAnchor() and cur.charFormat().anchorHref() == "ibplayer-seek:18"
    c2 = QTextCursor(cur)
    c2.setPosition(cur.selectionStart() + 1)
    rect = w.notes.cursorRect(c2)
    qtbot.mouseClick(w.notes.viewport(), Qt.LeftButton, pos=rect.center())
    wait_playing_near(qtbot, w, 18.5, tol=1.0)
    assert w.highlighted_chapter() == 2


def test_notes_linkify_and_no_remote_loads(qtbot):
    src = ('<p>See <a href="https://example.com/?t=12:30">12:30 here</a> and 1:02:03, '
           '<img src="https://tracker.example/p.png" alt="at 5:00"> then (45:10).</p>')
    out = linkify_timestamps(src, duration=7200)
    assert '<a href="ibplayer-seek:3723">1:02:03</a>' in out
    assert '<a href="ibplayer-seek:2710">45:10</a>' in out
    assert 'href="https://example.com/?t=12:30">12:30 here</a>' in out  # existing link untouched
    assert 'alt="at 5:00"' in out  # attributes untouched
    b = NotesBrowser()
    qtbot.addWidget(b)
    b.setHtml(out)
    b.grab()
    assert b.loadResource(2, QUrl("https://tracker.example/p.png")) is None
    assert any("tracker.example" in u for u in b.blocked)


def test_2000_episode_model_and_filters(qtbot, data_dir, make_window):
    fid = big_library(data_dir, 2000)
    t0 = time.perf_counter()
    w = make_window(need_vlc=False, backend=NullBackend(), wait_rows=2000)
    load_s = time.perf_counter() - t0
    assert load_s < 5, load_s
    m = w.episodes_model
    # data() is cheap: every cell of every row under a budget
    t0 = time.perf_counter()
    for r in range(m.rowCount()):
        for c in range(m.columnCount()):
            m.data(m.index(r, c))
    assert time.perf_counter() - t0 < 1.0
    assert w.episode_view.uniformRowHeights()
    w.episode_view.scrollToBottom()
    w.episode_view.viewport().grab()
    assert m.data(m.index(0, EpisodesModel.GUEST)) == "Guest 0"
    # filter box (title or guest), debounced, in a worker
    qtbot.keyClicks(w.filter_box, "Episode 1999")
    wait_until(qtbot, lambda: m.rowCount() == 1, msg=f"{m.rowCount()} rows")
    w.filter_box.clear()
    wait_until(qtbot, lambda: m.rowCount() == 2000)
    qtbot.keyClicks(w.filter_box, "Guest 7")
    wait_until(qtbot, lambda: m.rowCount() == 40, msg=f"{m.rowCount()} rows")
    w.filter_box.clear()
    wait_until(qtbot, lambda: m.rowCount() == 2000)
    # unplayed / downloaded toggles
    w.set_played(m.episode_at(0), True)
    assert w.writer.flush()
    w.unplayed_check.setChecked(True)
    wait_until(qtbot, lambda: m.rowCount() == 1999)
    w.unplayed_check.setChecked(False)
    w.downloaded_check.setChecked(True)
    wait_until(qtbot, lambda: m.rowCount() == 0)
    w.downloaded_check.setChecked(False)
    wait_until(qtbot, lambda: m.rowCount() == 2000)
    # clicking a guest lists every episode with that guest
    w.show_guest("Guest 7")
    wait_until(qtbot, lambda: m.rowCount() == 40)
    assert w.banner.isVisible()
    w.clear_guest_filter()
    wait_until(qtbot, lambda: m.rowCount() == 2000)
    # a topic lists chapters across the library
    with qtbot.waitSignal(w.search_done, timeout=5000):
        w.show_topic("Topic 1234")
    assert any(h.title == "Topic 1234" for h in w.hits_model.hits())
    assert fid


def test_worker_exceptions_are_reported(qtbot):
    workers.init()
    with qtbot.capture_exceptions() as exceptions:
        workers.run_task(lambda: 1 / 0, lambda r: None)
        wait_until(qtbot, lambda: bool(exceptions), timeout=5)
    assert exceptions and exceptions[0][0] is ZeroDivisionError
    got = []
    workers.run_task(lambda: 6 * 7, got.append)
    wait_until(qtbot, lambda: got == [42], timeout=5)


def _row(i, title=None, played=False):
    from ibplayer.infra.store import EpisodeRow

    return EpisodeRow(i, f"s{i}", 1, "Feed", f"g{i}", title or f"Episode {i}", None, f"http://x/{i}.mp3",
                      "audio/mpeg", 0, 60.0, None, None, None, "", None, None, 0.0, played, None)


def test_episode_model_updates_by_diff_without_reset(qtbot):
    from ibplayer.ui.app import ensure_app

    ensure_app()
    m = EpisodesModel()
    m.set_rows([_row(i) for i in (5, 4, 3, 2, 1)])
    events = []
    m.modelReset.connect(lambda: events.append("reset"))
    m.rowsInserted.connect(lambda _p, a, b: events.append(("ins", a, b)))
    m.rowsRemoved.connect(lambda _p, a, b: events.append(("rm", a, b)))
    m.dataChanged.connect(lambda a, b, _r=None: events.append(("chg", a.row(), b.row())))
    # a refresh: two new episodes on top, one gone, one renamed, one unchanged copy
    new = [_row(7), _row(6), _row(5), _row(4, "Renamed"), _row(2), _row(1)]
    assert m.update_rows(new) == "diff"
    assert [e.id for e in m.rows()] == [7, 6, 5, 4, 2, 1]
    assert events == [("rm", 2, 2), ("ins", 0, 1), ("chg", 3, 3)]
    assert m.data(m.index(3, EpisodesModel.TITLE)) == "Renamed"
    assert m.row_of(7) == 0 and m.row_of(1) == 5 and m.row_of(3) == -1
    events.clear()
    assert m.update_rows([_row(i) for i in (7, 6, 5, 4, 2, 1)][:3] + [_row(4, "Renamed"), _row(2), _row(1)]) == "same"
    assert events == []
    # common episodes in another order: a reset
    assert m.update_rows([_row(1), _row(2)]) == "reset" and events == ["reset"]


def test_episode_model_roles(qtbot):
    from PySide6.QtGui import QFont

    from ibplayer.ui.app import ensure_app

    ensure_app()
    m = EpisodesModel()
    m.set_rows([_row(1), _row(2, played=True)])
    i0, i1 = m.index(0, EpisodesModel.TITLE), m.index(1, EpisodesModel.TITLE)
    for role in (Qt.DisplayRole, int(Qt.DisplayRole)):  # enum or the plain int a view passes
        assert m.data(i0, role) == "Episode 1"
    assert isinstance(m.data(i0, Qt.FontRole), QFont) and m.data(i0, Qt.FontRole).bold()
    assert m.data(i1, Qt.FontRole) is None and m.data(i1, Qt.ForegroundRole) is not None
    assert m.data(m.index(1, EpisodesModel.STATUS)) == "Played"
    assert m.data(m.index(0, EpisodesModel.LENGTH), Qt.TextAlignmentRole) == int((Qt.AlignRight | Qt.AlignVCenter).value)
    assert m.data(i0, Qt.DecorationRole) is None and m.data(i0, DownloadRole) is None
    m.set_download(1, 0.5)
    assert m.data(m.index(0, EpisodesModel.STATUS), DownloadRole) == 0.5


def test_refresh_runs_in_a_worker_process(tmp_path):
    # the protocol, through the real entry point (`ibplayer __worker__ …`, the
    # same from source and in a bundle): pickled results back; the work's
    # exceptions re-raised here
    from ibplayer.services.worker import WorkerProcess

    assert WorkerProcess("refresh", str(tmp_path / "lib")).run() == []
    with pytest.raises(KeyError):
        WorkerProcess("no-such-command").run()
