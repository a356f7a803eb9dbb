"""The floor for `bench_ingest`: the least work a subscribe can be, in one process.

    python benchmarks/floor_ingest.py URL DB_PATH

Fetch with urllib, one streaming XML pass (stdlib expat through
ElementTree.iterparse), sanitise the notes with nh3, their text once,
chapters from lines that start with a timestamp, the same topics as
ibplayer (`ibplayer.domain.topics`, a pure module without pydantic), and
SQLite with `executemany` and a bulk FTS5 rebuild.  No guests, no Podlove or
Podcasting 2.0 chapters, no leniency: it is what the work costs with nothing
around it, not a podcast player.  Prints the number of episodes stored.
"""

from __future__ import annotations

import html
import re
import sqlite3
import sys
import urllib.request
import xml.etree.ElementTree as ET
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nh3  # noqa: E402

from ibplayer.domain.topics import extract_topics  # noqa: E402

ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
_BLOCK = re.compile(r"<(?:br|hr|/?(?:p|div|li|ul|ol|tr|h\d|blockquote|table|pre))\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_CHAPTER = re.compile(r"^\(?((?:\d{1,2}:)?\d{1,2}:\d{2})\)?\s*[-–—:|]?\s*(.+)$")

SCHEMA = """
CREATE TABLE episodes (id INTEGER PRIMARY KEY, guid TEXT UNIQUE, title TEXT, audio_url TEXT,
    duration REAL, notes_html TEXT, notes_text TEXT, summary TEXT);
CREATE TABLE chapters (id INTEGER PRIMARY KEY, episode_id INTEGER, idx INTEGER, start REAL, title TEXT);
CREATE TABLE topics (id INTEGER PRIMARY KEY, name TEXT UNIQUE);
CREATE TABLE episode_topics (episode_id INTEGER, topic_id INTEGER, rank INTEGER);
CREATE VIRTUAL TABLE episodes_fts USING fts5(title, notes_text, content='episodes', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE chapters_fts USING fts5(title, content='chapters', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2');
"""


def seconds(ts: str) -> float:
    s = 0.0
    for part in ts.split(":"):
        s = s * 60 + float(part)
    return s


def text_of(notes: str) -> str:
    t = html.unescape(_TAG.sub("", _BLOCK.sub("\n", notes)))
    return "\n".join(filter(None, (" ".join(line.split()) for line in t.split("\n"))))


def main(url: str, db_path: str) -> int:
    data = urllib.request.urlopen(url, timeout=30).read()
    episodes, chapters, topics = [], [], []
    for _ev, el in ET.iterparse(BytesIO(data)):
        if el.tag != "item":
            continue
        enc = el.find("enclosure")
        if enc is None:
            el.clear()
            continue
        title = (el.findtext("title") or "").strip()
        raw = el.findtext(CONTENT + "encoded") or el.findtext("description") or ""
        notes_html = nh3.clean(raw)
        text = text_of(notes_html)
        dur = el.findtext(ITUNES + "duration")
        chs = []
        for line in text.split("\n"):
            m = _CHAPTER.match(line)
            if m:
                chs.append((seconds(m.group(1)), m.group(2)))
        n = len(episodes) + 1
        episodes.append((n, (el.findtext("guid") or enc.get("url")).strip(), title, enc.get("url"),
                         seconds(dur) if dur and ":" in dur else float(dur or 0), notes_html, text, text[:500]))
        for i, (start, ct) in enumerate(chs):
            chapters.append((n, i, start, ct))
        topics.append((n, extract_topics(title, [t for _s, t in chs], text[:3000])))
        el.clear()
    db = sqlite3.connect(db_path)
    db.executescript(SCHEMA)
    with db:
        db.executemany("INSERT INTO episodes VALUES (?,?,?,?,?,?,?,?)", episodes)
        db.executemany("INSERT INTO chapters(episode_id, idx, start, title) VALUES (?,?,?,?)", chapters)
        names = sorted({t for _n, ts in topics for t in ts})
        db.executemany("INSERT INTO topics(name) VALUES (?)", [(t,) for t in names])
        ids = dict(db.execute("SELECT name, id FROM topics"))
        db.executemany("INSERT INTO episode_topics VALUES (?,?,?)",
                       [(n, ids[t], r) for n, ts in topics for r, t in enumerate(ts)])
        db.execute("INSERT INTO episodes_fts(episodes_fts) VALUES ('rebuild')")
        db.execute("INSERT INTO chapters_fts(chapters_fts) VALUES ('rebuild')")
    db.close()
    print(len(episodes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
