"""`Core`: the one object the CLI and the GUI both drive (no Qt here).

It ties fetching, parsing and the library together: subscribe, refresh,
unsubscribe, OPML, search, export.  Network work happens before any write,
and each feed is stored in one transaction, so a broken feed never damages
the library.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ibplayer import DEFAULT_FEED_URL
from ibplayer.domain import chapters
from ibplayer.domain.models import Chapter, ParsedFeed
from ibplayer.infra import downloader as downloads
from ibplayer.infra import feeds, http, opml
from ibplayer.infra.audiofile import AudioInfo, read_audio_info
from ibplayer.infra.feeds import FeedError, NetworkUnreachable
from ibplayer.infra.paths import data_dir as resolve_data_dir
from ibplayer.infra.paths import resource
from ibplayer.infra.store import EpisodeRow, Library, LibraryError

log = logging.getLogger(__name__)

SNAPSHOT_NAME = "default-feed.rss"


def default_feed_url() -> str:
    return os.environ.get("IBPLAYER_DEFAULT_FEED_URL") or DEFAULT_FEED_URL


@dataclass
class RefreshResult:
    feed_id: int
    url: str
    title: str
    status: str  # "new" | "updated" | "not-modified" | "unchanged" | "snapshot" | "error" | "offline"
    new: int = 0
    updated: int = 0
    error: str | None = None

    def line(self) -> str:
        if self.status == "error":
            return f"{self.title or self.url}: {self.error}"
        if self.status == "offline":
            return f"{self.title or self.url}: offline, kept what the library has ({self.error})"
        if self.status == "not-modified":
            return f"{self.title}: not modified"
        if self.status == "unchanged":
            return f"{self.title}: unchanged"
        if self.status == "snapshot":
            return f"{self.title}: offline, loaded the bundled snapshot ({self.new} episodes)"
        return f"{self.title}: {self.new} new, {self.updated} updated"


class Core:
    """Shared by the CLI and the GUI.  Not thread-safe: one per thread (each
    opens its own connection to the same library file)."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, *, timeout: float | None = None,
                 max_feed_bytes: int = feeds.MAX_FEED_BYTES, deadline: float | None = None):
        self.data_dir = resolve_data_dir(data_dir)
        self.library = Library(self.data_dir)
        self.timeout = timeout
        self.max_feed_bytes = max_feed_bytes
        # total seconds per fetch: the argument, else the library's fetch_deadline setting, else 60
        self.deadline = deadline or feeds.deadline_setting(self.library.get_setting("fetch_deadline"))
        self._private_feeds: dict[int, bool] = {}  # feed id -> served from this computer / the LAN
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def downloads_dir(self) -> Path:
        custom = self.library.get_setting("download_dir")
        return Path(custom) if custom else self.data_dir / "downloads"

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = feeds.make_client(self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self.library.close()

    def __enter__(self) -> Core:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ subscribing

    def subscribe(self, url: str | None = None) -> RefreshResult:
        """Subscribe to a feed (the default feed without a URL).  The feed is
        fetched and parsed before anything is written: a bad URL adds nothing.
        The default feed falls back to the bundled snapshot when offline."""
        is_default = url is None
        url = feeds.check_url(url or default_feed_url())
        existing = self.library.feed_by_url(url)
        if existing:
            return self.refresh_feed(existing.id)
        try:
            fetched = feeds.fetch_feed(url, client=self.client, max_bytes=self.max_feed_bytes, deadline=self.deadline)
            parsed = feeds.parse_feed(fetched.content or b"", url)
        except FeedError as exc:
            if is_default:
                return self._load_snapshot(url, exc)
            raise
        self._fetch_chapter_json(parsed, feed_url=url)
        final_url = fetched.url
        existing = self.library.feed_by_url(final_url)
        feed_id = existing.id if existing else self.library.add_feed(final_url, parsed.title)
        stats = self.library.store_feed(
            feed_id, parsed, url=final_url, etag=fetched.etag, last_modified=fetched.last_modified,
            content_hash=feeds.content_hash(fetched.content or b""),
        )
        cache = feeds.ItemCache(self._item_cache_path(feed_id), final_url)
        cache.note(fetched.content or b"")
        cache.save(self._feed_guids(feed_id), self._guids_missing_chapters(feed_id))
        return RefreshResult(feed_id, final_url, parsed.title, "new", stats["new"], stats["updated"])

    def _item_cache_path(self, feed_id: int) -> Path:
        return self.data_dir / "cache" / f"feed-{feed_id}-items.json"

    def _feed_guids(self, feed_id: int) -> set[str]:
        return {g for (g,) in self.library.db.execute("SELECT guid FROM episodes WHERE feed_id=?", (feed_id,))}

    def _guids_missing_chapters(self, feed_id: int) -> set[str]:
        """Episodes naming a chapters file the library does not have (yet)."""
        return {g for (g,) in self.library.db.execute(
            """SELECT e.guid FROM episodes e WHERE e.feed_id=? AND e.chapters_url IS NOT NULL AND NOT EXISTS
               (SELECT 1 FROM chapters c WHERE c.episode_id=e.id AND c.source='podcast-chapters')""", (feed_id,))}

    def _load_snapshot(self, url: str, why: Exception) -> RefreshResult:
        data = resource(SNAPSHOT_NAME).read_bytes()
        parsed = feeds.parse_feed(data, url)
        feed_id = self.library.add_feed(url, parsed.title)
        stats = self.library.store_feed(feed_id, parsed, snapshot=True)
        self.library.note_feed_checked(feed_id, error=str(why))
        return RefreshResult(feed_id, url, parsed.title, "snapshot", stats["new"], stats["updated"], str(why))

    def ensure_default(self) -> RefreshResult | None:
        """First launch: subscribe to the default feed when the library is empty."""
        if self.library.feeds():
            return None
        return self.subscribe(None)

    def unsubscribe(self, key: str) -> str:
        feed = self.library.find_feed(key)
        self.library.delete_feed(feed.id)
        return feed.title or feed.url

    # ------------------------------------------------------------ refreshing

    def refresh(self, feed_ids: list[int] | None = None, on_result=None) -> list[RefreshResult]:
        results = []
        for f in self.library.feeds():
            if feed_ids is not None and f.id not in feed_ids:
                continue
            try:
                r = self.refresh_feed(f.id)
            except (LibraryError, sqlite3.Error):
                raise  # the library, not the feed: stop
            except Exception as exc:  # one bad feed must not stop the others
                log.warning("refreshing %s", f.url, exc_info=True)
                msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
                self.library.note_feed_checked(f.id, error=msg)
                r = RefreshResult(f.id, f.url, f.title, "error", error=msg)
            results.append(r)
            if on_result:
                on_result(r)
        return results

    def refresh_feed(self, feed_id: int) -> RefreshResult:
        f = self.library.feed(feed_id)
        if f is None:
            raise LibraryError(f"no feed {feed_id}")
        try:
            fetched = feeds.fetch_feed(
                f.url,
                etag=None if f.snapshot else f.etag,
                last_modified=None if f.snapshot else f.last_modified,
                client=self.client,
                max_bytes=self.max_feed_bytes,
                deadline=self.deadline,
            )
        except NetworkUnreachable as exc:
            self.library.note_feed_checked(feed_id, error=str(exc))
            return RefreshResult(feed_id, f.url, f.title, "offline", error=str(exc))
        except FeedError as exc:
            self.library.note_feed_checked(feed_id, error=str(exc))
            return RefreshResult(feed_id, f.url, f.title, "error", error=str(exc))
        if fetched.not_modified:
            self.library.note_feed_checked(feed_id, url=fetched.url if fetched.url != f.url else None)
            return RefreshResult(feed_id, fetched.url, f.title, "not-modified")
        digest = feeds.content_hash(fetched.content)
        if digest == f.content_hash and not f.snapshot:
            # Same bytes as last time (a server without validators): parse nothing.
            self.library.note_feed_checked(
                feed_id, url=fetched.url if fetched.url != f.url else None,
                etag=fetched.etag, last_modified=fetched.last_modified, keep_validators=False,
            )
            return RefreshResult(feed_id, fetched.url, f.title, "unchanged")
        cache = None if f.snapshot else feeds.ItemCache.load(
            self._item_cache_path(feed_id), fetched.url, self._feed_guids(feed_id), self.library.hosts(feed_id))
        try:
            parsed = feeds.parse_feed(fetched.content, f.url, cache=cache)  # only new and changed items
        except FeedError as exc:
            self.library.note_feed_checked(feed_id, error=str(exc))
            return RefreshResult(feed_id, f.url, f.title, "error", error=str(exc))
        self._fetch_chapter_json(parsed, feed_id, feed_url=f.url)
        stats = self.library.store_feed(
            feed_id, parsed, url=fetched.url, etag=fetched.etag, last_modified=fetched.last_modified,
            content_hash=digest, snapshot=False,
        )
        if cache is None:
            cache = feeds.ItemCache(self._item_cache_path(feed_id), fetched.url)
            cache.note(fetched.content)
        cache.save(self._feed_guids(feed_id), self._guids_missing_chapters(feed_id))
        return RefreshResult(feed_id, fetched.url, parsed.title, "updated", stats["new"], stats["updated"])

    def _fetch_chapter_json(self, parsed: ParsedFeed, feed_id: int | None = None, feed_url: str = "") -> None:
        """Fetch Podcasting 2.0 chapter files for episodes that name one and
        whose chapters the library does not have yet.  Failures keep the
        other sources; they are logged, never fatal."""
        have: set[str] = set()
        if feed_id is not None:
            have = {
                guid
                for (guid,) in self.library.db.execute(
                    """SELECT DISTINCT e.guid FROM episodes e JOIN chapters c ON c.episode_id=e.id
                       WHERE e.feed_id=? AND c.source='podcast-chapters'""",
                    (feed_id,),
                )
            }
        todo = [ep for ep in parsed.episodes if ep.chapters_url and ep.guid not in have]
        if not todo:
            return

        allow_private = http.is_private_url(feed_url)

        def fetch(ep):
            try:
                got = http.fetch_bytes(ep.chapters_url, MAX_CHAPTERS_BYTES, self.deadline, client=self.client,
                                       allow_private=allow_private, what="the chapters file")
                return ep, feeds.fit_explicit(chapters.chapters_from_json(got.content), ep.duration)
            except Exception as exc:  # a bad enrichment costs only that enrichment
                log.warning("chapters for %r: %s", ep.title, exc)
                return ep, None

        with ThreadPoolExecutor(max_workers=4) as pool:
            for ep, chs in pool.map(fetch, todo):
                if chs:
                    ep.chapters["podcast-chapters"] = chs

    # ------------------------------------------------------------ OPML

    def opml_import(self, path: str | os.PathLike[str]) -> list[RefreshResult | str]:
        urls = opml.read_opml(path)
        out: list[RefreshResult | str] = []
        for url in urls:
            try:
                out.append(self.subscribe(url))
            except (FeedError, LibraryError, ValueError) as exc:
                out.append(f"{url}: {exc}")
        return out

    def opml_export(self, path: str | os.PathLike[str]) -> int:
        feeds_ = self.library.feeds()
        opml.write_opml(Path(path), [(f.title, f.url, f.link) for f in feeds_])
        return len(feeds_)

    # ------------------------------------------------------------ downloads
    #
    # Bytes move on DownloadQueue worker threads; everything that touches the
    # library happens in the calling thread, one transaction per episode.

    def download_path(self, episode: EpisodeRow | int, *, reserve: bool = False) -> Path:
        """Where ``episode`` is (or will be) downloaded:
        ``<downloads>/<feed>/<episode file>``.  A name chosen before (stored
        when its download started) is kept, so a killed download resumes into
        the same ``.part``.  ``reserve`` stores the chosen name."""
        ep = self._episode_row(episode)
        reserved, _file, _size, _auto = self.library.download_state(ep.id)
        if reserved and _inside(Path(reserved), self.downloads_dir):
            return Path(reserved)
        folder = self.downloads_dir / downloads.feed_dirname(ep.feed_title or "podcast")
        taken = {Path(p).name for p in self.library.reserved_download_paths(folder)}
        # A .part for this very URL under the plain name (e.g. left by the app).
        plain = folder / downloads.safe_filename(ep.title, ep.audio_url, mime=ep.audio_type)
        part, sidecar = downloads.part_paths(plain)
        if plain.name not in taken and part.exists() and _sidecar_url(sidecar) == ep.audio_url:
            chosen = plain
        else:
            existing = set(taken)
            if folder.is_dir():
                for p in folder.iterdir():
                    name = p.name
                    for suffix in (downloads.SIDECAR_SUFFIX, downloads.PART_SUFFIX):
                        if name.endswith(suffix):
                            name = name[: -len(suffix)]
                            break
                    existing.add(name)
            chosen = folder / downloads.safe_filename(ep.title, ep.audio_url, existing, mime=ep.audio_type)
        if reserve:
            self.library.set_download_path(ep.id, str(chosen))
        return chosen

    def _episode_row(self, episode: EpisodeRow | int) -> EpisodeRow:
        if isinstance(episode, EpisodeRow):
            return episode
        ep = self.library.episode(int(episode))
        if ep is None:
            raise LibraryError(f"no episode {episode}")
        return ep

    def download(
        self,
        episode_ids: list[int],
        *,
        jobs: int = 2,
        progress: Callable[[EpisodeRow, downloads.Progress], None] | None = None,
        on_result: Callable[[DownloadResult], None] | None = None,
        retries: int = 4,
        backoff: float = 0.5,
        timeout: float = 30,
        auto: bool = False,
    ) -> list[DownloadResult]:
        """Download episodes (``jobs`` at a time) and record each one as it
        completes: file, size, the file's duration, its embedded chapters,
        the Podcasting 2.0 chapters (cached locally), and the other chapter
        sources re-checked against the real duration.  ``progress`` and
        ``on_result`` are called in the calling thread.  Already downloaded
        episodes are skipped.  Ctrl-C pauses the running downloads (their
        ``.part`` files stay for the next run) and re-raises."""
        results: list[DownloadResult] = []

        def finish(r: DownloadResult) -> None:
            results.append(r)
            if on_result:
                on_result(r)

        todo: dict[str, tuple[EpisodeRow, Path]] = {}
        for eid in dict.fromkeys(episode_ids):
            ep = self._episode_row(eid)
            if ep.file:
                if Path(ep.file).is_file():
                    finish(DownloadResult(ep.id, ep.short_id, ep.title, "skipped", Path(ep.file),
                                          Path(ep.file).stat().st_size))
                    continue
                self.library.set_file(ep.id, None)  # the file went away: fetch it again
            if urlsplit(ep.audio_url).scheme.lower() not in ("http", "https"):
                finish(DownloadResult(ep.id, ep.short_id, ep.title, "error",
                                      error=f"not an http(s) enclosure: {ep.audio_url[:200]!r}"))
                continue
            todo[str(ep.id)] = (ep, self.download_path(ep, reserve=True))
            self._note_private_feed(ep.feed_id)
        if not todo:
            return results

        events: queue.Queue = queue.Queue()
        client = self.client  # created here, shared (thread-safe) by the workers

        def done(job_id: str, path: Path) -> None:  # worker thread: no library access
            ep, _ = todo[job_id]
            try:
                info = read_audio_info(path)
                pc = self._cache_podcast_chapters(ep, Path(path), info.duration, client)
            except Exception as exc:  # never lose a finished download over chapters
                log.warning("post-processing %s: %s", path, exc)
                info, pc = AudioInfo(), None
            events.put(("done", job_id, Path(path), info, pc))

        q = downloads.DownloadQueue(
            max_concurrent=jobs,
            on_progress=lambda j, p: events.put(("progress", j, p)),
            on_done=done,
            on_error=lambda j, msg: events.put(("error", j, msg)),
            on_paused=lambda j: events.put(("paused", j)),
            on_cancelled=lambda j: events.put(("cancelled", j)),
            retries=retries, backoff=backoff, timeout=timeout,
        )
        pending = set()
        try:
            for job_id, (ep, dest) in todo.items():
                if dest.is_file() and not downloads.part_paths(dest)[0].exists():
                    # Completed by an earlier run killed before it was recorded: a
                    # file only gets its final (reserved) name once complete and verified.
                    events.put(("done-local", job_id, dest))
                else:
                    q.add(job_id, ep.audio_url, dest, ep.audio_length)
                pending.add(job_id)
            while pending:
                try:
                    kind, job_id, *rest = events.get(timeout=0.5)  # a timeout keeps Ctrl-C responsive
                except queue.Empty:
                    continue
                ep, dest = todo[job_id]
                if kind == "progress":
                    if progress:
                        try:
                            progress(ep, rest[0])
                        except Exception:
                            log.exception("progress callback failed")
                    continue
                if kind == "done-local":
                    info = read_audio_info(dest)
                    pc = self._cache_podcast_chapters(ep, dest, info.duration, client)
                    kind, rest = "done", [dest, info, pc]
                pending.discard(job_id)
                if kind == "done":
                    path, info, pc = rest
                    try:
                        size = self._record_download(ep, path, info, pc, auto=auto)
                    except Exception as exc:
                        log.exception("recording %s", path)
                        finish(DownloadResult(ep.id, ep.short_id, ep.title, "error", error=f"could not record: {exc}"))
                        continue
                    finish(DownloadResult(ep.id, ep.short_id, ep.title, "done", path, size,
                                          duration=info.duration, chapter_source=info.source))
                elif kind == "error":
                    finish(DownloadResult(ep.id, ep.short_id, ep.title, "error", error=rest[0]))
                else:
                    finish(DownloadResult(ep.id, ep.short_id, ep.title, kind, error=f"download {kind}"))
        finally:
            q.shutdown(timeout=5)  # pauses anything still running: .part files stay
        return results

    def finish_download(self, episode: EpisodeRow | int, path: str | os.PathLike[str], *, auto: bool = False) -> EpisodeRow:
        """Record a download completed elsewhere (the GUI's queue): read the
        file's duration and chapters, cache the Podcasting 2.0 chapters, and
        re-check the feed's chapters against the real duration.  Blocking:
        call it from a worker."""
        ep = self._episode_row(episode)
        path = Path(path)
        self._note_private_feed(ep.feed_id)
        info = read_audio_info(path)
        try:
            pc = self._cache_podcast_chapters(ep, path, info.duration, self.client)
        except Exception as exc:  # never lose a finished download over chapters
            log.warning("chapters for %r: %s", ep.title, exc)
            pc = None
        self._record_download(ep, path, info, pc, auto=auto)
        return self._episode_row(ep.id)

    def _record_download(self, ep: EpisodeRow, path: Path, info: AudioInfo, pc: list[Chapter] | None,
                         *, auto: bool = False) -> int:
        lib = self.library
        size = path.stat().st_size
        with lib.transaction():
            lib.set_file(ep.id, str(path), size=size, duration=info.duration)
            lib.set_download_path(ep.id, str(path))
            lib.set_auto_downloaded(ep.id, auto)
            if info.chapters and info.source:
                lib.replace_chapters(ep.id, info.source, info.chapters)
            if pc:
                lib.replace_chapters(ep.id, "podcast-chapters", pc)
            if info.duration:
                self._recheck_chapters(ep.id, info.duration)
        return size

    _RECHECKED_SOURCES = ("notes", "psc", "podcast-chapters")

    def _recheck_chapters(self, episode_id: int, duration: float) -> None:
        """Chapters from the feed, checked against the file's real duration:
        starts past the end are dropped and the last chapter ends at the end."""
        for source, chs in self.library.chapter_sets(episode_id).items():
            if source not in self._RECHECKED_SOURCES:
                continue
            fixed = chapters.finalize(chs, duration)
            if [(c.start, c.end, c.title) for c in fixed] != [(c.start, c.end, c.title) for c in chs]:
                self.library.replace_chapters(episode_id, source, fixed)

    def chapter_cache_dir(self, dest: Path) -> Path:
        return Path(dest).parent / ".chapters"

    def _cache_podcast_chapters(self, ep: EpisodeRow, dest: Path, duration: float | None,
                                client: httpx.Client) -> list[Chapter] | None:
        """Fetch the episode's Podcasting 2.0 chapters JSON and chapter images
        into ``<feed folder>/.chapters/`` so they work offline.  Falls back to
        an earlier cached copy; None when there is nothing.  No library access
        (runs on worker threads)."""
        if not ep.chapters_url:
            return None
        cache = self.chapter_cache_dir(dest)
        json_path = cache / (dest.name + ".json")
        data: bytes | None = None
        allow_private = self._private_feeds.get(ep.feed_id, False)
        try:
            got = http.fetch_bytes(ep.chapters_url, MAX_CHAPTERS_BYTES, self.deadline, client=client,
                                   allow_private=allow_private, what="the chapters file")
            chapters.chapters_from_json(got.content)  # valid before it replaces a cached copy
            data = got.content
            cache.mkdir(parents=True, exist_ok=True)
            _write_atomic(json_path, data)
        except (http.FetchError, ValueError, RecursionError, OSError) as exc:
            log.warning("chapters for %r: %s", ep.title, exc)
            try:
                data = json_path.read_bytes()
            except OSError:
                return None
        try:
            chs = chapters.chapters_from_json(data, duration)
        except ValueError as exc:
            log.warning("cached chapters for %r: %s", ep.title, exc)
            return None
        return [self._cache_chapter_image(c, cache, client, allow_private) for c in chs]

    def _note_private_feed(self, feed_id: int) -> None:
        """Remember (in the calling thread) whether a feed came from this
        computer or the LAN: only then may its enrichment URLs point there."""
        if feed_id not in self._private_feeds:
            f = self.library.feed(feed_id)
            self._private_feeds[feed_id] = bool(f and http.is_private_url(f.url))

    def _cache_chapter_image(self, c: Chapter, cache: Path, client: httpx.Client | None,
                             allow_private: bool = False) -> Chapter:
        if not c.image or urlsplit(c.image).scheme.lower() not in ("http", "https"):
            return c
        local = cache / _image_name(c.image)
        if not local.exists() and client is not None:
            try:
                got = http.fetch_bytes(c.image, MAX_IMAGE_BYTES, self.deadline, client=client,
                                       allow_private=allow_private, what="the image")
                ctype = got.content_type
                if ctype and not ctype.startswith("image/"):
                    raise ValueError(f"not an image ({ctype})")
                cache.mkdir(parents=True, exist_ok=True)
                _write_atomic(local, got.content)
            except (http.FetchError, ValueError, OSError) as exc:
                log.warning("chapter image %s: %s", c.image, exc)
        if local.exists():
            return c.model_copy(update={"image": local.resolve().as_uri()})
        return c

    def delete_download(self, episode: EpisodeRow | int) -> int:
        """Remove the downloaded file (and any .part and sidecar); keep the
        metadata, chapters and play position.  Returns the bytes freed."""
        ep = self._episode_row(episode)
        reserved, file, _size, _auto = self.library.download_state(ep.id)
        freed = 0
        for p in {p for p in (file, reserved) if p}:
            path = Path(p)
            for q in (path, *downloads.part_paths(path)):
                try:
                    freed += q.stat().st_size
                    q.unlink()
                except FileNotFoundError:
                    pass
        with self.library.transaction():
            self.library.set_file(ep.id, None)
            self.library.set_auto_downloaded(ep.id, False)
        return freed

    def storage(self) -> list[StorageRow]:
        """Space used by downloads, per feed (sizes on disk; partial downloads
        counted separately)."""
        rows = []
        for feed_id, title, _count, _recorded in self.library.storage_by_feed():
            n = used = 0
            partial = 0
            for ep in self.library.episodes(feed_id, downloaded=True):
                try:
                    used += Path(ep.file).stat().st_size
                    n += 1
                except (OSError, TypeError):
                    pass
            folder = self.downloads_dir / downloads.feed_dirname(title or "podcast")
            if folder.is_dir():
                partial = sum(p.stat().st_size for p in folder.glob("*" + downloads.PART_SUFFIX) if p.is_file())
            rows.append(StorageRow(feed_id, title, n, used, partial))
        return rows

    def apply_download_policies(
        self,
        *,
        jobs: int = 2,
        progress: Callable[[EpisodeRow, downloads.Progress], None] | None = None,
        on_result: Callable[[DownloadResult], None] | None = None,
        retries: int = 4,
        backoff: float = 0.5,
    ) -> PolicyResult:
        """Per-feed settings, after a refresh: delete played downloads where
        ``auto_delete_played`` is on; where ``auto_download`` is N > 0, keep
        the N newest episodes downloaded (unplayed ones are fetched; automatic
        downloads that fell out of the N newest and were never started are
        deleted).  Also restores cached chapters of downloaded episodes that a
        refresh replaced.  Cheap when no feed has a policy."""
        lib = self.library
        result = PolicyResult()
        todo: list[int] = []
        for f in lib.feeds():
            if not (f.auto_delete_played or f.auto_download > 0):
                continue
            eps = lib.episodes(f.id)
            window = {e.id for e in eps[: f.auto_download]} if f.auto_download > 0 else set()
            for e in eps:
                if not e.file:
                    if e.id in window and not e.played:
                        todo.append(e.id)
                    continue
                _reserved, _file, _size, auto = lib.download_state(e.id)
                if f.auto_delete_played and e.played:
                    why = "played"
                elif f.auto_download > 0 and auto and e.id not in window and not e.played and not e.position:
                    why = f"no longer among the {f.auto_download} newest"
                else:
                    continue
                result.deleted.append((e, why, self.delete_download(e)))
        self._restore_downloaded_chapters()
        if todo:
            result.downloads = self.download(todo, jobs=jobs, progress=progress, on_result=on_result,
                                             retries=retries, backoff=backoff, auto=True)
        return result

    def _restore_downloaded_chapters(self) -> None:
        """A refresh that rewrites an episode replaces its feed-derived
        chapters: for downloaded episodes, re-check them against the file's
        duration and put back the locally cached Podcasting 2.0 chapters."""
        lib = self.library
        for ep in lib.episodes(downloaded=True):
            sets = lib.chapter_sets(ep.id)
            duration = lib.file_duration(ep.id)
            pc = sets.get("podcast-chapters")
            if ep.chapters_url and (not pc or any(c.image and c.image.startswith("http") for c in pc)):
                cached = self.chapter_cache_dir(Path(ep.file)) / (Path(ep.file).name + ".json")
                if cached.is_file():
                    try:
                        chs = chapters.chapters_from_json(cached.read_bytes(), duration)
                        chs = [self._cache_chapter_image(c, cached.parent, None) for c in chs]
                        lib.replace_chapters(ep.id, "podcast-chapters", chs)
                    except (OSError, ValueError) as exc:
                        log.warning("cached chapters %s: %s", cached, exc)
            if duration:
                with lib.transaction():
                    self._recheck_chapters(ep.id, duration)


MAX_CHAPTERS_BYTES = 5_000_000
MAX_IMAGE_BYTES = 10_000_000
_IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif"}


@dataclass
class DownloadResult:
    episode_id: int
    short_id: str
    title: str
    status: str  # "done" | "skipped" (already downloaded) | "error" | "paused" | "cancelled"
    path: Path | None = None
    size: int = 0
    error: str | None = None
    duration: float | None = None
    chapter_source: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("done", "skipped")


@dataclass
class StorageRow:
    feed_id: int
    title: str
    episodes: int
    bytes: int
    partial_bytes: int = 0


@dataclass
class PolicyResult:
    downloads: list[DownloadResult] = field(default_factory=list)
    deleted: list[tuple[EpisodeRow, str, int]] = field(default_factory=list)  # (episode, why, bytes freed)


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(Path(folder).resolve())
    except (OSError, ValueError):
        return False


def _sidecar_url(sidecar: Path) -> str | None:
    try:
        return json.loads(sidecar.read_text("utf-8")).get("url")
    except (OSError, ValueError, AttributeError):
        return None


def _image_name(url: str) -> str:
    ext = posixpath.splitext(urlsplit(url).path)[1].lower()
    return "img-" + hashlib.sha1(url.encode("utf-8", "surrogatepass")).hexdigest()[:16] + (
        ext if ext in _IMAGE_EXTS else ".img"
    )


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
