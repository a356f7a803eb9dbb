"""Start-up of CLI processes: `ibplayer search` and a refresh answered 304,
each next to a floor script (urllib + sqlite3) measured in the same run,
with and without compiled bytecode for ibplayer's own modules.

    python benchmarks/bench_startup.py [--episodes 2000] [--runs 7]

The library is the cached 2,000-episode one (biglib.py), copied, with its
feed pointed at a server on 127.0.0.1 that answers the stored ETag with 304.
"With .pyc": `python -m compileall ibplayer` first.  "Without": a copy of the
package without __pycache__ first on PYTHONPATH, and PYTHONDONTWRITEBYTECODE=1:
what an editable install in such an environment pays on every start (the standard
library and site-packages keep their bytecode either way).  Both floors run
with the same interpreter (the venv's site, .pth files included).
Targets: search and 304 refresh <= 2x the floor (with .pyc).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from biglib import cached_library, copy_library  # noqa: E402

ETAG = '"bench-304"'

SEARCH_FLOOR = r'''
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
q = " AND ".join('"%s"' % w for w in sys.argv[2:])
rows = db.execute("""SELECT c.start, c.title, e.title FROM
    (SELECT rowid, bm25(chapters_fts) AS s FROM chapters_fts WHERE chapters_fts MATCH ? ORDER BY 2 LIMIT 60) t
    JOIN chapters c ON c.id=t.rowid JOIN episodes e ON e.id=c.episode_id ORDER BY t.s""", (q,)).fetchall()
rows += db.execute("""SELECT NULL, e.title, e.title FROM
    (SELECT rowid, bm25(episodes_fts, 4.0, 1.0) AS s FROM episodes_fts WHERE episodes_fts MATCH ? ORDER BY 2 LIMIT 20) t
    JOIN episodes e ON e.id=t.rowid""", (q,)).fetchall()
print("\n".join(f"{s}  {t}  in {e}" for s, t, e in rows[:20]))
'''

REFRESH_FLOOR = r'''
import sqlite3, sys, time, urllib.error, urllib.request
db = sqlite3.connect(sys.argv[1], isolation_level=None)
for fid, url, etag, title in db.execute("SELECT id, url, etag, title FROM feeds").fetchall():
    req = urllib.request.Request(url, headers={"If-None-Match": etag})
    try:
        urllib.request.urlopen(req, timeout=10).read()
        print(f"{title}: changed")
    except urllib.error.HTTPError as e:
        if e.code != 304:
            raise
        db.execute("UPDATE feeds SET last_checked=? WHERE id=?", (time.time(), fid))
        print(f"{title}: not modified")
'''


def serve() -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.headers.get("If-None-Match") == ETAG:
                self.send_response(304)
                self.send_header("ETag", ETAG)
                self.end_headers()
                return
            self.send_response(500)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/feed.xml"


def timed(cmd: list[str], env: dict, expect: str, cwd: Path) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    dt = time.perf_counter() - t0
    if r.returncode != 0 or expect not in r.stdout:
        raise SystemExit(f"{cmd[-3:]} failed ({r.returncode}): {r.stdout[-300:]} {r.stderr[-500:]}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=7)
    opts = ap.parse_args()

    d = copy_library(cached_library(opts.episodes))
    db_path = d / "library.sqlite3"
    srv, url = serve()
    db = sqlite3.connect(db_path)
    db.execute("UPDATE feeds SET url=?||'?f='||id, etag=?, last_modified=NULL, snapshot=0", (url, ETAG))
    db.commit()
    db.close()
    n_feeds = sqlite3.connect(db_path).execute("SELECT COUNT(*) FROM feeds").fetchone()[0]
    floors = Path(tempfile.mkdtemp(prefix="ib-floor-"))
    # The refresh floor writes its own copy: a program writing ibplayer's library
    # between its runs is a change from outside, which ibplayer checks in full
    # (quick_check) before its next write; a user's library has no such writer.
    floor_db = floors / "library.sqlite3"
    shutil.copy2(db_path, floor_db)
    (floors / "search.py").write_text(SEARCH_FLOOR)
    (floors / "refresh.py").write_text(REFRESH_FLOOR)

    ib = [sys.executable, "-m", "ibplayer", "--data-dir", str(d)]
    cases = {
        "search 'world models'": (ib + ["search", "world", "models"], "chapter",
                                  [sys.executable, str(floors / "search.py"), str(db_path), "world", "models"], "in "),
        f"refresh, 304 ({n_feeds} feed)": (ib + ["refresh"], "not modified",
                                          [sys.executable, str(floors / "refresh.py"), str(floor_db)], "not modified"),
    }
    print(f"library: {opts.episodes} episodes; medians of {opts.runs} interleaved runs; python {sys.version.split()[0]}")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "ibplayer")], check=True)
    # "without .pyc": a copy of the package with no bytecode, first on the path, never cached
    nopyc = Path(tempfile.mkdtemp(prefix="ib-nopyc-"))
    shutil.copytree(ROOT / "ibplayer", nopyc / "ibplayer", ignore=shutil.ignore_patterns("__pycache__"))
    env_pyc = dict(os.environ, IBPLAYER_DATA_DIR=str(d))
    env_pyc.pop("PYTHONDONTWRITEBYTECODE", None)
    env_nopyc = dict(os.environ, IBPLAYER_DATA_DIR=str(d), PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(nopyc))
    for name, (cmd, expect, floor_cmd, floor_expect) in cases.items():
        ours, bare, floor = [], [], []
        timed(cmd, env_pyc, expect, ROOT)  # warm the page cache
        for _ in range(opts.runs):  # interleaved: all three see the same machine load
            ours.append(timed(cmd, env_pyc, expect, ROOT))
            bare.append(timed(cmd, env_nopyc, expect, nopyc))
            floor.append(timed(floor_cmd, env_pyc, floor_expect, ROOT))
        o, b, f = statistics.median(ours), statistics.median(bare), statistics.median(floor)
        print(f"{name:24} with .pyc {o * 1000:5.0f} ms  without {b * 1000:5.0f} ms (+{(b / o - 1) * 100:.0f} %)  "
              f"floor {f * 1000:4.0f} ms  ratio {o / f:.2f} (without .pyc {b / f:.2f})  "
              f"target <= 2x -> {'OK' if o <= 2 * f else 'MISSED'}")
    shutil.rmtree(nopyc, ignore_errors=True)
    srv.shutdown()
    shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(floors, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
