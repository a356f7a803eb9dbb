"""Ingest, unchanged-refresh and search figures, with gPodder as the peer.

    python benchmarks/bench_ingest.py [--items 2000] [--runs 3]

Serves a 2,000-episode feed (the real feed's episodes repeated with unique
guids) on 127.0.0.1 and times, as whole processes:
  * `ibplayer --data-dir TMP subscribe URL` (stores every episode, chapter,
    guest, topic and the search index);
  * `gpo subscribe URL` with GPODDER_HOME=TMP and limit.episodes 100000
    (`apt-get install gpodder`), when gPodder is installed;
  * `benchmarks/floor_ingest.py URL DB`: the least work the same ingest can
    be in one process (urllib, one expat pass, nh3, line-regex chapters, the
    same topics, executemany + bulk FTS5);
then an unchanged refresh (the server answers 304), a refresh that finds one
new episode (ibplayer `refresh` against `gpo update`, each after its own
subscribe) and in-process search latency over the 2,000-episode library.
Prints medians and three ratios from the same run: subscribe / gPodder
(target <= 0.35), subscribe / floor, one-new-episode refresh / `gpo update`
(target <= 0.15); search < 50 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from feedgen import big_feed  # noqa: E402


def serve(data: bytes, state: dict | None = None) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``data`` (or ``state["data"]``, which may be swapped later) with
    an ETag of its content."""
    state = state if state is not None else {}
    state.setdefault("data", data)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            data = state["data"]
            etag = '"%d-%d"' % (len(data), hash(data) & 0xFFFFFFFF)
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/feed.xml"


def timed(cmd: list[str], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr.strip()[-500:]}")
    return dt


def ibplayer_cmd() -> list[str]:
    return [sys.executable, "-m", "ibplayer"]


def gpo_env(home: str) -> dict:
    return dict(os.environ, GPODDER_HOME=home, GPODDER_DOWNLOAD_DIR=os.path.join(home, "dl"))


def runs(ts: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in ts)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    opts = ap.parse_args()

    data = big_feed(opts.items)
    state: dict = {}
    srv, url = serve(data, state)
    print(f"feed: {opts.items} episodes, {len(data) / 1e6:.1f} MB, served at {url}")

    ib_times, gp_times, floor_times = [], [], []
    gpo = shutil.which("gpo")
    keep = None
    for _i in range(opts.runs):
        d = tempfile.mkdtemp(prefix="ib-bench-")
        ib_times.append(timed(ibplayer_cmd() + ["--data-dir", d, "subscribe", url]))
        if keep is None:
            keep = d
        else:
            shutil.rmtree(d, ignore_errors=True)
        f = tempfile.mkdtemp(prefix="floor-bench-")
        floor_times.append(timed([sys.executable, str(HERE / "floor_ingest.py"), url, os.path.join(f, "floor.db")]))
        shutil.rmtree(f, ignore_errors=True)
        if gpo:
            g = tempfile.mkdtemp(prefix="gp-bench-")
            subprocess.run([gpo, "set", "limit.episodes", "100000"], env=gpo_env(g), capture_output=True)
            gp_times.append(timed([gpo, "subscribe", url], env=gpo_env(g)))
            shutil.rmtree(g, ignore_errors=True)

    ib = statistics.median(ib_times)
    fl = statistics.median(floor_times)
    print(f"ingest  ibplayer subscribe: median {ib:.2f} s  (runs: {runs(ib_times)})")
    print(f"ingest  floor (floor_ingest.py, one process): median {fl:.2f} s  (runs: {runs(floor_times)})")
    if gp_times:
        gp = statistics.median(gp_times)
        print(f"ingest  gPodder gpo subscribe: median {gp:.2f} s  (runs: {runs(gp_times)})")
        print(f"RATIO   subscribe ibplayer/gPodder = {ib / gp:.2f}  (target <= 0.35)  -> {'OK' if ib / gp <= 0.35 else 'MISSED'}")
    else:
        print("ingest  gPodder not installed (apt-get install gpodder): no peer figure")
    print(f"RATIO   subscribe ibplayer/floor = {ib / fl:.2f}")

    # Unchanged refresh: the server answers 304, nothing is parsed.
    rt = [timed(ibplayer_cmd() + ["--data-dir", keep, "refresh"]) for _ in range(opts.runs)]
    print(f"refresh unchanged (304), whole process: median {statistics.median(rt) * 1000:.0f} ms")

    # Refresh with one new episode: only the new item is parsed (raw items are
    # hashed first).  gPodder: `gpo update` after its own subscribe.
    one_new, gp_new = [], []
    bigger = big_feed(opts.items + 1)
    for _i in range(opts.runs):
        d = tempfile.mkdtemp(prefix="ib-bench-")
        state["data"] = data
        timed(ibplayer_cmd() + ["--data-dir", d, "subscribe", url])
        g = None
        if gpo:
            g = tempfile.mkdtemp(prefix="gp-bench-")
            subprocess.run([gpo, "set", "limit.episodes", "100000"], env=gpo_env(g), capture_output=True)
            timed([gpo, "subscribe", url], env=gpo_env(g))
        state["data"] = bigger
        one_new.append(timed(ibplayer_cmd() + ["--data-dir", d, "refresh"]))
        if g:
            gp_new.append(timed([gpo, "update"], env=gpo_env(g)))
            shutil.rmtree(g, ignore_errors=True)
        shutil.rmtree(d, ignore_errors=True)
    state["data"] = data
    rn = statistics.median(one_new)
    print(f"refresh with one new episode, whole process: median {rn:.2f} s "
          f"(runs: {runs(one_new)}); ratio to ibplayer subscribe {rn / ib:.2f}")
    if gp_new:
        gn = statistics.median(gp_new)
        print(f"refresh gPodder gpo update with one new episode: median {gn:.2f} s  (runs: {runs(gp_new)})")
        print(f"RATIO   one-new refresh ibplayer/gPodder = {rn / gn:.2f}  (target <= 0.15)  -> {'OK' if rn / gn <= 0.15 else 'MISSED'}")

    # Search latency, in-process, over the 2,000-episode library.
    from ibplayer.infra.store import Library

    lib = Library(keep)
    n_eps = lib.db.execute("SELECT COUNT(*) FROM episodes").fetchone()[0]
    n_ch = lib.db.execute("SELECT COUNT(*) FROM chapters").fetchone()[0]
    print(f"library: {n_eps} episodes, {n_ch} chapters")
    queries = ["world models", "diffusion", "agents", "battery", "benchmarks", "Schmidhuber", "peer review", "intro"]
    lat = []
    for q in queries * 5:
        t0 = time.perf_counter()
        hits = lib.search(q, limit=50)
        lat.append((time.perf_counter() - t0) * 1000)
        assert hits, q
    lat.sort()
    print(f"search  in-process over {len(queries) * 5} queries: median {statistics.median(lat):.1f} ms, "
          f"max {lat[-1]:.1f} ms (target < 50 ms) -> {'OK' if lat[-1] < 50 else 'MISSED'}")
    lib.close()
    shutil.rmtree(keep, ignore_errors=True)
    srv.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
