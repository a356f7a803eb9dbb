"""The library service: subscribe, unsubscribe, refresh (with the per-feed
policies applied after every refresh, whichever front-end asked), OPML.

Network work happens before any write, and each feed is stored in one
transaction, so a broken feed never damages the library.  One feed's
failure is that feed's last error; the others go on.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ibplayer import DEFAULT_FEED_URL
from ibplayer.infra import feeds
from ibplayer.infra.feeds import FeedError, NetworkUnreachable
from ibplayer.infra.paths import resource
from ibplayer.infra.store import EpisodeRow, LibraryError
from ibplayer.services.changes import Changes

if TYPE_CHECKING:
    from ibplayer.services.core import Core

log = logging.getLogger(__name__)

SNAPSHOT_NAME = "default-feed.rss"


def default_feed_url() -> str:
    return os.environ.get("IBPLAYER_DEFAULT_FEED_URL") or DEFAULT_FEED_URL


def feed_url_from_user(text: str) -> str:
    """A feed address as a listener types or pastes it: trimmed; without a
    scheme ("example.com/feed.xml") it is https://; the podcast link schemes
    feed:// and itpc:// / pcast:// are https://, "feed:https://…" the URL."""
    url = (text or "").strip()
    low = url.lower()
    for prefix in ("feed:http://", "feed:https://"):
        if low.startswith(prefix):
            return url[len("feed:"):]
    for prefix in ("feed://", "itpc://", "pcast://", "podcast://"):
        if low.startswith(prefix):
            return "https://" + url[len(prefix):]
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)", url):
        return url  # a scheme (http, or one check_url refuses: file:, javascript:, …)
    host = url.lstrip("/").split("/", 1)[0].split(":", 1)[0].lower()
    if "." in host or host == "localhost":  # example.com/feed, localhost:8000/feed
        return "https://" + url.lstrip("/")
    return url


@dataclass
class RefreshResult:
    """What refreshing (or subscribing to) one feed did."""

    feed_id: int
    url: str
    title: str
    status: str  # "new" | "updated" | "not-modified" | "unchanged" | "snapshot" | "error" | "offline"
    new: int = 0
    updated: int = 0
    error: str | None = None
    changes: Changes = field(default_factory=Changes)

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


@dataclass
class PolicyPlan:
    """What the per-feed policies decided after a refresh: the deletions are
    done; the downloads are for the front-end's download queue (the CLI
    downloads them at once, the window queues them with progress)."""

    download: list[int] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)  # new episodes added to Up Next
    deleted: list[tuple[EpisodeRow, str, int]] = field(default_factory=list)  # (episode, why, bytes freed)
    changes: Changes = field(default_factory=Changes)


class LibraryService:
    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def library(self):
        return self.core.library

    # ------------------------------------------------------------ subscribing

    def subscribe(self, url: str | None = None) -> RefreshResult:
        """Subscribe to a feed (the default feed without a URL).  The feed is
        fetched and parsed before anything is written: a bad URL adds nothing.
        The default feed falls back to the bundled snapshot when offline."""
        is_default = url is None
        url = feeds.check_url(feed_url_from_user(url) if url else default_feed_url())
        existing = self.library.feed_by_url(url)
        if existing:
            return self.refresh_feed(existing.id)
        try:
            fetched = feeds.fetch_feed(url, client=self.core.client, max_bytes=self.core.max_feed_bytes,
                                       deadline=self.core.deadline)
            parsed = feeds.parse_feed(fetched.content or b"", url)
        except FeedError as exc:
            if is_default:
                return self._load_snapshot(url, exc)
            raise
        final_url = fetched.url
        existing = self.library.feed_by_url(final_url)
        feed_id = existing.id if existing else self.library.add_feed(final_url, parsed.title)
        stats = self.library.store_feed(
            feed_id, parsed, url=final_url, etag=fetched.etag, last_modified=fetched.last_modified,
            content_hash=feeds.content_hash(fetched.content or b""),
        )
        cache = feeds.ItemCache(self._item_cache_path(feed_id), final_url)
        cache.note(fetched.content or b"")
        cache.save(self._feed_guids(feed_id))
        changes = Changes(feed_list=True, feeds={feed_id})
        changes |= self.core.enrichment.sync_chapters(feed_id)
        return RefreshResult(feed_id, final_url, parsed.title, "new", stats["new"], stats["updated"],
                             changes=self.core.emit(changes))

    def _item_cache_path(self, feed_id: int) -> Path:
        """Digests of the feed's raw items as last stored (a cache: a missing
        or stale one only costs a full parse)."""
        return self.core.data_dir / "cache" / f"feed-{feed_id}-items.json"

    def _feed_guids(self, feed_id: int) -> set[str]:
        return {e.guid for e in self.library.episodes(feed_id)}

    def _load_snapshot(self, url: str, why: Exception) -> RefreshResult:
        data = resource(SNAPSHOT_NAME).read_bytes()
        parsed = feeds.parse_feed(data, url)
        feed_id = self.library.add_feed(url, parsed.title)
        stats = self.library.store_feed(feed_id, parsed, snapshot=True)
        self.library.note_feed_checked(feed_id, error=str(why))
        return RefreshResult(feed_id, url, parsed.title, "snapshot", stats["new"], stats["updated"], str(why),
                             changes=self.core.emit(Changes(feed_list=True, feeds={feed_id})))

    def ensure_default(self) -> RefreshResult | None:
        """First launch: subscribe to the default feed when the library is empty."""
        if self.library.feeds():
            return None
        return self.subscribe(None)

    def unsubscribe(self, key: str) -> tuple[str, Changes]:
        feed = self.library.find_feed(key)
        self.library.delete_feed(feed.id)
        return feed.title or feed.url, self.core.emit(Changes(feed_list=True, feeds_removed={feed.id}))

    # ------------------------------------------------------------ refreshing

    def refresh(self, feed_ids: list[int] | None = None, on_result=None) -> list[RefreshResult]:
        """Check every feed (or ``feed_ids``).  A feed that fails, for any
        reason, is recorded as that feed's last error and the next one goes on."""
        results = []
        for f in self.library.feeds(counts=False):
            if feed_ids is not None and f.id not in feed_ids:
                continue
            try:
                r = self.refresh_feed(f.id)
            except (LibraryError, sqlite3.Error):
                raise  # the library's own problem (full disk, read-only, damaged): stop
            except Exception as exc:  # noqa: BLE001 - one bad feed must not stop the others
                log.warning("refreshing %s", f.url, exc_info=True)
                msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
                self.library.note_feed_checked(f.id, error=msg)
                r = RefreshResult(f.id, f.url, f.title, "error", error=msg,
                                  changes=self.core.emit(Changes(feeds={f.id})))
            results.append(r)
            if on_result:
                on_result(r)
        return results

    def refresh_feed(self, feed_id: int) -> RefreshResult:
        f = self.library.feed(feed_id, counts=False)
        if f is None:
            raise LibraryError(f"no feed {feed_id}")
        # a feed whose last error was shown changes when that error clears or
        # changes; a plain "checked, nothing new" changes nothing a front-end shows
        checked = Changes(feeds={feed_id}) if f.last_error else Changes()
        try:
            fetched = feeds.fetch_feed(
                f.url,
                etag=None if f.snapshot else f.etag,
                last_modified=None if f.snapshot else f.last_modified,
                client=self.core.client,
                max_bytes=self.core.max_feed_bytes,
                deadline=self.core.deadline,
            )
        except NetworkUnreachable as exc:
            self.library.note_feed_checked(feed_id, error=str(exc))
            failed = Changes(feeds={feed_id}) if f.last_error != str(exc) else Changes()
            return RefreshResult(feed_id, f.url, f.title, "offline", error=str(exc), changes=self.core.emit(failed))
        except FeedError as exc:
            self.library.note_feed_checked(feed_id, error=str(exc))
            failed = Changes(feeds={feed_id}) if f.last_error != str(exc) else Changes()
            return RefreshResult(feed_id, f.url, f.title, "error", error=str(exc), changes=self.core.emit(failed))
        if fetched.not_modified:
            self.library.note_feed_checked(feed_id, url=fetched.url if fetched.url != f.url else None)
            changes = checked | self.core.enrichment.sync_chapters(feed_id)  # files never fetched (offline before)
            return RefreshResult(feed_id, fetched.url, f.title, "not-modified", changes=self.core.emit(changes))
        digest = feeds.content_hash(fetched.content)
        if digest == f.content_hash and not f.snapshot:
            # Same bytes as last time (a server without validators): parse nothing.
            self.library.note_feed_checked(
                feed_id, url=fetched.url if fetched.url != f.url else None,
                etag=fetched.etag, last_modified=fetched.last_modified, keep_validators=False,
            )
            changes = checked | self.core.enrichment.sync_chapters(feed_id)
            return RefreshResult(feed_id, fetched.url, f.title, "unchanged", changes=self.core.emit(changes))
        cache = None if f.snapshot else feeds.ItemCache.load(
            self._item_cache_path(feed_id), fetched.url, self._feed_guids(feed_id), self.library.hosts(feed_id))
        try:
            parsed = feeds.parse_feed(fetched.content, f.url, cache=cache)  # only new and changed items
        except FeedError as exc:
            self.library.note_feed_checked(feed_id, error=str(exc))
            failed = Changes(feeds={feed_id}) if f.last_error != str(exc) else Changes()
            return RefreshResult(feed_id, f.url, f.title, "error", error=str(exc), changes=self.core.emit(failed))
        stats = self.library.store_feed(
            feed_id, parsed, url=fetched.url, etag=fetched.etag, last_modified=fetched.last_modified,
            content_hash=digest, snapshot=False,
        )
        if cache is None:
            cache = feeds.ItemCache(self._item_cache_path(feed_id), fetched.url)
            cache.note(fetched.content)
        cache.save(self._feed_guids(feed_id))
        touched = set(stats["touched"])
        for eid in touched:  # downloaded episodes: the file's real duration beats the feed's
            duration = self.library.file_duration(eid)
            if duration:
                self.core.downloads.recheck_chapters(eid, duration)
        changes = Changes(feeds={feed_id}, episodes=touched, chapters=touched)
        # Episodes the refresh rewrote may name a new chapter file version.
        changes |= self.core.enrichment.sync_chapters(feed_id, revalidate=touched)
        return RefreshResult(feed_id, fetched.url, parsed.title, "updated", stats["new"], stats["updated"],
                             changes=self.core.emit(changes))

    # ------------------------------------------------------------ policies

    def plan_policies(self) -> PolicyPlan:
        """Per-feed settings, applied after every refresh (CLI or window):
        delete played downloads where ``auto_delete_played`` is on; where
        ``auto_download`` is N > 0, keep the N newest episodes downloaded
        (unplayed ones are returned for download; automatic downloads that
        fell out of the N newest and were never started are deleted); where
        "add to Up Next" is on, new episodes go to the end of the queue.
        Cheap when no feed has a policy."""
        lib = self.library
        plan = PolicyPlan()
        plan.queued, queued = self.core.queue.auto_add()  # "add new episodes to Up Next"
        plan.changes |= queued
        for f in lib.feeds(counts=False):
            if not (f.auto_delete_played or f.auto_download > 0):
                continue
            eps = lib.episodes(f.id)
            window = {e.id for e in eps[: f.auto_download]} if f.auto_download > 0 else set()
            for e in eps:
                if not e.file:
                    if e.id in window and not e.played:
                        plan.download.append(e.id)
                    continue
                _reserved, _file, _size, auto = lib.download_state(e.id)
                if f.auto_delete_played and e.played:
                    why = "played"
                elif f.auto_download > 0 and auto and e.id not in window and not e.played and not e.position:
                    why = f"no longer among the {f.auto_download} newest"
                else:
                    continue
                freed, changes = self.core.downloads.delete(e)
                plan.deleted.append((e, why, freed))
                plan.changes |= changes
        return plan

    def set_feed_settings(self, feed_id: int, *, auto_download: int | None = None,
                          auto_delete_played: bool | None = None) -> Changes:
        self.library.set_feed_settings(feed_id, auto_download=auto_download, auto_delete_played=auto_delete_played)
        return self.core.emit(Changes(feeds={feed_id}))

    # ------------------------------------------------------------ OPML

    def opml_import(self, path: str | os.PathLike[str]) -> list[RefreshResult | str]:
        from ibplayer.infra import opml  # (its text helpers load nh3)

        urls = opml.read_opml(path)  # a file, or an http(s) URL
        out: list[RefreshResult | str] = []
        for url in urls:
            try:
                out.append(self.subscribe(url))
            except (FeedError, LibraryError, OSError, ValueError) as exc:
                out.append(f"{url}: {exc}")
        return out

    def opml_export(self, path: str | os.PathLike[str]) -> int:
        from ibplayer.infra import opml

        feeds_ = self.library.feeds()
        opml.write_opml(Path(path), [(f.title, f.url, f.link) for f in feeds_])
        return len(feeds_)
