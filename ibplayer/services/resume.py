"""Continue where the listener left off (Qt-free, read-only over a library):
the episode to offer at launch, and the speed an episode plays at (its
feed's own speed, else the global default)."""

from __future__ import annotations

from dataclasses import dataclass

from ibplayer.infra.store import EpisodeRow
from ibplayer.services.settings import Settings


@dataclass
class Speed:
    rate: float
    own: bool  # the feed has its own speed (else: the global default)


def speed_for(library, feed_id: int | None) -> Speed:
    own = library.feed_speed(feed_id) if feed_id is not None else None
    if own:
        return Speed(float(own), True)
    return Speed(float(Settings(library).get("default_speed")), False)


def continue_point(library) -> tuple[EpisodeRow, Speed] | None:
    """The episode played most recently, unless it was finished (then
    nothing), with the speed it plays at; it resumes at its saved position."""
    eid = library.last_played_episode()
    ep = library.episode(eid) if eid is not None else None
    if ep is None:
        return None
    return ep, speed_for(library, ep.feed_id)
