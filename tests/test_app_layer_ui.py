"""The window as a thin adapter over the services (issue: one application
layer): no SQLite on the GUI thread, the per-feed policies after the app's
refresh, quitting during a refresh, the pane's Play/Pause button."""

from __future__ import annotations

import json
import threading
import time

from httpfixtures import file_server  # noqa: F401 - fixture
from test_ui import make_window, open_episode, show  # noqa: F401 - fixtures
from ui_helpers import feed_xml, notes_for, sample_bytes, wait_until

from ibplayer.infra.store import Library
from ibplayer.services.core import Core
from ibplayer.ui import workers


def test_showing_episodes_reads_no_sqlite_on_the_gui_thread(qtbot, show, make_window, monkeypatch):  # noqa: F811
    statements: list[tuple[int, str]] = []
    real_init = Library.__init__

    def traced_init(self, *a, **kw):
        real_init(self, *a, **kw)
        self.db.set_trace_callback(lambda sql: statements.append((threading.get_ident(), sql)))

    monkeypatch.setattr(Library, "__init__", traced_init)
    w = make_window()
    gui = threading.main_thread().ident
    statements.clear()  # the settings read before the first paint is allowed
    for eid in (show.ids["ep-2"], show.ids["ep-1"], show.ids["ep-2"]):
        open_episode(qtbot, w, eid)
    w.sidebar.source_combo.activated.emit(0)
    w.show_guest("Ada Example")
    qtbot.wait(300)
    on_gui = [sql for tid, sql in statements if tid == gui]
    assert statements, "the tracer saw no statement at all"
    assert on_gui == [], on_gui[:5]


def test_pane_play_button_pauses_the_playing_episode(qtbot, show, make_window):  # noqa: F811
    w = make_window()
    open_episode(qtbot, w, show.ids["ep-1"])
    button = w.pane.play_button
    button.click()
    wait_until(qtbot, lambda: w.player.state() == "playing")
    assert button.text() == "Pause"
    button.click()
    wait_until(qtbot, lambda: w.player.state() == "paused", msg="the pane's button did not pause")
    assert button.text() == "Play"
    button.click()
    wait_until(qtbot, lambda: w.player.state() == "playing", msg="the pane's button did not resume")
    # another episode in the pane: its button offers Play, not Pause
    open_episode(qtbot, w, show.ids["ep-2"])
    assert button.text() == "Play" and w.player.state() == "playing"


def test_app_refresh_applies_the_per_feed_auto_download(qtbot, file_server, data_dir, make_window):  # noqa: F811
    audio = sample_bytes()
    items = [dict(guid=f"g{i}", title=f"Episode {i}", url=file_server.add(f"/e{i}.mp3", audio), length=len(audio),
                  duration=40, notes=notes_for([(0, "Start")])) for i in (1, 2)]
    url = file_server.add("/feed.xml", feed_xml(items), content_type="application/rss+xml")
    with Core(data_dir) as core:
        fid = core.subscribe(url).feed_id
        core.library_service.set_feed_settings(fid, auto_download=1)
        newest = core.library.episodes(fid)[0]
    w = make_window()
    w.refresh_all()
    wait_until(qtbot, lambda: (w.episodes_model.episode_at(w.episodes_model.row_of(newest.id)) or newest).file,
               timeout=20, msg="the window's refresh never applied the auto-download policy")
    with Core(data_dir) as core:
        eps = {e.id: e for e in core.library.episodes(fid)}
    assert eps[newest.id].file and open(eps[newest.id].file, "rb").read() == audio
    assert [e for e in eps.values() if e.file] == [eps[newest.id]]  # keep-1: only the newest


def test_quitting_during_a_refresh_stops_the_worker_process(qtbot, file_server, data_dir, make_window):  # noqa: F811
    audio = sample_bytes()
    items = [dict(guid="g1", title="Episode 1", url=file_server.add("/e1.mp3", audio), length=len(audio),
                  duration=40, notes=notes_for([(0, "Start")]))]
    url = file_server.add("/feed.xml", feed_xml(items), content_type="application/rss+xml")
    with Core(data_dir) as core:
        core.subscribe(url)
        before = json.dumps(core.library.export(), sort_keys=True)
    # the next fetch of the feed answers after 4 s, with a new episode
    items.append(dict(guid="g2", title="Episode 2", url=file_server.add("/e2.mp3", audio), length=len(audio),
                      duration=40, notes=notes_for([(0, "Start")])))
    file_server.add("/feed.xml", feed_xml(items), content_type="application/rss+xml", delay_headers=4.0)
    w = make_window()
    w.refresh_all()
    wait_until(qtbot, lambda: workers._workers, timeout=5, msg="no worker process started")
    [proc] = list(workers._workers)
    wait_until(qtbot, lambda: proc._proc is not None, timeout=5)
    t0 = time.monotonic()
    w.close()
    assert proc._proc.poll() is not None, "the worker process outlived the window"
    assert time.monotonic() - t0 < 3
    time.sleep(4.5)  # past the server's answer: nothing may write now
    with Core(data_dir) as core:
        assert json.dumps(core.library.export(), sort_keys=True) == before


def test_window_starts_on_bad_ui_settings_and_a_damaged_library(qtbot, data_dir, make_window):  # noqa: F811
    from PySide6.QtWidgets import QMessageBox

    (data_dir / "library.sqlite3").write_bytes(b"this is not a database " * 200)
    (data_dir / "ui.ini").write_text("[General]\nvolume=loud\ngeometry=@ByteArray(garbage)\nlast_episode=x\n"
                                     "splitter=1e999\n")
    with Core(data_dir) as core:  # the first open sets the damaged file aside…
        core.library.set_setting("skip_back", "-1e400")
    aside = list(data_dir.glob("library.sqlite3.damaged-*"))
    assert len(aside) == 1
    aside[0].rename(data_dir / "library.sqlite3")  # …so put it back for the window to meet
    w = make_window(need_vlc=False, wait_rows=0)
    wait_until(qtbot, lambda: any(isinstance(b, QMessageBox) and b.isVisible() for b in w.findChildren(QMessageBox)),
               msg="no dialog about the damaged library")
    box = next(b for b in w.findChildren(QMessageBox) if b.isVisible())
    assert "damaged" in box.text() and "set aside" in box.text()
    assert w.bar.volume_slider.value() == 100 and w.prefs["skip_back"] == 15
    assert w.isVisible() and w.width() > 300


def test_titles_with_markup_show_as_written(qtbot, file_server, data_dir, make_window):  # noqa: F811
    from PySide6.QtCore import Qt

    audio = sample_bytes()
    items = [dict(guid="m1", title='<h1 style="font-size:90px">Huge</h1><a href="x">link</a>',
                  url=file_server.add("/m1.mp3", audio), length=len(audio), duration=40, notes=notes_for([(0, "Start")]))]
    url = file_server.add("/feed.xml", feed_xml(items, title="<b>Bold</b> Show"), content_type="application/rss+xml")
    with Core(data_dir) as core:
        core.subscribe(url)
    w = make_window(need_vlc=False)
    wait_until(qtbot, lambda: w.shown_episode is not None)
    assert w.pane.title_label.textFormat() == Qt.PlainText and "<h1" in w.pane.title_label.text()
    w.set_status(f"{w.shown_episode.feed_title}: 1 new")
    assert w.status_label.textFormat() == Qt.PlainText and w.status_label.text().startswith("<b>Bold</b> Show")
