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


def _downloaded_episode_with_chapters(data_dir, eid: int, folder, seconds: int, starts: list[int]) -> str:
    """Make ``eid`` a downloaded episode: an MP3 made by ffmpeg (a LAME
    file, 22.05 kHz mono 32 kb/s, like a spoken-word podcast) with ID3
    chapters, recorded as the episode's file with its duration."""
    import shutil
    import subprocess

    from ibplayer.infra.audiofile import read_audio_info, write_id3_chapters
    from ibplayer.infra.store import Library

    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is needed to make the test audio"
    mp3 = folder / "downloaded.mp3"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency=300:duration={seconds}",
                    "-ac", "1", "-ar", "22050", "-c:a", "libmp3lame", "-b:a", "32k", str(mp3)], check=True)
    ends = starts[1:] + [seconds]
    write_id3_chapters(mp3, [(s, e, f"Part {i + 1}") for i, (s, e) in enumerate(zip(starts, ends, strict=True))])
    info = read_audio_info(mp3)
    lib = Library(data_dir)
    try:
        lib.replace_chapters(eid, info.source, info.chapters)
        lib.set_file(eid, str(mp3), size=mp3.stat().st_size, duration=info.duration)
        lib.set_chapter_source(eid, info.source)
    finally:
        lib.close()
    return str(mp3)


def test_a_chapter_click_that_libvlc_ends_at_once_still_plays_at_the_chapter(
        qtbot, show, make_window, data_dir, tmp_path):  # noqa: F811
    """A chapter click on a downloaded episode is never lost.  libVLC 3 seeks
    an MP3 by a bitrate it guesses from the first frame it read; a jump it
    applies in the very first moments of playback can use the guess of the
    LAME Info frame (56 kb/s here, for a 32 kb/s file: 274 s of a 480 s
    file) and end the media at once.  That is a race with libVLC's thread;
    here libVLC is made to apply the jump that early (its own set_time while
    the file is still opening), so the race is lost every time.  The player
    must still end up playing at the chapter, with no error."""
    eid = show.ids["ep-1"]
    _downloaded_episode_with_chapters(data_dir, eid, tmp_path, 480, [0, 120, 360])
    w = make_window()
    open_episode(qtbot, w, eid, chapters=3)
    assert w.chapters_model.chapters()[2].start == 360.0
    idx = w.chapters_model.index(2, 1)
    w.chapter_view.scrollTo(idx)
    qtbot.mouseClick(w.chapter_view.viewport(), Qt.LeftButton, pos=w.chapter_view.visualRect(idx).center())
    assert w.player.episode is not None and w.player.episode.id == eid and w.player.session.is_local
    vlc = w.player.backend  # the real libVLC backend (the click's load created it at once if need be)
    mp, S = vlc._player, vlc._vlc.State
    mp.set_time(360_000)  # libVLC applies the jump before it has read the audio

    def at_chapter() -> bool:
        return (mp.get_state() == S.Playing and w.player.state() == "playing"
                and 359.5 <= mp.get_time() / 1000.0 <= 362.0)

    qtbot.waitUntil(at_chapter, timeout=10_000)
    assert w.player.last_error() is None, w.player.last_error()
    assert w.highlighted_chapter() == 2
    assert "Could not jump" not in w.status_label.text()


def test_libvlc_warms_up_after_start_up_without_playing_or_loading_anything(qtbot, show, make_window):  # noqa: F811
    """After the first paint the window creates libVLC on a pool thread and
    warms it up (a small shipped file parsed, so the first chapter click
    does not wait for libVLC's MP3 plugins): nothing plays, nothing is
    loaded, and the first click then plays at its chapter."""
    from ibplayer.ui.player import DeferredBackend

    w = make_window()
    states: list[str] = []
    w.player.stateChanged.connect(states.append)
    qtbot.waitUntil(lambda: not isinstance(w.player.backend, DeferredBackend), timeout=10_000)
    real = w.player.backend
    assert states == [] and real.state() == "stopped" and real._media is None and w.player.episode is None
    assert real._player.get_state() == real._vlc.State.NothingSpecial  # the player itself never opened a file
    open_episode(qtbot, w, show.ids["ep-1"])
    idx = w.chapters_model.index(2, 1)
    qtbot.mouseClick(w.chapter_view.viewport(), Qt.LeftButton, pos=w.chapter_view.visualRect(idx).center())
    mp, S = real._player, real._vlc.State
    qtbot.waitUntil(lambda: mp.get_state() == S.Playing and 17.5 <= mp.get_time() / 1000.0 <= 20.0, timeout=10_000)
