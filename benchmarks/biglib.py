"""A big library for the search / export / episodes benchmarks.

    python benchmarks/biglib.py [--episodes 20000] [--dir DIR]

Ten feeds of 2,000 episodes each (the real feed's audio episodes repeated,
see feedgen.py), stored with `Library.store_feed` exactly as a subscribe
stores them: chapters, guests, topics and the search index.  The feed is
parsed once; each copy gets its own guids and a title prefix.  The result is
cached under the temp dir by size and schema version, since building 20,000
episodes takes a minute or two.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from feedgen import big_feed  # noqa: E402

PER_FEED = 2000


def build(n_episodes: int, dest: Path) -> Path:
    from ibplayer.infra import feeds
    from ibplayer.infra.store import Library

    per = min(PER_FEED, n_episodes)
    parsed = feeds.parse_feed(big_feed(per), "http://127.0.0.1/bench/feed0.xml")
    dest.mkdir(parents=True, exist_ok=True)
    lib = Library(dest)
    base = [ep.model_copy() for ep in parsed.episodes]
    k = 0
    while k * per < n_episodes:
        n = min(per, n_episodes - k * per)
        eps = []
        for ep in base[:n]:
            e = ep.model_copy()
            e.guid = f"{ep.guid}/feed{k}"
            e.title = ep.title if k == 0 else f"({k}) {ep.title}"
            eps.append(e)
        parsed.episodes = eps
        parsed.title = "Bench feed" if k == 0 else f"Bench feed {k}"
        url = f"http://127.0.0.1/bench/feed{k}.xml"
        fid = lib.add_feed(url, parsed.title)
        lib.store_feed(fid, parsed, url=url, etag=f'"e{k}"')
        k += 1
    lib.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    lib.close()
    return dest / "library.sqlite3"


def cached_library(n_episodes: int = 20000, *, quiet: bool = False) -> Path:
    """The data dir of a cached big library (built on first use)."""
    import hashlib

    from ibplayer.infra.store import MIGRATIONS, SCHEMA_VERSION

    # keyed by the schema's text too: two branches that each add a migration
    # with the same number must not share a cache built by the other
    tag = hashlib.sha1(repr(sorted(MIGRATIONS.items())).encode()).hexdigest()[:8]
    root = Path(tempfile.gettempdir()) / f"ibplayer-biglib-{n_episodes}-v{SCHEMA_VERSION}-{tag}"
    if (root / "ok").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    if not quiet:
        print(f"building a {n_episodes}-episode library in {root} (once) …", file=sys.stderr, flush=True)
    build(n_episodes, root)
    (root / "ok").write_text("built\n")
    if not quiet:
        print(f"built in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return root


def copy_library(src: Path) -> Path:
    """A private copy (benchmarks that write must not touch the cache)."""
    d = Path(tempfile.mkdtemp(prefix="ib-biglib-"))
    for name in os.listdir(src):
        if name.startswith("library.sqlite3"):
            shutil.copy2(src / name, d / name)
    return d


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=20000)
    opts = ap.parse_args()
    d = cached_library(opts.episodes)
    import sqlite3

    db = sqlite3.connect(d / "library.sqlite3")
    print(d, *(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("feeds", "episodes", "chapters")),
          f"{(d / 'library.sqlite3').stat().st_size / 1e6:.0f} MB")
