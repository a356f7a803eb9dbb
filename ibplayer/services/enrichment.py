"""Enrichment: data an episode points at but the feed does not carry —
Podcasting 2.0 chapter files, chapter images, feed and episode artwork
(later transcripts).

It lives in its own table, keyed by URL, with the validators (ETag /
Last-Modified) it was fetched under: fetched once, cached for offline use,
re-validated with a conditional GET only when the episode that names it
changed, and never deleted by a feed refresh.  A bad file costs only that
enrichment, with a warning.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from ibplayer.infra import http
from ibplayer.infra.paths import write_atomic
from ibplayer.infra.store import EnrichmentRow, Library, LibraryError
from ibplayer.services.changes import Changes

if TYPE_CHECKING:
    from ibplayer.domain.models import Chapter

log = logging.getLogger(__name__)


def __getattr__(name: str):
    """``cached_image`` is re-exported from services.views (the window reads it
    without httpx), loaded on first use: a refresh does not need the views."""
    if name == "cached_image":
        from ibplayer.services.views import cached_image

        return cached_image
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MAX_CHAPTERS_BYTES = 5_000_000
MAX_IMAGE_BYTES = 10_000_000
_IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif"}
SOURCE = "podcast-chapters"
MAX_ART_BYTES = 5_000_000  # a feed or episode image (issue 10 §6)
ART_EPISODES = 20  # a refresh caches the artwork (and chapter images) of this many newest episodes
ART_RETRY_AFTER = 24 * 3600.0  # a failed image is tried again after this long
ART_FOLDER = "artwork"


@dataclass
class _Fetched:
    """One enrichment URL's conditional GET."""

    url: str
    status: str  # "new" | "not-modified" | "error"
    body: bytes | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None


def _chapters():
    from ibplayer.domain import chapters  # the models load where chapter files are read

    return chapters


def _valid_chapters(body: bytes) -> None:
    _chapters().chapters_from_json(body)


def conditional_get(client: httpx.Client, url: str, *, etag: str | None = None, last_modified: str | None = None,
                    max_bytes: int = MAX_CHAPTERS_BYTES, validate: Callable[[bytes], None] | None = None,
                    content_prefix: str | None = None, deadline: float = http.DEFAULT_DEADLINE,
                    allow_private: bool = False) -> _Fetched:
    """One enrichment fetch (any thread; no library access): size-capped on
    decoded bytes, within a total deadline, never to a loopback / LAN
    address unless the feed itself came from one."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        got = http.fetch(url, max_bytes=max_bytes, deadline=deadline, allow_private=allow_private, client=client,
                         headers=headers, what="the chapters file" if content_prefix is None else "the image")
        if got.status == 304:
            return _Fetched(url, "not-modified")
        if content_prefix and got.content_type and not got.content_type.startswith(content_prefix):
            raise ValueError(f"not {content_prefix.rstrip('/')} ({got.content_type})")
        body = got.content or b""
        if validate:
            validate(body)
        return _Fetched(url, "new", body, got.headers.get("etag"), got.headers.get("last-modified"))
    except (http.FetchError, ValueError, RecursionError) as exc:
        return _Fetched(url, "error", error=str(exc) or type(exc).__name__)


def valid_image(body: bytes) -> None:
    """A cheap check that ``body`` starts like a PNG, JPEG, GIF or WebP (the
    front-end still decodes it defensively): ValueError otherwise."""
    if (body.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a"))
            or (body.startswith(b"RIFF") and body[8:12] == b"WEBP")):
        return
    raise ValueError("not a PNG, JPEG, GIF or WebP image")


def image_name(url: str) -> str:
    ext = posixpath.splitext(urlsplit(url).path)[1].lower()
    return "img-" + hashlib.sha1(url.encode("utf-8", "surrogatepass")).hexdigest()[:16] + (
        ext if ext in _IMAGE_EXTS else ".img"
    )


class Enrichment:
    def __init__(self, library: Library, client: Callable[[], httpx.Client],
                 deadline: Callable[[], float] = lambda: http.DEFAULT_DEADLINE) -> None:
        self.library = library
        self._client = client
        self._deadline = deadline

    def allow_private(self, feed_id: int | None) -> bool:
        """Enrichment URLs may point at this computer or the LAN only when
        the feed itself came from there (a public feed must not make the app
        call the user's loopback or LAN services)."""
        f = self.library.feed(feed_id, counts=False) if feed_id is not None else None
        return bool(f and http.is_private_url(f.url))

    # ------------------------------------------------------------ chapters

    def sync_chapters(self, feed_id: int | None = None, *, revalidate: set[int] | frozenset[int] = frozenset(),
                      fetch: bool = True) -> Changes:
        """Bring the Podcasting 2.0 chapters of a feed's episodes in step with
        their chapter files: fetch files never fetched, re-validate those of
        ``revalidate`` (episodes this refresh changed), and (re)write the
        episodes' ``podcast-chapters`` from the cached files.  Offline, the
        cached files still apply.  When fetching for one feed (every refresh
        path), its artwork is cached too (:meth:`cache_artwork`)."""
        changes = self._sync_chapter_files(feed_id, revalidate=revalidate, fetch=fetch)
        if fetch and feed_id is not None:
            try:
                changes |= self.cache_artwork(feed_id)
            except (OSError, sqlite3.Error, LibraryError, httpx.HTTPError, ValueError) as exc:  # artwork never fails a refresh
                log.warning("artwork of feed %s: %s", feed_id, exc)
        return changes

    def _sync_chapter_files(self, feed_id: int | None, *, revalidate: set[int] | frozenset[int],
                            fetch: bool) -> Changes:
        lib = self.library
        eps = lib.episodes_with_chapters_url(feed_id)
        if not eps:
            return Changes()
        private = self.allow_private(feed_id) if feed_id is not None else False
        rows = {url: lib.enrichment(url) for _eid, _t, url, _d in eps}
        todo = sorted({url for eid, _t, url, _d in eps
                       if rows[url] is None or rows[url].body is None or eid in revalidate})
        if fetch and todo:
            client = self._client()

            def one(url: str) -> _Fetched:
                row = rows[url]
                return conditional_get(client, url, etag=row.etag if row and row.body else None,
                                       last_modified=row.last_modified if row and row.body else None,
                                       validate=_valid_chapters, deadline=self._deadline(),
                                       allow_private=private)

            from concurrent.futures import ThreadPoolExecutor  # (only when there is something to fetch)

            with ThreadPoolExecutor(max_workers=4) as pool:
                results = list(pool.map(one, todo))
            now = time.time()
            for r in results:
                old = rows[r.url]
                if r.status == "new":
                    rows[r.url] = EnrichmentRow(r.url, "chapters", r.etag, r.last_modified, now, now, r.body)
                    lib.put_enrichment(rows[r.url])
                elif old is not None:
                    lib.note_enrichment_checked(r.url, error=r.error)
                else:
                    log.warning("chapters %s: %s", r.url, r.error)
                    lib.put_enrichment(EnrichmentRow(r.url, "chapters", checked_at=now, error=r.error))
        changes = Changes()
        for eid, title, url, file_duration in eps:
            row = rows.get(url)
            if row is None or row.body is None:
                continue
            if self.apply_chapters(eid, row.body, file_duration, title=title):
                changes.chapters.add(eid)
                changes.episodes.add(eid)
        return changes

    def apply_chapters(self, episode_id: int, body: bytes, duration: float | None, *, title: str = "") -> bool:
        """Write the episode's podcast-chapters from a chapter file; True when
        they changed.  Only the file's real duration (after a download) drops
        chapters: a feed's stated duration is often wrong."""
        try:
            chs = _chapters().chapters_from_json(body, duration)
        except (ValueError, RecursionError) as exc:
            log.warning("chapters of %r: %s", title, exc)
            return False
        chs = [self._local_image(c) for c in chs]
        current = self.library.chapter_sets(episode_id).get(SOURCE, [])
        if _same(current, chs):
            return False
        self.library.replace_chapters(episode_id, SOURCE, chs)
        return True

    def sync_episode(self, episode_id: int, chapters_url: str | None, duration: float | None,
                     image_folder: Path, *, title: str = "", allow_private: bool = False) -> Changes:
        """After a download: re-validate the episode's chapter file, cache its
        chapter images next to the download, and rewrite its chapters checked
        against the file's real duration.  Offline, the cached file applies.
        The episode's artwork (and its feed's) is cached too."""
        art = Changes()
        ep = self.library.episode(episode_id)
        if ep is not None:
            try:
                art = self.cache_artwork(ep.feed_id, episode_ids=[episode_id])
            except (OSError, sqlite3.Error, LibraryError, httpx.HTTPError, ValueError) as exc:
                log.warning("artwork of %r: %s", title, exc)
        if not chapters_url:
            return art
        row = self.library.enrichment(chapters_url)
        r = conditional_get(self._client(), chapters_url, etag=row.etag if row and row.body else None,
                            last_modified=row.last_modified if row and row.body else None, validate=_valid_chapters,
                            deadline=self._deadline(), allow_private=allow_private)
        now = time.time()
        if r.status == "new":
            row = EnrichmentRow(chapters_url, "chapters", r.etag, r.last_modified, now, now, r.body)
            self.library.put_enrichment(row)
        elif row is not None:
            self.library.note_enrichment_checked(chapters_url, error=r.error)
        else:
            log.warning("chapters of %r: %s", title, r.error)
        if row is None or row.body is None:
            return art
        try:
            self.cache_images(_chapters().chapters_from_json(row.body, duration), image_folder,
                              allow_private=allow_private)
        except (ValueError, RecursionError) as exc:
            log.warning("chapters of %r: %s", title, exc)
        if self.apply_chapters(episode_id, row.body, duration, title=title):
            return art | Changes(episodes={episode_id}, chapters={episode_id})
        return art

    # ------------------------------------------------------------ images

    def cache_images(self, chs: list[Chapter], folder: Path, *, allow_private: bool = False) -> int:
        """Fetch the chapter images (size-capped, image/* only) into
        ``folder`` so they show offline; returns how many are cached."""
        urls = sorted({c.image for c in chs if c.image and urlsplit(c.image).scheme.lower() in ("http", "https")})
        if not urls:
            return 0
        client = self._client()
        n = 0
        for url in urls:
            row = self.library.enrichment(url)
            if row and row.path and Path(row.path).is_file():
                n += 1
                continue
            r = conditional_get(client, url, max_bytes=MAX_IMAGE_BYTES, content_prefix="image/",
                                deadline=self._deadline(), allow_private=allow_private)
            if r.status != "new" or r.body is None:
                log.warning("chapter image %s: %s", url, r.error)
                continue
            local = Path(folder) / image_name(url)
            try:
                local.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(local, r.body)
            except OSError as exc:
                log.warning("chapter image %s: %s", url, exc)
                continue
            now = time.time()
            self.library.put_enrichment(EnrichmentRow(url, "image", r.etag, r.last_modified, now, now, None,
                                                      str(local.resolve())))
            n += 1
        return n

    def art_folder(self) -> Path:
        return Path(self.library.path).parent / ART_FOLDER

    def cached_image(self, url: str | None) -> str | None:
        from ibplayer.services.views import cached_image

        return cached_image(self.library, url)

    def cache_artwork(self, feed_id: int, folder: Path | None = None, *, episode_ids: list[int] | None = None) -> Changes:
        """Cache the feed's image, the images of its newest episodes, their
        guests' pictures and their chapter images (size-capped, image/* only, checked to look like an
        image), fetched in worker threads, so they show offline.  A failed
        image is noted and tried again a day later; it never fails the refresh."""
        lib = self.library
        f = lib.feed(feed_id, counts=False)
        if f is None:
            return Changes()
        if episode_ids is None:
            eps = lib.episodes(feed_id, limit=ART_EPISODES)
        else:
            eps = [e for e in (lib.episode(i) for i in episode_ids) if e is not None]
        wanted: dict[str, set[int]] = {}  # url -> episodes that show it
        chapter_urls: set[str] = set()
        if f.image:
            wanted.setdefault(f.image, set())
        for e in eps:
            if e.image:
                wanted.setdefault(e.image, set()).add(e.id)
            for g in e.guests:  # the guest card's pictures (issue 9)
                if g.image:
                    wanted.setdefault(g.image, set()).add(e.id)
        for eid, image in lib.chapter_images([e.id for e in eps], SOURCE):
            wanted.setdefault(image, set()).add(eid)
            chapter_urls.add(image)
        now = time.time()
        todo = []
        for url in sorted(wanted):
            if urlsplit(url).scheme.lower() not in ("http", "https"):
                continue
            row = lib.enrichment(url)
            if row and row.path and Path(row.path).is_file():
                continue
            if (episode_ids is None and row and row.error and row.checked_at
                    and now - row.checked_at < ART_RETRY_AFTER):  # (a download tries again at once)
                continue
            todo.append(url)
        if not todo:
            return Changes()
        client = self._client()
        deadline, private = self._deadline(), self.allow_private(feed_id)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda u: conditional_get(client, u, max_bytes=MAX_ART_BYTES,
                                                              validate=valid_image, content_prefix="image/",
                                                              deadline=deadline, allow_private=private), todo))
        folder = Path(folder) if folder is not None else self.art_folder()
        changes = Changes()
        got_chapter_image = False
        for r in results:
            now = time.time()
            if r.status == "new" and r.body is not None:
                local = folder / image_name(r.url)
                try:
                    local.parent.mkdir(parents=True, exist_ok=True)
                    write_atomic(local, r.body)
                except OSError as exc:
                    log.warning("image %s: %s", r.url, exc)
                    continue
                lib.put_enrichment(EnrichmentRow(r.url, "image", r.etag, r.last_modified, now, now, None,
                                                 str(local.resolve())))
                changes.episodes |= wanted[r.url]
                if not wanted[r.url] or r.url == f.image:
                    changes.feeds.add(feed_id)
                got_chapter_image = got_chapter_image or r.url in chapter_urls
            else:
                log.info("image %s: %s", r.url, r.error)  # tried again later; never the user's error
                lib.put_enrichment(EnrichmentRow(r.url, "image", checked_at=now, error=r.error or "not fetched"))
        if got_chapter_image:  # the chapters now name the cached files
            changes |= self._sync_chapter_files(feed_id, revalidate=frozenset(), fetch=False)
        return changes

    def _local_image(self, c: Chapter) -> Chapter:
        if not c.image or urlsplit(c.image).scheme.lower() not in ("http", "https"):
            return c
        row = self.library.enrichment(c.image)
        if row and row.path and Path(row.path).is_file():
            return c.model_copy(update={"image": Path(row.path).as_uri()})
        return c

    def chapter_body(self, url: str) -> bytes | None:
        row = self.library.enrichment(url)
        return row.body if row else None


def _same(a: list[Chapter], b: list[Chapter]) -> bool:
    key = lambda c: (c.start, c.end, c.title, c.url, c.image, c.hidden)  # noqa: E731
    return [key(c) for c in a] == [key(c) for c in b]
