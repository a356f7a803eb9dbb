"""The worker process the window runs a refresh in: same entry point from
source and in a bundle, and it never outlives its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from httpfixtures import file_server  # noqa: F401 - fixture
from ui_helpers import feed_xml

from ibplayer.services.core import Core
from ibplayer.services.worker import WORKER_ARG, command


def test_worker_command_is_the_entry_point_itself(monkeypatch):
    assert command("refresh", "D")[-3:] == [WORKER_ARG, "refresh", "D"]
    assert command("x")[:3] == [sys.executable, "-m", "ibplayer"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # a PyInstaller bundle: the executable is ibplayer
    assert command("x") == [sys.executable, WORKER_ARG, "x"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_worker_exits_when_its_parent_is_killed(file_server, data_dir):  # noqa: F811
    url = file_server.add("/feed.xml", feed_xml([]), content_type="application/rss+xml")
    with Core(data_dir) as core:
        core.subscribe(url)
    file_server.add("/feed.xml", feed_xml([]), content_type="application/rss+xml", delay_headers=30)
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, threading, time\n"
         "from ibplayer.services.worker import WorkerProcess\n"
         f"p = WorkerProcess('refresh', {str(data_dir)!r})\n"
         "threading.Thread(target=p.run, daemon=True).start()\n"
         "while p._proc is None: time.sleep(0.01)\n"
         "print(p._proc.pid, flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the refresh worker outlived its killed parent"
    finally:
        parent.kill()
