"""`ibplayer download / delete / storage / feed-settings`, run as real
subprocesses against a real (misbehaving) HTTP server on loopback, with a
real MP3 that carries ID3 chapters."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

try:
    from tests.httpfixtures import FileServer, file_server  # noqa: F401
except ImportError:  # tests/ not importable as a package
    from httpfixtures import FileServer, file_server  # noqa: F401

SAMPLE = (ROOT / "resources" / "sample-episode.mp3").read_bytes()  # ~40 s, ID3 CHAP at 0, 8, 18, 30 s
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
FEED_TITLE = "Loopback Talks"


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def item(srv: FileServer, n: int, *, path: str | None = None, chapters_url: str | None = None,
         notes: str = "", day: int = 1, length: int | None = None) -> str:
    url = srv.url(path or f"/audio/ep{n}.mp3")
    pc = f'<podcast:chapters url="{chapters_url}" type="application/json+chapters"/>' if chapters_url else ""
    return f"""
    <item>
      <title>Episode {n}: Talk number {n}</title>
      <guid isPermaLink="false">loopback-{n}</guid>
      <pubDate>Mon, {day:02d} Jan 2024 10:00:00 +0000</pubDate>
      <enclosure url="{url}" length="{len(SAMPLE) if length is None else length}" type="audio/mpeg"/>
      <itunes:duration>55:00</itunes:duration>
      <description><![CDATA[{notes or "<p>A talk.</p>"}]]></description>
      {pc}
    </item>"""


def rss(*items: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:podcast="https://podcastindex.org/namespace/1.0">
  <channel>
    <title>{FEED_TITLE}</title>
    <link>https://example.org/</link>
    <description>Test feed</description>
    {''.join(items)}
  </channel>
</rss>""".encode()


NOTES = """<p>Chapters:</p><p>00:00 Cold open<br>00:08 Introductions<br>00:18 The main idea<br>
00:30 Wrap-up<br>50:00 Bonus material after the end</p>"""


def subscribe(srv: FileServer, data_dir: Path, *items: str) -> dict[str, str]:
    """Serve a feed, subscribe to it; return {title: short id}."""
    srv.add("/feed.xml", rss(*items), content_type="application/rss+xml")
    r = run_cli("subscribe", srv.url("/feed.xml"), data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    doc = json.loads(run_cli("export", "--json", data_dir=data_dir).stdout)
    return {e["title"]: e["id"] for e in doc["feeds"][0]["episodes"]}


def exported(data_dir: Path, short_id: str) -> dict:
    doc = json.loads(run_cli("export", "--json", data_dir=data_dir).stdout)
    return next(e for f in doc["feeds"] for e in f["episodes"] if e["id"] == short_id)


def downloaded_state(data_dir: Path) -> dict[str, bool]:
    doc = json.loads(run_cli("export", "--json", data_dir=data_dir).stdout)
    return {e["title"][:9]: e["downloaded"] for f in doc["feeds"] for e in f["episodes"]}


def feed_folder(data_dir: Path) -> Path:
    return data_dir / "downloads" / FEED_TITLE


# ---------------------------------------------------------------- the happy path


def test_download_records_file_duration_and_id3_chapters(file_server, data_dir):
    srv = file_server
    srv.add("/audio/ep1.mp3", SAMPLE)
    ids = subscribe(srv, data_dir, item(srv, 1, notes=NOTES))
    eid = ids["Episode 1: Talk number 1"]
    before = run_cli("show", eid, data_dir=data_dir).stdout
    assert "50:00  Bonus material after the end" in before  # the feed claims 55 minutes

    r = run_cli("download", eid, data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    path = feed_folder(data_dir) / "Episode 1 - Talk number 1.mp3"
    assert path.read_bytes() == SAMPLE
    assert str(path) in r.stdout and "1 downloaded" in r.stdout
    assert not list(feed_folder(data_dir).glob("*.part*"))
    # plain progress lines (not a TTY) end at the full size
    assert "%" in r.stderr and "Traceback" not in r.stderr

    e = exported(data_dir, eid)
    assert e["downloaded"] is True and e["file"] == str(path)
    assert 39.5 < e["duration"] < 40.5  # the file's duration wins over itunes:duration (55:00)
    assert e["chapters"][0]["source"] == "id3"
    assert [c["start"] for c in e["chapters"]] == [0, 8, 18, 30]
    assert set(e["chapter_sources"]) == {"id3", "notes"}

    out = run_cli("show", eid, data_dir=data_dir).stdout
    assert f"downloaded: {path}" in out and "00:40 long" in out
    assert "Chapters (ID3 (MP3 file); also: notes)" in out
    assert "00:08  Introductions" in out
    # the notes chapter past the real end is gone, the last one ends at the end
    notes = run_cli("show", eid, "--source", "notes", data_dir=data_dir).stdout
    assert "Bonus material" not in notes
    assert "00:30  Wrap-up  [00:10]" in notes

    # a second run downloads nothing again
    r = run_cli("download", eid, data_dir=data_dir)
    assert r.returncode == 0 and "already downloaded" in r.stdout
    assert [q.method for q in srv.requests_for("/audio/ep1.mp3")] == ["GET"]

    # offline commands work with the server gone
    srv.stop()
    r = run_cli("search", "Introductions", data_dir=data_dir)
    assert r.returncode == 0 and "Introductions" in r.stdout
    r = run_cli("refresh", data_dir=data_dir)
    assert r.returncode != 0 and "offline" in (r.stdout + r.stderr).lower()
    assert exported(data_dir, eid) == e  # refresh offline changed nothing


def test_sigkill_mid_download_then_resume_is_identical(file_server, data_dir):
    srv = file_server
    srv.add("/audio/ep1.mp3", SAMPLE, rate=30_000, piece=2048)  # ~4 s for the whole file
    ids = subscribe(srv, data_dir, item(srv, 1))
    eid = ids["Episode 1: Talk number 1"]
    folder = feed_folder(data_dir)
    part = folder / "Episode 1 - Talk number 1.mp3.part"

    cmd = [sys.executable, "-m", "ibplayer", "--data-dir", str(data_dir), "download", eid]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if part.exists() and part.stat().st_size >= 20_000:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the download never got going")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    kept = part.stat().st_size
    assert 0 < kept < len(SAMPLE)
    assert not (folder / "Episode 1 - Talk number 1.mp3").exists()  # never a half file under the real name
    assert exported(data_dir, eid)["downloaded"] is False

    srv.route("/audio/ep1.mp3").rate = None
    r = run_cli("download", eid, data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    final = folder / "Episode 1 - Talk number 1.mp3"
    assert sha(final.read_bytes()) == sha(SAMPLE)
    last = srv.requests_for("/audio/ep1.mp3")[-1]
    start = int(last.range.removeprefix("bytes=").rstrip("-"))
    assert last.status == 206 and kept <= start + 256 * 1024 and start > 0
    assert last.if_range  # resumed only if the file is unchanged
    assert sorted(p.name for p in folder.iterdir()) == [final.name]
    assert exported(data_dir, eid)["downloaded"] is True


# ---------------------------------------------------------------- failures


def test_failed_downloads_exit_nonzero_naming_the_episode(file_server, data_dir):
    srv = file_server
    srv.add("/audio/ep1.mp3", SAMPLE)
    srv.add("/audio/ep2.mp3", status=404)
    srv.add("/audio/ep3.mp3", status=500)
    ids = subscribe(srv, data_dir, item(srv, 1, day=1), item(srv, 2, day=2), item(srv, 3, day=3))
    good, missing, broken = (ids[f"Episode {n}: Talk number {n}"] for n in (1, 2, 3))

    r = run_cli("download", good, missing, broken, "--retries", "1", data_dir=data_dir)
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("ibplayer: error:")]
    assert len(errors) == 2, r.stderr
    e404 = next(line for line in errors if "Episode 2" in line)
    assert missing in e404 and "404" in e404
    e500 = next(line for line in errors if "Episode 3" in line)
    assert "500" in e500 and "2 attempts" in e500  # bounded retries, then a clear cause
    assert "1 downloaded" in r.stdout and "2 failed" in r.stdout
    assert exported(data_dir, good)["downloaded"] is True
    assert exported(data_dir, missing)["downloaded"] is False
    assert not list(feed_folder(data_dir).glob("Episode 2*"))
    assert "Traceback" not in r.stderr


def test_download_without_arguments_is_a_usage_error(data_dir):
    r = run_cli("download", data_dir=data_dir)
    assert r.returncode == 2 and "--new" in r.stderr


# ---------------------------------------------------------------- delete, storage, --new


def test_new_delete_storage(file_server, data_dir):
    srv = file_server
    for n in (1, 2, 3):
        srv.add(f"/audio/ep{n}.mp3", SAMPLE)
    ids = subscribe(srv, data_dir, item(srv, 1, day=1), item(srv, 2, day=2), item(srv, 3, day=3))

    r = run_cli("download", "--new", "1", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    newest = ids["Episode 3: Talk number 3"]
    assert downloaded_state(data_dir) == {"Episode 3": True, "Episode 2": False, "Episode 1": False}

    r = run_cli("storage", data_dir=data_dir)
    assert r.returncode == 0
    assert FEED_TITLE in r.stdout and f"({len(SAMPLE)} bytes)" in r.stdout

    # --new 1 again takes the newest one not yet downloaded
    assert run_cli("download", "--new", "1", data_dir=data_dir).returncode == 0
    assert downloaded_state(data_dir) == {"Episode 3": True, "Episode 2": True, "Episode 1": False}

    # delete keeps the metadata, the chapters and the play position
    from ibplayer.services.core import Core

    with Core(data_dir) as core:
        ep = core.library.resolve_episode(newest)
        core.library.set_position(ep.id, 12.5)
        path = Path(ep.file)
    r = run_cli("delete", newest, data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    assert "freed" in r.stdout and "position 00:12 kept" in r.stdout
    assert not path.exists()
    e = exported(data_dir, newest)
    assert e["downloaded"] is False and e["file"] is None and e["position"] == 12.5
    assert 39.5 < e["duration"] < 40.5 and "id3" in e["chapter_sources"]
    # downloading again reuses the same name
    assert run_cli("download", newest, data_dir=data_dir).returncode == 0
    assert path.read_bytes() == SAMPLE


def test_auto_download_and_auto_delete_on_refresh(file_server, data_dir):
    srv = file_server
    for n in (1, 2, 3):
        srv.add(f"/audio/ep{n}.mp3", SAMPLE)
    ids = subscribe(srv, data_dir, item(srv, 1, day=1), item(srv, 2, day=2))
    r = run_cli("feed-settings", FEED_TITLE, "--auto-download", "1", "--auto-delete-played", "on",
                data_dir=data_dir)
    assert r.returncode == 0 and "keep the 1 newest" in r.stdout and "auto-delete played: on" in r.stdout

    # a new episode appears: refresh downloads it (and only it)
    srv.add("/feed.xml", rss(item(srv, 1, day=1), item(srv, 2, day=2), item(srv, 3, day=3)),
            content_type="application/rss+xml")
    r = run_cli("refresh", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    assert downloaded_state(data_dir) == {"Episode 3": True, "Episode 2": False, "Episode 1": False}
    assert ids["Episode 1: Talk number 1"]

    # once played, the next refresh deletes it (the newest stays the only one kept)
    from ibplayer.services.core import Core

    with Core(data_dir) as core:
        ep = core.library.resolve_episode("loopback-3")
        core.library.set_played(ep.id)
        path = Path(ep.file)
    r = run_cli("refresh", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    assert "deleted download" in r.stdout and not path.exists()
    assert exported(data_dir, ep.short_id)["downloaded"] is False


# ---------------------------------------------------------------- Podcasting 2.0 chapters


def test_podcast_chapters_and_images_cached_for_offline(file_server, data_dir):
    srv = file_server
    srv.add("/audio/ep1.mp3", SAMPLE)
    srv.add("/art/c1.png", PNG, content_type="image/png")
    doc = {"version": "1.2.0", "chapters": [
        {"startTime": 0, "title": "Hello", "img": srv.url("/art/c1.png")},
        {"startTime": 20, "title": "Deep dive"},
        {"startTime": 3000, "title": "Past the end"},
    ]}
    # not reachable at subscribe time: only the download fetches them
    srv.add("/chapters.json", status=503)
    ids = subscribe(srv, data_dir, item(srv, 1, chapters_url=srv.url("/chapters.json")))
    eid = ids["Episode 1: Talk number 1"]
    assert "podcast-chapters" not in exported(data_dir, eid)["chapter_sources"]

    srv.add("/chapters.json", json.dumps(doc).encode(), content_type="application/json+chapters")
    r = run_cli("download", eid, data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    from ibplayer.infra.store import Library

    with Library(data_dir) as lib:  # the chapter file is enrichment, kept apart from feed data
        assert json.loads(lib.enrichment(srv.url("/chapters.json")).body) == doc
    cache = feed_folder(data_dir) / ".chapters"
    [img] = cache.glob("img-*")
    assert img.read_bytes() == PNG

    # The feed changes the episode (its notes now list chapters, one past the
    # real end) while the chapters server is down: the refresh rewrites the
    # feed-derived chapters; the cached ones come back, re-checked.
    srv.add("/chapters.json", status=503)
    srv.add("/feed.xml", rss(item(srv, 1, chapters_url=srv.url("/chapters.json"), notes=NOTES)),
            content_type="application/rss+xml")
    r = run_cli("refresh", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    assert "1 updated" in r.stdout

    srv.stop()  # fully offline from here
    notes = run_cli("show", eid, "--source", "notes", data_dir=data_dir).stdout
    assert "00:30  Wrap-up  [00:10]" in notes and "Bonus material" not in notes
    out = run_cli("show", eid, "--source", "podcast-chapters", data_dir=data_dir).stdout
    assert "00:00  Hello" in out and "00:20  Deep dive  [00:20]" in out
    assert "Past the end" not in out  # checked against the file's real duration
    from ibplayer.services.core import Core

    with Core(data_dir) as core:
        chs = core.library.chapter_sets(core.library.resolve_episode(eid).id)["podcast-chapters"]
    assert chs[0].image == img.resolve().as_uri()


# ---------------------------------------------------------------- the progress display


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_display_tty_and_plain():
    from ibplayer.cli.downloads import ProgressDisplay
    from ibplayer.infra.downloader import Progress

    class Ep:
        id, title = 1, "A long conversation about information"

    tty = _Tty()
    d = ProgressDisplay(tty)
    d.REDRAW_INTERVAL = 0
    d.update(Ep, Progress(5_000_000, 20_000_000, 2_000_000, 7.5))
    d.clear()
    text = tty.getvalue()
    assert text.startswith("\r") and "25%" in text and "5.0/20.0 MB" in text
    assert "2.0 MB/s" in text and "ETA 00:08" in text and "\n" not in text

    plain = io.StringIO()
    d = ProgressDisplay(plain, tty=False)
    for i in range(0, 21):
        d.update(Ep, Progress(i * 1_000_000, 20_000_000, 1e6, None))
    lines = plain.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in plain.getvalue()  # 0 %, 10 %, … 90 %
    assert lines[1].endswith("10%  2.0/20.0 MB  1.0 MB/s") or " 10%" in lines[1]
