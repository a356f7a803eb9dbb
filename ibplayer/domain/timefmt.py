"""Clock times for people: the one formatter the CLI, the window and the
services use (no dependencies: the CLI imports it on every command)."""

from __future__ import annotations


def fmt_clock(seconds: float | None, *, pad: bool = False, hours: bool = False, rounded: bool = False,
              none: str = "–") -> str:
    """``1:02:03``, ``2:03`` (``pad``: ``02:03``; ``hours``: ``0:02:03``).
    Seconds are truncated (a clock shows the second it is in) unless
    ``rounded``; negative and non-finite values show as 0 or ``none``."""
    if seconds is None or seconds != seconds or seconds in (float("inf"), float("-inf")):
        return none
    s = int(round(seconds)) if rounded else int(seconds)
    s = max(0, s)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h or hours:
        return f"{h}:{m:02d}:{sec:02d}"
    return f"{m:02d}:{sec:02d}" if pad else f"{m}:{sec:02d}"
