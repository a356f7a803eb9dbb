"""Downloads from two processes at once, and a full disk, through the real
`ibplayer` CLI and Core against the loopback server (issue 12)."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time

from conftest import ROOT, run_cli
from test_download_cli import SAMPLE, exported, feed_folder, item, rss, subscribe

try:
    from tests.httpfixtures import FileServer, file_server  # noqa: F401
except ImportError:  # tests/ not importable as a package
    from httpfixtures import FileServer, file_server  # noqa: F401


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_same_episode_in_two_processes_says_already_being_downloaded(file_server, data_dir):
    srv = file_server
    srv.add("/audio/ep1.mp3", SAMPLE, rate=40_000, piece=2048)  # a few seconds
    ids = subscribe(srv, data_dir, item(srv, 1))
    eid = ids["Episode 1: Talk number 1"]
    part = feed_folder(data_dir) / "Episode 1 - Talk number 1.mp3.part"
    cmd = [sys.executable, "-m", "ibplayer", "--data-dir", str(data_dir), "download", eid]
    first = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not (part.exists() and part.stat().st_size >= 20_000):
            assert time.monotonic() < deadline, "the first download never got going"
            time.sleep(0.02)
        second = run_cli("download", eid, data_dir=data_dir)
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert second.returncode != 0
    assert "already being downloaded" in second.stderr and "Traceback" not in second.stderr
    assert first.returncode == 0, err
    final = feed_folder(data_dir) / "Episode 1 - Talk number 1.mp3"
    assert sha(final.read_bytes()) == sha(SAMPLE)
    assert exported(data_dir, eid)["downloaded"] is True
    assert sorted(p.name for p in feed_folder(data_dir).iterdir()) == [final.name]


RESERVE = r"""
import sys, time
from ibplayer.services.core import Core
data_dir, start, ids = sys.argv[1], float(sys.argv[2]), [int(x) for x in sys.argv[3].split(",")]
with Core(data_dir) as core:
    core.library.episodes()
    while time.time() < start:
        time.sleep(0.0005)
    for i in ids:
        print(core.download_path(i, reserve=True), flush=True)
"""


def test_same_title_episodes_never_get_the_same_file_name_across_processes(file_server, data_dir):
    srv = file_server
    same = "".join(
        f"""<item><title>Weekly news</title><guid>same-{n}</guid>
        <pubDate>Mon, 01 Jan 2024 10:{n:02d}:00 +0000</pubDate>
        <enclosure url="{srv.url(f'/a/{n}.mp3')}" length="1000" type="audio/mpeg"/></item>"""
        for n in range(36)
    )
    srv.add("/feed.xml", rss(same), content_type="application/rss+xml")
    assert run_cli("subscribe", srv.url("/feed.xml"), data_dir=data_dir).returncode == 0
    from ibplayer.services.core import Core

    with Core(data_dir) as core:
        ids = [e.id for e in core.library.episodes()]
    assert len(ids) == 36
    start = time.time() + 1.5  # all three processes reserve at the same moment
    procs = [
        subprocess.Popen([sys.executable, "-c", RESERVE, str(data_dir), str(start),
                          ",".join(str(i) for i in ids[k::3])],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in range(3)
    ]
    paths = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        paths += out.splitlines()
    with Core(data_dir) as core:
        stored = [core.library.download_state(i)[0] for i in ids]
    assert len(stored) == len(set(stored)) == 36  # every episode its own file name
    assert sorted(stored) == sorted(paths)


def test_ctrl_c_against_a_stalled_server_stops_at_once_and_keeps_the_part(file_server, data_dir):
    srv = file_server
    srv.add("/audio/ep1.mp3", SAMPLE, rate=1_000, piece=64_000)  # 64 KB, then a long stall
    ids = subscribe(srv, data_dir, item(srv, 1))
    eid = ids["Episode 1: Talk number 1"]
    part = feed_folder(data_dir) / "Episode 1 - Talk number 1.mp3.part"
    cmd = [sys.executable, "-m", "ibplayer", "--data-dir", str(data_dir), "download", eid]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not (part.exists() and part.stat().st_size >= 64_000):
            assert time.monotonic() < deadline, "the download never got going"
            time.sleep(0.02)
        time.sleep(0.3)  # blocked on the stalled socket now
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and "partial downloads are kept" in err
    assert took < 2.5  # not the read timeout, nor the queue's 5 s shutdown wait
    assert part.stat().st_size == 64_000
    srv.route("/audio/ep1.mp3").rate = None
    r = run_cli("download", eid, data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    assert sha((feed_folder(data_dir) / "Episode 1 - Talk number 1.mp3").read_bytes()) == sha(SAMPLE)
    assert srv.requests_for("/audio/ep1.mp3")[-1].range == "bytes=64000-"


def test_html_error_page_is_not_saved_as_the_episode(file_server, data_dir):
    srv = file_server
    srv.add("/audio/ep1.mp3", b"<html><body>Rate limited. Try later.</body></html>",
            content_type="text/html")
    ids = subscribe(srv, data_dir, item(srv, 1, length=20_000_000))
    eid = ids["Episode 1: Talk number 1"]
    r = run_cli("download", eid, data_dir=data_dir)
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("ibplayer: error:")]
    assert len(errors) == 1 and "web page" in errors[0] and eid in errors[0]
    assert exported(data_dir, eid)["downloaded"] is False
    assert not feed_folder(data_dir).exists() or list(feed_folder(data_dir).iterdir()) == []
