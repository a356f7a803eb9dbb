"""A GUI-thread stall probe for benchmarks, also inside a frozen bundle
(``IBPLAYER_STALL_PROBE=result.json ibplayer --data-dir D``).

A 10 ms timer records the event loop's gaps from the first paint of the
episode list until the start-up refresh has finished (and the list shows its
new rows), then writes the figures as JSON and quits.  Nothing happens
unless the variable is set."""

from __future__ import annotations

import json
import os
import time

from PySide6.QtCore import QObject, QTimer

ENV = "IBPLAYER_STALL_PROBE"


class StallProbe(QObject):
    def __init__(self, window, out: str) -> None:
        super().__init__(window)
        self.w, self.out = window, out
        self.gaps: list[float] = []
        self.last = time.perf_counter()
        self.t0 = self.last
        self.rows: list[int] = []
        self.timer = QTimer(self, interval=10)
        self.timer.timeout.connect(self._tick)
        window.episodes_loaded.connect(self.rows.append)
        window.refreshed.connect(lambda _n: QTimer.singleShot(1500, self._finish))
        QTimer.singleShot(60000, self._finish)  # never hang a benchmark
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self.last) * 1000 - 10)
        self.last = now

    def _finish(self) -> None:
        if not self.timer.isActive():
            return
        self.timer.stop()
        g = sorted(self.gaps) or [0.0]
        with open(self.out, "w") as f:
            json.dump({"max": g[-1], "p99": g[int(0.99 * (len(g) - 1))], "ticks": len(g),
                       "seconds": time.perf_counter() - self.t0, "rows": self.rows[-1:] or [0],
                       "status": self.w.status_label.text()}, f)
        self.w.close()


def install(window) -> None:
    out = os.environ.get(ENV)
    if out:
        StallProbe(window, out)
