"""Helpers for the UI tests: feeds served on loopback, big synthetic
libraries, waiting on Qt state."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample-episode.mp3"
SAMPLE_CHAPTERS = [(0.0, "Cold open"), (8.0, "Introductions"), (18.0, "The main idea"), (30.0, "Wrap-up")]
SAMPLE_LENGTH = 40.07


def sample_bytes() -> bytes:
    if SAMPLE.exists():
        return SAMPLE.read_bytes()
    import shutil
    import subprocess
    import tempfile

    if not shutil.which("ffmpeg"):
        raise RuntimeError(f"{SAMPLE} is missing and ffmpeg is not installed to make one")
    out = Path(tempfile.mkdtemp()) / "sample.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=40",
                    "-b:a", "64k", str(out)], check=True)
    return out.read_bytes()


def notes_for(chapters, extra: str = "") -> str:
    lines = "".join(f"<li>{int(s) // 60:02d}:{int(s) % 60:02d} — {escape(t)}</li>" for s, t in chapters)
    return (f"<p>A conversation with Ada Example (Example Labs) about ideas. {extra}</p>"
            f"<p>Timeline:</p><ul>{lines}</ul>")


def feed_xml(items: list[dict], title: str = "Loopback Show") -> bytes:
    """An RSS feed; each item: guid, title, url, length, notes, [date], [duration]."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        f"<channel><title>{escape(title)}</title><link>http://127.0.0.1/</link>"
        "<description>Test feed</description>",
    ]
    base = datetime(2025, 1, 1, tzinfo=UTC)
    for i, it in enumerate(items):
        date = it.get("date") or (base - timedelta(days=i))
        out.append(
            f"<item><guid>{escape(it['guid'])}</guid><title>{escape(it['title'])}</title>"
            f"<pubDate>{date.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
            f'<enclosure url="{escape(it["url"])}" length="{it["length"]}" type="audio/mpeg"/>'
            + (f"<itunes:duration>{int(it['duration'])}</itunes:duration>" if it.get("duration") else "")
            + f"<description>{escape(it['notes'])}</description>"
            f"<content:encoded><![CDATA[{it['notes']}]]></content:encoded></item>"
        )
    out.append("</channel></rss>")
    return "\n".join(out).encode()


def big_library(data_dir: Path, n: int = 2000) -> int:
    """Store a synthetic n-episode feed straight into the library; the feed id."""
    from ibplayer.domain.models import Chapter, ParsedEpisode, ParsedFeed, Person
    from ibplayer.infra.store import Library

    base = datetime(2025, 1, 1, tzinfo=UTC)
    eps = []
    for i in range(n):
        eps.append(ParsedEpisode(
            guid=f"big-{i}",
            title=f"Episode {i:04d}: {'scaling laws' if i % 3 == 0 else 'interpretability'} talk",
            published=base - timedelta(days=i),
            audio_url=f"http://127.0.0.1:9/big/{i}.mp3",
            audio_length=1000 + i,
            duration=3600 + i,
            summary=f"Summary {i}",
            notes_html=f"<p>Notes {i}</p>",
            notes_text=f"Notes {i}",
            chapters={"notes": [Chapter(start=0, title="Intro"), Chapter(start=600, title=f"Topic {i}")]},
            guests=[Person(name=f"Guest {i % 50}", affiliations=["Lab"])],
        ))
    feed = ParsedFeed(title="Big Show", episodes=eps)
    lib = Library(data_dir)
    try:
        fid = lib.add_feed("http://127.0.0.1:9/big.xml", feed.title)
        lib.store_feed(fid, feed)
        return fid
    finally:
        lib.close()


def pump(qtbot, ms: int) -> None:
    qtbot.wait(ms)


def wait_until(qtbot, pred, timeout: float = 8.0, msg: str = "") -> None:
    """Process Qt events until ``pred()`` is true; fail with ``msg`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        qtbot.wait(20)
    assert pred(), msg or "timed out"
