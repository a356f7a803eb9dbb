"""`export --json` and `episodes` at 20,000 episodes, as whole processes,
each next to a floor script measured in the same run.

    python benchmarks/bench_export.py [--episodes 20000] [--runs 3]

The floors are plain Python + sqlite3 scripts (run with the same
interpreter) that read the same library and print the same output, byte for
byte (checked): the least any Python program must spend; each process's CPU
time and peak RSS come from its own rusage.  Targets:
export <= 3 s; `episodes` <= 1.5x its floor.  Also prints the peak RSS of an
in-process library open + full episode listing + a few searches (the page
cache is what grows with the library) against a target of < 250 MB for the
window (whose own figure is in bench_gui.py).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from biglib import cached_library  # noqa: E402

# The same JSON as `ibplayer export --json`, the least Python can do it with.
EXPORT_FLOOR = r'''
import json, sqlite3, sys
from datetime import datetime, UTC
PRIO = {"id3": 60, "mp4": 60, "vorbis": 60, "podcast-chapters": 50, "psc": 40, "notes": 10}
db = sqlite3.connect(sys.argv[1])
g, t, s, eps = {}, {}, {}, {}
for eid, n, a in db.execute("""SELECT ep.episode_id, p.name, ep.affiliations FROM episode_people ep
        JOIN people p ON p.id=ep.person_id WHERE ep.role='guest' ORDER BY ep.episode_id, ep.pos"""):
    g.setdefault(eid, []).append({"name": n, "affiliations": json.loads(a)})
for eid, n in db.execute("SELECT et.episode_id, t.name FROM episode_topics et JOIN topics t ON t.id=et.topic_id ORDER BY et.episode_id, et.rank"):
    t.setdefault(eid, []).append(n)
for eid, src, a, b, ti in db.execute("SELECT episode_id, source, start, end, title FROM chapters ORDER BY episode_id, source, idx"):
    s.setdefault(eid, {}).setdefault(src, []).append({"start": a, "end": b, "title": ti, "source": src})
for eid, sid, fid, guid, ti, pub, url, dur, num, cs, pos, pl, f in db.execute("""SELECT e.id, e.short_id, e.feed_id,
        e.guid, e.title, e.published, e.audio_url, COALESCE(e.file_duration, e.feed_duration), e.episode_number,
        e.chapter_source, e.position, e.played, e.file FROM episodes e ORDER BY e.feed_id, e.published DESC, e.id DESC"""):
    bs = s.get(eid, {})
    src = cs if cs in bs else max(bs, key=lambda k: PRIO.get(k, 0), default=None)
    eps.setdefault(fid, []).append({"id": sid, "guid": guid, "title": ti,
        "published": datetime.fromtimestamp(pub, tz=UTC).isoformat() if pub is not None else None,
        "audio_url": url, "duration": dur, "episode_number": num, "guests": g.get(eid, []), "topics": t.get(eid, []),
        "chapters": bs.get(src, []) if src else [], "chapter_sources": sorted(bs), "downloaded": bool(f),
        "file": f, "position": pos, "played": bool(pl)})
feeds = [{"url": u, "title": ti, "author": au, "snapshot": bool(sn), "episodes": eps.get(fid, [])}
         for fid, u, ti, au, sn in db.execute("SELECT id, url, title, author, snapshot FROM feeds ORDER BY title COLLATE NOCASE")]
sys.stdout.write(json.dumps({"version": 1, "feeds": feeds}, ensure_ascii=False, separators=(",", ":")) + "\n")
'''

# The same lines as `ibplayer episodes`.
EPISODES_FLOOR = r'''
import json, sqlite3, sys
from datetime import datetime, UTC
def ft(x):
    if x is None: return "--:--"
    s = int(round(x)); h, r = divmod(s, 3600); m, s = divmod(r, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
db = sqlite3.connect(sys.argv[1])
g = {}
for eid, n, a in db.execute("""SELECT ep.episode_id, p.name, ep.affiliations FROM episode_people ep
        JOIN people p ON p.id=ep.person_id WHERE ep.role='guest' ORDER BY ep.episode_id, ep.pos"""):
    a = json.loads(a)
    g.setdefault(eid, []).append(n + (f" ({', '.join(a)})" if a else ""))
out = []
for eid, sid, pub, dur, ti, f, pl in db.execute("""SELECT e.id, e.short_id, e.published,
        COALESCE(e.file_duration, e.feed_duration), e.title, e.file, e.played FROM episodes e
        ORDER BY e.published DESC, e.id DESC"""):
    d = datetime.fromtimestamp(pub, tz=UTC).strftime("%Y-%m-%d") if pub is not None else "----------"
    out.append(f"{sid}  {d}  {ft(dur):>8}  {'D' if f else ' '}{'✓' if pl else ' '} {ti}")
    if eid in g:
        out.append(f"{'':9}guest: {'; '.join(g[eid])}")
sys.stdout.write("\n".join(out) + "\n")
'''

# The export as it was built before: per episode, through the model-building API, indented.
BEFORE_EXPORT = r'''
import json, sys
from ibplayer.infra.store import Library
lib = Library(sys.argv[1])
feeds = []
for f in lib.feeds():
    eps = []
    for e in lib.episodes(f.id):
        source, chs = lib.chapters(e.id)
        eps.append({"id": e.short_id, "guid": e.guid, "title": e.title,
            "published": e.published.isoformat() if e.published else None, "audio_url": e.audio_url,
            "duration": e.duration, "episode_number": e.episode_number,
            "guests": [{"name": p.name, "affiliations": p.affiliations} for p in e.guests], "topics": lib.topics(e.id),
            "chapters": [{"start": c.start, "end": c.end, "title": c.title, "source": c.source} for c in chs],
            "chapter_sources": sorted(lib.chapter_sets(e.id)), "downloaded": e.downloaded, "file": e.file,
            "position": e.position, "played": e.played})
    feeds.append({"url": f.url, "title": f.title, "author": f.author, "snapshot": f.snapshot, "episodes": eps})
json.dump({"version": 1, "feeds": feeds}, sys.stdout, ensure_ascii=False, indent=2)
print()
'''


CPU: dict[str, list[float]] = {}  # name -> the child's user+sys seconds per run (steadier on a shared machine)
RSS: dict[str, list[int]] = {}  # name -> the child's peak RSS (MB) per run


def run(cmd: list[str], env=None, cpu: str | None = None) -> tuple[float, tuple[str, int]]:
    """Run `cmd` to completion: wall seconds and (SHA-256, length) of its
    stdout.  The child's own rusage (os.wait4) gives its CPU time and peak
    RSS.  The output goes to a temporary file, hashed in blocks: a child's
    peak RSS starts from this process's (Linux carries the peak of the
    forked copy over exec), so this one must stay small."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{cmd[:4]} failed: {err.read().decode()[-400:]}")
        out.seek(0)
        digest, size = hashlib.sha256(), 0
        while block := out.read(1 << 20):
            digest.update(block)
            size += len(block)
    if cpu:
        CPU.setdefault(cpu, []).append(ru.ru_utime + ru.ru_stime)
        RSS.setdefault(cpu, []).append(ru.ru_maxrss // 1024)
    return dt, (digest.hexdigest(), size)


def compare(name: str, ours: list[str], floor_code: str, db: Path, runs: int, env) -> tuple[float, float, bool]:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(floor_code)
        floor_script = f.name
    ot, ft = [], []
    same = True
    for _ in range(runs):  # interleaved, so both see the same machine load
        dt, out_ours = run(ours, env, cpu=name)
        ot.append(dt)
        dt, out_floor = run([sys.executable, floor_script, str(db)], env, cpu=name + " floor")
        ft.append(dt)
        same = same and out_ours == out_floor
    os.unlink(floor_script)
    o, fl = statistics.median(ot), statistics.median(ft)
    print(f"{name}: ibplayer median {o:.2f} s (runs {', '.join(f'{t:.2f}' for t in ot)}); "
          f"floor {fl:.2f} s; ratio {o / fl:.2f}; output identical: {same} ({out_ours[1] / 1e6:.1f} MB)")
    oc, fc = statistics.median(CPU[name]), statistics.median(CPU[name + " floor"])
    print(f"  CPU (user+sys): ibplayer {oc:.2f} s, floor {fc:.2f} s; ratio {oc / fc:.2f}; "
          f"peak RSS: ibplayer {max(RSS[name])} MB, floor {max(RSS[name + ' floor'])} MB")
    return o, fl, same


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--before", action="store_true", help="also time the export as it was built before")
    opts = ap.parse_args()
    d = cached_library(opts.episodes)
    db = d / "library.sqlite3"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "ibplayer")], check=True)
    env = dict(os.environ, IBPLAYER_DATA_DIR=str(d))
    ib = [sys.executable, "-m", "ibplayer", "--data-dir", str(d)]
    print(f"library: {opts.episodes} episodes ({db.stat().st_size / 1e6:.0f} MB); medians of {opts.runs}, "
          f"whole processes, .pyc compiled; python {sys.version.split()[0]}")
    e, _ef, _ = compare("export --json", ib + ["export", "--json"], EXPORT_FLOOR, db, opts.runs, env)
    if opts.before:
        bt = [run([sys.executable, "-c", BEFORE_EXPORT, str(d)], env)[0] for _ in range(max(1, opts.runs // 2))]
        b = statistics.median(bt)
        print(f"  before (per-episode export, pydantic chapters, indent=2, as this was): {b:.2f} s; now/before {e / b:.2f}")
    print(f"  target export <= 3.0 s -> {'OK' if e <= 3.0 else 'MISSED'}")
    o, f, _ = compare("episodes", ib + ["episodes"], EPISODES_FLOOR, db, opts.runs, env)
    print(f"  target episodes <= 1.5x floor -> {'OK' if o <= 1.5 * f else 'MISSED'}")

    # Memory: what a long-lived reader (the window) holds after listing everything.
    code = (
        "import sys\n"
        "from ibplayer.infra.store import Library\n"
        "lib = Library(sys.argv[1])\n"
        "eps = lib.episodes()\n"
        "for q in ('the', 'world models', 'agents', 'intro'): lib.search(q)\n"
        "for e in eps[:200]: lib.chapters(e.id)\n"
        "used = lib.db.execute('PRAGMA cache_size').fetchone()[0]\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(int(hwm) // 1024, -used // 1024)\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(d)], capture_output=True, text=True, env=env)
    rss, cache = r.stdout.split()
    base = subprocess.run([sys.executable, "-c", "import sqlite3; print(int([l for l in open('/proc/self/status') "
                           "if l.startswith('VmHWM')][0].split()[1]) // 1024)"],
                          capture_output=True, text=True).stdout.strip()
    print(f"reader process (all {opts.episodes} episodes listed, 4 searches, 200 chapter lists): peak RSS {rss} MB "
          f"(page cache limit {cache} MiB per connection; bare python+sqlite3: {base} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
