"""The library's bulk reads on a real SQLite file: the set-wise export is the
same, value for value, as what the per-episode API says; the CLI's compact
and --pretty JSON carry the same values; episode rows need no pydantic."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from conftest import ROOT, run_cli

from ibplayer.domain.models import Chapter, ParsedEpisode, ParsedFeed, Person
from ibplayer.infra.store import Library

T0 = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def _export_per_episode(lib: Library) -> dict:
    """The export as it was built before (one episode at a time)."""
    feeds = []
    for f in lib.feeds():
        eps = []
        for e in lib.episodes(f.id):
            _source, chs = lib.chapters(e.id)
            eps.append({
                "id": e.short_id, "guid": e.guid, "title": e.title,
                "published": e.published.isoformat() if e.published else None,
                "audio_url": e.audio_url, "duration": e.duration, "episode_number": e.episode_number,
                "guests": [{"name": p.name, "affiliations": p.affiliations} for p in e.guests],
                "topics": lib.topics(e.id),
                "chapters": [{"start": c.start, "end": c.end, "title": c.title, "source": c.source} for c in chs],
                "chapter_sources": sorted(lib.chapter_sets(e.id)),
                "downloaded": e.downloaded, "file": e.file, "position": e.position, "played": e.played,
            })
        feeds.append({"url": f.url, "title": f.title, "author": f.author, "snapshot": f.snapshot, "episodes": eps})
    return {"version": 1, "feeds": feeds}


def _varied_library(data_dir) -> None:
    lib = Library(data_dir)
    for k, (title, author, snapshot) in enumerate([("beta show", "Ann Example", False), ("Alpha Show", None, True)]):
        eps = []
        for i in range(6):
            eps.append(ParsedEpisode(
                guid=f"{k}-{i}", title=f"{title} #{i} — “quotes” & ünïcode", audio_url=f"http://127.0.0.1:9/{k}/{i}.mp3",
                published=None if i == 3 else T0 + timedelta(days=i, seconds=k),
                duration=None if i == 2 else 3600.5 + i, episode_number=i if i % 2 else None,
                notes_text="notes",
                chapters={} if i == 4 else {
                    "notes": [Chapter(start=0, end=60, title="Intro"), Chapter(start=60, title="Main part")],
                    **({"psc": [Chapter(start=0, title="Start", source="psc"),
                                Chapter(start=30.25, end=90, title="Hidden bit", source="psc", hidden=True)]}
                       if i % 2 else {}),
                },
                guests=[Person(name=f"Guest {i}", affiliations=["Lab A", "Uni B"][: i % 3])] if i != 5 else [],
                topics=["owls", "gradient descent"][: i % 3],
            ))
        fid = lib.add_feed(f"http://127.0.0.1:9/f{k}.xml", title)
        lib.store_feed(fid, ParsedFeed(title=title, author=author, episodes=eps), snapshot=snapshot)
    eps = lib.episodes()
    lib.set_played(eps[0].id)
    lib.set_position(eps[1].id, 125.5)
    lib.set_file(eps[2].id, str(data_dir / "x.mp3"), size=5, duration=1800.0)
    lib.replace_chapters(eps[2].id, "id3", [Chapter(start=0, title="From the file", source="id3")])
    with_psc = next(e for e in eps if "psc" in lib.chapter_sets(e.id))
    lib.set_chapter_source(with_psc.id, "notes")  # the user's choice wins over priority
    lib.close()


def test_export_is_the_same_value_for_value(data_dir):
    _varied_library(data_dir)
    with Library(data_dir) as lib:
        doc = lib.export()
        assert doc == _export_per_episode(lib)
        # and the same JSON text (types included: floats stay floats, bools stay bools)
        assert json.dumps(doc, ensure_ascii=False) == json.dumps(_export_per_episode(lib), ensure_ascii=False)
        assert [f["title"] for f in doc["feeds"]] == ["Alpha Show", "beta show"]
        assert sum(len(f["episodes"]) for f in doc["feeds"]) == 12


def test_compact_json_text_is_the_same_document(data_dir):
    _varied_library(data_dir)
    with Library(data_dir) as lib:
        eid = lib.episodes()[3].id
        odd = ['quote " back\\slash', "tab\tnew\nline \x01 \u2028 é 😀 </script>", ""]
        lib.replace_chapters(eid, "psc", [
            Chapter.model_construct(start=1 / 3, end=float("inf"), title=odd[0], source="psc", url=None, image=None,
                                    hidden=False),
            Chapter.model_construct(start=1e-7, end=1e16, title=odd[1], source="psc", url=None, image=None,
                                    hidden=False),
            Chapter.model_construct(start=12345.678901234567, end=None, title=odd[2], source="psc", url=None,
                                    image=None, hidden=False),
        ])
        lib.set_chapter_source(eid, "psc")
        text = lib.export_json()
        assert "\n" not in text
        assert json.loads(text) == lib.export() == _export_per_episode(lib)
        assert text == json.dumps(lib.export(), ensure_ascii=False, separators=(",", ":"))
        assert json.loads(lib.export_json(pretty=True)) == lib.export()


def test_cli_export_compact_by_default_and_pretty_on_request(data_dir):
    _varied_library(data_dir)
    compact = run_cli("export", "--json", data_dir=data_dir)
    pretty = run_cli("export", "--json", "--pretty", data_dir=data_dir)
    assert compact.returncode == 0 and pretty.returncode == 0, compact.stderr + pretty.stderr
    assert compact.stdout.count("\n") == 1 and pretty.stdout.count("\n") > 100
    assert json.loads(compact.stdout) == json.loads(pretty.stdout)
    with Library(data_dir) as lib:
        assert json.loads(compact.stdout) == _export_per_episode(lib)


def test_episode_listing_loads_no_pydantic(data_dir):
    """The listing path builds plain rows: pydantic is for outside data."""
    _varied_library(data_dir)
    code = (
        "import sys\n"
        "from ibplayer.infra.store import Library\n"
        f"lib = Library({str(data_dir)!r})\n"
        "eps = lib.episodes()\n"
        "hits = lib.search('intro')\n"
        "print(len(eps), len(hits), eps[-1].guest_names, 'pydantic' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    words = r.stdout.split()
    assert words[0] == "12" and int(words[1]) > 0 and words[-1] == "False", r.stdout


def test_listing_is_the_narrow_form_of_episodes(data_dir):
    _varied_library(data_dir)
    with Library(data_dir) as lib:
        for kwargs in ({}, {"unplayed": True}, {"downloaded": True}):
            full = lib.episodes(**kwargs)
            short = lib.listing(**kwargs)
            assert [(e.id, e.short_id, e.published, e.duration, e.title, e.file, bool(e.played),
                     [(g.name, g.affiliations) for g in e.guests]) for e in full] == \
                   [(e.id, e.short_id, e.published, e.duration, e.title, e.file, bool(e.played),
                     [(g.name, g.affiliations) for g in e.guests]) for e in short]
        fid = lib.feeds()[0].id
        assert [e.id for e in lib.listing(fid)] == [e.id for e in lib.episodes(fid)]
        assert len(lib.listing(downloaded=True)) == 1 and len(lib.listing(unplayed=True)) == 11


def test_page_cache_is_big_only_while_ingesting(data_dir):
    """A long-lived reader (the window) keeps a small page cache; a bulk write
    gets a big one and gives it back."""
    from ibplayer.infra.store import BULK_CACHE_KIB, DEFAULT_CACHE_KIB

    with Library(data_dir) as lib:
        assert lib.db.execute("PRAGMA cache_size").fetchone()[0] == -DEFAULT_CACHE_KIB
        fid = lib.add_feed("http://127.0.0.1:9/f.xml", "x")
        seen = []
        lib.db.set_trace_callback(lambda sql: seen.append(sql) if "cache_size" in sql else None)
        lib.store_feed(fid, ParsedFeed(title="x", episodes=[ParsedEpisode(guid="a", title="a", audio_url="http://h/a")]))
        lib.db.set_trace_callback(None)
        assert seen == [f"PRAGMA cache_size=-{BULK_CACHE_KIB}", f"PRAGMA cache_size=-{DEFAULT_CACHE_KIB}"]
        assert lib.db.execute("PRAGMA cache_size").fetchone()[0] == -DEFAULT_CACHE_KIB
        assert DEFAULT_CACHE_KIB * 1024 <= 16 << 20


def test_compact_export_reads_one_snapshot_and_leaves_a_running_transaction_alone(data_dir):
    _varied_library(data_dir)
    with Library(data_dir) as lib:
        before = lib.export_json()
        assert not lib.db.in_transaction  # its own read transaction is over
        eid = lib.episodes()[0].id
        with lib.transaction():
            lib.set_position(eid, 42.0)
            inside = lib.export_json()  # inside the caller's transaction: sees its write, ends nothing
            assert lib.db.in_transaction
        assert json.loads(inside) == lib.export() != json.loads(before)
