"""Off-GUI-thread helpers (after Picard's ``run_task`` / ``to_main``).

* :func:`run_task` runs ``func`` on a QThreadPool thread; its result or its
  exception comes back to the GUI thread through a queued signal.
* :func:`to_main` calls a function on the GUI thread from any thread.
* :class:`CoreWriter` serialises every write on one worker thread that owns
  its own :class:`~ibplayer.services.core.Core`: writes go through the
  services, and their `Changes` come back to the GUI thread.
* :func:`in_process` runs a service operation in a worker process.

Exceptions raised by callbacks on the GUI thread go to ``sys.excepthook`` (as
any Qt slot's would), so tests see them.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)


class _Dispatcher(QObject):
    """Lives on the GUI thread; a signal emitted from any thread is queued to it."""

    call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.call.connect(self._run)

    @Slot(object)
    def _run(self, packed) -> None:
        fn, args, kwargs = packed
        fn(*args, **kwargs)


_dispatcher: _Dispatcher | None = None
_pool: QThreadPool | None = None
_active = 0
_active_lock = threading.Lock()


def _get_dispatcher() -> _Dispatcher:
    global _dispatcher
    if _dispatcher is None:
        app = QCoreApplication.instance()
        if app is None:
            raise RuntimeError("no QApplication")
        _dispatcher = _Dispatcher()
        _dispatcher.moveToThread(app.thread())
    return _dispatcher


def init() -> None:
    """Create the dispatcher on the GUI thread (call once at start-up)."""
    _get_dispatcher()


def to_main(fn: Callable, *args: Any, **kwargs: Any) -> None:
    """Run ``fn(*args, **kwargs)`` on the GUI thread (queued, never inline)."""
    _get_dispatcher().call.emit((fn, args, kwargs))


def pool() -> QThreadPool:
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(4)
    return _pool


class _Task(QRunnable):
    def __init__(self, func, callback, error) -> None:
        super().__init__()
        self.func, self.callback, self.error = func, callback, error
        self.setAutoDelete(True)

    def run(self) -> None:
        global _active
        try:
            try:
                result = self.func()
            except Exception as exc:  # noqa: BLE001 - handed to the GUI thread
                exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
                if self.error is not None:
                    to_main(self.error, exc)
                else:
                    to_main(_unhandled, exc)
            else:
                if self.callback is not None:
                    to_main(self.callback, result)
        finally:
            with _active_lock:
                _active -= 1


def _unhandled(exc: BaseException) -> None:
    log.error("background task failed: %s", getattr(exc, "__traceback_text__", exc))
    sys.excepthook(type(exc), exc, exc.__traceback__)


def run_task(func: Callable[[], Any], callback: Callable[[Any], None] | None = None,
             error: Callable[[BaseException], None] | None = None) -> None:
    """Run ``func()`` off the GUI thread; then ``callback(result)`` or
    ``error(exception)`` on the GUI thread.  Without ``error``, an exception
    is reported through ``sys.excepthook``."""
    global _active
    _get_dispatcher()
    with _active_lock:
        _active += 1
    pool().start(_Task(func, callback, error))


def busy() -> bool:
    with _active_lock:
        return _active > 0


def wait_idle(timeout_ms: int = 10000) -> bool:
    """Block until the pool is idle (tests, shutdown)."""
    return pool().waitForDone(timeout_ms)


_worker_broken = False
_workers: set = set()
_workers_lock = threading.Lock()


def in_process(fallback: Callable[[], Any], *args: str) -> Callable[[], Any]:
    """A :func:`run_task` job running worker command ``args`` in a separate
    process (:mod:`ibplayer.services.worker`; from source and in a frozen
    bundle alike); ``fallback()`` (the same work in this thread) only where
    the process cannot start.  :func:`stop_processes` kills running ones."""

    def job():
        global _worker_broken
        from ibplayer.services.worker import WorkerFailed, WorkerProcess

        if not _worker_broken:
            proc = WorkerProcess(*args)
            with _workers_lock:
                _workers.add(proc)
            try:
                return proc.run()
            except WorkerFailed as exc:
                if str(exc) == "cancelled":
                    raise
                log.warning("worker process failed (%s); working in a thread instead", exc)
                _worker_broken = True
            finally:
                with _workers_lock:
                    _workers.discard(proc)
        return fallback()

    return job


def stop_processes() -> int:
    """Kill every running worker process (on quit: none keeps writing to the
    library after the window is gone; its transaction rolls back)."""
    with _workers_lock:
        procs = list(_workers)
    for p in procs:
        p.kill()
    return len(procs)


def library_task(data_dir: Path, fn: Callable[[Any], Any]) -> Callable[[], Any]:
    """Wrap ``fn(library)`` to run with a Library opened on the worker thread."""

    def job():
        from ibplayer.infra.store import Library

        lib = Library(data_dir)
        try:
            return fn(lib)
        finally:
            lib.close()

    return job


def core_task(data_dir: Path, fn: Callable[[Any], Any],
              on_changes: Callable[[Any], None] | None = None) -> Callable[[], Any]:
    """Wrap ``fn(core)`` to run with a Core opened on the worker thread; the
    `Changes` it emits go to ``on_changes`` on the GUI thread."""

    def job():
        from ibplayer.services.core import Core

        core = Core(data_dir)
        if on_changes is not None:
            core.events.subscribe(lambda ch: to_main(on_changes, ch))
        try:
            return fn(core)
        finally:
            core.close()

    return job


class CoreWriter:
    """One thread, one :class:`~ibplayer.services.core.Core`: every write the
    window makes goes through the services here, in submission order.

    ``submit(fn, callback=None)`` queues ``fn(core)``; ``callback(result)``
    then runs on the GUI thread.  Every `Changes` the services emit on this
    thread goes to ``on_changes`` on the GUI thread.  ``flush()`` waits until
    everything queued so far is written (used on quit)."""

    def __init__(self, data_dir: Path, on_changes: Callable[[Any], None] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.on_changes = on_changes
        self._q: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="ibplayer-db-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        core = None  # the services load with the first write, not while the window starts
        try:
            while True:
                item = self._q.get()
                if item is None:
                    self._q.task_done()
                    return
                fn, callback, error = item
                try:
                    if core is None:
                        from ibplayer.services.core import Core

                        core = Core(self.data_dir)
                        if self.on_changes is not None:
                            core.events.subscribe(lambda ch: to_main(self.on_changes, ch))
                    result = fn(core)
                except Exception as exc:  # noqa: BLE001
                    log.exception("database write failed")
                    to_main(error or _unhandled, exc)
                else:
                    if callback is not None:
                        to_main(callback, result)
                finally:
                    self._q.task_done()
        finally:
            if core is not None:
                core.close()

    def submit(self, fn: Callable[[Any], Any], callback: Callable[[Any], None] | None = None,
               error: Callable[[BaseException], None] | None = None) -> None:
        if self._thread.is_alive():
            self._q.put((fn, callback, error))

    def flush(self, timeout: float = 10.0) -> bool:
        done = threading.Event()
        self.submit(lambda core: done.set())
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join(timeout)
