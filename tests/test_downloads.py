"""The download engine against a real (misbehaving) HTTP server on loopback."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ibplayer import __version__
from ibplayer.infra.downloader import (
    USER_AGENT,
    DownloadCancelled,
    DownloadError,
    DownloadPaused,
    DownloadQueue,
    Progress,
    download_file,
    feed_dirname,
    part_paths,
    safe_filename,
)

try:
    from tests.httpfixtures import FileServer, file_server, payload, wait_for  # noqa: F401
except ImportError:  # tests/ not importable as a package
    from httpfixtures import FileServer, file_server, payload, wait_for  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
FAST = dict(backoff=0.01, timeout=5)


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def file_sha(p: Path) -> str:
    return sha(p.read_bytes())


def leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.parent.iterdir())


# --------------------------------------------------------------------------
# plain and misbehaving servers


def test_download_goes_through_the_proxy_the_system_names(file_server, tmp_path, monkeypatch):
    """A user behind a proxy (HTTP_PROXY) downloads through it, as feeds are
    fetched: the episode's host is reached only via the loopback 'proxy'."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", file_server.url(""))
    monkeypatch.setenv("http_proxy", file_server.url(""))
    data = payload(200_000)
    remote = "http://93.184.215.14/show/ep.mp3"  # a public address: reachable here only through the proxy
    file_server.add(remote, data)
    dest = tmp_path / "ep.mp3"
    assert download_file(remote, dest, expected_length=len(data), retries=0, backoff=0.01, timeout=3) == dest
    assert dest.read_bytes() == data
    assert file_server.requests_for(remote)


def test_plain_download_progress_and_user_agent(file_server, tmp_path):
    data = payload(300_000)
    url = file_server.add("/ep.mp3", data)
    seen: list[Progress] = []
    dest = tmp_path / "ep.mp3"
    assert download_file(url, dest, progress=seen.append, expected_length=len(data)) == dest
    assert file_sha(dest) == sha(data)
    assert leftovers(dest) == ["ep.mp3"]  # no .part, no sidecar
    req = file_server.requests_for("/ep.mp3")
    assert len(req) == 1 and req[0].range is None
    assert req[0].headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith(f"ibplayer/{__version__} (+https://")
    assert seen and seen[-1].bytes_done == len(data) and seen[-1].total == len(data)
    assert seen[-1].eta == 0 or seen[-1].eta is not None


def test_connection_cut_midway_resumes_with_range(file_server, tmp_path):
    data = payload(500_000)
    url = file_server.add("/cut.mp3", data, cut_after=123_457, cut_times=2)
    dest = tmp_path / "cut.mp3"
    download_file(url, dest, **FAST)
    assert file_sha(dest) == sha(data)
    req = file_server.requests_for("/cut.mp3")
    assert req[0].range is None
    assert req[1].range == "bytes=123457-"
    assert req[1].if_range  # validator sent along
    assert req[2].range == f"bytes={2 * 123_457}-"
    assert req[2].status == 206
    assert leftovers(dest) == ["cut.mp3"]


def test_500_then_200_is_retried(file_server, tmp_path):
    data = payload(10_000)
    url = file_server.add("/flaky.mp3", data, fail_statuses=[500, 503])
    dest = tmp_path / "flaky.mp3"
    download_file(url, dest, **FAST)
    assert file_sha(dest) == sha(data)
    assert [r.status for r in file_server.requests_for("/flaky.mp3")] == [500, 503, 200]


def test_persistent_500_gives_clear_error_after_bounded_retries(file_server, tmp_path):
    url = file_server.add("/down.mp3", b"x", status=502)
    dest = tmp_path / "down.mp3"
    with pytest.raises(DownloadError) as ei:
        download_file(url, dest, retries=2, backoff=0.01)
    msg = str(ei.value)
    assert "HTTP 502" in msg and "3 attempts" in msg and "\n" not in msg
    assert len(file_server.requests_for("/down.mp3")) == 3
    assert not dest.exists()


def test_404_is_not_retried_and_leaves_nothing(file_server, tmp_path):
    url = file_server.add("/gone.mp3", status=404)
    dest = tmp_path / "sub" / "gone.mp3"
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(url, dest, **FAST)
    assert len(file_server.requests_for("/gone.mp3")) == 1
    assert leftovers(dest) == []


def test_short_body_is_never_a_complete_file_then_resumes(file_server, tmp_path):
    data = payload(200_000)
    # first response: Content-Length says 5000 more than it sends, then closes
    url = file_server.add("/short.mp3", data, extra_length=5000, extra_length_times=1)
    dest = tmp_path / "short.mp3"
    download_file(url, dest, **FAST)
    assert file_sha(dest) == sha(data)
    req = file_server.requests_for("/short.mp3")
    assert len(req) == 2 and req[1].range == f"bytes={len(data)}-"
    # the resume asked past the real end: 416 "bytes */200000" → the .part
    # already holds the whole (real) file, so it is finished, not refetched
    assert req[1].status == 416


def test_always_short_body_fails_and_no_final_file(file_server, tmp_path):
    data = payload(50_000)
    url = file_server.add("/liar.mp3", data, extra_length=1000, ignore_range=True)
    dest = tmp_path / "liar.mp3"
    with pytest.raises(DownloadError, match="closed early"):
        download_file(url, dest, retries=2, backoff=0.01)
    assert not dest.exists()
    assert len(file_server.requests_for("/liar.mp3")) == 3


def test_server_ignoring_range_restarts_from_zero(file_server, tmp_path):
    data = payload(300_000)
    url = file_server.add("/norange.mp3", data, ignore_range=True, cut_after=100_000)
    dest = tmp_path / "norange.mp3"
    download_file(url, dest, **FAST)
    assert file_sha(dest) == sha(data)
    req = file_server.requests_for("/norange.mp3")
    assert req[1].range == "bytes=100000-" and req[1].status == 200
    assert dest.stat().st_size == len(data)  # not 100_000 + 300_000


def test_changed_file_on_server_restarts_cleanly(file_server, tmp_path):
    old, new = payload(100_000, seed=1), payload(120_000, seed=2)
    url = file_server.add("/v.mp3", old, cut_after=40_000, cut_times=1)
    dest = tmp_path / "v.mp3"
    with pytest.raises(DownloadError):
        download_file(url, dest, retries=0)
    assert part_paths(dest)[0].stat().st_size == 40_000
    file_server.add("/v.mp3", new)  # new ETag: If-Range fails → 200
    download_file(url, dest, **FAST)
    assert file_sha(dest) == sha(new)
    last = file_server.requests_for("/v.mp3")[-1]
    assert last.range == "bytes=40000-" and last.status == 200


def test_416_with_complete_part_finishes(file_server, tmp_path):
    data = payload(60_000)
    url = file_server.add("/done.mp3", data)
    dest = tmp_path / "done.mp3"
    part, sidecar = part_paths(dest)
    part.write_bytes(data)  # killed after the last byte, before the rename;
    etag = '"' + sha(data)[:16] + '"'  # the loopback server's ETag for it
    sidecar.write_text(json.dumps({"url": url, "total": None, "etag": etag}))  # total unknown
    download_file(url, dest, **FAST)
    assert file_sha(dest) == sha(data)
    req = file_server.requests_for("/done.mp3")
    assert req[0].range == f"bytes={len(data)}-" and req[0].status == 416
    assert leftovers(dest) == ["done.mp3"]


def test_416_with_incomplete_part_restarts(file_server, tmp_path):
    data = payload(60_000)
    url = file_server.add("/r416.mp3", data, always_416=True, cut_after=20_000, cut_times=1)
    dest = tmp_path / "r416.mp3"
    download_file(url, dest, **FAST)
    assert file_sha(dest) == sha(data)
    assert [(r.range is not None, r.status) for r in file_server.requests_for("/r416.mp3")] == [
        (False, 200), (True, 416), (False, 200)]


def test_redirects_are_followed(file_server, tmp_path):
    data = payload(40_000)
    file_server.add("/real.mp3", data)
    file_server.add("/moved.mp3", redirect_to="/real.mp3", redirect_status=301)
    url = file_server.add("/track.mp3", redirect_to="/moved.mp3", redirect_status=302)
    dest = tmp_path / "x.mp3"
    download_file(url, dest, **FAST)
    assert file_sha(dest) == sha(data)
    assert [r.path for r in file_server.log] == ["/track.mp3", "/moved.mp3", "/real.mp3"]


def test_timeout_is_honoured(file_server, tmp_path):
    url = file_server.add("/stall.mp3", b"x" * 100, delay_headers=3)
    dest = tmp_path / "stall.mp3"
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match="timed out"):
        download_file(url, dest, timeout=0.3, retries=1, backoff=0.01)
    assert time.monotonic() - t0 < 2
    assert len(file_server.requests_for("/stall.mp3")) == 2
    assert not dest.exists()


def test_non_http_urls_rejected(tmp_path):
    for url in ("file:///etc/passwd", "ftp://example.com/a.mp3", "javascript:alert(1)", ""):
        with pytest.raises(DownloadError, match="only http/https"):
            download_file(url, tmp_path / "a.mp3")
    assert list(tmp_path.iterdir()) == []


def test_not_enough_disk_space_fails_before_writing(file_server, tmp_path):
    url = file_server.add("/big.mp3", payload(1000))
    dest = tmp_path / "big.mp3"
    with pytest.raises(DownloadError, match=r"^not enough disk space: need [\d.]+ MB, [\d.]+ MB free$"):
        download_file(url, dest, min_free_bytes=10**18)
    assert file_server.log == []  # nothing was even requested
    assert list(tmp_path.iterdir()) == []


def test_disk_space_checked_against_server_length_before_writing(file_server, tmp_path,
                                                                monkeypatch):
    import ibplayer.infra.downloader as dl

    url = file_server.add("/fat.mp3", payload(50_000))
    real = dl.shutil.disk_usage
    monkeypatch.setattr(dl.shutil, "disk_usage",
                        lambda p: real(p)._replace(free=20_000))  # a nearly full disk
    with pytest.raises(DownloadError, match="need 0.1 MB, 0.0 MB free"):
        download_file(url, tmp_path / "fat.mp3", min_free_bytes=10_000)
    assert len(file_server.requests_for("/fat.mp3")) == 1  # asked for the size, no retry
    assert list(tmp_path.iterdir()) == []


def test_expected_length_disagreeing_with_server_trusts_server(file_server, tmp_path, caplog):
    data = payload(30_000)
    url = file_server.add("/bogus.mp3", data)
    dest = tmp_path / "bogus.mp3"
    download_file(url, dest, expected_length=10**15)  # feed lies (1 PB): not a disk error
    assert file_sha(dest) == sha(data)
    assert "trusting the server" in caplog.text


def test_without_server_length_a_short_body_vs_feed_length_is_retried(file_server, tmp_path):
    data = payload(30_000)
    url = file_server.add("/nolen.mp3", data, no_length=True, cut_after=10_000, cut_times=1,
                          ignore_range=True)
    dest = tmp_path / "nolen.mp3"
    download_file(url, dest, expected_length=len(data), **FAST)
    assert file_sha(dest) == sha(data)
    assert len(file_server.requests_for("/nolen.mp3")) == 2


# --------------------------------------------------------------------------
# slow server: final name, cancel, pause/resume


def test_final_name_never_exists_until_complete(file_server, tmp_path):
    data = payload(200_000)
    url = file_server.add("/slow.mp3", data, rate=400_000, piece=8192)
    dest = tmp_path / "slow.mp3"
    observed = []

    def on_progress(p: Progress):
        observed.append((p.bytes_done, dest.exists(), part_paths(dest)[0].exists()))

    download_file(url, dest, progress=on_progress)
    assert file_sha(dest) == sha(data)
    during = [o for o in observed if o[0] < len(data)]
    assert len(during) >= 3  # progress was reported during the download...
    assert all(not final and part for _, final, part in during)  # ...as a .part only
    # throttled to ~10/s (0.5 s download, 25 chunks → a handful of reports)
    assert len(observed) < 12


def test_cancel_midway_deletes_part(file_server, tmp_path):
    url = file_server.add("/slow.mp3", payload(400_000), rate=400_000)
    dest = tmp_path / "slow.mp3"
    cancel = threading.Event()

    def on_progress(p: Progress):
        if p.bytes_done > 50_000:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        download_file(url, dest, progress=on_progress, cancel=cancel)
    assert leftovers(dest) == []


def test_pause_then_resume_continues_from_part(file_server, tmp_path):
    data = payload(300_000)
    url = file_server.add("/slow.mp3", data, rate=600_000)
    dest = tmp_path / "slow.mp3"
    pause = threading.Event()

    def on_progress(p: Progress):
        if p.bytes_done > 60_000:
            pause.set()

    with pytest.raises(DownloadPaused):
        download_file(url, dest, progress=on_progress, pause=pause)
    part, sidecar = part_paths(dest)
    done = part.stat().st_size
    assert 60_000 < done < len(data) and sidecar.exists() and not dest.exists()

    file_server.route("/slow.mp3").rate = None
    download_file(url, dest)
    assert file_sha(dest) == sha(data)
    last = file_server.requests_for("/slow.mp3")[-1]
    assert last.range == f"bytes={done}-" and last.status == 206


def test_sigkilled_process_resumes_on_next_run(file_server, tmp_path):
    data = payload(600_000)
    url = file_server.add("/kill.mp3", data, rate=300_000, piece=8192)
    dest = tmp_path / "kill.mp3"
    part, sidecar = part_paths(dest)
    code = (
        "import sys; from pathlib import Path; from ibplayer.infra.downloader import download_file; "
        "download_file(sys.argv[1], Path(sys.argv[2]))"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", code, url, str(dest)], cwd=REPO, env=env)
    try:
        assert wait_for(lambda: part.exists() and part.stat().st_size > 100_000, timeout=10)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not dest.exists() and sidecar.exists()
    had = part.stat().st_size
    assert 0 < had < len(data)

    file_server.route("/kill.mp3").rate = None
    proc = subprocess.run([sys.executable, "-c", code, url, str(dest)], cwd=REPO, env=env,
                          timeout=30)
    assert proc.returncode == 0
    assert file_sha(dest) == sha(data)
    last = file_server.requests_for("/kill.mp3")[-1]
    assert last.range == f"bytes={had}-" and last.if_range and last.status == 206
    assert leftovers(dest) == ["kill.mp3"]


# --------------------------------------------------------------------------
# the queue


def test_queue_limits_concurrency_and_reports(file_server, tmp_path):
    files = {f"/q{i}.mp3": payload(60_000, seed=i) for i in range(5)}
    for path, data in files.items():
        file_server.add(path, data, rate=400_000, piece=8192)
    progress: dict[str, list[Progress]] = {}
    done: dict[str, Path] = {}
    lock = threading.Lock()

    def on_progress(job_id, p):
        with lock:
            progress.setdefault(job_id, []).append(p)

    def on_done(job_id, path):
        with lock:
            done[job_id] = path

    q = DownloadQueue(max_concurrent=2, on_progress=on_progress, on_done=on_done,
                      on_error=lambda j, m: pytest.fail(f"{j}: {m}"))
    try:
        for path in files:
            q.add(path, file_server.url(path), tmp_path / path.lstrip("/"))
        assert q.wait(timeout=20)
    finally:
        q.shutdown()
    assert file_server.max_active == 2
    assert set(done) == set(files)
    for path, data in files.items():
        assert file_sha(done[path]) == sha(data)
        assert progress[path][-1].bytes_done == len(data)


def test_queue_cancel_pause_resume_and_errors(file_server, tmp_path):
    data = payload(300_000)
    file_server.add("/a.mp3", data, rate=300_000, piece=8192)
    file_server.add("/b.mp3", data, rate=300_000, piece=8192)
    file_server.add("/missing.mp3", status=404)
    events: list[tuple] = []
    lock = threading.Lock()

    def rec(*a):
        with lock:
            events.append(a)

    q = DownloadQueue(
        max_concurrent=1,
        on_progress=lambda j, p: rec("progress", j, p.bytes_done),
        on_done=lambda j, p: rec("done", j),
        on_error=lambda j, m: rec("error", j, m),
        on_paused=lambda j: rec("paused", j),
        on_cancelled=lambda j: rec("cancelled", j),
        **FAST,
    )
    try:
        q.add("a", file_server.url("/a.mp3"), tmp_path / "a.mp3")
        q.add("b", file_server.url("/b.mp3"), tmp_path / "b.mp3")
        q.add("m", file_server.url("/missing.mp3"), tmp_path / "m.mp3")
        with pytest.raises(ValueError):
            q.add("a", file_server.url("/a.mp3"), tmp_path / "a.mp3")
        q.pause("b")  # still queued → paused without starting
        assert q.state("b") == "paused"
        assert wait_for(lambda: any(e[:2] == ("progress", "a") and e[2] > 30_000 for e in events))
        q.pause("a")
        assert wait_for(lambda: q.state("a") == "paused")
        assert part_paths(tmp_path / "a.mp3")[0].exists()
        q.cancel("b")  # paused → cancelled
        assert q.state("b") == "cancelled"
        file_server.route("/a.mp3").rate = None
        q.resume("a")
        assert q.wait(timeout=20)
    finally:
        q.shutdown()
    assert q.state("a") == "done" and file_sha(tmp_path / "a.mp3") == sha(data)
    assert file_server.requests_for("/a.mp3")[-1].range.startswith("bytes=")
    assert ("paused", "a") in events and ("cancelled", "b") in events
    errors = [e for e in events if e[0] == "error"]
    assert errors == [("error", "m", "HTTP 404 Not Found")]
    assert file_server.requests_for("/b.mp3") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp3"]


def test_queue_set_max_concurrent(file_server, tmp_path):
    for i in range(4):
        file_server.add(f"/c{i}.mp3", payload(40_000, seed=i), rate=200_000, piece=4096)
    q = DownloadQueue(max_concurrent=1)
    try:
        for i in range(4):
            q.add(str(i), file_server.url(f"/c{i}.mp3"), tmp_path / f"c{i}.mp3")
        q.set_max_concurrent(4)
        assert q.wait(timeout=20)
    finally:
        q.shutdown()
    assert file_server.max_active == 4
    assert len(list(tmp_path.iterdir())) == 4


# --------------------------------------------------------------------------
# file names


HOSTILE = [
    ("../../etc/passwd", "https://h/ep.mp3"),
    ("..", "https://h/ep.mp3"),
    ("CON", "https://h/ep.mp3"),
    ("con.mp3", "https://h/x"),
    ("LPT9", "https://h/a.m4a"),
    ("nul.txt", "https://h/a.m4a"),
    ("x" * 500, "https://h/ep.mp3"),
    ("🎙️ Interview 🧠" * 60, "https://h/ep.mp3"),
    ('a/b\\c:d*e?f"g<h>i|j\x00k\x1fl\x7fm\u202en', "https://h/ep.mp3"),
    ("episode", "https://h/..%2F..%2Fetc%2Fpasswd"),
    ("episode", "https://h/a/..%2F..%2F..%2Fevil.mp3"),
    ("   ...   ", "https://h/ep.mp3"),
    ("trailing dots...", "https://h/ep.mp3"),
    ("", ""),
]


@pytest.mark.parametrize("title,url", HOSTILE)
def test_hostile_names_are_safe(tmp_path, title, url):
    name = safe_filename(title, url)
    assert name and name == name.strip() and not name.endswith(".")
    assert not any(c in name for c in '/\\:*?"<>|') and all(c.isprintable() for c in name)
    assert len(name) <= 120 and len(name.encode()) <= 240
    stem = name.split(".", 1)[0].upper()
    assert stem not in {"CON", "PRN", "AUX", "NUL"} and not (
        stem[:3] in ("COM", "LPT") and len(stem) == 4)
    assert not name.startswith(".")
    root = tmp_path / "downloads"
    root.mkdir()
    p = (root / name).resolve()
    assert p.parent == root.resolve()
    p.write_bytes(b"ok")  # the OS accepts it
    assert p.read_bytes() == b"ok"


def test_filename_details():
    assert safe_filename("Ep 12: Hello / World?", "https://h/file.MP3?x=1") == "Ep 12 - Hello - World.mp3"
    assert safe_filename("con.mp3", "https://h/x").lower() == "_con.mp3"
    assert safe_filename("Talk", "https://h/download", mime="audio/x-m4a") == "Talk.m4a"
    assert safe_filename("Talk", "https://h/page.php") == "Talk.mp3"
    assert safe_filename("Talk", "https://h/a.opus") == "Talk.opus"
    taken = {"talk.mp3", "Talk (2).mp3"}
    assert safe_filename("Talk", "https://h/a.mp3", existing=taken) == "Talk (3).mp3"
    long = safe_filename("y" * 500, "https://h/a.mp3", existing={"y" * 116 + ".mp3"})
    assert long.endswith(" (2).mp3") and len(long) <= 120
    cafe = "Cafe\u0301"  # decomposed é → NFC
    assert safe_filename(cafe, "https://h/a.mp3") == "Caf\u00e9.mp3"
    emoji = safe_filename("🧠" * 200, "https://h/a.mp3")
    assert len(emoji.encode()) <= 240 and emoji.endswith(".mp3")
    assert feed_dirname("The Information Bottleneck") == "The Information Bottleneck"
    assert feed_dirname("../..") == "podcast"
    assert feed_dirname("AUX") == "_AUX"
    assert feed_dirname("Show", existing={"show"}) == "Show (2)"
