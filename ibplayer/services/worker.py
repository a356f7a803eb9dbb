"""Run a service operation in a separate process (no Qt here).

Parsing a big feed runs long C calls that hold the GIL (the HTML sanitizer,
pydantic-core validation, regular expressions over whole documents: 50-130 ms
each on a slow machine); in a thread of the window's process each one
freezes the window for that long.  So the window runs a refresh in a fresh
process started from the same entry point (``ibplayer __worker__ refresh
DATA_DIR [FEED_IDS_JSON]``), which works from source and in a frozen bundle
alike (never a fork of the Qt process, and no re-run of the caller's main
module as multiprocessing's "spawn" would do).  The child writes to the
library itself and prints its pickled result on stdout.

The child watches its stdin: when the parent goes away (quit, crash, kill),
the pipe closes and the child exits at once, so no worker outlives the app
or keeps writing to the library after the window is gone.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

WORKER_ARG = "__worker__"


class WorkerFailed(RuntimeError):
    """The worker process could not run or answer (not an error of the work)."""


def command(*args: str) -> list[str]:
    """The command line that starts this program as a worker."""
    if getattr(sys, "frozen", False):  # the bundle's executable is the entry point
        return [sys.executable, WORKER_ARG, *args]
    return [sys.executable, "-m", "ibplayer", WORKER_ARG, *args]


class WorkerProcess:
    """One worker run; `kill()` may be called from any thread."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._killed = False

    def run(self) -> Any:
        """Start the worker, wait for its result and return it (or raise the
        work's exception).  Blocks without the GIL: call from a thread."""
        env = dict(os.environ)
        if not getattr(sys, "frozen", False):
            import ibplayer

            root = os.path.dirname(os.path.dirname(os.path.abspath(ibplayer.__file__)))
            env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        with self._lock:
            if self._killed:
                raise WorkerFailed("cancelled")
            try:
                self._proc = subprocess.Popen(command(*self.args), env=env, stdin=subprocess.PIPE,
                                              stdout=subprocess.PIPE)
            except OSError as exc:
                raise WorkerFailed(str(exc)) from exc
        # our end of the child's stdin stays open until it is done (closing
        # it, or our death, tells the child to stop)
        try:
            out = self._proc.stdout.read()
            self._proc.wait()
        finally:
            self._proc.stdin.close()
            self._proc.stdout.close()
        if self._killed:
            raise WorkerFailed("cancelled")
        try:
            status, value = pickle.loads(out)  # our own child's output
        except Exception as exc:  # noqa: BLE001
            raise WorkerFailed(f"worker process exited with {self._proc.returncode}") from exc
        if status == "error":
            raise value
        return value

    def kill(self) -> None:
        with self._lock:
            self._killed = True
            p = self._proc
        if p is not None and p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass


# ---------------------------------------------------------------- the child


def _refresh(data_dir: str, feed_ids: list[int] | None = None) -> list:
    from ibplayer.services.core import Core

    core = Core(data_dir)
    try:
        return core.refresh(feed_ids)
    finally:
        core.close()


COMMANDS: dict[str, Callable[[list[str]], Any]] = {
    "refresh": lambda a: _refresh(a[0], json.loads(a[1]) if len(a) > 1 else None),
}


def _exit_with_parent() -> None:
    """Exit as soon as the parent closes our stdin (it quit or died)."""

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(65536):
                pass
        except (OSError, ValueError):
            pass
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    try:
        os.nice(5)  # background work: the window's process gets the CPU first
    except (AttributeError, OSError):
        pass
    _exit_with_parent()
    out = sys.stdout.buffer
    try:
        result = ("ok", COMMANDS[argv[0]](argv[1:]))
    except Exception as exc:  # noqa: BLE001 - handed back to the parent
        try:
            pickle.dumps(exc)
            result = ("error", exc)
        except Exception:  # noqa: BLE001
            result = ("error", RuntimeError(f"{type(exc).__name__}: {exc}"))
    out.write(pickle.dumps(result))
    out.flush()
    # no interpreter teardown: the stdin watcher is blocked in a read, and
    # there is nothing left to clean up (the library is closed)
    os._exit(0)
