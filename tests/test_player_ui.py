"""The window's playback controls over the session (pytest-qt offscreen,
REAL libVLC with ``--aout=dummy``, a loopback feed, a library in tmp_path).
Fixtures come from test_ui.py."""

from __future__ import annotations

from httpfixtures import file_server  # noqa: F401 - fixture
from PySide6.QtCore import Qt
from test_ui import make_window, open_episode, show, wait_until  # noqa: F401 - fixtures


def test_pane_play_button_pauses_its_episode_and_follows_the_selection(qtbot, show, make_window):  # noqa: F811
    """Issue 8, defect 3."""
    w = make_window()
    open_episode(qtbot, w, show.ids["ep-1"])
    b = w.pane_play_button
    qtbot.mouseClick(b, Qt.LeftButton)
    wait_until(qtbot, lambda: w.player.state() == "playing" and b.text() == "Pause", msg=b.text())
    # the pane's button pauses the episode it shows
    qtbot.mouseClick(b, Qt.LeftButton)
    wait_until(qtbot, lambda: w.player.state() == "paused", msg=f"still {w.player.state()} after clicking Pause")
    assert b.text() == "Play"
    qtbot.mouseClick(b, Qt.LeftButton)
    wait_until(qtbot, lambda: w.player.state() == "playing" and b.text() == "Pause")
    # another episode in the pane: its button offers Play, and playback goes on
    open_episode(qtbot, w, show.ids["ep-2"])
    assert w.player.episode.id == show.ids["ep-1"] and w.player.state() == "playing"
    assert b.text() == "Play"
    # back to the playing one: Pause again
    open_episode(qtbot, w, show.ids["ep-1"])
    assert b.text() == "Pause"
    # Play on the other episode switches to it
    open_episode(qtbot, w, show.ids["ep-2"])
    qtbot.mouseClick(b, Qt.LeftButton)
    wait_until(qtbot, lambda: w.player.episode.id == show.ids["ep-2"] and w.player.state() == "playing")
    assert b.text() == "Pause"
