"""The `ibplayer` command line, run as a real subprocess against a real server."""

from __future__ import annotations

import json
import sqlite3

from conftest import run_cli

from ibplayer.infra.store import SCHEMA_VERSION, Library

QICHAO = "AI for Science with Qichao Hu (Molecular Universe / SES AI)"


def subscribed(httpserver, data_dir, real_feed_bytes):
    httpserver.expect_request("/feed.xml").respond_with_data(real_feed_bytes, content_type="application/rss+xml")
    r = run_cli("subscribe", httpserver.url_for("/feed.xml"), data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    return r


def test_subscribe_episodes_show(httpserver, data_dir, real_feed_bytes):
    r = subscribed(httpserver, data_dir, real_feed_bytes)
    assert "19 new" in r.stdout
    r = run_cli("episodes", data_dir=data_dir)
    assert r.returncode == 0
    assert QICHAO in r.stdout and "Editing a Compressed Memory" not in r.stdout
    line = next(line for line in r.stdout.splitlines() if QICHAO in line)
    short_id = line.split()[0]
    r = run_cli("show", short_id, data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Guest: Qichao Hu (Molecular Universe, SES AI)" in out
    assert "Topics:" in out
    assert "00:13  Intro and welcome" in out
    assert "1:00:37  Closing thoughts and wrap" in out
    # the guid works as well as the short id
    guid = json.loads(run_cli("export", "--json", data_dir=data_dir).stdout)["feeds"][0]["episodes"][1]["guid"]
    assert run_cli("show", guid, data_dir=data_dir).returncode == 0


def test_export_json_schema(httpserver, data_dir, real_feed_bytes):
    subscribed(httpserver, data_dir, real_feed_bytes)
    r = run_cli("export", "--json", data_dir=data_dir)
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert doc["version"] == 1
    [feed] = doc["feeds"]
    assert feed["title"] == "The Information Bottleneck" and feed["snapshot"] is False
    assert feed["author"] == "Ravid Shwartz Ziv"
    assert len(feed["episodes"]) == 19
    for ep in feed["episodes"]:
        assert set(ep) >= {
            "id", "guid", "title", "published", "audio_url", "duration", "episode_number", "guests",
            "topics", "chapters", "downloaded", "file", "position", "played",
        }
        assert ep["published"][:2] == "20" and "T" in ep["published"]
        assert ep["downloaded"] is False and ep["file"] is None and ep["played"] is False
        for c in ep["chapters"]:
            assert set(c) >= {"start", "end", "title", "source"}
    q = next(e for e in feed["episodes"] if e["title"] == QICHAO)
    assert q["guests"] == [{"name": "Qichao Hu", "affiliations": ["Molecular Universe", "SES AI"]}]
    assert q["chapters"][0] == {"start": 13.0, "end": 79.0, "title": "Intro and welcome", "source": "notes"}


def test_search_json(httpserver, data_dir, real_feed_bytes):
    subscribed(httpserver, data_dir, real_feed_bytes)
    r = run_cli("search", "world", "models", "--json", data_dir=data_dir)
    assert r.returncode == 0
    hits = json.loads(r.stdout)
    assert hits and {h["kind"] for h in hits} >= {"chapter", "episode"}
    for h in hits:
        assert set(h) >= {"kind", "feed_title", "episode_guid", "episode_title", "start", "title", "snippet"}
    ch = next(h for h in hits if h["title"] == "World models and physics")
    assert ch["kind"] == "chapter" and ch["start"] == 1801 and ch["episode_title"] == QICHAO


def test_default_subscribe_offline_uses_snapshot_and_lists_chapters(data_dir):
    r = run_cli("subscribe", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    assert "snapshot" in r.stdout
    r = run_cli("feeds", data_dir=data_dir)
    assert "The Information Bottleneck [snapshot]" in r.stdout
    r = run_cli("episodes", "--chapters", data_dir=data_dir)
    assert "Intro and welcome" in r.stdout
    r = run_cli("refresh", data_dir=data_dir)
    assert r.returncode != 0
    assert "offline" in r.stdout + r.stderr


def test_errors_are_one_line_without_traceback(data_dir, tmp_path):
    for args in (["subscribe", "ftp://example.com/x"], ["show", "nosuchepisode"], ["opml", "import", str(tmp_path / "missing.opml")]):
        r = run_cli(*args, data_dir=data_dir)
        assert r.returncode != 0, args
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ibplayer: error:"), r.stderr
        assert "Traceback" not in r.stderr


def test_data_dir_from_environment(tmp_path, httpserver, real_feed_bytes):
    d = tmp_path / "envdata"
    httpserver.expect_request("/feed.xml").respond_with_data(real_feed_bytes)
    r = run_cli("subscribe", httpserver.url_for("/feed.xml"), env={"IBPLAYER_DATA_DIR": str(d)})
    assert r.returncode == 0
    assert (d / "library.sqlite3").exists()


def test_opml_round_trip_and_unsubscribe(httpserver, data_dir, real_feed_bytes, tmp_path):
    subscribed(httpserver, data_dir, real_feed_bytes)
    out = tmp_path / "subs.opml"
    assert run_cli("opml", "export", str(out), data_dir=data_dir).returncode == 0
    assert httpserver.url_for("/feed.xml") in out.read_text()
    other = tmp_path / "other"
    r = run_cli("opml", "import", str(out), data_dir=other)
    assert r.returncode == 0, r.stderr
    assert "The Information Bottleneck" in run_cli("feeds", data_dir=other).stdout
    r = run_cli("unsubscribe", "Information", data_dir=other)
    assert r.returncode == 0
    assert "no subscriptions" in run_cli("feeds", data_dir=other).stdout


def test_schema_migration_from_v1_keeps_data(tmp_path):
    from ibplayer.infra.store import MIGRATIONS, _split_sql

    path = tmp_path / "library.sqlite3"
    db = sqlite3.connect(path)
    for stmt in _split_sql(MIGRATIONS[1]):
        db.execute(stmt)
    db.execute("PRAGMA user_version=1")
    db.execute("INSERT INTO feeds(url, title, added) VALUES ('http://h/f', 'Old show', 0)")
    db.commit()
    db.close()
    lib = Library(path)
    assert lib.schema_version() == SCHEMA_VERSION
    assert [f.title for f in lib.feeds()] == ["Old show"]
    assert lib.feeds()[0].auto_download == 0
    assert lib.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    lib.close()


def test_newer_schema_is_refused_clearly(tmp_path):
    path = tmp_path / "library.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    db.commit()
    db.close()
    r = run_cli("feeds", data_dir=tmp_path)
    assert r.returncode != 0 and "newer ibplayer" in r.stderr


def test_version_is_the_packages_version():
    import tomllib

    from conftest import ROOT

    import ibplayer

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert ibplayer.__version__ == declared
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"ibplayer {declared}"


def _modules_after(args: list[str], data_dir, *, dotted: bool = False) -> set[str]:
    import subprocess
    import sys

    from conftest import ROOT

    code = (
        "import sys\n"
        "from ibplayer.main import main\n"
        f"rc = main({args!r})\n"
        f"print(rc, ' '.join(sorted(m for m in sys.modules if {dotted!r} or '.' not in m)))\n"
    )
    r = subprocess.run([sys.executable, "-c", code, "--data-dir", str(data_dir)], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 0, r.stderr
    rc, mods = r.stdout.strip().splitlines()[-1].split(" ", 1)
    assert rc == "0", r.stdout
    return set(mods.split())


def test_commands_load_only_what_they_use(httpserver, data_dir, real_feed_bytes):
    """Start-up: reading commands load no network, feed-parsing, audio or
    validation stack; a refresh answered 304 parses nothing and reads no audio."""
    httpserver.expect_request("/feed.xml").respond_with_data(real_feed_bytes, content_type="application/rss+xml",
                                                             headers={"ETag": '"v1"'})
    assert run_cli("subscribe", httpserver.url_for("/feed.xml"), data_dir=data_dir).returncode == 0
    for args in (["search", "world", "models"], ["episodes"], ["feeds"]):
        mods = _modules_after(["--data-dir", str(data_dir), *args], data_dir)
        assert not mods & {"httpx", "feedparser", "mutagen", "pydantic", "nh3", "dataclasses"}, (args, mods)
    httpserver.clear()
    httpserver.expect_request("/feed.xml", headers={"If-None-Match": '"v1"'}).respond_with_data("", status=304)
    mods = _modules_after(["--data-dir", str(data_dir), "refresh"], data_dir, dotted=True)
    # the parse stack (feedparser, nh3, the pydantic models, the XML readers, the parse workers'
    # multiprocessing), the audio reader and the window's read-only views stay unloaded
    assert "httpx" in mods and not mods & {"feedparser", "mutagen", "pydantic", "nh3", "multiprocessing", "xml",
                                           "ibplayer.domain.models", "ibplayer.services.views"}, mods
    assert len(httpserver.log) == 1 and httpserver.log[0][1].status_code == 304


def test_a_304_refresh_of_an_http_feed_sets_up_no_tls(httpserver, data_dir, real_feed_bytes):
    """Start-up: a plain-http feed answered 304 builds no TLS context (httpx
    builds one even unverified: OpenSSL set up and its configuration read);
    https is still verified (test_download_hardening)."""
    import subprocess
    import sys

    from conftest import ROOT

    httpserver.expect_request("/feed.xml").respond_with_data(real_feed_bytes, content_type="application/rss+xml",
                                                             headers={"ETag": '"v1"'})
    assert run_cli("subscribe", httpserver.url_for("/feed.xml"), data_dir=data_dir).returncode == 0
    httpserver.clear()
    httpserver.expect_request("/feed.xml", headers={"If-None-Match": '"v1"'}).respond_with_data("", status=304)
    code = (
        "import ssl, sys\n"
        "made = []\n"
        "new = ssl.SSLContext.__new__\n"
        "ssl.SSLContext.__new__ = lambda cls, *a, **k: made.append(cls) or new(cls, *a, **k)\n"
        "from ibplayer.main import main\n"
        f"rc = main(['--data-dir', {str(data_dir)!r}, 'refresh'])\n"
        "print(rc, len(made))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "not modified" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "0 0", r.stdout
    assert len(httpserver.log) == 1 and httpserver.log[0][1].status_code == 304


def test_search_shows_each_hits_feed(httpserver, data_dir, real_feed_bytes):
    subscribed(httpserver, data_dir, real_feed_bytes)
    r = run_cli("search", "world", "models", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    assert f"in {QICHAO} · The Information Bottleneck" in r.stdout


def test_usage_errors_and_help_still_name_every_command(data_dir):
    """Without a command the parser skips building the commands' parsers (the
    window starts sooner); help and a mistyped command still list them all,
    and a mistyped option is still refused."""
    from ibplayer.cli.main import COMMANDS

    shown = run_cli("--help", data_dir=data_dir)
    assert shown.returncode == 0 and all(name in shown.stdout for name in COMMANDS)
    typo = run_cli("serch", "guests", data_dir=data_dir)
    assert typo.returncode == 2 and "invalid choice: 'serch'" in typo.stderr and "'search'" in typo.stderr
    bad = run_cli("--no-such-option", data_dir=data_dir)
    assert bad.returncode == 2 and "unrecognized arguments: --no-such-option" in bad.stderr
