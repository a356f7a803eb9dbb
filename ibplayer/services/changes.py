"""`Changes`: what a mutation changed, so a front-end can refresh exactly that.

Every service call that writes returns (or carries) a `Changes` value; the
window applies them in one place (`MainWindow.apply_changes`), the CLI
ignores them, and sync will hook here later.  After Anki's
"operation did execute(changes)" protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields


@dataclass
class Changes:
    """What a service call changed, for the front-ends to reload."""

    feed_list: bool = False  # feeds were added or removed
    feeds: set[int] = field(default_factory=set)  # a feed's data or its episode list changed
    feeds_removed: set[int] = field(default_factory=set)
    episodes: set[int] = field(default_factory=set)  # an episode row changed (played, file, metadata…)
    positions: set[int] = field(default_factory=set)  # only the play position changed (saved while playing)
    chapters: set[int] = field(default_factory=set)  # an episode's chapter lists changed
    settings: set[str] = field(default_factory=set)
    queue: bool = False  # Up Next changed (order, additions, removals)

    def __bool__(self) -> bool:
        return any(bool(getattr(self, f.name)) for f in fields(self))

    def __or__(self, other: Changes) -> Changes:
        out = Changes()
        out |= self
        out |= other
        return out

    def __ior__(self, other: Changes | None) -> Changes:
        if other is None:
            return self
        self.feed_list = self.feed_list or other.feed_list
        self.queue = self.queue or other.queue
        for f in fields(self):
            if f.name not in ("feed_list", "queue"):
                getattr(self, f.name).update(getattr(other, f.name))
        return self


class ChangeBus:
    """Listeners called with every `Changes` a service emits (in the thread
    that made the change: a GUI listener hops to its own thread)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[Changes], None]] = []

    def subscribe(self, fn: Callable[[Changes], None]) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def emit(self, changes: Changes) -> Changes:
        if changes:
            for fn in list(self._listeners):
                fn(changes)
        return changes
