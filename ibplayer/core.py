"""`Core`: the one object the CLI and the GUI both drive (no Qt here).

It ties fetching, parsing and the library together: subscribe, refresh,
unsubscribe, OPML, search, export.  Network work happens before any write,
and each feed is stored in one transaction, so a broken feed never damages
the library.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from . import DEFAULT_FEED_URL, chapters, feeds, opml
from .feeds import FeedError, NetworkUnreachable
from .models import ParsedFeed
from .paths import data_dir as resolve_data_dir
from .paths import resource
from .store import Library, LibraryError

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
                 max_feed_bytes: int = feeds.MAX_FEED_BYTES):
        self.data_dir = resolve_data_dir(data_dir)
        self.library = Library(self.data_dir)
        self.timeout = timeout
        self.max_feed_bytes = max_feed_bytes
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
            fetched = feeds.fetch_feed(url, client=self.client, max_bytes=self.max_feed_bytes)
            parsed = feeds.parse_feed(fetched.content or b"", url)
        except FeedError as exc:
            if is_default:
                return self._load_snapshot(url, exc)
            raise
        self._fetch_chapter_json(parsed)
        final_url = fetched.url
        existing = self.library.feed_by_url(final_url)
        feed_id = existing.id if existing else self.library.add_feed(final_url, parsed.title)
        stats = self.library.store_feed(
            feed_id, parsed, url=final_url, etag=fetched.etag, last_modified=fetched.last_modified,
            content_hash=feeds.content_hash(fetched.content or b""),
        )
        return RefreshResult(feed_id, final_url, parsed.title, "new", stats["new"], stats["updated"])

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
            r = self.refresh_feed(f.id)
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
        try:
            parsed = feeds.parse_feed(fetched.content, f.url)
        except FeedError as exc:
            self.library.note_feed_checked(feed_id, error=str(exc))
            return RefreshResult(feed_id, f.url, f.title, "error", error=str(exc))
        self._fetch_chapter_json(parsed, feed_id)
        stats = self.library.store_feed(
            feed_id, parsed, url=fetched.url, etag=fetched.etag, last_modified=fetched.last_modified,
            content_hash=digest, snapshot=False,
        )
        return RefreshResult(feed_id, fetched.url, parsed.title, "updated", stats["new"], stats["updated"])

    def _fetch_chapter_json(self, parsed: ParsedFeed, feed_id: int | None = None) -> None:
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

        def fetch(ep):
            try:
                feeds.check_url(ep.chapters_url)
                resp = self.client.get(ep.chapters_url)
                resp.raise_for_status()
                if len(resp.content) > 5_000_000:
                    raise ValueError("chapters file too large")
                return ep, chapters.chapters_from_json(resp.content, ep.duration)
            except (httpx.HTTPError, ValueError, FeedError) as exc:
                log.warning("chapters for %r: %s", ep.title, exc)
                return ep, None

        with ThreadPoolExecutor(max_workers=4) as pool:
            for ep, chs in pool.map(fetch, todo):
                if chs:
                    ep.chapters["podcast-chapters"] = chs

    # ------------------------------------------------------------ OPML

    def opml_import(self, path: str | os.PathLike[str]) -> list[RefreshResult | str]:
        urls = opml.read_opml(Path(path))
        out: list[RefreshResult | str] = []
        for url in urls:
            try:
                out.append(self.subscribe(url))
            except (FeedError, LibraryError) as exc:
                out.append(f"{url}: {exc}")
        return out

    def opml_export(self, path: str | os.PathLike[str]) -> int:
        feeds_ = self.library.feeds()
        opml.write_opml(Path(path), [(f.title, f.url, f.link) for f in feeds_])
        return len(feeds_)
