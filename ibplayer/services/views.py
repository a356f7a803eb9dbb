"""Read-only views the front-ends show, each loaded in one call (off the GUI
thread in the window): what the episode pane and the chapter sidebar need."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ibplayer.domain.sources import any_disagree, best_source
from ibplayer.infra.store import ChapterRow, EpisodeRow, Library

# The window reads these on every episode it shows: plain rows only, no
# pydantic models and nothing of the network stack (the first details read
# used to import pydantic and httpx and build chapter models while the list
# painted: a GUI-thread stall through the GIL).


@dataclass
class ChapterView:
    source: str | None  # the source shown
    chapters: list[ChapterRow]
    counts: dict[str, int]  # every source the episode has, with its chapter count
    disagree: bool  # the sources differ (count, or starts apart): offer a choice


@dataclass
class GuestCard:
    """A guest as the front-ends show them (issue 9): the page is given only
    when it is an http(s) address (what a front-end may open), the picture is
    the cached file of the guest's image (None until cached)."""

    name: str
    affiliations: list[str] = field(default_factory=list)
    page: str | None = None
    image_url: str | None = None  # http(s) only
    picture: str | None = None


def _web(url: str | None) -> str | None:
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def episode_list(lib: Library, feed_id: int | None = None, *, text: str | None = None, unplayed: bool = False,
                 downloaded: bool = False, new: bool = False, person_id: int | None = None) -> list[EpisodeRow]:
    """The episodes a list shows: one feed's or all (``feed_id`` None), only
    the new ones, or one guest's (``person_id``); narrowed by a filter text
    (title or guest name), unplayed and downloaded."""
    if person_id is None:
        return lib.episodes(None if new else feed_id, text=text or None, unplayed=unplayed,
                            downloaded=downloaded, new=new)
    eps = lib.episodes_with_person(person_id)
    if text:
        t = text.lower()
        eps = [e for e in eps if t in e.title.lower() or t in e.guest_names.lower()]
    if unplayed:
        eps = [e for e in eps if not e.played]
    if downloaded:
        eps = [e for e in eps if e.file]
    return eps


def guest_cards(lib: Library, ep: EpisodeRow) -> list[GuestCard]:
    """The guests of a stored episode, with their page and cached picture."""
    cards = []
    for g in ep.guests or lib.guests(ep.id):
        image = _web(getattr(g, "image", None))
        cards.append(GuestCard(g.name, list(g.affiliations), _web(getattr(g, "href", None)), image,
                               cached_image(lib, image)))
    return cards


@dataclass
class EpisodeDetails:
    episode: EpisodeRow
    guests: list[GuestCard] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    notes_html: str = ""
    chapters: ChapterView | None = None
    skip_words: list[str] = field(default_factory=list)  # the feed's (issue 10 §5)
    heard: set[float] = field(default_factory=set)  # starts of the chapters heard through
    episode_art: str | None = None  # cached image files (issue 10 §6): the episode's, else None
    feed_art: str | None = None  # the feed's


def chapter_view(lib: Library, episode_id: int, source: str | None = None) -> ChapterView:
    sets = lib.chapter_rows(episode_id)
    if source is None:
        source = lib.chapter_source(episode_id)
    if source not in sets:
        source = best_source(sets)
    return ChapterView(source, sets.get(source, []) if source else [], {s: len(c) for s, c in sets.items()},
                       any_disagree(sets))


def episode_details(lib: Library, episode_id: int) -> EpisodeDetails | None:
    """Everything the episode pane and the chapter sidebar show, in one read."""
    ep = lib.episode(episode_id)
    if ep is None:
        return None
    guests = guest_cards(lib, ep)
    feed = lib.feed(ep.feed_id)
    return EpisodeDetails(ep, guests, lib.topics(ep.id), _bounded_notes(lib.notes_html(ep.id)), chapter_view(lib, ep.id),
                          lib.skip_words(ep.feed_id), lib.heard_chapters(ep.id), cached_image(lib, ep.image),
                          cached_image(lib, feed.image if feed else None))


def cached_image(library: Library, url: str | None) -> str | None:
    """The cached file of an image URL (None: not cached); a chapter's
    image already rewritten to its cached ``file://`` URI is its own file."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        from urllib.request import url2pathname

        local = Path(url2pathname(parts.path))
        return str(local) if local.is_file() else None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    row = library.enrichment(url)
    return row.path if row and row.path and Path(row.path).is_file() else None


def _bounded_notes(notes: str) -> str:
    """Notes stored by an older ibplayer may be huge or deeply nested (a
    hostile feed): the same size and depth caps as at ingest, here in the
    worker, before a front-end lays them out."""
    from ibplayer.domain.text import MAX_DEPTH, MAX_HTML_CHARS, limit_nesting

    if len(notes) > MAX_HTML_CHARS or notes.count("<") > 4 * MAX_DEPTH:
        notes = limit_nesting(notes[:MAX_HTML_CHARS])
    return notes
