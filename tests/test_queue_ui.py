"""Up Next and "continue where I left off" in the window: pytest-qt
offscreen, real libVLC (--aout=dummy), the loopback server, a real library."""

from __future__ import annotations

from httpfixtures import file_server  # noqa: F401 - fixture
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDropEvent
from test_ui import make_window, open_episode, player_time, show  # noqa: F401 - fixtures
from ui_helpers import feed_xml, notes_for, sample_bytes, wait_until

from ibplayer.services.core import Core
from ibplayer.ui.models import fmt_time


def _queue_rows(w) -> list[int]:
    return w.upnext.view.ids()


def test_auto_advance_plays_the_next_queued_episode(qtbot, show, make_window, data_dir):  # noqa: F811
    first, second = show.ids["ep-1"], show.ids["ep-2"]
    with Core(data_dir) as core:
        core.set_position(second, 12.0)  # the next one resumes where it was left
    w = make_window()
    w.upnext.play_last([second])  # what the episode list's "Play Last" does
    wait_until(qtbot, lambda: _queue_rows(w) == [second], msg="the queue view never showed the episode")
    assert w.upnext.dock.isVisible()
    open_episode(qtbot, w, first)
    w.play_at(34.0)  # near the end of the 40 s sample
    wait_until(qtbot, lambda: w.player.episode is not None and w.player.episode.id == second, timeout=20,
               msg=f"still on {w.player.episode and w.player.episode.title} at {player_time(w):.1f}")
    wait_until(qtbot, lambda: w.player.state() == "playing" and player_time(w) >= 12.0, timeout=10,
               msg=f"state {w.player.state()} at {player_time(w):.1f}")
    assert player_time(w) < 16.0  # resumed at 12 s, not from the start
    wait_until(qtbot, lambda: _queue_rows(w) == [], msg="the started episode stayed in Up Next")
    assert w.shown_episode.id == second and "A slow download" in w.now_label.text()
    w.close()
    with Core(data_dir) as core:
        assert core.library.episode(first).played  # the ended one is marked played
        assert core.queue.ids() == []


def test_sleep_timer_at_episode_end_does_not_advance(qtbot, show, make_window, data_dir):  # noqa: F811
    first, second = show.ids["ep-1"], show.ids["ep-2"]
    w = make_window()
    w.upnext.play_next([second])
    wait_until(qtbot, lambda: _queue_rows(w) == [second])
    open_episode(qtbot, w, first)
    w.play_at(35.0)
    wait_until(qtbot, lambda: w.player.state() == "playing")
    w.player.set_sleep_timer("episode")
    wait_until(qtbot, lambda: w.player.state() == "ended", timeout=15)
    qtbot.wait(1500)
    assert w.player.episode.id == first and w.player.state() != "playing"
    assert _queue_rows(w) == [second]  # still waiting for the listener


def test_queue_view_remove_with_delete_key_and_menu_entries(qtbot, show, make_window, data_dir):  # noqa: F811
    first, second = show.ids["ep-1"], show.ids["ep-2"]
    w = make_window()
    w.upnext.play_last([first, second])
    wait_until(qtbot, lambda: _queue_rows(w) == [first, second])
    w.upnext.move(second, 0)
    wait_until(qtbot, lambda: _queue_rows(w) == [second, first])
    v = w.upnext.view
    v.setCurrentRow(0)
    v.setFocus()
    qtbot.keyClick(v, Qt.Key_Delete)
    wait_until(qtbot, lambda: _queue_rows(w) == [first], msg=f"rows {_queue_rows(w)}")
    w.close()
    with Core(data_dir) as core:
        assert core.queue.ids() == [first]  # persisted through the service


def test_window_refresh_adds_new_episodes_of_a_chosen_feed(qtbot, file_server, data_dir, make_window):  # noqa: F811
    audio = sample_bytes()

    def item(i):
        return dict(guid=f"n{i}", title=f"Fresh talk {i}", url=file_server.add(f"/n{i}.mp3", audio),
                    length=len(audio), duration=40, notes=notes_for([(0, "Start")]))

    url = file_server.add("/feed.xml", feed_xml([item(1)]), content_type="application/rss+xml")
    with Core(data_dir) as core:
        fid = core.subscribe(url).feed_id
    w = make_window()
    w.upnext.set_auto_add(fid, True)  # the feed list's "Add New Episodes to Up Next"
    w.writer.flush()
    file_server.add("/feed.xml", feed_xml([item(2), item(1)]), content_type="application/rss+xml")
    w.refresh_all()
    wait_until(qtbot, lambda: w.upnext.view.count() == 1, timeout=20, msg="the new episode never joined Up Next")
    assert w.upnext.view.item(0).text().startswith("Fresh talk 2  ·  Loopback Show")
    assert "added to Up Next" in w.status_label.text()


# ---------------------------------------------------------------- continue where I left off


def test_restart_restores_the_paused_episode_and_speed(qtbot, show, make_window, data_dir):  # noqa: F811
    eid = show.ids["ep-1"]
    w = make_window()
    open_episode(qtbot, w, eid)
    w.play_at(18.0)
    wait_until(qtbot, lambda: w.player.state() == "playing" and player_time(w) > 18.5, timeout=10)
    combo = w.bar.speed_combo
    i = combo.findData(1.5)
    combo.setCurrentIndex(i)
    combo.activated.emit(i)  # what the combo says when the listener picks a speed
    qtbot.wait(1200)
    w.player.pause()
    wait_until(qtbot, lambda: w.player.state() == "paused")
    w.close()
    with Core(data_dir) as core:
        saved = core.library.episode(eid).position
    assert saved > 18.5

    w2 = make_window()
    # the player bar holds the last episode, loaded but not playing, at its place
    wait_until(qtbot, lambda: w2.player.episode is not None and w2.player.episode.id == eid,
               msg="the last played episode was not loaded at launch")
    assert w2.player.state() != "playing"
    wait_until(qtbot, lambda: "The main idea with Ada Example" in w2.now_label.text())
    assert abs(w2.player.time() - saved) < 0.5
    assert w2.bar.elapsed_label.text() == fmt_time(w2.player.time()) != fmt_time(0)
    assert w2.shown_episode.id == eid
    assert abs(w2.bar.speed_combo.currentData() - 1.5) < 1e-9  # speed survives the restart
    # focus is not in the search box: one Space continues
    assert w2.focusWidget() is not w2.search_box
    qtbot.keyClick(w2.focusWidget() or w2.episode_view, Qt.Key_Space)
    wait_until(qtbot, lambda: w2.player.state() == "playing" and player_time(w2) > saved, timeout=10,
               msg=f"state {w2.player.state()} at {player_time(w2):.1f}")
    assert player_time(w2) < saved + 3.0  # continued from the saved place, not from the start
    assert abs(w2.player.rate() - 1.5) < 0.01


def test_nothing_to_continue_after_a_finished_episode(qtbot, show, make_window, data_dir):  # noqa: F811
    with Core(data_dir) as core:
        core.set_position(show.ids["ep-2"], 5.0)
        core.set_played(show.ids["ep-2"])
    w = make_window()
    qtbot.wait(800)
    assert w.player.episode is None and w.now_label.text() == "Nothing playing"


def test_feed_speed_applies_when_its_episode_loads(qtbot, show, make_window, data_dir):  # noqa: F811
    eid = show.ids["ep-1"]
    with Core(data_dir) as core:
        fid = core.library.episode(eid).feed_id
        core.set_feed_speed(fid, 1.25)
    w = make_window()
    assert abs(w.bar.speed_combo.currentData() - 1.0) < 1e-9  # the global default before
    open_episode(qtbot, w, eid)
    w.play_at(5.0)
    wait_until(qtbot, lambda: abs(w.bar.speed_combo.currentData() - 1.25) < 1e-9, msg="feed speed not applied")
    wait_until(qtbot, lambda: abs(w.player.rate() - 1.25) < 0.01)
    # the listener lets the feed follow the default again
    w.bar.set_feed_speed(False)
    assert abs(w.bar.speed_combo.currentData() - 1.0) < 1e-9
    w.writer.flush()
    with Core(data_dir) as core:
        assert core.library.feed_speed(fid) is None


def test_drag_reorders_up_next(qtbot, file_server, data_dir, make_window):  # noqa: F811
    audio = sample_bytes()
    items = [dict(guid=f"d{i}", title=f"Drag talk {i}", url=file_server.add(f"/d{i}.mp3", audio),
                  length=len(audio), duration=40, notes=notes_for([(0, "Start")])) for i in (1, 2, 3)]
    url = file_server.add("/feed.xml", feed_xml(items), content_type="application/rss+xml")
    with Core(data_dir) as core:
        fid = core.subscribe(url).feed_id
        ids = {e.title: e.id for e in core.library.episodes(fid)}
        order = [ids["Drag talk 1"], ids["Drag talk 2"], ids["Drag talk 3"]]
        core.queue.play_last(order)
    w = make_window()
    w.upnext.reveal()
    v = w.upnext.view
    wait_until(qtbot, lambda: v.ids() == order)
    # drag the third row onto the top half of the first
    v.clearSelection()
    v.item(2).setSelected(True)
    mime = v.model().mimeData([v.model().index(2, 0)])
    top = v.visualItemRect(v.item(0))
    drop = QDropEvent(QPointF(top.center().x(), top.top() + 2), Qt.MoveAction, mime, Qt.LeftButton, Qt.NoModifier)
    v.dropEvent(drop)
    wanted = [order[2], order[0], order[1]]
    assert v.ids() == wanted  # the rows move at once
    w.writer.flush()
    with Core(data_dir) as core:
        assert core.queue.ids() == wanted  # and the queue service keeps the new order
    wait_until(qtbot, lambda: v.ids() == wanted and v.count() == 3)


def test_enter_on_a_queued_episode_plays_it_and_takes_it_out(qtbot, show, make_window, data_dir):  # noqa: F811
    first, second = show.ids["ep-1"], show.ids["ep-2"]
    w = make_window()
    w.upnext.play_last([second, first])
    v = w.upnext.view
    wait_until(qtbot, lambda: v.ids() == [second, first])
    v.setCurrentRow(0)
    v.setFocus()
    qtbot.keyClick(v, Qt.Key_Return)
    wait_until(qtbot, lambda: w.player.episode is not None and w.player.episode.id == second
               and w.player.state() == "playing", timeout=10)
    wait_until(qtbot, lambda: v.ids() == [first])
    # the pane's Up Next menu offers removal for a queued episode only
    open_episode(qtbot, w, first)
    w.pane._queue_menu_shown()
    assert w.pane.unqueue_action.isVisible()
    w.pane.unqueue_action.trigger()
    wait_until(qtbot, lambda: v.ids() == [])
    w.pane._queue_menu_shown()
    assert not w.pane.unqueue_action.isVisible()
