"""Where chapters come from: the sources, their priority and their names
(no dependencies, so a front-end can show them without loading the models)."""

from __future__ import annotations

SOURCE_PRIORITY: dict[str, int] = {
    "id3": 60,
    "mp4": 60,
    "vorbis": 60,
    "podcast-chapters": 50,
    "psc": 40,
    "notes": 10,
}

SOURCE_LABELS: dict[str, str] = {
    "notes": "Show notes",
    "podcast-chapters": "Podcasting 2.0",
    "psc": "Podlove",
    "id3": "ID3 (MP3 file)",
    "mp4": "MP4 chapters",
    "vorbis": "Vorbis comments",
}
