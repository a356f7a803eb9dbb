"""The downloader against hostile servers, full disks and concurrent
processes (issue 12), and the queue's completion contract (issue 8, defect 7).
Everything runs against the real misbehaving server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import threading
import time

from ibplayer.infra.downloader import DownloadQueue

try:
    from tests.httpfixtures import FileServer, file_server  # noqa: F401
except ImportError:  # tests/ not importable as a package
    from httpfixtures import FileServer, file_server  # noqa: F401

FAST = dict(backoff=0.01, timeout=5)


def payload(n: int, seed: int = 1) -> bytes:
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
        i += 1
    return bytes(out[:n])


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def wait_for(cond, timeout=5.0, step=0.01):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return False


# --------------------------------------------------------------------------
# defect 7: wait() and shutdown() return only after the callbacks ran


def test_wait_returns_only_after_the_done_callback_ran(file_server, tmp_path):
    data = payload(50_000)
    url = file_server.add("/w.mp3", data)
    finished: list[str] = []

    def on_done(job_id, path):
        time.sleep(0.3)  # e.g. reading the file's chapters, recording it
        finished.append(job_id)

    q = DownloadQueue(on_done=on_done, **FAST)
    try:
        q.add("w", url, tmp_path / "w.mp3")
        assert q.wait(timeout=10)
        assert finished == ["w"]  # the caller can rely on the result being recorded
    finally:
        q.shutdown()


def test_shutdown_returns_only_after_the_callbacks_ran(file_server, tmp_path):
    file_server.add("/fast.mp3", payload(20_000, seed=1))
    file_server.add("/slow.mp3", payload(400_000, seed=2), rate=200_000, piece=4096)
    started = threading.Event()
    events: list[tuple[str, str]] = []

    def on_done(job_id, path):
        started.set()
        time.sleep(0.3)
        events.append(("done", job_id))

    def on_paused(job_id):
        time.sleep(0.2)
        events.append(("paused", job_id))

    q = DownloadQueue(max_concurrent=2, on_done=on_done, on_paused=on_paused, **FAST)
    q.add("fast", file_server.url("/fast.mp3"), tmp_path / "fast.mp3")
    q.add("slow", file_server.url("/slow.mp3"), tmp_path / "slow.mp3")
    assert started.wait(10)  # "fast" finished; its callback is running
    q.shutdown(timeout=10)
    assert sorted(events) == [("done", "fast"), ("paused", "slow")]
    assert q.state("slow") == "paused"
