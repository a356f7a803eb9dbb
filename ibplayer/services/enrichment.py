"""Enrichment: data an episode points at but the feed does not carry —
Podcasting 2.0 chapter files and chapter images (later transcripts).

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
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from ibplayer.infra import http
from ibplayer.infra.store import EnrichmentRow, Library
from ibplayer.services.changes import Changes

if TYPE_CHECKING:
    from ibplayer.domain.models import Chapter

log = logging.getLogger(__name__)

MAX_CHAPTERS_BYTES = 5_000_000
MAX_IMAGE_BYTES = 10_000_000
_IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif"}
SOURCE = "podcast-chapters"


@dataclass
class _Fetched:
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


def image_name(url: str) -> str:
    ext = posixpath.splitext(urlsplit(url).path)[1].lower()
    return "img-" + hashlib.sha1(url.encode("utf-8", "surrogatepass")).hexdigest()[:16] + (
        ext if ext in _IMAGE_EXTS else ".img"
    )


def write_atomic(path: Path, data: bytes) -> None:
    """Write a whole file or nothing (temp file, fsync, rename)."""
    import os

    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
        f = self.library.feed(feed_id) if feed_id is not None else None
        return bool(f and http.is_private_url(f.url))

    # ------------------------------------------------------------ chapters

    def sync_chapters(self, feed_id: int | None = None, *, revalidate: set[int] | frozenset[int] = frozenset(),
                      fetch: bool = True) -> Changes:
        """Bring the Podcasting 2.0 chapters of a feed's episodes in step with
        their chapter files: fetch files never fetched, re-validate those of
        ``revalidate`` (episodes this refresh changed), and (re)write the
        episodes' ``podcast-chapters`` from the cached files.  Offline, the
        cached files still apply."""
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
        against the file's real duration.  Offline, the cached file applies."""
        if not chapters_url:
            return Changes()
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
            return Changes()
        try:
            self.cache_images(_chapters().chapters_from_json(row.body, duration), image_folder,
                              allow_private=allow_private)
        except (ValueError, RecursionError) as exc:
            log.warning("chapters of %r: %s", title, exc)
        if self.apply_chapters(episode_id, row.body, duration, title=title):
            return Changes(episodes={episode_id}, chapters={episode_id})
        return Changes()

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
