"""Plain data models shared by the core, the CLI and the UI (no Qt here)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

# Where a chapter list came from.  Explicit chapter data wins over show notes.
ChapterSource = Literal["notes", "podcast-chapters", "psc", "id3", "mp4", "vorbis"]

# Higher wins when several sources exist for one episode.
from ibplayer.domain.sources import SOURCE_LABELS, SOURCE_PRIORITY  # noqa: E402,F401 - re-exported


class Chapter(BaseModel):
    start: float = Field(ge=0)
    end: float | None = None
    title: str
    source: ChapterSource = "notes"
    url: str | None = None
    image: str | None = None
    hidden: bool = False  # Podcasting 2.0 `toc: false`


class Person(BaseModel):
    name: str
    affiliations: list[str] = Field(default_factory=list)
    role: Literal["guest", "host"] = "guest"
    href: str | None = None
    image: str | None = None


class ParsedEpisode(BaseModel):
    """One episode as read from a feed, before it is stored."""

    guid: str
    title: str
    published: datetime | None = None
    audio_url: str
    audio_type: str | None = None
    audio_length: int = 0  # enclosure length in bytes, 0 when unknown
    duration: float | None = None  # seconds, from itunes:duration
    episode_number: int | None = None
    link: str | None = None
    image: str | None = None
    summary: str = ""  # short description, plain text
    notes_html: str = ""  # sanitised show-notes HTML
    notes_text: str = ""  # plain text of the show notes (for search)
    chapters_url: str | None = None  # <podcast:chapters url=...>
    chapters: dict[str, list[Chapter]] = Field(default_factory=dict)  # by source
    guests: list[Person] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)


class ParsedFeed(BaseModel):
    title: str
    link: str | None = None
    description: str = ""
    author: str | None = None
    image: str | None = None
    hosts: list[Person] = Field(default_factory=list)
    episodes: list[ParsedEpisode] = Field(default_factory=list)
