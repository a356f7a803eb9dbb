"""The library: one SQLite file (WAL, foreign keys, versioned schema, FTS5).

A `Library` wraps one connection and belongs to one thread; open another
`Library` on the same file in a worker (WAL lets readers and a writer run side
by side).  Every write runs in a transaction, so a failed refresh changes
nothing.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path

TYPE_CHECKING = False  # not `typing`'s: importing typing costs every reading command ~5 ms
if TYPE_CHECKING:  # the models (pydantic) load only where chapters or feeds are handled
    from ibplayer.domain.models import Chapter, ParsedEpisode, ParsedFeed, Person

DB_NAME = "library.sqlite3"
SCHEMA_VERSION = 9
# SQLite page cache per connection.  A bulk ingest and FTS merges want a big
# one; the window holds its connection for the whole session, so it is sized
# deliberately rather than left at whatever a write once needed.
DEFAULT_CACHE_KIB = 16384
BULK_CACHE_KIB = 65536


class LibraryError(Exception):
    pass


class LibraryDamaged(LibraryError):
    """The library file was damaged.  ``moved_to`` is where it was set aside
    (None when it could not be moved); one line, fit for a dialog."""

    def __init__(self, message: str, path: Path, moved_to: Path | None = None):
        super().__init__(message)
        self.path = path
        self.moved_to = moved_to


class LibraryReadOnly(LibraryError):
    """The library (or its folder) cannot be written: reading still works."""


class LibraryFull(LibraryError):
    """The disk is full: the write was rolled back."""


# ---------------------------------------------------------------- row types

_NEW_LIST = object()  # a field default: a new empty list for each row


def _row(cls):
    """A light ``@dataclass(slots=True)``: ``__init__`` (positional or by
    name), ``__repr__`` and ``__eq__`` from the annotations, without loading
    `dataclasses` (which pulls in `inspect`: ~15 ms on every command)."""
    names = tuple(cls.__dict__.get("__annotations__", {}))
    ns = {k: v for k, v in cls.__dict__.items() if k not in names and k not in ("__dict__", "__weakref__")}
    glb: dict = {"_NEW_LIST": _NEW_LIST}
    params, body = [], []
    for n in names:
        if n in cls.__dict__:
            glb[f"_d_{n}"] = cls.__dict__[n]
            params.append(f"{n}=_d_{n}")
            if cls.__dict__[n] is _NEW_LIST:
                body.append(f"self.{n} = [] if {n} is _NEW_LIST else {n}")
                continue
        else:
            params.append(n)
        body.append(f"self.{n} = {n}")
    exec(f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body), glb)  # noqa: S102

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in names) + ")"

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in names)

    ns.update(__init__=glb["__init__"], __repr__=__repr__, __eq__=__eq__, __hash__=None, __slots__=names,
              __match_args__=names)
    return type(cls.__name__, cls.__bases__, ns)



@_row
class FeedRow:
    id: int
    url: str
    title: str
    link: str | None
    description: str
    author: str | None
    image: str | None
    snapshot: bool
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    last_checked: float | None
    last_error: str | None
    auto_download: int  # keep the last N downloaded automatically, 0 = off
    auto_delete_played: bool
    episode_count: int = 0
    unplayed_count: int = 0


@_row
class Guest:
    """A guest of a stored episode (a plain row: listing episodes builds no
    pydantic models)."""

    name: str
    affiliations: list[str] = _NEW_LIST
    role: str = "guest"
    href: str | None = None  # the guest's page (issue 9: the guest card links to it)
    image: str | None = None  # the guest's picture URL (cached like other artwork)


@_row
class EpisodeRow:
    id: int
    short_id: str
    feed_id: int
    feed_title: str
    guid: str
    title: str
    published: datetime | None
    audio_url: str
    audio_type: str | None
    audio_length: int
    duration: float | None  # the file's real length when known, else the feed's
    episode_number: int | None
    link: str | None
    image: str | None
    summary: str
    chapters_url: str | None
    chapter_source: str | None  # the user's choice; None = automatic
    position: float
    played: bool
    file: str | None
    guests: list[Guest] = _NEW_LIST
    is_new: bool = False  # arrived since the listener last looked

    @property
    def downloaded(self) -> bool:
        return bool(self.file)

    @property
    def guest_names(self) -> str:
        return ", ".join(p.name for p in self.guests)


@_row
class EnrichmentRow:
    url: str
    kind: str  # "chapters" | "image" (later "transcript")
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: float | None = None
    checked_at: float | None = None
    body: bytes | None = None
    path: str | None = None
    error: str | None = None


@_row
class ChapterRow:
    """A stored chapter as a plain row (`Library.chapter_rows`): the same
    fields as `domain.models.Chapter`, for the window's read path, which
    builds no pydantic models."""

    start: float
    end: float | None
    title: str
    source: str
    url: str | None
    image: str | None
    hidden: bool


@_row
class ListedEpisode:
    """One line of an episode list (`Library.listing`)."""

    id: int
    short_id: str
    published_ts: float | None
    duration: float | None
    title: str
    file: str | None
    played: int
    guests: list[Guest]

    @property
    def published(self) -> datetime | None:
        return _dt(self.published_ts)


@_row
class SearchHit:
    kind: str  # "chapter" | "episode" | "guest"
    feed_title: str
    episode_id: int | None
    episode_guid: str | None
    episode_title: str | None
    start: float | None
    title: str
    snippet: str
    score: float
    person_id: int | None = None

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "feed_title": self.feed_title,
            "episode_guid": self.episode_guid,
            "episode_title": self.episode_title,
            "start": self.start,
            "title": self.title,
            "snippet": self.snippet,
        }


# ---------------------------------------------------------------- schema

_SCHEMA_V1 = """
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL DEFAULT '',
    link TEXT,
    description TEXT NOT NULL DEFAULT '',
    author TEXT,
    image TEXT,
    snapshot INTEGER NOT NULL DEFAULT 0,
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT,
    last_checked REAL,
    last_error TEXT,
    hosts_json TEXT NOT NULL DEFAULT '[]',
    added REAL NOT NULL
);
CREATE TABLE episodes (
    id INTEGER PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    guid TEXT NOT NULL,
    short_id TEXT NOT NULL,
    title TEXT NOT NULL,
    published REAL,
    audio_url TEXT NOT NULL,
    audio_type TEXT,
    audio_length INTEGER NOT NULL DEFAULT 0,
    feed_duration REAL,
    file_duration REAL,
    episode_number INTEGER,
    link TEXT,
    image TEXT,
    summary TEXT NOT NULL DEFAULT '',
    notes_html TEXT NOT NULL DEFAULT '',
    notes_text TEXT NOT NULL DEFAULT '',
    chapters_url TEXT,
    chapter_source TEXT,
    item_hash TEXT,
    position REAL NOT NULL DEFAULT 0,
    played INTEGER NOT NULL DEFAULT 0,
    last_played REAL,
    file TEXT,
    UNIQUE (feed_id, guid)
);
CREATE INDEX episodes_feed_published ON episodes(feed_id, published DESC);
CREATE INDEX episodes_short_id ON episodes(short_id);
CREATE TABLE chapters (
    id INTEGER PRIMARY KEY,
    episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    idx INTEGER NOT NULL,
    start REAL NOT NULL,
    end REAL,
    title TEXT NOT NULL,
    url TEXT,
    image TEXT,
    hidden INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX chapters_episode ON chapters(episode_id, source, idx);
CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);
CREATE TABLE episode_people (
    episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    role TEXT NOT NULL DEFAULT 'guest',
    affiliations TEXT NOT NULL DEFAULT '[]',
    pos INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (episode_id, person_id, role)
);
CREATE INDEX episode_people_person ON episode_people(person_id);
CREATE TABLE topics (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE episode_topics (
    episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    topic_id INTEGER NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    rank INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (episode_id, topic_id)
);
CREATE INDEX episode_topics_topic ON episode_topics(topic_id);

-- Full-text search: external-content FTS5 tables.  Deletes and updates are
-- kept in step by triggers; inserts are indexed in bulk by the code that
-- inserts (a per-row trigger makes a 2,000-episode ingest 5x slower).
CREATE VIRTUAL TABLE chapters_fts USING fts5(
    title, content='chapters', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER chapters_ad AFTER DELETE ON chapters BEGIN
    INSERT INTO chapters_fts(chapters_fts, rowid, title) VALUES ('delete', old.id, old.title);
END;
CREATE VIRTUAL TABLE episodes_fts USING fts5(
    title, notes_text, content='episodes', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER episodes_ad AFTER DELETE ON episodes BEGIN
    INSERT INTO episodes_fts(episodes_fts, rowid, title, notes_text) VALUES ('delete', old.id, old.title, old.notes_text);
END;
CREATE TRIGGER episodes_au AFTER UPDATE OF title, notes_text ON episodes BEGIN
    INSERT INTO episodes_fts(episodes_fts, rowid, title, notes_text) VALUES ('delete', old.id, old.title, old.notes_text);
    INSERT INTO episodes_fts(rowid, title, notes_text) VALUES (new.id, new.title, new.notes_text);
END;
CREATE VIRTUAL TABLE people_fts USING fts5(
    name, content='people', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER people_ai AFTER INSERT ON people BEGIN
    INSERT INTO people_fts(rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER people_ad AFTER DELETE ON people BEGIN
    INSERT INTO people_fts(people_fts, rowid, name) VALUES ('delete', old.id, old.name);
END;
CREATE TRIGGER people_au AFTER UPDATE OF name ON people BEGIN
    INSERT INTO people_fts(people_fts, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO people_fts(rowid, name) VALUES (new.id, new.name);
END;
"""

# v2: per-feed download settings and per-episode download bookkeeping.
_SCHEMA_V2 = """
ALTER TABLE feeds ADD COLUMN auto_download INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN auto_delete_played INTEGER NOT NULL DEFAULT 0;
ALTER TABLE episodes ADD COLUMN file_size INTEGER;
ALTER TABLE episodes ADD COLUMN downloaded_at REAL;
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# v3: the file name chosen when a download starts (so a killed download
# resumes into the same .part), and whether the download was automatic.
_SCHEMA_V3 = """
ALTER TABLE episodes ADD COLUMN download_path TEXT;
ALTER TABLE episodes ADD COLUMN auto_downloaded INTEGER NOT NULL DEFAULT 0;
"""

# v4: enrichment (Podcasting 2.0 chapter files, chapter images, later
# transcripts) kept apart from feed data, keyed by URL, with the validators
# it was fetched under.  A feed refresh never deletes it.
_SCHEMA_V4 = """
CREATE TABLE enrichment (
    url TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    fetched_at REAL,
    checked_at REAL,
    body BLOB,
    path TEXT,
    error TEXT
);
"""

# v5: Up Next (the play queue, in order) and per-feed listening settings:
# a playback speed (NULL = the global default) and "add new episodes to Up
# Next" with the highest episode id already considered for it.
_SCHEMA_V5 = """
CREATE TABLE queue (
    episode_id INTEGER PRIMARY KEY REFERENCES episodes(id) ON DELETE CASCADE,
    pos REAL NOT NULL
);
CREATE INDEX queue_pos ON queue(pos);
ALTER TABLE feeds ADD COLUMN speed REAL;
ALTER TABLE feeds ADD COLUMN auto_queue INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN queue_seen INTEGER NOT NULL DEFAULT 0;
"""

# v6: "new" episodes: those that arrived in a refresh of a feed the listener
# already had, until the listener sees them (plays, marks played, "mark all
# seen").  Episodes stored before v6 are not new.
_SCHEMA_V6 = """
ALTER TABLE episodes ADD COLUMN is_new INTEGER NOT NULL DEFAULT 0;
CREATE INDEX episodes_new ON episodes(is_new) WHERE is_new=1;
"""

# v7 (issue 10 §5): per-feed skip words (chapters whose title matches one are
# jumped over) and the chapters a listener heard through, per episode, keyed
# by the chapter's start (in ms) so a re-parsed list keeps its marks.
_SCHEMA_V7 = """
CREATE TABLE feed_skip_words (
    feed_id INTEGER PRIMARY KEY REFERENCES feeds(id) ON DELETE CASCADE,
    words TEXT NOT NULL
);
CREATE TABLE heard_chapters (
    episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    start_ms INTEGER NOT NULL,
    heard_at REAL,
    PRIMARY KEY (episode_id, start_ms)
);
"""

# v8 (issue 9): a person's page and picture, from <podcast:person href/img>
# or a Podlove contributor, for the guest card.  Existing people keep their
# rows (NULL until a refresh reads the feed again).
_SCHEMA_V8 = """
ALTER TABLE people ADD COLUMN href TEXT;
ALTER TABLE people ADD COLUMN image TEXT;
"""

# v9 (issue 11 §1): the episodes that name a Podcasting 2.0 chapters file,
# which every refresh (a 304 too) looks up.  chapters_url sits after the
# notes in each row, so without this index that look-up read every episode's
# pages (~1,900 page reads and ~17 ms at 2,000 episodes); a small partial index.
_SCHEMA_V9 = """
CREATE INDEX episodes_chapter_files ON episodes(feed_id) WHERE chapters_url IS NOT NULL AND chapters_url != '';
"""

MIGRATIONS: dict[int, str] = {1: _SCHEMA_V1, 2: _SCHEMA_V2, 3: _SCHEMA_V3, 4: _SCHEMA_V4, 5: _SCHEMA_V5,
                              6: _SCHEMA_V6, 7: _SCHEMA_V7, 8: _SCHEMA_V8, 9: _SCHEMA_V9}

# Chapter sources the feed item itself carries: a refresh that rewrites an
# episode replaces these.  'podcast-chapters' is enrichment (its own fetch,
# its own table) and the embedded sources come from the audio file: a refresh
# never deletes those.
FEED_CHAPTER_SOURCES = ("notes", "psc")


def short_id_for(guid: str) -> str:
    import hashlib  # only where episodes are stored: reading commands skip loading OpenSSL

    return hashlib.sha1(guid.encode("utf-8", "surrogatepass")).hexdigest()[:7]


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt else None


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=UTC) if ts is not None else None


# Bump when parsing changes what is derived from the same item (chapters,
# guests, topics), so the next refresh rewrites stored episodes.
PARSER_VERSION = 2


def _item_hash(ep: ParsedEpisode) -> str:
    """Identity of what the feed says about an episode: unchanged items are
    skipped on refresh."""
    import hashlib

    h = hashlib.sha1(str(PARSER_VERSION).encode())
    for part in (ep.title, ep.audio_url, ep.audio_type, str(ep.audio_length), str(ep.duration), str(ep.published),
                 str(ep.episode_number), ep.link, ep.image, ep.chapters_url, ep.summary, ep.notes_html):
        h.update((part or "").encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    for source, chs in sorted(ep.chapters.items()):
        # notes chapters derive from notes_html; enrichment (podcast-chapters)
        # is never part of the item: fetched or not, the item is the same.
        if source in FEED_CHAPTER_SOURCES and source != "notes":
            h.update(repr([(c.start, c.title) for c in chs]).encode("utf-8", "surrogatepass"))
    # a guest's new page or picture (<podcast:person href/img>) is a change;
    # items without them hash as before v8 (no mass rewrite on upgrade)
    linked = [(p.name, p.href, p.image) for p in ep.guests if p.href or p.image]
    if linked:
        h.update(repr(linked).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


_EPISODE_COLUMNS = """
    e.id, e.short_id, e.feed_id, f.title, e.guid, e.title, e.published, e.audio_url,
    e.audio_type, e.audio_length, COALESCE(e.file_duration, e.feed_duration),
    e.episode_number, e.link, e.image, e.summary, e.chapters_url, e.chapter_source,
    e.position, e.played, e.file, e.is_new
"""


class Library:
    """The ibplayer library database.

    Opening checks the file cheaply (header, size); the first write of a
    session runs ``PRAGMA quick_check`` first (skipped when the file is
    byte-for-byte what this app last checked).  A damaged file is never
    written to: it is set aside as ``library.sqlite3.damaged-<time>`` and a
    new, empty library is started (``recovered`` says so; when found only at
    the first write, `LibraryDamaged` is raised and nothing is written).  A
    library that cannot be written (read-only folder or file) opens
    read-only: reading works, writing raises `LibraryReadOnly`.  A full disk
    raises `LibraryFull` and the write is rolled back."""

    def __init__(self, path: str | Path, *, cache_kib: int = DEFAULT_CACHE_KIB):
        path = Path(path)
        if path.is_dir():
            path = path / DB_NAME
        self.path = path
        self.recovered: LibraryDamaged | None = None
        self.read_only = False
        self._cache_kib = cache_kib
        self._lock = threading.RLock()
        self._depth = 0
        self._verified = False
        self._people_grams: tuple | None = None
        if path.is_dir():
            raise LibraryError(f"the library path {path} is a directory, not a file: move it away or choose another --data-dir")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(f"cannot create the library folder {path.parent}: {exc.strerror or exc}") from exc
        folder_writable = os.access(path.parent, os.W_OK)
        if not folder_writable or (path.exists() and not os.access(path, os.W_OK)):
            self.read_only = True
            self._open_read_only(folder_writable)
        else:
            self._open_writable()
        self._migrate()

    # ------------------------------------------------------------ opening

    @property
    def read_only_message(self) -> str:
        return f"cannot write the library at {self.path}: read-only"

    def _connect(self, target: str, uri: bool = False) -> sqlite3.Connection:
        return sqlite3.connect(target, uri=uri, timeout=30, isolation_level=None, check_same_thread=False)

    def _pragmas(self) -> None:
        if not self.read_only:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.execute(f"PRAGMA cache_size=-{int(self._cache_kib)}")
        self.db.execute("PRAGMA temp_store=MEMORY")
        # Reads the schema: a file that is not a database fails here.
        self.db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()

    def _open_writable(self) -> None:
        problem = _damage_signs(self.path)
        if problem:
            self._set_aside(problem)
        self.db = self._connect(str(self.path))
        try:
            self._pragmas()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            if _is_full(exc, self.path):
                raise LibraryFull("the disk is full: nothing was changed") from exc
            if not _is_corrupt(exc):
                raise LibraryError(f"cannot open the library {self.path}: {exc}") from exc
            self._set_aside(str(exc))
            self.db = self._connect(str(self.path))
            self._pragmas()

    def _open_read_only(self, folder_writable: bool) -> None:
        if not self.path.exists():
            raise LibraryReadOnly(self.read_only_message)
        problem = _damage_signs(self.path)
        if problem:
            raise LibraryDamaged(
                f"the library {self.path} is damaged ({problem}) and cannot be set aside (read-only): nothing was changed",
                self.path,
            )
        base = "file:" + urllib.parse.quote(str(self.path)) + "?mode=ro"
        # WAL readers need a -shm file: in a read-only folder without one,
        # the file can only be read as immutable.
        for uri in (base, base + "&immutable=1") if folder_writable or _has_shm(self.path) else (base + "&immutable=1",):
            self.db = self._connect(uri, uri=True)
            try:
                self._pragmas()
                return
            except sqlite3.DatabaseError as exc:
                self.db.close()
                if _is_corrupt(exc):
                    raise LibraryDamaged(
                        f"the library {self.path} is damaged ({exc}) and cannot be set aside (read-only): "
                        "nothing was changed", self.path,
                    ) from exc
                error = exc
        raise LibraryError(f"cannot read the library {self.path}: {error}") from error

    def _set_aside(self, problem: str) -> None:
        """Move a damaged file (and its -wal) out of the way, never deleting it."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        dest = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        n = 1
        while dest.exists():
            n += 1
            dest = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{n}")
        try:
            os.replace(self.path, dest)
            wal = self.path.with_name(self.path.name + "-wal")
            if wal.exists():
                os.replace(wal, dest.with_name(dest.name + "-wal"))
            shm = self.path.with_name(self.path.name + "-shm")
            shm.unlink(missing_ok=True)
        except OSError as exc:
            raise LibraryDamaged(
                f"the library {self.path} is damaged ({problem}) and could not be set aside ({exc.strerror or exc})",
                self.path,
            ) from exc
        _stamp_path(self.path).unlink(missing_ok=True)
        self.recovered = LibraryDamaged(
            f"the library {self.path} was damaged ({problem}): it was set aside as {dest} "
            "and a new, empty library was started",
            self.path, dest,
        )

    def _verify(self) -> None:
        """Before the first write: a full check, unless the file is exactly
        what was last found intact."""
        self._verified = True
        if _read_stamp(self.path) == _file_stamp(self.path):
            return
        try:
            rows = self.db.execute("PRAGMA quick_check").fetchall()
            problem = None if rows == [("ok",)] else "; ".join(str(r[0]) for r in rows[:2])
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                raise
            problem = str(exc)
        if problem is None:
            self._write_stamp()
            return
        self.db.close()
        self._set_aside(problem[:200])
        self.db = self._connect(str(self.path))
        self._pragmas()
        self._migrate()
        damaged, self.recovered = self.recovered, None
        raise LibraryDamaged(str(damaged) + ": nothing was written; try again", self.path, damaged.moved_to)

    def _write_stamp(self) -> None:
        try:
            st = self.path.stat()
        except OSError:
            return
        # File times tick coarsely (a few ms): a write right after this stamp
        # could leave the same mtime, size and inode.  A file written in the
        # last 50 ms (typically our own checkpoint at close: every session
        # that wrote) first gets an mtime one nanosecond later, a time no
        # write can give it (writes take the coarse clock's tick), so any
        # later write changes it; where the file system cannot keep that
        # (coarse file times, not our file), no stamp: the next session checks.
        if time.time_ns() - st.st_mtime_ns <= 50_000_000:
            mark = st.st_mtime_ns + 1
            try:
                os.utime(self.path, ns=(st.st_atime_ns, mark))
                st = self.path.stat()
            except OSError:
                return
            if st.st_mtime_ns != mark:
                return
        try:
            _stamp_path(self.path).write_text(f"{st.st_ino} {st.st_size} {st.st_mtime_ns}")  # = _file_stamp
        except OSError:
            pass  # no stamp: the next session checks again

    @contextmanager
    def _bulk_cache(self) -> Iterator[None]:
        """A big page cache for a bulk write (ingest, FTS merges), given back
        after: a long-lived reader (the window) keeps only the default."""
        if self._cache_kib >= BULK_CACHE_KIB:
            yield
            return
        self.db.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        try:
            yield
        finally:
            self.db.execute(f"PRAGMA cache_size=-{int(self._cache_kib)}")

    def check_writable(self) -> None:
        """Before work that will end in a write: raise `LibraryReadOnly` now,
        and check the file (once per session), so a damaged one is set aside
        (`LibraryDamaged`) before anything is read from it."""
        if self.read_only:
            raise LibraryReadOnly(self.read_only_message)
        with self._lock:
            if not self._verified:
                self._verify()

    def _translate(self, exc: sqlite3.Error) -> LibraryError | None:
        if _is_full(exc, self.path):
            return LibraryFull("the disk is full: nothing was changed")
        if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):
            return LibraryReadOnly(self.read_only_message)
        if _is_corrupt(exc):
            return LibraryDamaged(f"the library {self.path} is damaged ({exc}): nothing was changed", self.path)
        return None

    # ------------------------------------------------------------ plumbing

    def close(self) -> None:
        verified = self._verified and not self.read_only
        self.db.close()
        if verified:
            self._write_stamp()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception.  Nests.
        SQLite errors that mean a full disk, a read-only or a damaged file
        come out as the matching `LibraryError`."""
        if self.read_only:
            raise LibraryReadOnly(self.read_only_message)
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.db
                finally:
                    self._depth -= 1
                return
            if not self._verified:
                self._verify()
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise (self._translate(exc) or exc) from exc
            self._depth = 1
            try:
                yield self.db
                self._depth = 0
                self.db.execute("COMMIT")
            except BaseException as exc:
                self._depth = 0
                if self.db.in_transaction:
                    try:
                        self.db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                if isinstance(exc, sqlite3.Error):
                    translated = self._translate(exc)
                    if translated is not None:
                        raise translated from exc
                raise

    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise LibraryError(
                f"the library {self.path} was written by a newer ibplayer (schema {current}; this one knows up to "
                f"{SCHEMA_VERSION}): update ibplayer, or choose another --data-dir"
            )
        if current == SCHEMA_VERSION:
            return
        if self.read_only:
            raise LibraryReadOnly(self.read_only_message + f" (it needs an upgrade from schema {current})")
        with self.transaction():
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _split_sql(MIGRATIONS[version]):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={version}")

    # ------------------------------------------------------------ settings

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (key, value))

    # ------------------------------------------------------------ feeds

    _FEED_SELECT = """
        SELECT f.id, f.url, f.title, f.link, f.description, f.author, f.image, f.snapshot,
               f.etag, f.last_modified, f.content_hash, f.last_checked, f.last_error,
               f.auto_download, f.auto_delete_played,
               (SELECT COUNT(*) FROM episodes e WHERE e.feed_id=f.id),
               (SELECT COUNT(*) FROM episodes e WHERE e.feed_id=f.id AND e.played=0)
        FROM feeds f
    """

    @staticmethod
    def _feed(row) -> FeedRow:
        r = list(row)
        r[7] = bool(r[7])
        r[14] = bool(r[14])
        return FeedRow(*r)

    # The counts read every episode row of the feed (the played flag): ~40 ms
    # for 2,000 episodes on a fresh connection.  Without them (``counts=False``:
    # refresh, artwork, policies), the row's counts are None.
    _FEED_SELECT_NO_COUNTS = _FEED_SELECT.split("(SELECT COUNT(*)", 1)[0] + "NULL, NULL FROM feeds f"

    def feeds(self, *, counts: bool = True) -> list[FeedRow]:
        select = self._FEED_SELECT if counts else self._FEED_SELECT_NO_COUNTS
        rows = self.db.execute(select + " ORDER BY f.title COLLATE NOCASE").fetchall()
        return [self._feed(r) for r in rows]

    @staticmethod
    def count_episodes(feeds: list[FeedRow], every_episode: list) -> None:
        """Set the feeds' episode and unplayed counts from the rows of EVERY
        episode (`episodes()` with no filter), read just before: what
        ``feeds(counts=True)`` reads again from every episode row (the played
        flags sit after the notes, in overflow pages: ~40 ms at 20,000)."""
        total: dict[int, int] = {}
        unplayed: dict[int, int] = {}
        for ep in every_episode:
            fid = ep.feed_id
            total[fid] = total.get(fid, 0) + 1
            if not ep.played:
                unplayed[fid] = unplayed.get(fid, 0) + 1
        for f in feeds:
            f.episode_count, f.unplayed_count = total.get(f.id, 0), unplayed.get(f.id, 0)

    def feed(self, feed_id: int, *, counts: bool = True) -> FeedRow | None:
        select = self._FEED_SELECT if counts else self._FEED_SELECT_NO_COUNTS
        row = self.db.execute(select + " WHERE f.id=?", (feed_id,)).fetchone()
        return self._feed(row) if row else None

    def feed_by_url(self, url: str) -> FeedRow | None:
        row = self.db.execute(self._FEED_SELECT + " WHERE f.url=?", (url,)).fetchone()
        return self._feed(row) if row else None

    def find_feed(self, key: str) -> FeedRow:
        """A feed by id, URL or (unique, case-insensitive) title fragment."""
        key = str(key).strip()
        if key.isdigit():  # an all-digit key is only ever an id
            f = self.feed(int(key))
            if f is None:
                raise LibraryError(f"no feed with id {key} (see `ibplayer feeds`)")
            return f
        f = self.feed_by_url(key)
        if f:
            return f
        matches = [f for f in self.feeds() if key.casefold() in f.title.casefold()]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise LibraryError(f"no feed matches {key!r} (see `ibplayer feeds`)")
        raise LibraryError(f"{key!r} matches {len(matches)} feeds; use the feed id from `ibplayer feeds`")

    def add_feed(self, url: str, title: str = "") -> int:
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO feeds(url, title, added) VALUES (?, ?, ?) ON CONFLICT(url) DO NOTHING",
                (url, title, time.time()),
            )
            if cur.rowcount:
                return cur.lastrowid
            return self.db.execute("SELECT id FROM feeds WHERE url=?", (url,)).fetchone()[0]

    def feed_has_user_data(self, feed_id: int) -> bool:
        """Whether removing the feed loses something the user did: an episode
        played, started or downloaded (ask before unsubscribing)."""
        row = self.db.execute(
            """SELECT 1 FROM episodes WHERE feed_id=? AND (played=1 OR position>0 OR file IS NOT NULL
                   OR download_path IS NOT NULL) LIMIT 1""",
            (feed_id,),
        ).fetchone()
        return row is not None

    def delete_feed(self, feed_id: int) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM feeds WHERE id=?", (feed_id,))
            self._prune_orphans()

    def set_feed_settings(self, feed_id: int, *, auto_download: int | None = None, auto_delete_played: bool | None = None) -> None:
        with self.transaction():
            if auto_download is not None:
                self.db.execute("UPDATE feeds SET auto_download=? WHERE id=?", (max(0, auto_download), feed_id))
            if auto_delete_played is not None:
                self.db.execute("UPDATE feeds SET auto_delete_played=? WHERE id=?", (int(auto_delete_played), feed_id))

    def note_feed_checked(self, feed_id: int, *, error: str | None = None, url: str | None = None,
                          etag: str | None = None, last_modified: str | None = None, keep_validators: bool = True) -> None:
        with self.transaction():
            self.db.execute("UPDATE feeds SET last_checked=?, last_error=? WHERE id=?", (time.time(), error, feed_id))
            if url:
                self._set_url(feed_id, url)
            if not keep_validators:
                self.db.execute("UPDATE feeds SET etag=?, last_modified=? WHERE id=?", (etag, last_modified, feed_id))

    def _set_url(self, feed_id: int, url: str) -> None:
        clash = self.db.execute("SELECT id FROM feeds WHERE url=? AND id<>?", (url, feed_id)).fetchone()
        if not clash:
            self.db.execute("UPDATE feeds SET url=? WHERE id=?", (url, feed_id))

    def store_feed(
        self,
        feed_id: int,
        parsed: ParsedFeed,
        *,
        url: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        content_hash: str | None = None,
        snapshot: bool = False,
    ) -> dict:
        """Apply a parsed feed in one transaction: update changed episodes in
        place, add new ones, never duplicate.  When the stored copy was a
        snapshot and this one is live, drop snapshot episodes the live feed no
        longer has unless the user played or downloaded them."""
        stats: dict = {"new": 0, "updated": 0, "unchanged": 0, "removed": 0, "touched": []}
        now = time.time()
        with self._bulk_cache(), self.transaction():
            was_snapshot = bool(self.db.execute("SELECT snapshot FROM feeds WHERE id=?", (feed_id,)).fetchone()[0])
            self.db.execute(
                """UPDATE feeds SET title=?, link=?, description=?, author=?, image=?, snapshot=?,
                       etag=?, last_modified=?, content_hash=?, last_checked=?, last_error=NULL, hosts_json=?
                   WHERE id=?""",
                (
                    parsed.title, parsed.link, parsed.description, parsed.author, parsed.image, int(snapshot),
                    etag, last_modified, content_hash, now,
                    json.dumps([p.model_dump(exclude_none=True) for p in parsed.hosts]), feed_id,
                ),
            )
            if url:
                self._set_url(feed_id, url)
            existing = {
                guid: (eid, h)
                for eid, guid, h in self.db.execute("SELECT id, guid, item_hash FROM episodes WHERE feed_id=?", (feed_id,))
            }
            person_ids: dict[str, list] = {}  # key -> [id, page written, picture written]
            topic_ids: dict[str, int] = {}
            next_id = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM episodes").fetchone()[0] + 1
            first_new_episode = next_id
            had_episodes = bool(existing)
            inserts, updates, touched = [], [], []
            chapter_rows, people_rows, topic_rows = [], [], []
            for ep in parsed.episodes:
                h = _item_hash(ep)
                known = existing.get(ep.guid)
                if known and known[1] == h:
                    stats["unchanged"] += 1
                    continue
                values = (
                    ep.title, _ts(ep.published), ep.audio_url, ep.audio_type, ep.audio_length, ep.duration,
                    ep.episode_number, ep.link, ep.image, ep.summary, ep.notes_html, ep.notes_text,
                    ep.chapters_url, h,
                )
                if known:
                    eid = known[0]
                    updates.append(values + (eid,))
                    touched.append((eid,))
                    stats["touched"].append(eid)
                    stats["updated"] += 1
                else:
                    eid = next_id
                    next_id += 1
                    existing[ep.guid] = (eid, h)  # a guid twice in one feed stays one episode
                    inserts.append((eid,) + values + (feed_id, ep.guid, short_id_for(ep.guid)))
                    stats["touched"].append(eid)
                    stats["new"] += 1
                for source, chs in ep.chapters.items():
                    if source not in FEED_CHAPTER_SOURCES:
                        continue  # enrichment is stored by the enrichment service
                    for i, c in enumerate(chs):
                        chapter_rows.append((eid, source, i, c.start, c.end, c.title, c.url, c.image, int(c.hidden)))
                for pos, person in enumerate(ep.guests):
                    pid = self._person_id(person.name, person_ids, person.href, person.image)
                    people_rows.append((eid, pid, person.role, json.dumps(person.affiliations, ensure_ascii=False), pos))
                for rank, topic in enumerate(ep.topics):
                    topic_rows.append((eid, self._topic_id(topic, topic_ids), rank))
            if touched:
                # Feed-derived data is replaced; enrichment and chapters read
                # from the audio file stay.
                self.db.executemany(
                    "DELETE FROM chapters WHERE episode_id=? AND source IN ('notes','psc')", touched
                )
                self.db.executemany("DELETE FROM episode_people WHERE episode_id=?", touched)
                self.db.executemany("DELETE FROM episode_topics WHERE episode_id=?", touched)
                self.db.executemany(
                    """UPDATE episodes SET title=?, published=?, audio_url=?, audio_type=?, audio_length=?,
                           feed_duration=?, episode_number=?, link=?, image=?, summary=?, notes_html=?,
                           notes_text=?, chapters_url=?, item_hash=? WHERE id=?""",
                    updates,
                )
            if inserts:
                self.db.executemany(
                    """INSERT INTO episodes(id, title, published, audio_url, audio_type, audio_length, feed_duration,
                           episode_number, link, image, summary, notes_html, notes_text, chapters_url, item_hash,
                           feed_id, guid, short_id)
                       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                    inserts,
                )
                self.db.execute(
                    "INSERT INTO episodes_fts(rowid, title, notes_text) SELECT id, title, notes_text FROM episodes WHERE id>=?",
                    (first_new_episode,),
                )
            if inserts and had_episodes and not snapshot:
                self._mark_new(feed_id, first_new_episode)
            self._insert_chapters(chapter_rows)
            self.db.executemany(
                "INSERT OR IGNORE INTO episode_people(episode_id, person_id, role, affiliations, pos) VALUES (?,?,?,?,?)",
                people_rows,
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO episode_topics(episode_id, topic_id, rank) VALUES (?,?,?)", topic_rows
            )
            if was_snapshot and not snapshot:
                live = {ep.guid for ep in parsed.episodes}
                for eid, guid, played, file, pos in self.db.execute(
                    "SELECT id, guid, played, file, position FROM episodes WHERE feed_id=?", (feed_id,)
                ).fetchall():
                    if guid not in live and not played and not file and not pos:
                        self.db.execute("DELETE FROM episodes WHERE id=?", (eid,))
                        stats["removed"] += 1
            if stats["updated"] or stats["removed"]:
                self._prune_orphans()
        return stats

    def _person_id(self, name: str, cache: dict[str, list], href: str | None = None, image: str | None = None) -> int:
        """The person's id (made when new).  A page or picture the feed gives
        replaces the known one; a feed that names the person without them
        keeps what is known.  Within one store the first given wins (a feed
        lists its newest items first)."""
        from ibplayer.domain.people import person_key

        key = person_key(name)
        known = cache.get(key)
        if known is None:
            row = self.db.execute("SELECT id FROM people WHERE key=?", (key,)).fetchone()
            if row:
                known = cache[key] = [row[0], False, False]
            else:
                pid = self.db.execute("INSERT INTO people(key, name, href, image) VALUES (?, ?, ?, ?)",
                                      (key, name, href or None, image or None)).lastrowid
                cache[key] = [pid, bool(href), bool(image)]
                return pid
        pid, href_set, image_set = known
        href = None if href_set else (href or None)
        image = None if image_set else (image or None)
        if href or image:
            self.db.execute("UPDATE people SET href=COALESCE(?, href), image=COALESCE(?, image) WHERE id=?",
                            (href, image, pid))
            known[1], known[2] = href_set or bool(href), image_set or bool(image)
        return pid

    def _topic_id(self, name: str, cache: dict[str, int]) -> int:
        tid = cache.get(name)
        if tid is None:
            row = self.db.execute("SELECT id FROM topics WHERE name=?", (name,)).fetchone()
            tid = row[0] if row else self.db.execute("INSERT INTO topics(name) VALUES (?)", (name,)).lastrowid
            cache[name] = tid
        return tid

    def _prune_orphans(self) -> None:
        self.db.execute("DELETE FROM people WHERE id NOT IN (SELECT person_id FROM episode_people)")
        self.db.execute("DELETE FROM topics WHERE id NOT IN (SELECT topic_id FROM episode_topics)")

    def hosts(self, feed_id: int) -> list[Person]:
        from ibplayer.domain.models import Person

        row = self.db.execute("SELECT hosts_json FROM feeds WHERE id=?", (feed_id,)).fetchone()
        return [Person(**p) for p in json.loads(row[0])] if row else []

    # ------------------------------------------------------------ episodes

    def _episodes(self, where: str = "", params: tuple = (), order: str = "e.published DESC, e.id DESC",
                  limit: int | None = None) -> list[EpisodeRow]:
        sql = f"SELECT {_EPISODE_COLUMNS} FROM episodes e JOIN feeds f ON f.id=e.feed_id"
        if where:
            sql += " WHERE " + where
        sql += " ORDER BY " + order
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self.db.execute(sql, params).fetchall()
        eps = [
            EpisodeRow(
                r[0], r[1], r[2], r[3], r[4], r[5], _dt(r[6]), r[7], r[8], r[9], r[10], r[11], r[12], r[13],
                r[14], r[15], r[16], r[17], bool(r[18]), r[19], is_new=bool(r[20]),
            )
            for r in rows
        ]
        if eps:
            self._attach_guests(eps)
        return eps

    def _attach_guests(self, eps: list[EpisodeRow] | list[ListedEpisode]) -> None:
        by_id = {e.id: e for e in eps}
        sql = """SELECT ep.episode_id, p.name, ep.affiliations, p.href, p.image FROM episode_people ep
                 JOIN people p ON p.id=ep.person_id WHERE ep.role='guest'{} ORDER BY ep.episode_id, ep.pos"""
        if len(by_id) > 2000:  # a long list: one pass over every guest row beats id lists
            batches = [self.db.execute(sql.format(""))]
        else:
            ids = list(by_id)
            batches = [
                self.db.execute(sql.format(f" AND ep.episode_id IN ({','.join('?' * len(ids[i:i + 900]))})"),
                                ids[i:i + 900])
                for i in range(0, len(ids), 900)
            ]
        get = by_id.get
        parsed: dict[str, list[str]] = {}  # a guest's affiliations repeat across their episodes: parse each once
        for rows in batches:
            for eid, name, affs, href, image in rows:
                ep = get(eid)
                if ep is not None:
                    if affs == "[]":
                        aff = []
                    else:
                        aff = parsed.get(affs)
                        if aff is None:
                            aff = parsed[affs] = json.loads(affs)
                        aff = list(aff)  # each guest its own list
                    ep.guests.append(Guest(name, aff, "guest", href, image))

    def episodes(
        self,
        feed_id: int | None = None,
        *,
        text: str | None = None,
        unplayed: bool = False,
        downloaded: bool = False,
        limit: int | None = None,
        new: bool = False,
    ) -> list[EpisodeRow]:
        where, params = [], []
        if feed_id is not None:
            where.append("e.feed_id=?")
            params.append(feed_id)
        if new:
            where.append("e.is_new=1 AND e.played=0")
        if unplayed:
            where.append("e.played=0")
        if downloaded:
            where.append("e.file IS NOT NULL")
        if text:
            where.append(
                "(e.title LIKE ? ESCAPE '\\' OR e.id IN (SELECT ep.episode_id FROM episode_people ep "
                "JOIN people p ON p.id=ep.person_id WHERE p.name LIKE ? ESCAPE '\\'))"
            )
            like = "%" + re.sub(r"([%_\\])", r"\\\1", text) + "%"
            params += [like, like]
        return self._episodes(" AND ".join(where), tuple(params), limit=limit)

    def listing(self, feed_id: int | None = None, *, unplayed: bool = False,
                downloaded: bool = False) -> list[ListedEpisode]:
        """What a list of episodes shows (newest first), and nothing more: the
        narrow, fast form of `episodes` for long lists."""
        where, params = [], []
        if feed_id is not None:
            where.append("feed_id=?")
            params.append(feed_id)
        if unplayed:
            where.append("played=0")
        if downloaded:
            where.append("file IS NOT NULL")
        rows = self.db.execute(
            "SELECT id, short_id, published, COALESCE(file_duration, feed_duration), title, file, played FROM episodes"
            + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY published DESC, id DESC",
            params,
        ).fetchall()
        eps = [ListedEpisode(*r, []) for r in rows]
        if eps:
            self._attach_guests(eps)
        return eps

    def episode(self, episode_id: int) -> EpisodeRow | None:
        eps = self._episodes("e.id=?", (episode_id,))
        return eps[0] if eps else None

    def resolve_episode(self, key: str) -> EpisodeRow:
        """An episode by guid, short id (or a unique prefix of it) or row id."""
        key = str(key).strip()
        eps = self._episodes("e.guid=?", (key,))
        if not eps and re.fullmatch(r"[0-9a-f]{3,40}", key):
            eps = self._episodes("e.short_id LIKE ?", (key + "%",))
        if not eps and key.startswith("#") and key[1:].isdigit():
            eps = self._episodes("e.id=?", (int(key[1:]),))
        if len(eps) == 1:
            return eps[0]
        if not eps:
            raise LibraryError(f"no episode {key!r} (use the id printed by `ibplayer episodes`)")
        raise LibraryError(f"{key!r} matches {len(eps)} episodes; give more of the id")

    def notes_html(self, episode_id: int) -> str:
        row = self.db.execute("SELECT notes_html FROM episodes WHERE id=?", (episode_id,)).fetchone()
        return row[0] if row else ""

    def notes_text(self, episode_id: int) -> str:
        row = self.db.execute("SELECT notes_text FROM episodes WHERE id=?", (episode_id,)).fetchone()
        return row[0] if row else ""

    def guests(self, episode_id: int) -> list[Guest]:
        return [
            Guest(n, json.loads(a), "guest", href, image)
            for n, a, href, image in self.db.execute(
                """SELECT p.name, ep.affiliations, p.href, p.image FROM episode_people ep JOIN people p ON p.id=ep.person_id
                   WHERE ep.episode_id=? AND ep.role='guest' ORDER BY ep.pos""",
                (episode_id,),
            )
        ]

    def person_id(self, name: str) -> int | None:
        from ibplayer.domain.people import person_key

        row = self.db.execute("SELECT id FROM people WHERE key=?", (person_key(name),)).fetchone()
        return row[0] if row else None

    def people(self) -> list[tuple[int, str, int]]:
        """(person id, name, episode count) for every guest, most episodes first."""
        return self.db.execute(
            """SELECT p.id, p.name, COUNT(*) FROM people p JOIN episode_people ep ON ep.person_id=p.id
               WHERE ep.role='guest' GROUP BY p.id ORDER BY COUNT(*) DESC, p.name"""
        ).fetchall()

    def episodes_with_person(self, person_id: int) -> list[EpisodeRow]:
        return self._episodes(
            "e.id IN (SELECT episode_id FROM episode_people WHERE person_id=?)", (person_id,)
        )

    def topics(self, episode_id: int) -> list[str]:
        return [
            r[0]
            for r in self.db.execute(
                """SELECT t.name FROM episode_topics et JOIN topics t ON t.id=et.topic_id
                   WHERE et.episode_id=? ORDER BY et.rank""",
                (episode_id,),
            )
        ]

    def all_topics(self) -> list[tuple[str, int]]:
        return self.db.execute(
            """SELECT t.name, COUNT(*) FROM topics t JOIN episode_topics et ON et.topic_id=t.id
               GROUP BY t.id ORDER BY COUNT(*) DESC, t.name"""
        ).fetchall()

    def episodes_with_topic(self, topic: str) -> list[EpisodeRow]:
        return self._episodes(
            "e.id IN (SELECT et.episode_id FROM episode_topics et JOIN topics t ON t.id=et.topic_id WHERE t.name=?)",
            (topic,),
        )

    # ------------------------------------------------------------ chapters

    def chapter_sets(self, episode_id: int) -> dict[str, list[Chapter]]:
        """Every chapter list the episode has, by source."""
        from ibplayer.domain.models import Chapter

        out: dict[str, list[Chapter]] = {}
        for source, start, end, title, url, image, hidden in self.db.execute(
            "SELECT source, start, end, title, url, image, hidden FROM chapters WHERE episode_id=? ORDER BY source, idx",
            (episode_id,),
        ):
            out.setdefault(source, []).append(
                Chapter(start=start, end=end, title=title, source=source, url=url, image=image, hidden=bool(hidden))
            )
        return out

    def chapter_images(self, episode_ids: list[int], source: str) -> list[tuple[int, str]]:
        """(episode id, image URL) of the ``source`` chapters of these episodes
        that have an image: one query, no chapter models (a 304 refresh
        caches artwork without loading pydantic)."""
        if not episode_ids:
            return []
        marks = ",".join("?" * len(episode_ids))
        return self.db.execute(
            f"SELECT episode_id, image FROM chapters WHERE source=? AND episode_id IN ({marks}) "
            "AND image IS NOT NULL AND image<>'' ORDER BY episode_id, idx",
            (source, *episode_ids),
        ).fetchall()

    def chapter_rows(self, episode_id: int) -> dict[str, list[ChapterRow]]:
        """`chapter_sets` as plain rows (no models built)."""
        out: dict[str, list[ChapterRow]] = {}
        for source, start, end, title, url, image, hidden in self.db.execute(
            "SELECT source, start, end, title, url, image, hidden FROM chapters WHERE episode_id=? ORDER BY source, idx",
            (episode_id,),
        ):
            out.setdefault(source, []).append(ChapterRow(start, end, title, source, url, image, bool(hidden)))
        return out

    def chapters(self, episode_id: int, source: str | None = None) -> tuple[str | None, list[Chapter]]:
        """The chapters to show: the user's chosen source, else the best one."""
        sets = self.chapter_sets(episode_id)
        if source is None:
            row = self.db.execute("SELECT chapter_source FROM episodes WHERE id=?", (episode_id,)).fetchone()
            source = row[0] if row else None
        if source not in sets:
            source = _best_source(sets)
        return source, (sets.get(source, []) if source else [])

    def chapter_source(self, episode_id: int) -> str | None:
        """The user's chosen chapter source (None: automatic)."""
        row = self.db.execute("SELECT chapter_source FROM episodes WHERE id=?", (episode_id,)).fetchone()
        return row[0] if row else None

    def set_chapter_source(self, episode_id: int, source: str | None) -> None:
        with self.transaction():
            self.db.execute("UPDATE episodes SET chapter_source=? WHERE id=?", (source, episode_id))

    # ------------------------------------------------------------ skip words, heard chapters (v7)

    def skip_words(self, feed_id: int) -> list[str]:
        row = self.db.execute("SELECT words FROM feed_skip_words WHERE feed_id=?", (feed_id,)).fetchone()
        return [w for w in (row[0].split("\n") if row else []) if w]

    def set_skip_words(self, feed_id: int, words: list[str]) -> None:
        with self.transaction():
            if words:
                self.db.execute("INSERT OR REPLACE INTO feed_skip_words(feed_id, words) VALUES (?, ?)",
                                (feed_id, "\n".join(words)))
            else:
                self.db.execute("DELETE FROM feed_skip_words WHERE feed_id=?", (feed_id,))

    def heard_chapters(self, episode_id: int) -> set[float]:
        """Starts (seconds) of the chapters heard through in this episode."""
        return {ms / 1000.0 for (ms,) in self.db.execute(
            "SELECT start_ms FROM heard_chapters WHERE episode_id=?", (episode_id,))}

    def add_heard_chapter(self, episode_id: int, start: float) -> bool:
        """Mark the chapter starting at ``start`` heard; False when it already was."""
        with self.transaction():
            cur = self.db.execute("INSERT OR IGNORE INTO heard_chapters(episode_id, start_ms, heard_at) VALUES (?,?,?)",
                                  (episode_id, int(round(float(start) * 1000)), time.time()))
            return cur.rowcount > 0

    def replace_chapters(self, episode_id: int, source: str, chs: list[Chapter]) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM chapters WHERE episode_id=? AND source=?", (episode_id, source))
            self._insert_chapters(
                [(episode_id, source, i, c.start, c.end, c.title, c.url, c.image, int(c.hidden)) for i, c in enumerate(chs)]
            )

    def _insert_chapters(self, rows: list[tuple]) -> None:
        """Insert chapter rows and index them for search in one pass."""
        if not rows:
            return
        first = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM chapters").fetchone()[0] + 1
        self.db.executemany(
            "INSERT INTO chapters(episode_id, source, idx, start, end, title, url, image, hidden) VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )
        self.db.execute("INSERT INTO chapters_fts(rowid, title) SELECT id, title FROM chapters WHERE id>=?", (first,))

    def chapters_disagree(self, episode_id: int) -> bool:
        """Whether the episode's chapter sources differ (count, or starts more
        than a few seconds apart), so the app can offer a choice."""
        from ibplayer.domain.chapters import any_disagree

        return any_disagree(self.chapter_sets(episode_id))

    def chapters_with_topic(self, topic: str, limit: int = 200) -> list[SearchHit]:
        """Every chapter on a topic across the library (full-text match of the
        topic in chapter titles), best first."""
        return [h for h in self.search(topic, limit=limit, kinds=("chapter",))]

    # ------------------------------------------------------------ playback state

    def set_position(self, episode_id: int, seconds: float) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE episodes SET position=?, last_played=?, is_new=0 WHERE id=?",
                (max(0.0, float(seconds)), time.time(), episode_id)
            )

    def set_played(self, episode_id: int, played: bool = True) -> None:
        with self.transaction():
            if played:
                self.db.execute("UPDATE episodes SET played=1, position=0, last_played=?, is_new=0 WHERE id=?",
                                (time.time(), episode_id))
            else:
                self.db.execute("UPDATE episodes SET played=0 WHERE id=?", (episode_id,))

    def last_played_episode(self) -> int | None:
        """The episode played (or paused) most recently, unless it was then
        finished: what "continue" offers at launch."""
        row = self.db.execute(
            "SELECT id, played FROM episodes WHERE last_played IS NOT NULL ORDER BY last_played DESC LIMIT 1"
        ).fetchone()
        return row[0] if row and not row[1] else None

    # ------------------------------------------------------------ queue (Up Next)

    def queue_ids(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT episode_id FROM queue ORDER BY pos, rowid")]

    def queue_episodes(self) -> list[EpisodeRow]:
        by_id = {e.id: e for e in self._episodes("e.id IN (SELECT episode_id FROM queue)")}
        return [by_id[i] for i in self.queue_ids() if i in by_id]

    def set_queue(self, episode_ids: list[int]) -> None:
        """Replace the queue with ``episode_ids`` in this order (unknown ids
        and repeats dropped)."""
        with self.transaction():
            known = {r[0] for r in self.db.execute("SELECT id FROM episodes")} if episode_ids else set()
            seen: set[int] = set()
            rows = []
            for eid in episode_ids:
                if eid in known and eid not in seen:
                    seen.add(eid)
                    rows.append((eid, float(len(rows))))
            self.db.execute("DELETE FROM queue")
            self.db.executemany("INSERT INTO queue(episode_id, pos) VALUES (?, ?)", rows)

    # ------------------------------------------------------------ per-feed listening settings

    def feed_speed(self, feed_id: int) -> float | None:
        row = self.db.execute("SELECT speed FROM feeds WHERE id=?", (feed_id,)).fetchone()
        return row[0] if row else None

    def set_feed_speed(self, feed_id: int, speed: float | None) -> None:
        with self.transaction():
            self.db.execute("UPDATE feeds SET speed=? WHERE id=?", (speed, feed_id))

    def auto_queue_feeds(self) -> dict[int, int]:
        """Feeds whose new episodes go to Up Next: {feed id: highest episode id already considered}."""
        return dict(self.db.execute("SELECT id, queue_seen FROM feeds WHERE auto_queue=1").fetchall())

    def set_auto_queue(self, feed_id: int, on: bool) -> None:
        """Turned on, only episodes arriving from now on are queued."""
        with self.transaction():
            seen = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM episodes WHERE feed_id=?", (feed_id,)).fetchone()[0]
            self.db.execute("UPDATE feeds SET auto_queue=?, queue_seen=? WHERE id=?", (int(on), seen, feed_id))

    def set_queue_seen(self, feed_id: int, episode_id: int) -> None:
        with self.transaction():
            self.db.execute("UPDATE feeds SET queue_seen=MAX(queue_seen, ?) WHERE id=?", (episode_id, feed_id))
    # ------------------------------------------------------------ new episodes (v6)

    def _mark_new(self, feed_id: int, first_id: int) -> None:
        self.db.execute("UPDATE episodes SET is_new=1 WHERE feed_id=? AND id>=?", (feed_id, first_id))

    def new_counts(self) -> dict[int, int]:
        """{feed id: unplayed new episodes}."""
        return dict(self.db.execute(
            "SELECT feed_id, COUNT(*) FROM episodes WHERE is_new=1 AND played=0 GROUP BY feed_id"))

    def mark_seen(self, episode_ids: list[int] | None = None, feed_id: int | None = None) -> list[int]:
        """Clear the "new" mark of these episodes (None: every one, or every
        one of ``feed_id``); the ids that changed."""
        where, params = ["is_new=1"], []
        if episode_ids is not None:
            where.append(f"id IN ({','.join('?' * len(episode_ids))})")
            params += list(episode_ids)
        if feed_id is not None:
            where.append("feed_id=?")
            params.append(feed_id)
        with self.transaction():
            ids = [r[0] for r in self.db.execute(f"SELECT id FROM episodes WHERE {' AND '.join(where)}", params)]
            self.db.executemany("UPDATE episodes SET is_new=0 WHERE id=?", [(i,) for i in ids])
        return ids

    def mark_played_many(self, *, feed_id: int | None = None, older_than: int | None = None,
                         only_new: bool = False) -> list[int]:
        """Mark played every unplayed episode (of ``feed_id``; or
        ``older_than`` that episode and every older one of its feed; or only
        the new ones); the ids that changed."""
        where, params = ["played=0"], []
        if older_than is not None:
            row = self.db.execute("SELECT feed_id, published FROM episodes WHERE id=?", (older_than,)).fetchone()
            if row is None:
                raise LibraryError(f"no episode #{older_than}")
            feed_id = row[0]
            if row[1] is None:
                where.append("(published IS NULL AND id<=?)")
                params.append(older_than)
            else:
                where.append("(published<? OR (published=? AND id<=?) OR published IS NULL)")
                params += [row[1], row[1], older_than]
        if feed_id is not None:
            where.append("feed_id=?")
            params.append(feed_id)
        if only_new:
            where.append("is_new=1")
        now = time.time()
        with self.transaction():
            ids = [r[0] for r in self.db.execute(f"SELECT id FROM episodes WHERE {' AND '.join(where)}", params)]
            self.db.executemany("UPDATE episodes SET played=1, position=0, last_played=?, is_new=0 WHERE id=?",
                                [(now, i) for i in ids])
        return ids

    def set_file(self, episode_id: int, file: str | None, *, size: int | None = None, duration: float | None = None) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE episodes SET file=?, file_size=?, downloaded_at=? WHERE id=?",
                (file, size if file else None, time.time() if file else None, episode_id),
            )
            if duration:
                self.db.execute("UPDATE episodes SET file_duration=? WHERE id=?", (duration, episode_id))

    def set_file_duration(self, episode_id: int, duration: float | None) -> None:
        with self.transaction():
            self.db.execute("UPDATE episodes SET file_duration=? WHERE id=?", (duration, episode_id))

    # ------------------------------------------------------------ downloads

    def download_state(self, episode_id: int) -> tuple[str | None, str | None, int | None, bool]:
        """(reserved download path, file, file size, downloaded automatically)."""
        row = self.db.execute(
            "SELECT download_path, file, file_size, auto_downloaded FROM episodes WHERE id=?", (episode_id,)
        ).fetchone()
        if row is None:
            raise LibraryError(f"no episode {episode_id}")
        return row[0], row[1], row[2], bool(row[3])

    def set_download_path(self, episode_id: int, path: str | None) -> None:
        """Reserve the file name a download writes to (kept across runs)."""
        with self.transaction():
            self.db.execute("UPDATE episodes SET download_path=? WHERE id=?", (path, episode_id))

    def reserved_download_paths(self, directory: str | Path) -> set[str]:
        """Every path reserved or downloaded under ``directory`` (any episode)."""
        folder = Path(directory)
        out: set[str] = set()
        for dp, f in self.db.execute(
            "SELECT download_path, file FROM episodes WHERE download_path IS NOT NULL OR file IS NOT NULL"
        ):
            for p in (dp, f):
                if p and Path(p).parent == folder:
                    out.add(p)
        return out

    def set_auto_downloaded(self, episode_id: int, auto: bool) -> None:
        with self.transaction():
            self.db.execute("UPDATE episodes SET auto_downloaded=? WHERE id=?", (int(auto), episode_id))

    def file_duration(self, episode_id: int) -> float | None:
        row = self.db.execute("SELECT file_duration FROM episodes WHERE id=?", (episode_id,)).fetchone()
        return row[0] if row else None

    def file_size(self, episode_id: int) -> int | None:
        row = self.db.execute("SELECT file_size FROM episodes WHERE id=?", (episode_id,)).fetchone()
        return row[0] if row else None

    def storage_by_feed(self) -> list[tuple[int, str, int, int]]:
        """(feed id, title, downloaded episodes, bytes recorded) for every feed."""
        return self.db.execute(
            """SELECT f.id, f.title, COUNT(e.file), COALESCE(SUM(CASE WHEN e.file IS NOT NULL THEN e.file_size END), 0)
               FROM feeds f LEFT JOIN episodes e ON e.feed_id=f.id
               GROUP BY f.id ORDER BY f.title COLLATE NOCASE"""
        ).fetchall()

    # ------------------------------------------------------------ search

    def search(self, query: str, limit: int = 50, kinds: tuple[str, ...] = ("chapter", "episode", "guest")) -> list[SearchHit]:
        """Full-text search over chapter titles, episode titles and notes, and
        guest names.  Stemmed, case- and accent-insensitive, best first.

        * abbreviations and their spelled-out forms from the topic vocabulary
          find each other ("RL" and "reinforcement learning");
        * episodes whose title matches come first (the five best);
        * a misspelt guest name still finds the guest (trigram similarity,
          when the name matches nothing as typed);
        * the same episode in two subscriptions (same guid) is listed once.

        Each index is ranked and cut inside FTS5 first (bm25 computed once per
        match, nothing joined before the cut); only the rows kept are joined,
        and only the hits returned get a snippet.

        Bounded work: when an index has more matches than its cap
        (`rank_caps`, a word like "the" is in a third of all chapters), only
        the `cap` matches stored last are ranked (bm25 and the snippet cost
        several µs per match), and when the words as typed are already past
        the cap the last one is not also expanded as a prefix (merging every
        "the…" term costs as much as the ranking).  Queries under the caps
        are ranked exactly as before."""
        match = fts_query(query, synonyms=True)
        if not match:
            return []
        whole = fts_query(query, synonyms=True, prefix=False)
        hits: list[SearchHit] = []
        # hit -> where its snippet comes from, computed for the hits kept only
        snips: dict[int, tuple[str, int, str, int]] = {}
        db = self.db
        if "chapter" in kinds:
            top, used, _ = self._ranked("chapters_fts", "bm25(chapters_fts)", match, whole, limit * 3)
            if top:
                rows = {r[0]: r for r in db.execute(
                    """SELECT c.id, c.start, c.title, e.id, e.guid, e.title, f.title
                       FROM chapters c JOIN episodes e ON e.id=c.episode_id JOIN feeds f ON f.id=e.feed_id
                       WHERE c.id IN (SELECT value FROM json_each(?))""",
                    (json.dumps([t[0] for t in top]),),
                )}
                for cid, score in top:
                    r = rows.get(cid)
                    if r is not None:
                        hit = SearchHit("chapter", r[6], r[3], r[4], r[5], r[1], r[2], "", score)
                        snips[id(hit)] = ("chapters_fts", 0, used, cid)
                        hits.append(hit)
        if "episode" in kinds:
            rank = "bm25(episodes_fts, 4.0, 1.0)"
            top, used, capped = self._ranked("episodes_fts", rank, match, whole, limit)
            top = [(eid, sc, used) for eid, sc in top]
            # The best episodes whose *title* matches go first (a subset of
            # the matches: not past the cap when those are not).
            if top:
                titled, t_used, _ = self._ranked("episodes_fts", rank, f"title : ({match})", f"title : ({whole})",
                                                 _TITLED_FIRST, bonus=_TITLE_BONUS, under_cap=not capped)
                if titled:
                    firsts = {t[0] for t in titled}
                    top = [(eid, sc, t_used) for eid, sc in titled] + [t for t in top if t[0] not in firsts]
                rows = {r[0]: r for r in db.execute(
                    """SELECT e.id, e.title, e.guid, f.title FROM episodes e JOIN feeds f ON f.id=e.feed_id
                       WHERE e.id IN (SELECT value FROM json_each(?))""",
                    (json.dumps([t[0] for t in top]),),
                )}
                for eid, sc, expr in top:
                    r = rows.get(eid)
                    if r is not None:
                        hit = SearchHit("episode", r[3], eid, r[2], r[1], None, r[1], "", sc)
                        snips[id(hit)] = ("episodes_fts", 1, expr, eid)
                        hits.append(hit)
        if "guest" in kinds:
            hits.extend(self._guest_hits(query, limit))
        hits.sort(key=lambda h: h.score)  # bm25: lower is better
        hits = _dedupe_hits(hits)[:limit]
        # The snippets of the hits shown (a snippet tokenizes the row's text:
        # an episode's notes ~20 µs), one pass per index and expression.
        wanted: dict[tuple[str, int, str], dict[int, list[SearchHit]]] = {}
        for h in hits:
            src = snips.get(id(h))
            if src is not None:
                wanted.setdefault(src[:3], {}).setdefault(src[3], []).append(h)
        for (fts, col, expr), by_row in wanted.items():
            for rowid, snip in self._snippets(fts, col, expr, list(by_row)):
                for h in by_row[rowid]:
                    h.snippet = snip
        return hits

    # Most matches one search ranks per index (see `search`); measured on
    # 20,000 episodes / 451,670 chapters (benchmarks/bench_search.py).
    rank_caps = {"chapters_fts": 1500, "episodes_fts": 500}

    def _ranked(self, fts: str, score: str, match: str, whole: str, n: int, bonus: float = 0.0,
                under_cap: bool = False) -> tuple[list[tuple[int, float]], str, bool]:
        """The `n` best (rowid, score - bonus) of `fts` for `match`, ranked
        over at most `rank_caps[fts]` matches: past the cap, the matches
        stored last; `whole` is `match` without the last word's prefix form,
        used instead when it alone is past the cap.  With ``under_cap`` the
        caller knows `match` is not past the cap.  Also returns the
        expression used (for the snippets) and whether the cap cut.

        Ties in score keep rowid order, as SQLite's ``ORDER BY 2 LIMIT n``
        over an FTS5 scan does."""
        db, cap = self.db, self.rank_caps[fts]
        # the bonus is subtracted before ranking, as floats: ties as before
        sql = f"SELECT rowid, {score}{' - ?' if bonus else ''} FROM {fts} WHERE {fts} MATCH ?"
        pre: tuple = (bonus,) if bonus else ()
        if under_cap:
            top = db.execute(sql + " ORDER BY 2 LIMIT ?", (*pre, match, n)).fetchall()
            capped = False
        else:
            edge = None
            if whole != match:
                # the (cap+1)-th newest match of the words as typed bounds the rowids ranked
                edge = db.execute(f"SELECT rowid FROM {fts} WHERE {fts} MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                                  (whole, cap)).fetchone()
            if edge is not None:
                match, capped = whole, True
                top = db.execute(sql + " AND rowid > ? ORDER BY 2 LIMIT ?", (*pre, match, edge[0], n)).fetchall()
            else:
                # one pass: the cap+1 newest matches, scored; ranked here
                top = db.execute(sql + " ORDER BY rowid DESC LIMIT ?", (*pre, match, cap + 1)).fetchall()
                capped = len(top) > cap
                del top[cap:]
                top.reverse()
                top.sort(key=_second)
                del top[n:]
        return top, match, capped

    def _snippets(self, fts: str, col: int, match: str, ids: list[int]) -> list[tuple[int, str]]:
        """(rowid, snippet of column `col` for `match`) of the rows `ids`:
        one pass over their rowid range; `+rowid IN` filters without
        becoming a lookup per rowid (each restarts the query)."""
        return self.db.execute(
            f"""SELECT rowid, snippet({fts}, {col}, '[', ']', '…', 12) FROM {fts}
                WHERE {fts} MATCH ? AND rowid BETWEEN ? AND ? AND +rowid IN (SELECT value FROM json_each(?))""",
            (match, min(ids), max(ids), json.dumps(ids)),
        ).fetchall()

    def _guest_hits(self, query: str, limit: int) -> list[SearchHit]:
        """Guests whose name matches (or, failing that, names close to the
        query), each with their five newest episodes."""
        db = self.db
        people = db.execute(
            """SELECT t.rowid, t.score, p.name FROM
                   (SELECT rowid, bm25(people_fts) AS score FROM people_fts WHERE people_fts MATCH ?
                    ORDER BY 2 LIMIT ?) t
               JOIN people p ON p.id=t.rowid ORDER BY t.score""",
            (fts_query(query), limit),
        ).fetchall()
        if not people:
            people = self._similar_people(query)
        hits = []
        for pid, score, name in people:
            # The guest's five newest episodes (not all of them, to keep five).
            for eid, guid, etitle, ftitle in db.execute(
                """SELECT e.id, e.guid, e.title, f.title FROM episodes e JOIN feeds f ON f.id=e.feed_id
                   WHERE e.id IN (SELECT episode_id FROM episode_people WHERE person_id=?)
                   ORDER BY e.published DESC, e.id DESC LIMIT 5""",
                (pid,),
            ):
                hits.append(SearchHit("guest", ftitle, eid, guid, etitle, None, name,
                                      f"{name} in “{etitle}”", score * 2, person_id=pid))
        return hits

    def _similar_people(self, query: str, best: int = 3) -> list[tuple[int, float, str]]:
        """Guests whose name is close to what was typed (misspelt): trigram
        similarity of each typed word to the name's words; (id, score, name)."""
        words = [w.casefold() for w in _TOKEN.findall(query) if len(w) >= 4]
        if not words:
            return []
        stamp = self.db.execute("SELECT COUNT(*), MAX(id) FROM people").fetchone()
        if self._people_grams is None or self._people_grams[0] != stamp:
            self._people_grams = (stamp, [
                (pid, name, [_trigrams(w) for w in _TOKEN.findall(name.casefold())])
                for pid, name in self.db.execute("SELECT id, name FROM people")
            ])
        wanted = [_trigrams(w) for w in words]
        scored = []
        for pid, name, grams in self._people_grams[1]:
            if not grams:
                continue
            sim = sum(max(len(q & g) / len(q | g) for g in grams) for q in wanted) / len(wanted)
            if sim >= _FUZZY_MIN:
                scored.append((-sim * _FUZZY_SCALE, pid, name))
        scored.sort()
        return [(pid, score, name) for score, pid, name in scored[:best]]

    # ------------------------------------------------------------ export

    # One query per table; the export's rows, in the export's order.
    _EXPORT_GUESTS = """SELECT ep.episode_id, p.name, ep.affiliations FROM episode_people ep
                        JOIN people p ON p.id=ep.person_id WHERE ep.role='guest' ORDER BY ep.episode_id, ep.pos"""
    _EXPORT_TOPICS = """SELECT et.episode_id, t.name FROM episode_topics et JOIN topics t ON t.id=et.topic_id
                        ORDER BY et.episode_id, et.rank"""
    _EXPORT_TOPIC_IDS = "SELECT episode_id, topic_id FROM episode_topics ORDER BY episode_id, rank"
    _EXPORT_CHAPTERS = "SELECT episode_id, source, start, end, title FROM chapters ORDER BY episode_id, source, idx"
    _EXPORT_EPISODES = """SELECT e.id, e.short_id, e.feed_id, e.guid, e.title, e.published, e.audio_url,
                              COALESCE(e.file_duration, e.feed_duration), e.episode_number, e.chapter_source,
                              e.position, e.played, e.file
                          FROM episodes e ORDER BY e.feed_id, e.published DESC, e.id DESC"""
    _EXPORT_FEEDS = "SELECT id, url, title, author, snapshot FROM feeds ORDER BY title COLLATE NOCASE"

    def export(self) -> dict:
        """The whole library as plain data (the backup and interop format).

        Built set-wise: one query per table, rows grouped in Python, no model
        objects.  `export_json` writes the same document as compact text."""
        db = self.db
        guests: dict[int, list[dict]] = {}
        for eid, name, affs in db.execute(self._EXPORT_GUESTS):
            guests.setdefault(eid, []).append({"name": name, "affiliations": json.loads(affs)})
        topics: dict[int, list[str]] = {}
        for eid, name in db.execute(self._EXPORT_TOPICS):
            topics.setdefault(eid, []).append(name)
        sets: dict[int, dict[str, list[dict]]] = {}
        last_eid, last_source, by_source, chs = None, None, {}, []
        for eid, source, start, end, title in db.execute(self._EXPORT_CHAPTERS):  # grouped: no lookups per row
            if eid != last_eid:
                by_source = sets[eid] = {}
                last_eid, last_source = eid, None
            if source != last_source:
                chs = by_source[source] = []
                last_source = source
            chs.append({"start": start, "end": end, "title": title, "source": source})
        episodes: dict[int, list[dict]] = {}
        for (eid, short_id, feed_id, guid, title, published, audio_url, duration, number, chosen, position, played,
             file) in db.execute(self._EXPORT_EPISODES):
            by_source = sets.get(eid, {})
            source = chosen if chosen in by_source else _best_source(by_source)
            episodes.setdefault(feed_id, []).append({
                "id": short_id,
                "guid": guid,
                "title": title,
                "published": _dt(published).isoformat() if published is not None else None,
                "audio_url": audio_url,
                "duration": duration,
                "episode_number": number,
                "guests": guests.get(eid, []),
                "topics": topics.get(eid, []),
                "chapters": by_source.get(source, []) if source else [],
                "chapter_sources": sorted(by_source),
                "downloaded": bool(file),
                "file": file,
                "position": position,
                "played": bool(played),
            })
        feeds = [
            {"url": url, "title": title, "author": author, "snapshot": bool(snapshot), "episodes": episodes.get(fid, [])}
            for fid, url, title, author, snapshot in db.execute(self._EXPORT_FEEDS)
        ]
        return {"version": 1, "feeds": feeds}

    # ------------------------------------------------------------ enrichment

    def enrichment(self, url: str) -> EnrichmentRow | None:
        row = self.db.execute(
            "SELECT url, kind, etag, last_modified, fetched_at, checked_at, body, path, error FROM enrichment WHERE url=?",
            (url,),
        ).fetchone()
        return EnrichmentRow(*row) if row else None

    def put_enrichment(self, row: EnrichmentRow) -> None:
        with self.transaction():
            self.db.execute(
                """INSERT OR REPLACE INTO enrichment(url, kind, etag, last_modified, fetched_at, checked_at, body, path, error)
                   VALUES (?,?,?,?,?,?,?,?,?)""",
                (row.url, row.kind, row.etag, row.last_modified, row.fetched_at, row.checked_at, row.body, row.path,
                 row.error),
            )

    def note_enrichment_checked(self, url: str, *, error: str | None = None) -> None:
        with self.transaction():
            self.db.execute("UPDATE enrichment SET checked_at=?, error=? WHERE url=?", (time.time(), error, url))

    def episodes_with_chapters_url(self, feed_id: int | None = None) -> list[tuple[int, str, str, float | None]]:
        """(episode id, title, chapters URL, the file's duration) of episodes
        that name a Podcasting 2.0 chapters file (the WHERE clause is the
        partial index episodes_chapter_files's: it reads only those rows)."""
        sql = "SELECT id, title, chapters_url, file_duration FROM episodes WHERE chapters_url IS NOT NULL AND chapters_url != ''"
        params: tuple = ()
        if feed_id is not None:
            sql += " AND feed_id=?"
            params = (feed_id,)
        return [tuple(r) for r in self.db.execute(sql, params)]

    def export_json(self, *, pretty: bool = False, end: str = "") -> str:
        """`export` as JSON text (followed by ``end``): indented with
        ``pretty``, else compact.

        The compact text is written directly from the rows (the same escaping
        and number forms as `json.dumps`), without building 450,000 chapter
        dicts for the encoder to walk at 20,000 episodes, as a flat list of
        pieces joined once (nested joins copied the 60 MB text three times).
        All of it is read in one snapshot (a refresh committing meanwhile
        changes nothing read here)."""
        if pretty:
            return json.dumps(self.export(), ensure_ascii=False, indent=2) + end
        return "".join(self._export_pieces(end))

    def write_export_json(self, fp, *, pretty: bool = False, end: str = "") -> None:
        """`export_json` written to the text stream `fp` in ~1 MB writes: the
        60 MB text (twice that in memory once a title holds a character
        past Latin-1) is never joined, nor encoded as a whole."""
        if pretty:
            fp.write(self.export_json(pretty=True, end=end))
            return
        pieces = self._export_pieces(end)
        batch, size = [], 0
        for piece in pieces:
            batch.append(piece)
            size += len(piece)
            if size > 1 << 20:
                fp.write("".join(batch))
                batch, size = [], 0
        fp.write("".join(batch))

    def _export_pieces(self, end: str) -> list[str]:
        with self._lock:
            own = not self.db.in_transaction
            if own:
                self.db.execute("BEGIN")
            try:
                return self._export_compact(end)
            finally:
                if own:
                    self.db.execute("ROLLBACK")  # read only

    # Per episode, its chapter lists (sources) and their lengths, in the
    # order _EXPORT_CHAPTER_ROWS reads them: from the index alone.
    _EXPORT_CHAPTER_SETS = """SELECT episode_id, source, COUNT(*) FROM chapters
                              GROUP BY episode_id, source ORDER BY episode_id, source"""
    _EXPORT_CHAPTER_ROWS = "SELECT start, end, title FROM chapters ORDER BY episode_id, source, idx"

    def _export_compact(self, end: str) -> list[str]:
        from json.encoder import encode_basestring as s_  # what json.dumps(ensure_ascii=False) uses

        db = self.db
        v_, fr = _json_value, float.__repr__
        guests: dict[int, list[str]] = {}
        compact_affs = {"[]": "[]"}  # a guest's affiliations recur with the guest
        for eid, name, affs in db.execute(self._EXPORT_GUESTS):
            text = compact_affs.get(affs)
            if text is None:
                text = compact_affs[affs] = _compact(json.loads(affs))
            guests.setdefault(eid, []).append(f'{{"name":{s_(name)},"affiliations":{text}}}')
        topics: dict[int, list[str]] = {}
        names = {tid: s_(name) for tid, name in db.execute("SELECT id, name FROM topics")}  # escaped once
        for eid, tid in db.execute(self._EXPORT_TOPIC_IDS):
            topics.setdefault(eid, []).append(names[tid])
        episodes = db.execute(self._EXPORT_EPISODES).fetchall()
        chosen = {e[0]: e[9] for e in episodes}
        # Which list each episode exports (the user's choice, else the best
        # source), and its chapter rows, read in order and sliced by length.
        sets: dict[int, dict[str, int]] = {}
        for eid, source, n in db.execute(self._EXPORT_CHAPTER_SETS):
            by_source = sets.get(eid)
            if by_source is None:
                by_source = sets[eid] = {}
            by_source[source] = n
        chapters: dict[int, str] = {}
        take = db.execute(self._EXPORT_CHAPTER_ROWS).fetchmany
        for eid, by_source in sets.items():
            want = chosen.get(eid)
            if want not in by_source:
                want = next(iter(by_source)) if len(by_source) == 1 else _best_source(by_source)
            for source, n in by_source.items():
                if source != want:
                    take(n)  # read past a list not exported
                    continue
                src, rows = s_(source), take(n)
                try:  # the usual values: finite floats (start), finite floats or NULL (end)
                    text = ",".join([f'{{"start":{fr(a)},"end":{"null" if b is None else fr(b)},"title":{s_(t)},'
                                     f'"source":{src}}}' for a, b, t in rows])
                    if ":inf," in text or ":-inf," in text:
                        raise TypeError  # json writes Infinity (or only a title says so): below
                except TypeError:  # each value as json writes it
                    text = ",".join([f'{{"start":{v_(a)},"end":{v_(b)},"title":{s_(t)},"source":{src}}}'
                                     for a, b, t in rows])
                chapters[eid] = text
        by_feed: dict[int, list[str]] = {}  # feed id -> its episodes' pieces
        no_sets: dict = {}
        for (eid, short_id, feed_id, guid, title, published, audio_url, duration, number, _chosen, position, played,
             file) in episodes:
            by_source = sets.get(eid, no_sets)
            out = by_feed.get(feed_id)
            if out is None:
                out = by_feed[feed_id] = []
            out.append(
                f'{"," if out else ""}{{"id":{s_(short_id)},"guid":{s_(guid)},"title":{s_(title)},'
                f'"published":{s_(_dt(published).isoformat()) if published is not None else "null"},'
                f'"audio_url":{s_(audio_url)},"duration":{v_(duration)},"episode_number":{v_(number)},'
                f'"guests":[{",".join(guests.get(eid, ()))}],"topics":[{",".join(topics.get(eid, ()))}],'
                f'"chapters":[{chapters.pop(eid, "")}],"chapter_sources":['
                f'{s_(next(iter(by_source))) if len(by_source) == 1 else ",".join(map(s_, sorted(by_source)))}],'
                f'"downloaded":{"true" if file else "false"},"file":{v_(file)},"position":{v_(position)},'
                f'"played":{"true" if played else "false"}}}'
            )
        pieces = ['{"version":1,"feeds":[']
        for fid, url, title, author, snapshot in db.execute(self._EXPORT_FEEDS):
            pieces.append(
                f'{"," if len(pieces) > 1 else ""}{{"url":{s_(url)},"title":{s_(title)},"author":{v_(author)},'
                f'"snapshot":{"true" if snapshot else "false"},"episodes":['
            )
            pieces += by_feed.get(fid, ())
            pieces.append("]}")
        pieces.append("]}" + end)
        return pieces


def _compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_value(v) -> str:
    """A scalar as `json.dumps` writes it."""
    if v is None:
        return "null"
    if type(v) is float:
        return float.__repr__(v) if v - v == 0 else json.dumps(v)  # NaN and infinities as json writes them
    if type(v) is int:
        return int.__repr__(v)
    if type(v) is str:
        from json.encoder import encode_basestring

        return encode_basestring(v)
    return json.dumps(v)


def _best_source(by_source: dict) -> str | None:
    """`domain.chapters.best_source` for plain rows as well as models: the
    highest SOURCE_PRIORITY among non-empty sources, the first on a tie."""
    from ibplayer.domain.models import SOURCE_PRIORITY

    best, best_p = None, -1
    for src, chs in by_source.items():
        if chs:
            p = SOURCE_PRIORITY.get(src, 0)
            if p > best_p:
                best, best_p = src, p
    return best


_second = itemgetter(1)
_TITLE_BONUS = 1000.0  # bm25 is negative, lower is better: title matches sort first
_TITLED_FIRST = 5
_FUZZY_MIN = 0.45
_FUZZY_SCALE = 5.0


def _trigrams(word: str) -> frozenset[str]:
    w = f"  {word} "
    return frozenset(w[i:i + 3] for i in range(len(w) - 2))


def _dedupe_hits(hits: list[SearchHit]) -> list[SearchHit]:
    """One hit per chapter (several sources may hold the same one) and per
    episode: the same episode (same guid) subscribed twice is listed once."""
    seen: set[tuple] = set()
    out = []
    for h in hits:
        ep = h.episode_guid or h.episode_id
        key = (h.kind, ep, int(h.start or 0)) if h.kind == "chapter" else (h.kind, ep, h.person_id)
        if key in seen:
            continue
        seen.add(key)
        out.append(h)
    return out


_TOKEN = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str, *, synonyms: bool = False, prefix: bool = True) -> str:
    """Turn what a user typed into a safe FTS5 query: every word must match
    (stemmed); the last word also matches as a prefix while typing.  With
    ``synonyms``, an abbreviation or its spelled-out form from the topic
    vocabulary matches either ("RL" finds "reinforcement learning").
    Without ``prefix``, the last word matches as typed only."""
    words = _TOKEN.findall(text or "")
    if not words:
        return ""
    groups = _synonym_groups() if synonyms else {}
    parts: list[str] = []
    i = 0
    while i < len(words):
        for k in range(min(_MAX_ALIAS_WORDS, len(words) - i), 0, -1) if groups else ():
            alts = groups.get(tuple(w.casefold() for w in words[i:i + k]))
            if alts:
                parts.append("(" + " OR ".join(_distinct_phrases(alts)) + ")")
                i += k
                break
        else:
            w = words[i]
            last = i == len(words) - 1
            parts.append(f'("{w}" OR "{w}"*)' if prefix and last and len(w) >= 3 else f'"{w}"')
            i += 1
    return " AND ".join(parts)


def _phrase(text: str) -> str:
    return '"' + " ".join(_TOKEN.findall(text)) + '"'


def _distinct_phrases(aliases: tuple[str, ...]) -> list[str]:
    """The aliases as phrases, each token sequence once: "LLMs" and "large
    language models" stem to "LLM" and "large language model" (porter), so
    they match the same rows, and bm25 would count the group twice (a group
    with a plural alias outweighing the other words typed) at twice the
    cost.  Checked against the index's tokenizer in tests/test_search.py."""
    seen, out = set(), []
    for a in aliases:
        words = [w.casefold() for w in _TOKEN.findall(a)]
        last = words[-1]
        if len(last) >= 4 and last.endswith("s") and not last.endswith(("ss", "ies", "sses")):
            words[-1] = last[:-1]  # porter's plural step, where it leaves a word both forms stem alike
        key = tuple(words)
        if key not in seen:
            seen.add(key)
            out.append(_phrase(a))
    return out


_MAX_ALIAS_WORDS = 5
_SYNONYMS: dict[tuple[str, ...], tuple[str, ...]] | None = None


def _synonym_groups() -> dict[tuple[str, ...], tuple[str, ...]]:
    """(words of an alias, casefolded) -> the aliases that mean the same:
    a topic's abbreviations ("RL", "CoT", "LLMs") and the spelled-out forms
    whose initials make one of them ("reinforcement learning", "chain of
    thought", "large language models").  Related but different aliases of
    a topic ("reward model" under RL) are left out."""
    global _SYNONYMS
    if _SYNONYMS is None:
        from ibplayer.domain.topics import VOCABULARY

        table: dict[tuple[str, ...], tuple[str, ...]] = {}
        for canonical, aliases in VOCABULARY.items():
            forms = dict.fromkeys((canonical, *aliases))
            abbrevs = {a for a in forms if _is_abbreviation(a)}
            short = {a.casefold().removesuffix("s") for a in abbrevs}
            spelled = {a for a in forms if " " in a.replace("-", " ") and _initials(a) in short}
            inits = {_initials(a) for a in spelled}
            abbrevs = {a for a in abbrevs if a.casefold().removesuffix("s") in inits}
            same = tuple(sorted(abbrevs | spelled, key=str.casefold)) if abbrevs and spelled else ()
            for a in same:
                key = tuple(w.casefold() for w in _TOKEN.findall(a))
                if 0 < len(key) <= _MAX_ALIAS_WORDS:
                    table[key] = same
        _SYNONYMS = table
    return _SYNONYMS


def _is_abbreviation(alias: str) -> bool:
    return " " not in alias and "-" not in alias and len(alias) <= 6 and sum(c.isupper() for c in alias) >= 2


def _initials(alias: str) -> str:
    return "".join(w[0] for w in _TOKEN.findall(alias.casefold())).removesuffix("s")


_EMPTY_GRACE_S = 30.0


def _damage_signs(path: Path) -> str | None:
    """What the file's size says, without opening it: an empty library file
    is damaged (SQLite would silently start a new library in it).  None when
    it looks right (or does not exist yet).

    Never open() the database file here: closing any descriptor of a file
    drops every POSIX lock this process holds on it, so another connection
    in this process would lose its locks, and another process closing the
    library would then delete the WAL index under it ("disk I/O error").
    Garbage and truncated files are SQLite's to report (NOTADB / CORRUPT),
    and quick_check runs before the first write."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    if st.st_size == 0 and not path.with_name(path.name + "-wal").exists():
        # A library another process is creating right now is empty for a
        # moment: only an empty file left alone for a while is damage.
        return "the file is empty (0 bytes)" if time.time() - st.st_mtime > _EMPTY_GRACE_S else None
    return None


def _is_corrupt(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return code in (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB


def _is_full(exc: sqlite3.Error, path: Path) -> bool:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == 13:  # SQLITE_FULL
        return True
    if code in (10, 14):  # SQLITE_IOERR, SQLITE_CANTOPEN: full if the disk has no room left
        try:
            st = os.statvfs(path.parent)
        except OSError:
            return False
        return st.f_bavail * st.f_frsize < 1 << 20
    return False


def _has_shm(path: Path) -> bool:
    return path.with_name(path.name + "-shm").exists()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".checked")


def _file_stamp(path: Path) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{st.st_ino} {st.st_size} {st.st_mtime_ns}"


def forget_check(path: str | Path) -> None:
    """Make the next write to the library at ``path`` check the whole file
    first (after damage was met while reading)."""
    try:
        _stamp_path(Path(path)).unlink(missing_ok=True)
    except OSError:
        pass


def _read_stamp(path: Path) -> str | None:
    try:
        return _stamp_path(path).read_text()
    except OSError:
        return None


def _split_sql(script: str) -> list[str]:
    """Split a schema script into statements, keeping trigger bodies whole."""
    out, buf, in_trigger = [], [], False
    for line in script.strip().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        buf.append(line)
        upper = stripped.upper()
        if upper.startswith("CREATE TRIGGER"):
            in_trigger = True
        if in_trigger:
            if upper == "END;":
                out.append("\n".join(buf))
                buf, in_trigger = [], False
        elif stripped.endswith(";"):
            out.append("\n".join(buf))
            buf = []
    if buf:
        out.append("\n".join(buf))
    return out
