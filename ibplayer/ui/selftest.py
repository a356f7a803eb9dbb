"""The window step of `ibplayer selftest`: click chapters in an offscreen window."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from ibplayer.services.selftest import (
    EXPECTED_CHAPTERS,
    TOLERANCE,
    VLC_ARGS,
    StepFailed,
    _player_time,
    _prepare_library,
    _raw_vlc_time,
    _wait,
)


def versions() -> list[str]:
    lines = []
    try:
        import PySide6
        from PySide6 import QtCore

        lines.append(f"Qt:     {QtCore.qVersion()} (PySide6 {PySide6.__version__})")
    except Exception as exc:  # noqa: BLE001
        lines.append(f"Qt:     not available ({type(exc).__name__}: {exc})")
    return lines


def step_window(ctx: dict) -> str:
    chapters = ctx.get("chapters") or []
    if len(chapters) != EXPECTED_CHAPTERS:
        raise StepFailed("skipped: the sample's chapters could not be read")
    if sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM") \
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from ibplayer.ui.mainwindow import build_main_window

    tmp = Path(tempfile.mkdtemp(prefix="ibplayer-selftest-"))
    ctx["tmpdirs"].append(tmp)
    eid = _prepare_library(tmp, ctx["sample"], chapters)
    w = build_main_window(tmp, backend_args=VLC_ARGS, show=True, auto_refresh=False,
                          show_vlc_dialog=False, mpris=False)
    ctx.setdefault("cleanups", []).append(lambda: _close_window(w))
    app = QApplication.instance()

    def pump() -> None:
        app.processEvents()
        time.sleep(0.01)

    if not w.player.available:
        raise StepFailed(f"the window has no libVLC backend: {getattr(w.player.backend, 'reason', '?')}")
    if not _wait(lambda: w.episodes_model.rowCount() > 0, 10, pump):
        raise StepFailed("the episode list never loaded")
    if not w.select_episode(eid):
        raise StepFailed(f"cannot select episode {eid}")
    if not _wait(lambda: w.shown_episode is not None and w.shown_episode.id == eid, 10, pump):
        raise StepFailed("the episode pane never showed the sample episode")
    if not _wait(lambda: w.chapters_model.rowCount() == EXPECTED_CHAPTERS, 5, pump):
        raise StepFailed(f"the chapter sidebar shows {w.chapters_model.rowCount()} rows, expected {EXPECTED_CHAPTERS}")

    backend = w.player.backend
    results = []
    for row in (2, 1):
        start = chapters[row].start
        idx = w.chapters_model.index(row, 1)
        w.chapter_view.scrollTo(idx)
        rect = w.chapter_view.visualRect(idx)
        if not rect.isValid() or rect.isEmpty():
            raise StepFailed(f"chapter row {row} has no visible rectangle in the sidebar")
        QTest.mouseClick(w.chapter_view.viewport(), Qt.LeftButton, Qt.NoModifier, QPoint(rect.center()))

        def landed() -> bool:
            if w.player.state() != "playing":
                return False
            t = _raw_vlc_time(backend)
            return t is not None and start - 0.35 <= t <= start + TOLERANCE

        if not _wait(landed, 10, pump):
            raise StepFailed(f"click on chapter row {row} ({start:g} s): state {w.player.state()}, "
                             f"player time {_player_time(backend):.2f} s")
        t1 = _player_time(backend)
        if not _wait(lambda: _player_time(backend) > t1 + 0.2, 4, pump):
            raise StepFailed(f"click on chapter row {row}: playback did not continue from {start:g} s")
        t = _player_time(backend)
        _wait(lambda: w.highlighted_chapter() == row, 2, pump)
        hl = w.highlighted_chapter()
        if hl != row:
            raise StepFailed(f"clicked chapter row {row}, but row {hl} is highlighted (time {t:.2f} s)")
        results.append(f"row {row} -> {t:.2f} s, highlighted row {hl}")
    return "offscreen window (" + app.platformName() + "): clicked " + "; ".join(results)




def _close_window(w) -> None:
    from PySide6.QtWidgets import QApplication

    if not w._closed:
        w.close()
    app = QApplication.instance()
    if app is not None:
        app.processEvents()
