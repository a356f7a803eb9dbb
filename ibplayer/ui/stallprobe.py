"""A GUI-thread stall probe for benchmarks, also inside a frozen bundle
(``IBPLAYER_STALL_PROBE=result.json ibplayer --data-dir D``).

A 10 ms timer records the event loop's gaps from just after the episode
list's first paint with its rows (start-up itself, the window's first paint
included, is the cold-start benchmark's) until the
start-up refresh has finished and the list shows its new rows, then writes
the figures as JSON and quits.  Nothing happens
unless the variable is set."""

from __future__ import annotations

import json
import os
import time

from PySide6.QtCore import QEvent, QObject, QTimer

ENV = "IBPLAYER_STALL_PROBE"


class StallProbe(QObject):
    def __init__(self, window, out: str) -> None:
        super().__init__(window)
        self.w, self.out = window, out
        self.gaps: list[float] = []
        self.last = time.perf_counter()
        self.t0 = self.last
        self.rows: list[int] = []
        self.big: list[list] = []  # [ms since the start, gap ms] of the gaps over 30 ms
        self.events: list[list] = []  # [ms since the start, what]: the window's steps, to place the gaps
        self.done = False
        self.timer = QTimer(self, interval=10)
        self.timer.timeout.connect(self._tick)
        window.episodes_loaded.connect(self._loaded)
        window.player.backendReady.connect(lambda: self._event("libVLC ready"))
        window.refreshed.connect(lambda _n: self._event("refreshed"))
        window.refreshed.connect(lambda _n: QTimer.singleShot(1500, self._finish))
        QTimer.singleShot(60000, self._finish)  # never hang a benchmark

    def _event(self, what: str) -> None:
        self.events.append([time.perf_counter(), what])

    def _loaded(self, n: int) -> None:
        self.rows.append(n)
        self._event(f"list {n} rows")
        if len(self.rows) == 1:  # the first list is in: measure from just after it has painted
            self.w.episode_view.viewport().installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Paint and not self.timer.isActive():
            obj.removeEventFilter(self)
            self._event("list painted")
            QTimer.singleShot(0, self._start)
        return False

    def _start(self) -> None:
        self.last = self.t0 = time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = (now - self.last) * 1000 - 10
        self.gaps.append(gap)
        if gap > 30:
            self.big.append([round((self.last - self.t0) * 1000), round(gap)])
        self.last = now

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        self.timer.stop()
        g = sorted(self.gaps) or [0.0]
        with open(self.out, "w") as f:
            json.dump({"max": g[-1], "p99": g[int(0.99 * (len(g) - 1))], "ticks": len(g),
                       "seconds": time.perf_counter() - self.t0, "rows": self.rows[-1:] or [0],
                       "status": self.w.status_label.text(), "big": self.big,
                       "events": [[round((t - self.t0) * 1000), what] for t, what in self.events]}, f)
        self.w.close()


def install(window) -> None:
    out = os.environ.get(ENV)
    if out:
        StallProbe(window, out)
