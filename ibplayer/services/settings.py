"""Settings: one typed table of defaults, stored in the library.

A value that cannot be read back (hand-edited, from an older version:
``volume=loud``, ``1e999``) falls back to its default with a warning; it
never stops a front-end from starting.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from ibplayer.services.changes import Changes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Setting:
    """One typed setting: its default and how a stored text is read."""

    key: str
    type: type
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""

    def parse(self, raw: Any) -> Any:
        """The typed value of ``raw``; ValueError when it is unusable."""
        if self.type is bool:
            if isinstance(raw, bool):
                return raw
            s = str(raw).strip().lower()
            if s in ("1", "true", "yes", "on"):
                return True
            if s in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"not a yes/no value: {raw!r}")
        if self.type in (int, float):
            v = float(raw)
            if not math.isfinite(v):
                raise ValueError(f"not a finite number: {raw!r}")
            if self.minimum is not None and v < self.minimum or self.maximum is not None and v > self.maximum:
                raise ValueError(f"{v:g} is outside {self.minimum:g}…{self.maximum:g}")
            return int(round(v)) if self.type is int else v
        s = str(raw)
        if "\0" in s:
            raise ValueError("contains a NUL character")
        return s


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("skip_back", int, 15, 1, 600, "seconds the back button skips"),
        Setting("skip_forward", int, 30, 1, 600, "seconds the forward button skips"),
        Setting("max_downloads", int, 2, 1, 8, "downloads at a time"),
        Setting("default_speed", float, 1.0, 0.5, 3.0, "playback speed"),
        Setting("download_dir", str, "", doc="downloads folder (empty: <data dir>/downloads)"),
        Setting("fetch_deadline", float, 60.0, 1, 3600, "seconds a whole feed or file fetch may take"),
        Setting("save_every", float, 5.0, 1, 60, "seconds between saves of the play position"),
        Setting("refresh_every", int, 60, 0, 7 * 24 * 60, "minutes between background refreshes in the app (0 = off)"),
        Setting("notify_new", bool, False, doc="a desktop notification when a refresh brings new episodes"),
        Setting("theme", str, "system", doc="the window's colours: system, light or dark"),
        Setting("start_timeout", float, 10.0, 1, 120,
                "seconds a stream may send nothing (at start or while playing) before it is an error"),
    )
}


class Settings:
    """Typed access to the settings table of one library."""

    def __init__(self, library) -> None:
        self.library = library

    def get(self, key: str) -> Any:
        spec = SETTINGS[key]
        raw = self.library.get_setting(key)
        if raw is None:
            return spec.default
        try:
            return spec.parse(raw)
        except (ValueError, OverflowError) as exc:
            log.warning("setting %s=%r is unusable (%s): using the default %r", key, raw, exc, spec.default)
            return spec.default

    def all(self) -> dict[str, Any]:
        return {k: self.get(k) for k in SETTINGS}

    def set(self, values: dict[str, Any]) -> Changes:
        """Validate every value first, then store them in one transaction."""
        parsed = {}
        for key, value in values.items():
            if key not in SETTINGS:
                raise ValueError(f"unknown setting {key!r}")
            parsed[key] = SETTINGS[key].parse(value)
        with self.library.transaction():
            for key, value in parsed.items():
                self.library.set_setting(key, str(value))
        return Changes(settings=set(parsed))
