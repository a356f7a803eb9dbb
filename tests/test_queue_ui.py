"""Up Next and "continue where I left off" in the window: pytest-qt
offscreen, real libVLC (--aout=dummy), the loopback server, a real library."""

from __future__ import annotations

from httpfixtures import file_server  # noqa: F401 - fixture
from PySide6.QtCore import Qt
from test_ui import make_window, open_episode, player_time, show  # noqa: F401 - fixtures
from ui_helpers import wait_until

from ibplayer.services.core import Core


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
