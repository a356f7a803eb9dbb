"""Search latency at 20,000 episodes (about 450,000 chapters), in-process.

    python benchmarks/bench_search.py [--episodes 20000] [--rounds 5] [--limit 50]

Builds (once, cached; see biglib.py) a library of ten 2,000-episode feeds,
then times `Library.search(q, limit)` over a fixed set of queries, common
words included (`the` matches 179,010 chapters).  The peer in the same run is
the previous search (bm25 over every match; copied here), and the hits of
both are compared: identical (kinds, episodes, chapters, titles, scores, in
order) for every query whose matches stay under `Library.rank_caps`; past a
cap only the matches stored last are ranked.  Target: worst case < 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from biglib import cached_library  # noqa: E402

QUERIES = [
    "world models", "diffusion", "agents", "battery", "benchmarks", "Schmidhuber", "peer review", "intro",
    "the", "and", "learning", "a", "ai", "of the", "closing thoughts", "reinforcement learning", "xyzzy",
    "Qichao", "hu", "data", "what is", "model", "RL", "LLM agents", "Quichao",
]
TARGET_MS = 50.0


def prev_search(lib, query: str, limit: int = 50, kinds=("chapter", "episode", "guest")) -> list:
    """The search before the rank caps (every match ranked), kept as the peer."""
    import json

    from ibplayer.infra.store import _TITLE_BONUS, _TITLED_FIRST, SearchHit, _dedupe_hits, fts_query

    match = fts_query(query, synonyms=True)
    if not match:
        return []
    hits: list[SearchHit] = []
    db = lib.db
    if "chapter" in kinds:
        # snippet() is computed in the same pass: a second FTS5 query
        # would rebuild the doclists (prefix queries merge every term).
        top = db.execute(
            """SELECT rowid, bm25(chapters_fts), snippet(chapters_fts, 0, '[', ']', '…', 12) FROM chapters_fts
               WHERE chapters_fts MATCH ? ORDER BY 2 LIMIT ?""",
            (match, limit * 3),
        ).fetchall()
        if top:
            rows = {r[0]: r for r in db.execute(
                """SELECT c.id, c.start, c.title, e.id, e.guid, e.title, f.title
                   FROM chapters c JOIN episodes e ON e.id=c.episode_id JOIN feeds f ON f.id=e.feed_id
                   WHERE c.id IN (SELECT value FROM json_each(?))""",
                (json.dumps([t[0] for t in top]),),
            )}
            for cid, score, snip in top:
                r = rows.get(cid)
                if r is not None:
                    hits.append(SearchHit("chapter", r[6], r[3], r[4], r[5], r[1], r[2], snip, score))
    if "episode" in kinds:
        top = db.execute(
            """SELECT rowid, bm25(episodes_fts, 4.0, 1.0), snippet(episodes_fts, 1, '[', ']', '…', 12)
               FROM episodes_fts WHERE episodes_fts MATCH ? ORDER BY 2 LIMIT ?""",
            (match, limit),
        ).fetchall()
        # The best episodes whose *title* matches go first.
        titled = db.execute(
            """SELECT rowid, bm25(episodes_fts, 4.0, 1.0) - ?, snippet(episodes_fts, 1, '[', ']', '…', 12)
               FROM episodes_fts WHERE episodes_fts MATCH ? ORDER BY 2 LIMIT ?""",
            (_TITLE_BONUS, f"title : ({match})", _TITLED_FIRST),
        ).fetchall()
        if titled:
            firsts = {t[0] for t in titled}
            top = titled + [t for t in top if t[0] not in firsts]
        if top:
            rows = {r[0]: r for r in db.execute(
                """SELECT e.id, e.title, e.guid, f.title FROM episodes e JOIN feeds f ON f.id=e.feed_id
                   WHERE e.id IN (SELECT value FROM json_each(?))""",
                (json.dumps([t[0] for t in top]),),
            )}
            for eid, score, snip in top:
                r = rows.get(eid)
                if r is not None:
                    hits.append(SearchHit("episode", r[3], eid, r[2], r[1], None, r[1], snip, score))
    if "guest" in kinds:  # unchanged: the same guest pass as the store's
        hits.extend(lib._guest_hits(query, limit))
    hits.sort(key=lambda h: h.score)  # bm25: lower is better
    return _dedupe_hits(hits)[:limit]


def key(h) -> tuple:
    return (h.kind, h.episode_id, h.start, h.title, h.snippet, h.score)


def over_cap(lib, q: str) -> bool:
    """Whether any index has more matches for `q` than `lib.rank_caps` ranks."""
    from ibplayer.infra.store import fts_query

    match = fts_query(q, synonyms=True)
    if not match:
        return False
    for fts, m in (("chapters_fts", match), ("episodes_fts", match), ("episodes_fts", f"title : ({match})")):
        if lib.db.execute(f"SELECT 1 FROM {fts} WHERE {fts} MATCH ? LIMIT 1 OFFSET ?", (m, lib.rank_caps[fts])).fetchone():
            return True
    return False


def bench(fn, lib, rounds: int, limit: int) -> tuple[list[float], dict[str, float]]:
    lat, worst = [], {}
    for q in QUERIES:  # warm the cache once
        fn(lib, q, limit)
    for _ in range(rounds):
        for q in QUERIES:
            t0 = time.perf_counter()
            fn(lib, q, limit)
            dt = (time.perf_counter() - t0) * 1000
            lat.append(dt)
            worst[q] = max(worst.get(q, 0.0), dt)
    return lat, worst


def report(name: str, lat: list[float], worst: dict[str, float]) -> tuple[float, float]:
    med, mx = statistics.median(lat), max(lat)
    slow = sorted(worst.items(), key=lambda kv: -kv[1])[:3]
    print(f"{name}: median {med:6.1f} ms, worst {mx:6.1f} ms  (slowest: "
          + ", ".join(f"{q!r} {t:.0f}" for q, t in slow) + ")")
    return med, mx


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--limit", type=int, default=50)
    ap.add_argument("--no-peer", action="store_true", help="skip the previous search")
    opts = ap.parse_args()

    from ibplayer.infra.store import Library

    d = cached_library(opts.episodes)
    lib = Library(d)
    n_eps, n_ch = (lib.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("episodes", "chapters"))
    print(f"library: {n_eps} episodes, {n_ch} chapters; {len(QUERIES)} queries x {opts.rounds} rounds, "
          f"limit {opts.limit}; rank caps {lib.rank_caps}")

    t0 = time.perf_counter()
    sum(range(10**7))
    print(f"machine load probe: sum(range(10**7)) took {time.perf_counter() - t0:.2f} s (a quiet run: ~0.15-0.2 s)")
    new_lat, new_worst = bench(lambda lib_, q, n: lib_.search(q, limit=n), lib, opts.rounds, opts.limit)
    med, mx = report("search  now     ", new_lat, new_worst)
    print(f"  ratio to target: median {med / TARGET_MS:.2f}x, worst {mx / TARGET_MS:.2f}x of {TARGET_MS:.0f} ms")
    if not opts.no_peer:
        old_lat, old_worst = bench(prev_search, lib, max(1, opts.rounds // 2), opts.limit)
        omed, omx = report("search  previous", old_lat, old_worst)
        print(f"  ratio now/previous: median {med / omed:.2f}, worst {mx / omx:.2f}")
        same, capped, same_under = [], [], 0
        for q in QUERIES:
            ident = [key(h) for h in lib.search(q, limit=opts.limit)] == [key(h) for h in prev_search(lib, q, opts.limit)]
            past = over_cap(lib, q)
            same.append(ident)
            if past:
                capped.append(q)
            elif ident:
                same_under += 1
        n_under = len(QUERIES) - len(capped)
        print(f"identical hits (in order, snippets and scores) as the previous search: {sum(same)}/{len(QUERIES)} queries; "
              f"{same_under}/{n_under} of those under the caps (must be all)")
        print("  past a cap (matches stored last ranked): " + ", ".join(
            f"{q!r}{' (same)' if s else ''}" for q, s in zip(QUERIES, same) if q in capped))
    print(f"target: worst < {TARGET_MS:.0f} ms -> {'OK' if mx < TARGET_MS else 'MISSED'}")
    lib.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
