"""`Core`: the application object both front-ends drive (no Qt here).

It opens one library and composes the services: `library_service`
(subscribe, refresh with policies, OPML), `downloads` (one download path),
`enrichment` (chapter files and images, apart from feed data), `settings`
(one typed table).  Every mutation returns or carries a `Changes` value and
is also announced on `events`, the single choke point front-ends (and later
sync) listen to.  Not thread-safe: one per thread (each opens its own
connection to the same library file).
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ibplayer.infra.paths import data_dir as resolve_data_dir
from ibplayer.infra.store import Library
from ibplayer.services.changes import ChangeBus, Changes

if TYPE_CHECKING:
    import httpx

    from ibplayer.infra.store import EpisodeRow
    from ibplayer.services.downloads import DownloadResult, DownloadService, StorageRow
    from ibplayer.services.enrichment import Enrichment
    from ibplayer.services.library import LibraryService, PolicyPlan, RefreshResult
    from ibplayer.services.listening import ListeningService
    from ibplayer.services.marks import MarkService
    from ibplayer.services.queue import QueueService
    from ibplayer.services.settings import Settings

__all__ = ["Core", "Changes"]


class Core:
    """The services are built on first use (their modules too): a refresh
    answered 304 loads neither the download nor the OPML stack."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, *, timeout: float | None = None,
                 max_feed_bytes: int | None = None, deadline: float | None = None):
        self.data_dir = resolve_data_dir(data_dir)
        self.library = Library(self.data_dir)
        self.timeout = timeout
        self._max_feed_bytes = max_feed_bytes
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self.events = ChangeBus()
        # total seconds per fetch: the argument, else the fetch_deadline setting (60 s by default)
        self.deadline = deadline or self.settings.get("fetch_deadline")

    @property
    def max_feed_bytes(self) -> int:
        """The cap on a feed's size (the argument, else infra.feeds.MAX_FEED_BYTES)."""
        if self._max_feed_bytes is None:
            from ibplayer.infra.feeds import MAX_FEED_BYTES

            return MAX_FEED_BYTES
        return self._max_feed_bytes

    @cached_property
    def settings(self) -> Settings:
        from ibplayer.services.settings import Settings

        return Settings(self.library)

    @cached_property
    def enrichment(self) -> Enrichment:
        from ibplayer.services.enrichment import Enrichment

        return Enrichment(self.library, lambda: self.client, lambda: self.deadline)

    @cached_property
    def library_service(self) -> LibraryService:
        from ibplayer.services.library import LibraryService

        return LibraryService(self)

    @cached_property
    def downloads(self) -> DownloadService:
        from ibplayer.services.downloads import DownloadService

        return DownloadService(self)

    @cached_property
    def queue(self) -> QueueService:
        from ibplayer.services.queue import QueueService

        return QueueService(self)

    @cached_property
    def marks(self) -> MarkService:  # new episodes, bulk played marks
        from ibplayer.services.marks import MarkService

        return MarkService(self)

    @cached_property
    def listening(self) -> ListeningService:  # skip words, heard chapters (issue 10 §5)
        from ibplayer.services.listening import ListeningService

        return ListeningService(self)

    def emit(self, changes: Changes) -> Changes:
        return self.events.emit(changes)

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                from ibplayer.infra.http import make_client

                self._client = make_client(self.timeout)
            return self._client

    @property
    def downloads_dir(self) -> Path:
        return self.downloads.folder

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self.library.close()

    def __enter__(self) -> Core:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ feeds

    def subscribe(self, url: str | None = None) -> RefreshResult:
        return self.library_service.subscribe(url)

    def ensure_default(self) -> RefreshResult | None:
        return self.library_service.ensure_default()

    def unsubscribe(self, key: str) -> str:
        return self.library_service.unsubscribe(key)[0]

    def refresh(self, feed_ids: list[int] | None = None, on_result=None) -> list[RefreshResult]:
        return self.library_service.refresh(feed_ids, on_result)

    def refresh_feed(self, feed_id: int) -> RefreshResult:
        return self.library_service.refresh_feed(feed_id)

    def plan_policies(self) -> PolicyPlan:
        return self.library_service.plan_policies()

    def opml_import(self, path: str | os.PathLike[str]) -> list[RefreshResult | str]:
        return self.library_service.opml_import(path)

    def opml_export(self, path: str | os.PathLike[str]) -> int:
        return self.library_service.opml_export(path)

    # ------------------------------------------------------------ episodes

    def set_played(self, episode_id: int, played: bool = True) -> Changes:
        self.library.set_played(episode_id, played)
        return self.emit(Changes(episodes={episode_id}, feeds=self._feed_of(episode_id)))

    def set_position(self, episode_id: int, seconds: float) -> Changes:
        self.library.set_position(episode_id, seconds)
        return self.emit(Changes(positions={episode_id}))

    def set_feed_speed(self, feed_id: int, speed: float | None) -> Changes:
        """A feed's own playback speed (None: the global default_speed)."""
        if speed is not None:
            from ibplayer.services.settings import SETTINGS

            speed = SETTINGS["default_speed"].parse(speed)
        self.library.set_feed_speed(feed_id, speed)
        return self.emit(Changes(feeds={feed_id}))

    def speed_for(self, feed_id: int | None) -> float:
        """The speed an episode of this feed plays at."""
        from ibplayer.services.resume import speed_for

        return speed_for(self.library, feed_id).rate

    def set_chapter_source(self, episode_id: int, source: str | None) -> Changes:
        self.library.set_chapter_source(episode_id, source)
        return self.emit(Changes(episodes={episode_id}, chapters={episode_id}))

    def _feed_of(self, episode_id: int) -> set[int]:
        ep = self.library.episode(episode_id)
        return {ep.feed_id} if ep else set()

    # ------------------------------------------------------------ downloads

    def download_path(self, episode: EpisodeRow | int, *, reserve: bool = False) -> Path:
        return self.downloads.path(episode, reserve=reserve)

    def download(self, episode_ids: list[int], **kw) -> list[DownloadResult]:
        return self.downloads.download(episode_ids, **kw)

    def finish_download(self, episode: EpisodeRow | int, path: str | os.PathLike[str], *,
                        auto: bool = False) -> EpisodeRow:
        ep = self.downloads.episode(episode)
        self.downloads.record(ep, path, auto=auto)
        return self.downloads.episode(ep.id)

    def delete_download(self, episode: EpisodeRow | int) -> int:
        return self.downloads.delete(episode)[0]

    def storage(self) -> list[StorageRow]:
        return self.downloads.storage()

    def chapter_cache_dir(self, dest: Path) -> Path:
        return self.downloads.chapter_cache_dir(dest)
