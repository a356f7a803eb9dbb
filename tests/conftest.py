"""Shared fixtures: the real feed, a library in a temp dir, a real HTTP server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
REAL_FEED = TESTS / "information-bottleneck.rss"

# Qt never needs a display in tests; libVLC never needs a sound card.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# ... on a 1600x1000 screen (the offscreen default, 800x600, is smaller than
# the window's default size, which it keeps inside the screen)
if os.environ["QT_QPA_PLATFORM"] == "offscreen":
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={TESTS / 'offscreen-1600x1000.json'}"
# Tests must never reach the real default feed: an address nothing listens on
# makes "offline" deterministic.
os.environ["IBPLAYER_DEFAULT_FEED_URL"] = "http://127.0.0.1:9/feed"


@pytest.fixture
def real_feed_bytes() -> bytes:
    return REAL_FEED.read_bytes()


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("IBPLAYER_DATA_DIR", str(d))
    return d


@pytest.fixture
def core(data_dir):
    from ibplayer.services.core import Core

    c = Core(data_dir, timeout=3)
    yield c
    c.close()


def run_cli(*args: str, data_dir: Path | None = None, env: dict | None = None, timeout: float = 60):
    """Run the real `ibplayer` entry point in a subprocess."""
    import subprocess

    full_env = dict(os.environ)
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "ibplayer"]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout, env=full_env, cwd=ROOT)


def make_old_library(data_dir: Path, version: int) -> dict[str, int]:
    """A library as ibplayer wrote it at schema ``version`` (the migrations
    up to there, run as they were): one feed with two episodes, the first at
    5 s.  Returns {guid: episode id}."""
    import sqlite3

    from ibplayer.infra.store import DB_NAME, MIGRATIONS, _split_sql

    db = sqlite3.connect(Path(data_dir) / DB_NAME)
    for v in range(1, version + 1):
        for stmt in _split_sql(MIGRATIONS[v]):
            db.execute(stmt)
    db.execute(f"PRAGMA user_version={version}")
    db.execute("INSERT INTO feeds(id, url, title, added) VALUES (1, 'http://127.0.0.1:9/f.xml', 'Old show', 0)")
    for i, guid in enumerate(("old-1", "old-2"), 1):
        db.execute("INSERT INTO episodes(id, feed_id, guid, short_id, title, audio_url, position) VALUES (?,?,?,?,?,?,?)",
                   (i, 1, guid, guid, f"Old {i}", f"http://127.0.0.1:9/{i}.mp3", 5.0 if i == 1 else 0.0))
    db.commit()
    db.close()
    return {"old-1": 1, "old-2": 2}
