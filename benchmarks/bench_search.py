"""Search latency at 20,000 episodes (about 450,000 chapters), in-process.

    python benchmarks/bench_search.py [--episodes 20000] [--rounds 5] [--limit 50]

Builds (once, cached; see biglib.py) a library of ten 2,000-episode feeds,
then times `Library.search(q, limit)` over a fixed set of queries, common
words included (`the` matches most chapters).  The peer in the same run is
the search as it was before the FTS5 work (`ORDER BY bm25(...)` over every
match, then a join; all of a guest's episodes loaded to keep five), copied
here; the hits of both are compared.  Target: worst case < 50 ms.
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


def old_search(lib, query: str, limit: int = 50, kinds=("chapter", "episode", "guest")) -> list:
    """The search before this change, kept as the peer."""
    from ibplayer.infra.store import SearchHit, fts_query

    def _dedupe_chapter_hits(hits):
        seen, out = set(), []
        for h in hits:
            if (h.episode_id, int(h.start or 0)) not in seen:
                seen.add((h.episode_id, int(h.start or 0)))
                out.append(h)
        return out

    match = fts_query(query)
    if not match:
        return []
    hits = []
    if "chapter" in kinds:
        for score, start, title, snip, eid, guid, etitle, ftitle in lib.db.execute(
            """SELECT bm25(chapters_fts), c.start, c.title,
                      snippet(chapters_fts, 0, '[', ']', '…', 12),
                      e.id, e.guid, e.title, f.title
               FROM chapters_fts JOIN chapters c ON c.id=chapters_fts.rowid
               JOIN episodes e ON e.id=c.episode_id JOIN feeds f ON f.id=e.feed_id
               WHERE chapters_fts MATCH ? ORDER BY bm25(chapters_fts) LIMIT ?""",
            (match, limit * 3),
        ):
            hits.append(SearchHit("chapter", ftitle, eid, guid, etitle, start, title, snip, score))
        hits = _dedupe_chapter_hits(hits)
    if "episode" in kinds:
        for score, title, snip, eid, guid, ftitle in lib.db.execute(
            """SELECT bm25(episodes_fts, 4.0, 1.0), e.title,
                      snippet(episodes_fts, 1, '[', ']', '…', 12), e.id, e.guid, f.title
               FROM episodes_fts JOIN episodes e ON e.id=episodes_fts.rowid JOIN feeds f ON f.id=e.feed_id
               WHERE episodes_fts MATCH ? ORDER BY bm25(episodes_fts, 4.0, 1.0) LIMIT ?""",
            (match, limit),
        ):
            hits.append(SearchHit("episode", ftitle, eid, guid, title, None, title, snip, score))
    if "guest" in kinds:
        for score, pid, name in lib.db.execute(
            """SELECT bm25(people_fts), p.id, p.name FROM people_fts JOIN people p ON p.id=people_fts.rowid
               WHERE people_fts MATCH ? ORDER BY bm25(people_fts) LIMIT ?""",
            (match, limit),
        ):
            for ep in lib.episodes_with_person(pid)[:5]:
                hits.append(SearchHit("guest", ep.feed_title, ep.id, ep.guid, ep.title, None, name,
                                      f"{name} in “{ep.title}”", score * 2, person_id=pid))
    hits.sort(key=lambda h: h.score)
    return hits[:limit]


def key(h) -> tuple:
    return (h.kind, h.episode_id, h.start, h.title, round(h.score, 6))


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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--limit", type=int, default=50)
    ap.add_argument("--no-peer", action="store_true", help="skip the old search")
    opts = ap.parse_args()

    from ibplayer.infra.store import Library

    d = cached_library(opts.episodes)
    lib = Library(d)
    n_eps, n_ch = (lib.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("episodes", "chapters"))
    print(f"library: {n_eps} episodes, {n_ch} chapters; {len(QUERIES)} queries x {opts.rounds} rounds, limit {opts.limit}")

    new_lat, new_worst = bench(lambda lib_, q, n: lib_.search(q, limit=n), lib, opts.rounds, opts.limit)
    med, mx = statistics.median(new_lat), max(new_lat)
    slow = sorted(new_worst.items(), key=lambda kv: -kv[1])[:3]
    print(f"search  now:    median {med:6.1f} ms, worst {mx:6.1f} ms  (slowest: "
          + ", ".join(f"{q!r} {t:.0f}" for q, t in slow) + ")")
    if not opts.no_peer:
        old_lat, old_worst = bench(old_search, lib, max(1, opts.rounds // 2), opts.limit)
        omed, omx = statistics.median(old_lat), max(old_lat)
        slow = sorted(old_worst.items(), key=lambda kv: -kv[1])[:3]
        print(f"search  before: median {omed:6.1f} ms, worst {omx:6.1f} ms  (slowest: "
              + ", ".join(f"{q!r} {t:.0f}" for q, t in slow) + ")")
        print(f"ratio now/before: median {med / omed:.2f}, worst {mx / omx:.2f}")
        same = sum(
            1 for q in QUERIES
            if [key(h) for h in lib.search(q, limit=opts.limit)] == [key(h) for h in old_search(lib, q, opts.limit)]
        )
        same_set = sum(
            1 for q in QUERIES
            if {key(h)[:4] for h in lib.search(q, limit=opts.limit)} == {key(h)[:4] for h in old_search(lib, q, opts.limit)}
        )
        print(f"same hits as before: in order with scores {same}/{len(QUERIES)} queries, as a set {same_set}/{len(QUERIES)} "
              "(intended differences: synonyms, title matches first, fuzzy guest names)")
    print(f"target: worst < 50 ms -> {'OK' if mx < 50 else 'MISSED'}")
    lib.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
