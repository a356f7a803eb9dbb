"""Downloads in the window: the same download service as the CLI (reserved
file names, the record after each download, deletion), with progress in the
episode list, the episode pane and the Downloads dock."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from .. import workers
from ..dialogs import ask
from ..models import DownloadsModel, EpisodeIdRole
from ..widgets import DownloadBarDelegate

log = logging.getLogger(__name__)


class _Bridge(QObject):
    """DownloadQueue callbacks come from worker threads: emit only."""

    progress = Signal(str, object)
    done = Signal(str, object)
    failed = Signal(str, str)
    cancelled = Signal(str)
    paused = Signal(str)


class DownloadsController(QObject):
    def __init__(self, w) -> None:
        super().__init__(w)
        self.w = w
        self.queue = None
        self._lock = threading.Lock()
        self.bridge = _Bridge(self)
        self.bridge.progress.connect(self._progress)
        self.bridge.done.connect(self._done)
        self.bridge.failed.connect(self._failed)
        self.bridge.cancelled.connect(lambda j: self._state(j, "cancelled"))
        self.bridge.paused.connect(lambda j: self._state(j, "paused"))

        self.model = DownloadsModel(w)
        v = self.view = QTreeView()
        v.setModel(self.model)
        v.setRootIsDecorated(False)
        v.setUniformRowHeights(True)
        v.setItemDelegateForColumn(2, DownloadBarDelegate(v))
        v.setContextMenuPolicy(Qt.CustomContextMenu)
        v.customContextMenuRequested.connect(self._menu)
        v.header().setSectionResizeMode(0, QHeaderView.Stretch)
        v.header().setStretchLastSection(False)
        v.header().resizeSection(2, 180)
        box = QWidget()
        bl = QVBoxLayout(box)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.setSpacing(2)
        row = QHBoxLayout()
        row.setContentsMargins(4, 2, 4, 0)
        self.retry_button = QPushButton("Retry failed")
        self.retry_button.clicked.connect(self.retry_failed)
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.clicked.connect(self.clear_finished)
        row.addStretch(1)
        row.addWidget(self.retry_button)
        row.addWidget(self.clear_button)
        bl.addLayout(row)
        bl.addWidget(v, 1)
        self.dock = QDockWidget("Downloads", w)
        self.dock.setObjectName("downloads")
        self.dock.setWidget(box)
        self._update_buttons()
        self.model.rowsInserted.connect(self._update_buttons)
        self.model.rowsRemoved.connect(self._rows_removed)
        self.model.dataChanged.connect(self._update_buttons)

    STALE_AFTER_MS = 20_000  # a finished download's row goes after this long

    # ------------------------------------------------------------ the dock

    def _update_buttons(self, *_args) -> None:
        self.retry_button.setEnabled(bool(self.model.ids("error")))
        self.clear_button.setEnabled(bool(self.model.ids("done", "cancelled", "error")))

    def _rows_removed(self, *_args) -> None:
        self._update_buttons()
        if self.model.rowCount() == 0:
            self.dock.hide()  # nothing to show: no empty dock

    def sync_visibility(self) -> None:
        """After the window state is restored: no empty dock."""
        if self.model.rowCount() == 0:
            self.dock.hide()

    def toggle(self) -> None:
        if self.dock.isVisible():
            self.dock.hide()
        elif self.model.rowCount():
            self.show_dock()
        else:
            self.w.set_status("No downloads.")

    def show_dock(self) -> None:
        """Show the dock, a few rows high (the episode list keeps the room)."""
        if self.dock.isVisible():
            return
        self.dock.show()
        rows = min(5, max(2, self.model.rowCount()))
        h = self.view.header().height() + rows * (self.view.fontMetrics().height() + 6) \
            + self.retry_button.sizeHint().height() + 12
        self.w.resizeDocks([self.dock], [h], Qt.Vertical)

    def clear_finished(self) -> None:
        """Drop the rows of finished, cancelled and failed downloads."""
        for eid in self.model.ids("done", "cancelled", "error"):
            self.model.remove(eid)

    def _drop_if_done(self, eid: int) -> None:
        job = self.model.job(eid)
        if job is not None and job["state"] == "done":
            self.model.remove(eid)

    def retry(self, eid: int) -> None:
        """Download a failed (or cancelled) episode again (resuming its .part)."""
        job = self.model.job(eid)
        if job is None or job["state"] not in ("error", "cancelled"):
            return
        self.w.read(lambda lib: lib.episode(eid), lambda ep: ep is not None and self.download(ep))

    def retry_failed(self) -> None:
        for eid in self.model.ids("error"):
            self.retry(eid)

    # ------------------------------------------------------------ the queue

    def _queue_maker(self):
        """A function (for a worker thread) that creates the DownloadQueue once:
        importing httpx and the downloader and the client's TLS set-up take
        ~150 ms, which the GUI thread must not spend."""
        b = self.bridge
        max_dl = int(self.w.prefs["max_downloads"])

        def make():
            with self._lock:
                if self.queue is None and not self.w.closed:
                    from ibplayer.infra.downloader import DownloadQueue

                    self.queue = DownloadQueue(
                        max_concurrent=max_dl,
                        on_progress=b.progress.emit, on_done=b.done.emit, on_error=b.failed.emit,
                        on_paused=b.paused.emit, on_cancelled=b.cancelled.emit,
                    )
                return self.queue

        return make

    def prepare(self) -> None:
        """At idle after start-up: create the queue in a worker (and import
        what a download and a refresh need there, not at the first click)."""
        if self.queue is not None or self.w.closed:
            return
        make = self._queue_maker()

        def job():
            make()
            import ibplayer.infra.audiofile  # noqa: F401 - read after each download
            import ibplayer.services.core  # noqa: F401 - each download's preparation and record

        workers.run_task(job, None, lambda exc: log.warning("preparing downloads: %s", exc))

    def _queue(self):
        if self.queue is None:
            self._queue_maker()()  # not prepared yet (a very early click): here then
        return self.queue

    def set_max_concurrent(self, n: int) -> None:
        if self.queue is not None:
            self.queue.set_max_concurrent(n)

    def shutdown(self) -> None:
        with self._lock:
            q = self.queue
        if q is not None:
            try:
                q.shutdown(timeout=5)  # pauses what runs: the .part files stay for a resume
            except Exception:  # noqa: BLE001
                log.exception("stopping downloads")

    # ------------------------------------------------------------ actions

    def is_downloading(self, eid: int) -> bool:
        job = self.model.job(eid)
        return bool(job and job["state"] in ("queued", "running", "preparing", "recording"))

    def download(self, ep, *, auto: bool = False) -> None:
        if ep is None or ep.file or self.is_downloading(ep.id):
            return
        self.model.upsert(ep.id, title=ep.title, state="preparing", fraction=None, message="", done=0, auto=auto)
        self.w.episodes.model.set_download(ep.id, 0.0)
        self.update_pane()
        eid, url, expected = ep.id, ep.audio_url, ep.audio_length
        make_queue = self._queue_maker()

        def reserve(core):
            make_queue()  # on the writer thread, not the GUI thread
            # the service picks (and remembers) the file name, so the CLI and
            # the app resume the same .part after a crash
            dest = core.downloads.path(eid, reserve=True)
            dest.parent.mkdir(parents=True, exist_ok=True)
            return dest

        def go(dest):
            job = self.model.job(eid)
            if job is None or job["state"] != "preparing":
                return  # cancelled meanwhile
            self.model.upsert(eid, state="queued", dest=str(dest))
            self._queue().add(str(eid), url, Path(dest), expected)

        self.w.write(reserve, go, lambda exc: self._failed(str(eid), str(exc)))
        self.w.set_status(f"Downloading “{ep.title}”…")

    def download_ids(self, ids: list[int]) -> None:
        """Queue episodes by id (the per-feed auto-download policy)."""
        if not ids:
            return

        def rows(lib):
            return [e for e in (lib.episode(i) for i in ids) if e is not None]

        self.w.read(rows, lambda eps: [self.download(e, auto=True) for e in eps])

    def cancel(self, eid: int) -> None:
        job = self.model.job(eid)
        if job is None:
            return
        if job["state"] == "preparing":
            self._state(str(eid), "cancelled")
        elif self.queue is not None:
            self.queue.cancel(str(eid))

    def delete(self, ep) -> None:
        if ep is not None and ep.file:
            eid = ep.id
            self.w.write(lambda core: core.downloads.delete(eid))  # keeps position and chapters

    def button_clicked(self) -> None:
        w = self.w
        ep = w.shown_episode
        if ep is None:
            return
        if self.is_downloading(ep.id):
            self.cancel(ep.id)
        elif ep.file:
            if ask(w, "Delete download", f"Delete the downloaded file of “{ep.title}”?"):
                self.delete(ep)
        else:
            self.download(ep)
            self.show_dock()

    # ------------------------------------------------------------ queue events

    def _progress(self, job_id: str, prog) -> None:
        eid = int(job_id)
        job = self.model.job(eid)
        if job is None or job["state"] not in ("queued", "running"):
            return  # a late report from the queue's thread after the job finished
        frac = prog.fraction
        self.model.upsert(eid, state="running", fraction=frac, done=prog.bytes_done, total=prog.total, speed=prog.speed)
        self.w.episodes.model.set_download(eid, frac if frac is not None else -1.0)
        if self.w.shown_episode is not None and self.w.shown_episode.id == eid:
            self.update_pane()

    def _done(self, job_id: str, path) -> None:
        eid = int(job_id)
        job = self.model.job(eid) or {}
        auto = bool(job.get("auto"))
        self.model.upsert(eid, state="recording", fraction=1.0)

        def recorded(_result):
            self.model.upsert(eid, state="done", fraction=1.0, message="")
            self.w.episodes.model.set_download(eid, None)
            self.w.set_status(f"Downloaded “{job.get('title', '')}”")
            self.update_pane()
            self.w.downloads_changed.emit(eid)
            QTimer.singleShot(self.STALE_AFTER_MS, lambda: self.w.closed or self._drop_if_done(eid))

        # file, size, real duration, the file's own chapters, the chapter file
        # and images cached, feed chapters re-checked: the service's one record
        self.w.run(lambda core: core.downloads.record(eid, path, auto=auto), recorded,
                   lambda exc: self._failed(job_id, f"could not record the download: {exc}"))

    def _failed(self, job_id: str, message: str) -> None:
        eid = int(job_id)
        self.model.upsert(eid, state="error", message=message)
        self.w.episodes.model.set_download(eid, None)
        self.w.set_status(f"Download failed: {message}")
        self.update_pane()

    def _state(self, job_id: str, state: str) -> None:
        eid = int(job_id)
        self.model.upsert(eid, state=state)
        self.w.episodes.model.set_download(eid, None)
        self.update_pane()

    # ------------------------------------------------------------ views

    def mark_rows(self) -> None:
        """Progress on the episode list's rows (after it reloads)."""
        for eid in self.model.active():
            job = self.model.job(eid)
            self.w.episodes.model.set_download(eid, job["fraction"] if job["fraction"] is not None else -1.0)
        # a row that arrives with its file already there (the list reloaded
        # between the record and its callback) shows no stale progress
        m = self.w.episodes.model
        active = set(self.model.active())
        for eid in [e for e in m._downloads if e not in active]:
            ep = m.episode_at(m.row_of(eid))
            if ep is not None and ep.file:
                m.set_download(eid, None)

    def update_pane(self) -> None:
        pane = self.w.pane
        ep = self.w.shown_episode
        if ep is None:
            return
        job = self.model.job(ep.id)
        # the library already has its file: the download is over, whichever of
        # the record's Changes and its callback reached this thread first
        if self.is_downloading(ep.id) and not (ep.file and job and job["state"] == "recording"):
            pane.download_button.setText("Cancel download")
            frac = job["fraction"]
            pane.progress.setRange(0, 1000 if frac is not None else 0)
            pane.progress.setValue(int((frac or 0) * 1000))
            pane.progress.show()
        else:
            pane.progress.hide()
            pane.download_button.setText("Delete download" if ep.file else "Download")
        pane.download_button.setToolTip(ep.file or "")

    def _menu(self, pos) -> None:
        idx = self.view.indexAt(pos)
        if not idx.isValid():
            return
        eid = idx.data(EpisodeIdRole)
        m = QMenu(self.w)
        if self.is_downloading(eid):
            m.addAction("Cancel", lambda: self.cancel(eid))
        elif (self.model.job(eid) or {}).get("state") in ("error", "cancelled"):
            m.addAction("Retry", lambda: self.retry(eid))
        m.addAction("Show episode", lambda: self.w.select_episode(eid))
        m.exec(self.view.viewport().mapToGlobal(pos))
