"""Throughput and memory of ibplayer.infra.downloader.download_file vs curl, on loopback.

Run:  python benchmarks/bench_download.py [--size-mb 200] [--runs 5]

* A file is created in a temp dir and served by a small threaded HTTP server
  (in its own process, using sendfile) on 127.0.0.1.
* The file is downloaded ``--runs`` times with ``download_file`` (each run in
  a fresh subprocess, timed inside it from the call, so interpreter start-up
  and imports are excluded, but the HTTP client's set-up is included), with
  ``curl -s -o`` (timed with curl's own ``%{time_total}``) and with curl
  followed by an fsync of the file (timed around both), interleaved so all
  see the same machine state.  download_file fsyncs before its atomic
  rename, so ``curl + fsync`` is the like-for-like peer; the target is
  >= 0.9x its throughput.  A diagnostic run with fsync switched off shows
  what durability costs.
* Peak RSS of the python downloader is measured for a 50 MB and a 200 MB
  file: each download runs as a child of a small wrapper process that reads
  ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` after it exits.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SERVER = r"""
import os, sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

class H(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def copyfile(self, source, outputfile):
        outputfile.flush()
        self.connection.sendfile(source)   # zero-copy, like a real web server

os.chdir(sys.argv[1])
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""

DOWNLOAD = r"""
import os, resource, sys, time
from pathlib import Path
from ibplayer.infra.downloader import download_file
if os.environ.get("BENCH_NO_FSYNC"):  # diagnostic only: what does durability cost?
    os.fsync = lambda fd: None
r = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
download_file(sys.argv[1], Path(sys.argv[2]))
wall = time.perf_counter() - t
r2 = resource.getrusage(resource.RUSAGE_SELF)
print(wall, r2.ru_utime - r.ru_utime + r2.ru_stime - r.ru_stime)
"""

RSS_WRAPPER = r"""
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # KiB on Linux
"""

BASELINE = r"""
import resource, httpx, ibplayer.infra.downloader
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_file(path: Path, size: int) -> str:
    h = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        left = size
        while left:
            b = block[: min(left, len(block))]
            f.write(b)
            h.update(b)
            left -= len(b)
    return h.hexdigest()


def sha_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(1 << 20):
            h.update(b)
    return h.hexdigest()


def env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def py_download(url: str, dest: Path, fsync: bool = True) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the download_file call."""
    os.sync()  # start every run with no dirty pages, for both downloaders
    e = env()
    if not fsync:
        e["BENCH_NO_FSYNC"] = "1"
    out = subprocess.run([sys.executable, "-c", DOWNLOAD, url, str(dest)], env=e,
                         check=True, capture_output=True, text=True)
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


def curl_download(url: str, dest: Path, fsync: bool = False) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole curl process)."""
    os.sync()
    cpu = _children_cpu()
    t = time.perf_counter()
    out = subprocess.run(["curl", "-s", "-o", str(dest), "-w", "%{time_total}", url],
                         check=True, capture_output=True, text=True)
    cpu = _children_cpu() - cpu
    if not fsync:
        return float(out.stdout.strip()), cpu
    fd = os.open(dest, os.O_RDONLY)  # like-for-like with download_file's fsync
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - t, cpu


def peak_rss_kib(url: str, dest: Path) -> int:
    cmd = [sys.executable, "-c", RSS_WRAPPER, sys.executable, "-c", DOWNLOAD, url, str(dest)]
    out = subprocess.run(cmd, env=env(), check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not shutil.which("curl"):
        print("curl not found", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="ibplayer-bench-") as tmp:
        tmp = Path(tmp)
        www, out = tmp / "www", tmp / "out"
        www.mkdir()
        out.mkdir()
        sizes = sorted({50, args.size_mb})
        digests = {mb: make_file(www / f"f{mb}.bin", mb * 1_000_000) for mb in sizes}
        srv = subprocess.Popen([sys.executable, "-c", SERVER, str(www)], stdout=subprocess.PIPE,
                               text=True)
        try:
            port = int(srv.stdout.readline())
            base = f"http://127.0.0.1:{port}"
            url = f"{base}/f{args.size_mb}.bin"
            nbytes = args.size_mb * 1_000_000

            # warm the page cache and the server
            curl_download(url, out / "warm")
            (out / "warm").unlink()

            variants = {
                "download_file": lambda d: py_download(url, d),
                "curl -s -o": lambda d: curl_download(url, d),
                "download_file, fsync off (diag)": lambda d: py_download(url, d, fsync=False),
                "curl -s -o + fsync": lambda d: curl_download(url, d, fsync=True),
            }
            times: dict[str, list[float]] = {k: [] for k in variants}
            cpus: dict[str, list[float]] = {k: [] for k in variants}
            for i in range(args.runs):  # interleaved, so all see the same machine state
                for name, fn in variants.items():
                    dest = out / f"run{i}.bin"
                    wall, cpu = fn(dest)
                    times[name].append(wall)
                    cpus[name].append(cpu)
                    assert sha_file(dest) == digests[args.size_mb], f"{name}: corrupted"
                    dest.unlink()

            print(f"file: {args.size_mb} MB on loopback, {args.runs} runs each")
            mbs = {}
            for name, ts in times.items():
                med = statistics.median(ts)
                mbs[name] = nbytes / med / 1e6
                print(f"{name:<32} median {med:.3f} s ({mbs[name]:>6,.0f} MB/s), "
                      f"CPU {statistics.median(cpus[name]):.3f} s  "
                      f"runs: {', '.join(f'{t:.3f}' for t in ts)}")
            ratio = mbs["download_file"] / mbs["curl -s -o"]
            print(f"throughput ratio download_file / curl:              {ratio:.2f}x")
            ratio2 = mbs["download_file"] / mbs["curl -s -o + fsync"]
            verdict = "OK" if ratio2 >= 0.9 else "MISSED"
            print(f"throughput ratio download_file / (curl + fsync):    {ratio2:.2f}x "
                  f"(target >= 0.90x) -> {verdict}")
            ratio3 = mbs["download_file"] / mbs["download_file, fsync off (diag)"]
            print(f"download_file with / without its fsync (diag):      {ratio3:.2f}x")

            base_rss = int(subprocess.run([sys.executable, "-c", BASELINE], env=env(),
                                          check=True, capture_output=True, text=True).stdout)
            print(f"baseline RSS (python + httpx + ibplayer.infra.downloader imported): "
                  f"{base_rss / 1024:.1f} MiB")
            for mb in sizes:
                dest = out / f"rss{mb}.bin"
                rss = peak_rss_kib(f"{base}/f{mb}.bin", dest)
                assert sha_file(dest) == digests[mb]
                dest.unlink()
                print(f"peak RSS of download_file for {mb:>4} MB file: {rss / 1024:.1f} MiB")
        finally:
            srv.terminate()
            srv.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
