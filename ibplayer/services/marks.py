"""New episodes and bulk played marks (no Qt).

An episode is *new* when a refresh brought it to a feed the listener already
had; it stays new until the listener sees it: plays it (a saved position),
marks it played, or says "mark seen" (one episode, a feed, or everything).
"Mark older as played" marks one episode and every older one of its feed;
"mark all played" every unplayed episode (of a feed, or only the new ones).
Every call returns the `Changes` it made (and announces them on the core's
bus)."""

from __future__ import annotations

from ibplayer.infra.store import EpisodeRow
from ibplayer.services.changes import Changes


class MarkService:
    def __init__(self, core) -> None:
        self.core = core

    @property
    def library(self):
        return self.core.library

    def _changes(self, ids: list[int]) -> Changes:
        if not ids:
            return Changes()
        feeds = {r[0] for r in self.library.db.execute(
            f"SELECT DISTINCT feed_id FROM episodes WHERE id IN ({','.join('?' * len(ids))})", ids)} \
            if len(ids) < 900 else {f.id for f in self.library.feeds()}
        return self.core.emit(Changes(episodes=set(ids), feeds=feeds))

    def new_episodes(self, feed_id: int | None = None) -> list[EpisodeRow]:
        """The unplayed new episodes, newest first."""
        return self.library.episodes(feed_id, new=True)

    def new_count(self) -> int:
        return sum(self.library.new_counts().values())

    def mark_seen(self, episode_ids: list[int] | None = None, *, feed_id: int | None = None) -> Changes:
        """Clear the "new" mark (of these episodes; None: all, or all of ``feed_id``)."""
        return self._changes(self.library.mark_seen(episode_ids, feed_id))

    def mark_all_seen(self, feed_id: int | None = None) -> Changes:
        return self.mark_seen(None, feed_id=feed_id)

    def mark_older_played(self, episode_id: int) -> Changes:
        """This episode and every older one of its feed are played."""
        return self._changes(self.library.mark_played_many(older_than=episode_id))

    def mark_all_played(self, feed_id: int | None = None, *, only_new: bool = False) -> Changes:
        """Every unplayed episode (of ``feed_id``; only the new ones) is played."""
        return self._changes(self.library.mark_played_many(feed_id=feed_id, only_new=only_new))
