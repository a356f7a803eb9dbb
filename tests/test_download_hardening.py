"""The downloader against hostile servers, full disks and concurrent
processes (issue 12), and the queue's completion contract (issue 8, defect 7).
Everything runs against the real misbehaving server on 127.0.0.1."""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import shutil
import ssl
import subprocess
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from ibplayer.infra.downloader import DownloadError, DownloadQueue, download_file, part_paths

try:
    from tests.httpfixtures import FileServer, file_server, payload, wait_for  # noqa: F401
except ImportError:  # tests/ not importable as a package
    from httpfixtures import FileServer, file_server, payload, wait_for  # noqa: F401

FAST = dict(backoff=0.01, timeout=5)


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


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


# --------------------------------------------------------------------------
# a body that is not the episode


def test_html_error_page_is_a_failed_download(file_server, tmp_path):
    page = b"<!doctype html><html><body>Not here</body></html>"
    url = file_server.add("/ep.mp3", page, content_type="text/html; charset=utf-8")
    dest = tmp_path / "ep.mp3"
    with pytest.raises(DownloadError, match="web page") as ei:
        download_file(url, dest, expected_length=20_000_000, **FAST)
    assert "\n" not in str(ei.value)
    assert list(tmp_path.iterdir()) == []  # nothing saved as the episode, no .part
    assert len(file_server.requests_for("/ep.mp3")) == 1  # not retried


def test_mislabelled_audio_served_as_html_is_still_downloaded(file_server, tmp_path):
    data = b"ID3\x04\x00\x00\x00\x00\x00\x00" + payload(40_000)
    url = file_server.add("/odd.mp3", data, content_type="text/html")
    dest = tmp_path / "odd.mp3"
    download_file(url, dest, expected_length=len(data), **FAST)
    assert sha(dest.read_bytes()) == sha(data)


def test_body_far_smaller_than_the_stated_length_is_a_failed_download(file_server, tmp_path):
    url = file_server.add("/tiny.mp3", b"oops: quota exceeded\n" * 3)
    dest = tmp_path / "tiny.mp3"
    with pytest.raises(DownloadError, match="stated as 20.0 MB"):
        download_file(url, dest, expected_length=20_000_000, **FAST)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# resuming only what can be resumed


def test_range_answered_with_200_and_only_the_tail_is_not_the_episode(file_server, tmp_path):
    data = payload(300_000)
    url = file_server.add("/tail.mp3", data, cut_after=100_000, cut_times=1, tail_on_range=True)
    dest = tmp_path / "tail.mp3"
    download_file(url, dest, expected_length=len(data), **FAST)
    assert sha(dest.read_bytes()) == sha(data)  # not the 200,000-byte tail
    req = file_server.requests_for("/tail.mp3")
    assert req[1].range == "bytes=100000-" and req[1].status == 200
    assert req[-1].range is None  # fetched again from zero


def _cut_then_change(file_server, tmp_path, path, **route):
    """A first download cut after 100,000 bytes (the .part stays), then the
    server's file changes (same length).  Returns (url, dest, new data)."""
    old, new = payload(300_000, seed=1), payload(300_000, seed=2)
    url = file_server.add(path, old, cut_after=100_000, cut_times=1, **route)
    dest = tmp_path / path.lstrip("/")
    with pytest.raises(DownloadError, match="closed early"):
        download_file(url, dest, retries=0)
    assert part_paths(dest)[0].stat().st_size == 100_000
    file_server.route(path).data = new
    return url, dest, new


def test_server_without_validators_restarts_from_zero(file_server, tmp_path):
    url, dest, new = _cut_then_change(file_server, tmp_path, "/noval.mp3", etag="",
                                      no_last_modified=True)
    download_file(url, dest, **FAST)
    assert sha(dest.read_bytes()) == sha(new)  # not old[:100000] + new[100000:]
    assert file_server.requests_for("/noval.mp3")[-1].range is None


def test_206_without_validator_restarts_from_zero(file_server, tmp_path):
    url, dest, new = _cut_then_change(file_server, tmp_path, "/bare.mp3", etag='"same"',
                                      bare_206=True)
    download_file(url, dest, **FAST)
    assert sha(dest.read_bytes()) == sha(new)
    assert file_server.requests_for("/bare.mp3")[-1].range is None


def test_changed_file_with_the_same_validator_is_caught_by_the_digest(file_server, tmp_path):
    url, dest, new = _cut_then_change(file_server, tmp_path, "/dig.mp3", etag='"same"',
                                      repr_digest=True)
    download_file(url, dest, **FAST)
    assert sha(dest.read_bytes()) == sha(new)


def test_changed_file_with_the_same_validator_is_caught_by_the_stated_length(file_server, tmp_path):
    old, new = payload(300_000, seed=1), payload(340_000, seed=2)
    # no Content-Length: the feed's stated length is the only size we know
    url = file_server.add("/len.mp3", old, etag='"same"', no_length=True, cut_after=100_000,
                          cut_times=1)
    dest = tmp_path / "len.mp3"
    with pytest.raises(DownloadError, match="closed early"):
        download_file(url, dest, expected_length=len(old), retries=0)
    file_server.route("/len.mp3").data = new
    download_file(url, dest, expected_length=len(old), **FAST)
    assert sha(dest.read_bytes()) == sha(new)  # spliced, checked, fetched again from zero
    req = file_server.requests_for("/len.mp3")
    assert req[1].range == "bytes=100000-" and req[1].status == 206
    assert req[2].range is None and len(req) == 3


# --------------------------------------------------------------------------
# compressed bodies


@functools.cache
def zero_bomb(decoded_mb: int, layers: int = 1) -> bytes:
    c = zlib.compressobj(9, wbits=31)
    block = bytes(1 << 20)
    out = b"".join(c.compress(block) for _ in range(decoded_mb)) + c.flush()
    for _ in range(layers - 1):
        out = gzip.compress(out, 9)
    return out


@pytest.mark.parametrize("layers", [1, 2])
def test_gzip_bomb_enclosure_is_capped(file_server, tmp_path, layers):
    bomb = zero_bomb(300, layers)
    assert len(bomb) < 400_000
    url = file_server.add("/bomb.mp3", bomb, content_encoding=", ".join(["gzip"] * layers))
    dest = tmp_path / "bomb.mp3"
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match="expands"):
        download_file(url, dest, expected_length=300_000, **FAST)
    assert time.monotonic() - t0 < 5
    assert list(tmp_path.iterdir()) == []
    assert file_server.requests_for("/bomb.mp3")[0].headers["accept-encoding"] == "identity"


def test_gzip_encoded_enclosure_is_stored_decoded(file_server, tmp_path):
    data = payload(200_000)
    url = file_server.add("/gz.mp3", gzip.compress(data), content_encoding="gzip")
    dest = tmp_path / "gz.mp3"
    download_file(url, dest, expected_length=len(data), **FAST)
    assert sha(dest.read_bytes()) == sha(data)


# --------------------------------------------------------------------------
# a full disk (a real, small tmpfs)


@pytest.fixture
def small_fs(tmp_path):
    """A 4 MB tmpfs mounted for the test (CI runs as root; so does this machine)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"cannot mount a small tmpfs (needs root): {r.stderr.strip()}"
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_keeps_the_part_and_resumes_after_space_is_freed(file_server, small_fs):
    data = payload(5_000_000)
    # no Content-Length: the disk fills up in the middle of the body
    url = file_server.add("/big.mp3", data, no_length=True)
    dest = small_fs / "big.mp3"
    with pytest.raises(DownloadError) as ei:
        download_file(url, dest, **FAST)
    msg = str(ei.value)
    assert msg.startswith("the disk is full") and "\n" not in msg and "Errno" not in msg
    part, sidecar = part_paths(dest)
    kept = part.stat().st_size
    assert 3_000_000 < kept < len(data) and sidecar.exists()  # kept for the resume

    # more room, but less than the whole file: enough for what is left
    subprocess.run(["mount", "-o", "remount,size=6m", str(small_fs)], check=True)
    assert shutil.disk_usage(small_fs).free < len(data)
    download_file(url, dest, **FAST)
    assert sha(dest.read_bytes()) == sha(data)
    last = file_server.requests_for("/big.mp3")[-1]
    assert last.range == f"bytes={kept}-" and last.status == 206
    assert sorted(p.name for p in small_fs.iterdir()) == ["big.mp3"]


def test_no_room_for_the_announced_length_fails_before_writing(file_server, small_fs):
    url = file_server.add("/fat.mp3", payload(5_000_000))
    with pytest.raises(DownloadError, match=r"^not enough disk space: need 5\.0 MB"):
        download_file(url, small_fs / "fat.mp3", **FAST)
    assert list(small_fs.iterdir()) == []


# --------------------------------------------------------------------------
# cancel and pause against a stalled server


@pytest.mark.parametrize("action", ["cancel", "pause"])
def test_cancel_and_pause_are_prompt_when_the_server_stalls(file_server, tmp_path, action):
    # 64 KB, then nothing for ~60 s (far beyond the test): a fully stalled server
    url = file_server.add("/stall.mp3", payload(128_000), rate=1_000, piece=64_000)
    got_bytes = threading.Event()
    stopped: list[float] = []
    q = DownloadQueue(
        on_progress=lambda j, p: p.bytes_done and got_bytes.set(),
        on_cancelled=lambda j: stopped.append(time.monotonic()),
        on_paused=lambda j: stopped.append(time.monotonic()),
        timeout=30, backoff=0.01,
    )
    try:
        q.add("s", url, tmp_path / "stall.mp3")
        assert got_bytes.wait(10)
        time.sleep(0.2)  # the worker is now blocked reading from the socket
        t0 = time.monotonic()
        getattr(q, action)("s")
        assert wait_for(lambda: stopped, timeout=5)
        assert stopped[0] - t0 < 1.0  # not the 30 s read timeout
    finally:
        q.shutdown(timeout=5)
    part = part_paths(tmp_path / "stall.mp3")[0]
    if action == "cancel":
        assert list(tmp_path.iterdir()) == []
    else:
        assert part.stat().st_size == 64_000


def test_empty_body_is_a_failed_download(file_server, tmp_path):
    url = file_server.add("/empty.mp3", b"")
    with pytest.raises(DownloadError, match="empty file"):
        download_file(url, tmp_path / "empty.mp3", **FAST)
    assert list(tmp_path.iterdir()) == []


def test_no_room_for_a_compressed_body_of_the_stated_length(file_server, small_fs):
    data = payload(5_000_000)
    url = file_server.add("/gz.mp3", gzip.compress(data, 1), content_encoding="gzip")
    with pytest.raises(DownloadError, match=r"^not enough disk space: need 5\.0 MB"):
        download_file(url, small_fs / "gz.mp3", expected_length=len(data), **FAST)
    assert list(small_fs.iterdir()) == []


# --------------------------------------------------------------------------
# https stays verified (the TLS set-up is only deferred to the first https request)

# A self-signed certificate for 127.0.0.1 (valid until 2126), made for these tests.
CERT = """-----BEGIN CERTIFICATE-----
MIIBkDCCATagAwIBAgIUMqKAU+ywrQAaVek0k8p0gocr4dcwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyNzEzNDMzMFoYDzIxMjYxMTAz
MTM0MzMwWjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAT1Cm7AW1GdROCWd9B+6pPcMO7Q5vTg/ovqKRFXFFS1bmKuqpiwiToH
PsRcDQNhjZRHWjyIcaPvzY9Je6jKkEMzo2QwYjAdBgNVHQ4EFgQUtxXnDL4hPjSA
FIWxToBeNVwMBgswHwYDVR0jBBgwFoAUtxXnDL4hPjSAFIWxToBeNVwMBgswDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0gAMEUC
IEAIxz2x2B0MnT1kSm7EScOvzslYY5x4jGtRh9mIj0vQAiEAy/hcmUMGYFNhLWsb
P6VlqCotR2EIYCgN/yJYYsJhUn8=
-----END CERTIFICATE-----
"""
KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgyU6+ZPEX0UmLJvVX
inXIC469M+BoBBnxHE0H0XkHDhehRANCAAT1Cm7AW1GdROCWd9B+6pPcMO7Q5vTg
/ovqKRFXFFS1bmKuqpiwiToHPsRcDQNhjZRHWjyIcaPvzY9Je6jKkEMz
-----END PRIVATE KEY-----
"""


@pytest.fixture
def tls_server(tmp_path):
    """An https server on 127.0.0.1 with a certificate no system trusts."""
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text(CERT)
    key.write_text(KEY)
    data = payload(50_000)

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "audio/mpeg")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield f"https://127.0.0.1:{srv.server_address[1]}/ep.mp3", data, cert
    finally:
        srv.shutdown()
        srv.server_close()


def test_https_certificates_are_still_verified(file_server, tls_server, tmp_path):
    url, data, cert = tls_server
    with pytest.raises(DownloadError, match="CERTIFICATE_VERIFY_FAILED"):
        download_file(url, tmp_path / "a.mp3", retries=0)
    # ...also after a redirect from plain http
    hop = file_server.add("/hop.mp3", redirect_to=url)
    with pytest.raises(DownloadError, match="CERTIFICATE_VERIFY_FAILED"):
        download_file(hop, tmp_path / "b.mp3", retries=0)
    assert list(tmp_path.glob("*.mp3*")) == []
    # the server itself is fine: a client that trusts its certificate gets the file
    with httpx.Client(verify=ssl.create_default_context(cafile=str(cert))) as client:
        download_file(url, tmp_path / "c.mp3", client=client)
    assert sha((tmp_path / "c.mp3").read_bytes()) == sha(data)


def test_second_download_of_the_same_file_is_refused_while_the_first_runs(file_server, tmp_path):
    data = payload(300_000)
    url = file_server.add("/one.mp3", data, rate=300_000, piece=8192)
    dest = tmp_path / "one.mp3"
    part = part_paths(dest)[0]
    errors: list[BaseException] = []

    def first():
        try:
            download_file(url, dest, **FAST)
        except BaseException as e:  # reported below
            errors.append(e)

    t = threading.Thread(target=first)
    t.start()
    assert wait_for(lambda: part.exists() and part.stat().st_size > 30_000)
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match="already being downloaded"):
        download_file(url, dest, **FAST)
    assert time.monotonic() - t0 < 0.5  # at once, without a request
    t.join(20)
    assert errors == [] and sha(dest.read_bytes()) == sha(data)
    assert len(file_server.requests_for("/one.mp3")) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.mp3"]


def test_a_checksum_that_never_matches_fails_after_one_fresh_download(file_server, tmp_path):
    wrong = "sha-256=:" + base64.b64encode(hashlib.sha256(b"something else").digest()).decode() + ":"
    url = file_server.add("/bad.mp3", payload(100_000), repr_digest=wrong)
    dest = tmp_path / "bad.mp3"
    with pytest.raises(DownloadError, match="checksum does not match.*fetched twice"):
        download_file(url, dest, **FAST)
    assert [r.range for r in file_server.requests_for("/bad.mp3")] == [None, None]
    assert list(tmp_path.iterdir()) == []
