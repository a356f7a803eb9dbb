"""Up Next: the play queue (Qt-free; both front-ends call this).

The queue is an ordered list of episodes stored in the library.  "Play
next" puts episodes at the front, "play last" at the end; an episode is in
the queue at most once (adding it again moves it).  When the playing episode
ends, :meth:`QueueService.advance` takes it out and hands back the next one,
which leaves the queue as it starts.  Every call that writes returns the
`Changes` it made (``queue=True``) and announces them on ``core.events``.

"Add new episodes to Up Next" is a per-feed setting, applied after every
refresh by the library service's policy plan (:meth:`auto_add`), so the CLI
and the window queue the same episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ibplayer.infra.store import EpisodeRow, LibraryError
from ibplayer.services.changes import Changes

if TYPE_CHECKING:
    from ibplayer.services.core import Core


class QueueService:
    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def library(self):
        return self.core.library

    # ------------------------------------------------------------ reading

    def ids(self) -> list[int]:
        return self.library.queue_ids()

    def list(self) -> list[EpisodeRow]:
        return self.library.queue_episodes()

    # ------------------------------------------------------------ writing

    def _ids_of(self, episodes) -> list[int]:
        """Episode ids from rows, ids or CLI keys (short id, guid, #row id);
        an unknown one fails before anything changes."""
        out: list[int] = []
        for e in episodes:
            if isinstance(e, EpisodeRow):
                eid = e.id
            elif isinstance(e, int):
                if self.library.episode(e) is None:
                    raise LibraryError(f"no episode with id {e}")
                eid = e
            else:
                eid = self.library.resolve_episode(str(e)).id
            if eid not in out:
                out.append(eid)
        return out

    def _store(self, ids: list[int]) -> Changes:
        before = self.ids()
        self.library.set_queue(ids)
        after = self.ids()
        if after == before:
            return Changes()
        return self.core.emit(Changes(queue=True))  # the episodes' own rows did not change

    def add(self, episodes, *, front: bool = False) -> Changes:
        """Queue episodes at the end ("play last") or, with ``front``, at the
        front in the order given ("play next").  Already queued ones move."""
        new = self._ids_of(episodes)
        rest = [i for i in self.ids() if i not in new]
        return self._store(new + rest if front else rest + new)

    def play_next(self, episodes) -> Changes:
        return self.add(episodes, front=True)

    def play_last(self, episodes) -> Changes:
        return self.add(episodes)

    def move(self, episode, index: int) -> Changes:
        """Move a queued episode to position ``index`` (clamped)."""
        eid = self._ids_of([episode])[0]
        ids = self.ids()
        if eid not in ids:
            raise LibraryError("that episode is not in Up Next")
        ids.remove(eid)
        ids.insert(max(0, min(int(index), len(ids))), eid)
        return self._store(ids)

    def reorder(self, episode_ids: list[int]) -> Changes:
        """The queue in a new order (a drag in the window): ids not given keep
        their order after those given; ids not queued are ignored."""
        current = self.ids()
        wanted = [i for i in dict.fromkeys(episode_ids) if i in current]
        return self._store(wanted + [i for i in current if i not in wanted])

    def remove(self, episodes) -> Changes:
        gone = set(self._ids_of(episodes))
        return self._store([i for i in self.ids() if i not in gone])

    def clear(self) -> Changes:
        return self._store([])

    def advance(self, ended_id: int | None) -> tuple[EpisodeRow | None, Changes]:
        """The episode ``ended_id`` ended: take it out of the queue and return
        the next queued episode (taken out too: it is starting), or None."""
        ids = [i for i in self.ids() if i != ended_id]
        nxt: EpisodeRow | None = None
        while ids and nxt is None:
            nxt = self.library.episode(ids.pop(0))
        return nxt, self._store(ids)

    # ------------------------------------------------------------ per feed

    def set_auto_add(self, feed_id: int, on: bool) -> Changes:
        """New episodes of this feed go to the end of Up Next after each
        refresh (only those arriving from now on)."""
        if self.library.feed(feed_id) is None:
            raise LibraryError(f"no feed {feed_id}")
        self.library.set_auto_queue(feed_id, on)
        return self.core.emit(Changes(feeds={feed_id}))

    def auto_add(self) -> tuple[list[int], Changes]:
        """Queue the new unplayed episodes of feeds with "add to Up Next" on
        (oldest first); each episode is considered once."""
        feeds = self.library.auto_queue_feeds()
        if not feeds:
            return [], Changes()
        added: list[int] = []
        for feed_id, seen in feeds.items():
            eps = [e for e in self.library.episodes(feed_id) if e.id > seen]
            if not eps:
                continue
            eps.sort(key=lambda e: (e.published is None, e.published.timestamp() if e.published else 0, e.id))
            added += [e.id for e in eps if not e.played]
            self.library.set_queue_seen(feed_id, max(e.id for e in eps))
        if not added:
            return [], Changes()
        queued = set(self.ids())
        added = [i for i in added if i not in queued]
        return added, self.add(added) if added else Changes()


class AutoAdvance:
    """A `PlaybackSession` listener: when an episode ends (its end reached,
    not stopped by a sleep timer), ``start_next(ended_id)`` is called; the
    front-end then runs :meth:`QueueService.advance` and loads what it
    returns (at its resume position)."""

    def __init__(self, start_next: Callable[[int], None]) -> None:
        self.start_next = start_next
        self._slept = False

    def on_sleep(self, what: str | None) -> None:
        if what == "fired":
            self._slept = True  # "stop at the end of the episode / chapter": the listener wants silence

    def on_state(self, state: str) -> None:
        if state == "playing":
            self._slept = False

    def on_ended(self, ep: Any) -> None:
        if self._slept:
            self._slept = False
            return
        if ep is not None:
            self.start_next(ep.id)
