"""Every feed in gPodder's podcastparser test corpus that podcastparser
opens, ibplayer opens too, with the same audio episodes and titles.

The corpus is podcastparser's own test data (70 feeds with the expected
results), taken from its source distribution on PyPI at test time (cached);
nothing of it is copied into this repository."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ibplayer.infra import feeds

VERSION = "0.6.11"
CACHE = Path.home() / ".cache" / "ibplayer-tests"


@pytest.fixture(scope="module")
def corpus() -> Path:
    data = CACHE / f"podcastparser-{VERSION}" / "tests" / "data"
    if not data.is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                            f"podcastparser=={VERSION}", "-d", str(CACHE)], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, f"cannot fetch podcastparser's test corpus from PyPI: {r.stderr[-500:]}"
        with tarfile.open(CACHE / f"podcastparser-{VERSION}.tar.gz") as tar:
            tar.extractall(CACHE, filter="data")
    assert data.is_dir()
    return data


def _audio(enclosure: dict) -> bool:
    return (enclosure.get("mime_type") or "").startswith("audio/") or \
        urlsplit(enclosure.get("url", "")).path.lower().endswith((".mp3", ".m4a", ".ogg", ".opus", ".aac"))


def _key(url: str) -> str:
    # podcastparser's harness parses with a file:// base; relative URLs compare by their path's end
    return urlsplit(url).path.rsplit("/", 1)[-1] if url.startswith("file://") else url


def test_every_podcastparser_feed_opens_with_the_same_episodes(corpus):
    with_audio, missing = 0, []
    for rss in sorted(corpus.glob("*.rss")):
        expected = json.loads(rss.with_suffix(".json").read_text())
        want = {}
        for e in expected.get("episodes", []):
            audio = [x for x in e.get("enclosures", []) if _audio(x)]
            if audio:
                want[_key(audio[0]["url"])] = e.get("title") or ""
        try:
            parsed = feeds.parse_feed(rss.read_bytes(), "http://example.com/feed.xml")
        except feeds.FeedError as exc:
            if want:
                missing.append(f"{rss.name}: refused ({exc})")
            continue
        with_audio += bool(want)
        got = {}
        for ep in parsed.episodes:  # by full URL, and by file name for the relative ones
            got[ep.audio_url] = got[urlsplit(ep.audio_url).path.rsplit("/", 1)[-1]] = ep.title
        for url, title in want.items():
            if url not in got:
                missing.append(f"{rss.name}: no episode for {url}")
            elif title and got[url] != title:
                missing.append(f"{rss.name}: {url} titled {got[url]!r}, podcastparser says {title!r}")
    assert with_audio >= 30  # the corpus is there: 32 of its 70 feeds carry audio episodes
    assert missing == []
