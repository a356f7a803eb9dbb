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


def test_window_refuses_a_file_enclosure_and_keeps_what_was_loaded(qtbot, show, make_window, data_dir):  # noqa: F811
    """Issue 12: an enclosure pointing at a local file is never handed to
    libVLC; the window says why and what was loaded stays as it was."""
    from ui_helpers import SAMPLE, feed_xml, notes_for

    from ibplayer.services.core import Core

    items = [dict(guid="local-1", title="Points at a local file", url=SAMPLE.as_uri(), length=1000,
                  notes=notes_for([(0.0, "Start"), (5.0, "More")]))]
    url = show.server.add("/hostile.xml", feed_xml(items, title="Hostile Show"), content_type="application/rss+xml")
    with Core(data_dir, timeout=5) as core:
        fid = core.subscribe(url).feed_id
        bad_id = core.library.episodes(fid)[0].id
    w = make_window()
    open_episode(qtbot, w, show.ids["ep-1"])
    qtbot.mouseClick(w.pane_play_button, Qt.LeftButton)
    wait_until(qtbot, lambda: w.player.state() == "playing")
    w.player.pause()
    wait_until(qtbot, lambda: w.player.state() == "paused")
    assert w.select_episode(bad_id)
    wait_until(qtbot, lambda: w.shown_episode is not None and w.shown_episode.id == bad_id)
    qtbot.mouseClick(w.pane_play_button, Qt.LeftButton)
    qtbot.wait(300)
    assert "refusing to stream" in w.status_label.text().lower(), w.status_label.text()
    # nothing else started either (the paused episode stays paused)
    assert w.player.episode.id == show.ids["ep-1"] and w.player.state() == "paused"
    assert w.player.source != SAMPLE.as_uri() and "file:" not in (w.player.backend._mrl or "")
    assert w.pane_play_button.text() == "Play"


def test_failed_start_leaves_nothing_loaded_and_no_highlight(qtbot, show, make_window, data_dir):  # noqa: F811
    """Issue 10 §7: a chapter click on an episode whose server answers 404
    says why, saves no position, moves no chapter highlight, and leaves
    nothing looking loaded."""
    from ibplayer.services.core import Core

    eid = show.ids["ep-2"]
    show.server.route("/slow.mp3").status = 404
    w = make_window()
    open_episode(qtbot, w, eid)
    click = w.chapters_model.index(2, 1)
    qtbot.mouseClick(w.chapter_view.viewport(), Qt.LeftButton, pos=w.chapter_view.visualRect(click).center())
    wait_until(qtbot, lambda: "HTTP 404" in w.status_label.text(), timeout=10, msg=w.status_label.text())
    wait_until(qtbot, lambda: w.player.episode is None)
    assert w.now_label.text() == "Nothing playing"
    assert w.highlighted_chapter() == -1
    assert not w.chapter_view.selectionModel().hasSelection()
    assert w.pane_play_button.text() == "Play"
    assert w.windowTitle() == "ibplayer" and w.elapsed_label.text() == "0:00"
    w.close()
    with Core(data_dir) as core:
        ep = core.library.episode(eid)
    assert ep.position == 0.0 and not ep.played


def test_libvlc_starts_at_the_first_playback_call_with_what_was_set_before():
    """The window starts libVLC after its first paint: speed, volume and mute
    chosen before then are what the real player gets, and a window closed
    before it was needed never starts libVLC at all."""
    from pathlib import Path

    from ibplayer.infra import vlcloader
    from ibplayer.infra.playback import NullBackend, VlcBackend, create_backend
    from ibplayer.ui.player import DeferredBackend

    assert vlcloader.load_vlc() is not None, f"libVLC is required: {vlcloader.load_error}"
    made = []

    def factory():
        made.append(create_backend(("--aout=dummy",)))
        return made[-1]

    d = DeferredBackend(factory)
    d.set_rate(1.5)
    d.set_volume(40)
    d.set_mute(True)
    assert not made and d.state() == "stopped" and d.time() == 0.0 and d.length() is None
    assert (d.rate(), d.volume(), d.is_muted()) == (1.5, 40, True)
    sample = Path(__file__).resolve().parents[1] / "resources" / "sample-episode.mp3"
    d.load(str(sample), 8.0)  # real playback: libVLC now
    assert len(made) == 1 and isinstance(made[0], VlcBackend)
    real = made[0]
    assert (real.rate(), real.volume(), real.is_muted()) == (1.5, 40, True)
    assert d.listener_errors is real.listener_errors and d.pending_seek == real.pending_seek
    assert d.realize() is real  # once
    d.release()

    closed = DeferredBackend(factory)
    closed.release()
    assert isinstance(closed.realize(), NullBackend) and len(made) == 1
