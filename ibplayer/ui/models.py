"""Qt item models over the library (rows are fetched in workers and cached)."""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractListModel, QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QApplication

from ibplayer.domain.timefmt import fmt_clock

from .startup import NEW_VIEW

if TYPE_CHECKING:
    from ibplayer.domain.models import Chapter

EpisodeIdRole = Qt.UserRole + 1
DownloadRole = Qt.UserRole + 2  # fraction 0..1, -1 when size unknown, None when not downloading
PlayedRole = Qt.UserRole + 3
DownloadedRole = Qt.UserRole + 4
ListenRole = Qt.UserRole + 5  # fraction listened, 0..1
CurrentRole = Qt.UserRole + 6
ChapterProgressRole = Qt.UserRole + 7
StartRole = Qt.UserRole + 8
FeedIdRole = Qt.UserRole + 9
HitRole = Qt.UserRole + 10


def fmt_time(seconds: float | None, *, always_hours: bool = False) -> str:
    return fmt_clock(seconds, hours=always_hours)


def fmt_duration(seconds: float | None) -> str:
    """A human length: "1 h 32 min", "45 min", "40 s"."""
    if not seconds:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    h, rem = divmod(s, 3600)
    m = rem // 60
    return f"{h} h {m:02d} min" if h else f"{m} min"


def fmt_date(dt: datetime | None) -> str:
    if dt is None:
        return ""
    return dt.astimezone().strftime("%d %b %Y")


# ---------------------------------------------------------------- feeds


class FeedsModel(QAbstractListModel):
    """Row 0 is "All episodes", row 1 "New" (episodes that arrived since the
    listener last looked); then one row per feed."""

    NEW = NEW_VIEW  # the FeedIdRole of the "New" row
    FIRST_FEED_ROW = 2

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list = []
        self._new: dict[int, int] = {}

    def set_feeds(self, feeds: list, new_counts: dict[int, int] | None = None) -> None:
        self.beginResetModel()
        self._rows = list(feeds)
        self._new = dict(new_counts or {})
        self.endResetModel()

    def feeds(self) -> list:
        return list(self._rows)

    def new_count(self, feed_id: int | None = None) -> int:
        return sum(self._new.values()) if feed_id is None else self._new.get(feed_id, 0)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows) + self.FIRST_FEED_ROW

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid():
            return None
        r = index.row()
        if r == 0:
            if role == Qt.DisplayRole:
                total = sum(f.episode_count for f in self._rows)
                return f"All episodes ({total})"
            return None
        if r == 1:
            n = self.new_count()
            if role == Qt.DisplayRole:
                return f"● New ({n})" if n else "New (0)"
            if role == Qt.ToolTipRole:
                return "Episodes that arrived since you last looked"
            if role == FeedIdRole:
                return self.NEW
            if role == Qt.FontRole and n:
                f = QFont(QApplication.font())
                f.setBold(True)
                return f
            return None
        f = self._rows[r - self.FIRST_FEED_ROW]
        if role == Qt.DisplayRole:
            n = self._new.get(f.id, 0)
            return f"{f.title or f.url}  ({f.unplayed_count}/{f.episode_count})" + (f" · {n} new" if n else "")
        if role == Qt.ToolTipRole:
            tip = f"{f.title}\n{f.url}\n{f.unplayed_count} unplayed of {f.episode_count}"
            if self._new.get(f.id):
                tip += f"\n{self._new[f.id]} new since you last looked"
            if f.snapshot:
                tip += "\nLoaded from the bundled snapshot (offline)"
            if f.last_error:
                tip += f"\nLast refresh: {f.last_error}"
            return tip
        if role == FeedIdRole:
            return f.id
        return None

    def row_for_feed(self, feed_id: int | None) -> int:
        if feed_id is None:
            return 0
        if feed_id == self.NEW:
            return 1
        for i, f in enumerate(self._rows):
            if f.id == feed_id:
                return i + self.FIRST_FEED_ROW
        return 0


# ---------------------------------------------------------------- episodes


# Plain-int role values: comparing the int a virtual call receives with a
# PySide6 enum member (``role == Qt.DisplayRole``) costs microseconds each,
# and a repaint of the episode list asks ~1,300 times.


def _ri(role) -> int:
    return int(getattr(role, "value", role))


R_DISPLAY = _ri(Qt.DisplayRole)
R_TOOLTIP = _ri(Qt.ToolTipRole)
R_FONT = _ri(Qt.FontRole)
R_FOREGROUND = _ri(Qt.ForegroundRole)
R_ALIGN = _ri(Qt.TextAlignmentRole)
R_EPISODE_ID = _ri(EpisodeIdRole)
R_DOWNLOAD = _ri(DownloadRole)
R_PLAYED = _ri(PlayedRole)
R_DOWNLOADED = _ri(DownloadedRole)
R_LISTEN = _ri(ListenRole)
R_CURRENT = _ri(CurrentRole)
R_CHAPTER_PROGRESS = _ri(ChapterProgressRole)
R_START = _ri(StartRole)
ALIGN_RIGHT = _ri(Qt.AlignRight | Qt.AlignVCenter)


def _diff_runs(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted indices -> [(first, last)] contiguous runs."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _episode_key(ep) -> tuple:
    """What the list shows of an episode (a changed key repaints its row)."""
    return (ep.title, ep.published, ep.duration, ep.position, ep.played, ep.file,
            tuple(p.name for p in ep.guests), ep.feed_id, getattr(ep, "is_new", False))


class _RecordRoles:
    """Fast ``data()`` for table models that pre-build one flat tuple per row
    (``_record(r)``, cached in ``_cache``): a role maps to an offset in that
    tuple through ``_ROLE_BASE``, plus the column.  Roles outside the tuple go
    to ``_uncached_role``.  Comparing Qt enum members per call was the cost
    of a repaint; this is one dict lookup and one index."""

    _ROLE_BASE: dict[int, int] = {}

    def _uncached_role(self, index: QModelIndex, role: int):
        return None

    def data(self, index: QModelIndex, role: int = R_DISPLAY):
        base = self._ROLE_BASE.get(role)
        if base is None:
            return self._uncached_role(index, role)
        r = index.row()
        rec = self._cache.get(r)
        if rec is None:
            if not 0 <= r < self.rowCount():
                return None
            rec = self._record(r)
        return rec[base + index.column()]


class EpisodesModel(_RecordRoles, QAbstractTableModel):
    """Episodes as cached EpisodeRow objects; data() only reads per-row
    records (plain tuples, built once per row when first shown)."""

    COLUMNS = ("Title", "Guest", "Date", "Length", "Status", "Feed")
    TITLE, GUEST, DATE, LENGTH, STATUS, FEED = range(6)
    # record layout: ROLE_BASE[role] + column -> value; the row-wide values after
    _NC = 6
    _ROLE_BASE = {R_DISPLAY: 0, R_TOOLTIP: 6, R_FONT: 12, R_FOREGROUND: 18, R_ALIGN: 24,
                  R_EPISODE_ID: 30, R_PLAYED: 36, R_DOWNLOADED: 42, R_LISTEN: 48}
    NOW_PLAYING = "▶ "  # the title's mark for the episode loaded in the player
    NEW = "● "  # the title's mark for an episode that arrived since the listener last looked

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list = []
        self._row_of: dict[int, int] = {}
        self._cache: dict[int, tuple] = {}
        self._downloads: dict[int, float] = {}
        self._bold: QFont | None = None
        self._dim = None
        self._now_playing: int | None = None

    def set_now_playing(self, episode_id: int | None) -> None:
        """Mark the episode loaded in the player (its title gets ▶)."""
        if episode_id == self._now_playing:
            return
        old, self._now_playing = self._now_playing, episode_id
        for eid in (old, episode_id):
            r = self._row_of.get(eid) if eid is not None else None
            if r is not None:
                self._cache.pop(r, None)
                self.dataChanged.emit(self.index(r, 0), self.index(r, self._NC - 1))

    def now_playing(self) -> int | None:
        return self._now_playing

    # -- content -----------------------------------------------------------

    def set_rows(self, rows: list) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._row_of = {ep.id: i for i, ep in enumerate(self._rows)}
        self._cache.clear()
        self.endResetModel()

    def update_rows(self, rows: list) -> str:
        """Move to ``rows`` with the fewest changes the view has to redo:
        removed rows go, new ones are inserted, changed ones repaint (no model
        reset: the view keeps its scroll position, selection and layout).
        Falls back to a reset when the common episodes changed order.
        Returns "reset", "diff" or "same"."""
        old = self._rows
        if not old or not rows:
            self.set_rows(rows)
            return "reset"
        new_ids = [ep.id for ep in rows]
        new_set = set(new_ids)
        if len(new_set) != len(new_ids):
            self.set_rows(rows)
            return "reset"
        old_of = self._row_of
        common_old = [ep.id for ep in old if ep.id in new_set]
        common_new = [i for i in new_ids if i in old_of]
        if common_old != common_new:
            self.set_rows(rows)
            return "reset"
        changed = False
        # 1. removals, bottom up
        gone = [i for i, ep in enumerate(old) if ep.id not in new_set]
        for a, b in reversed(_diff_runs(gone)):
            self.beginRemoveRows(QModelIndex(), a, b)
            del self._rows[a:b + 1]
            self.endRemoveRows()
            changed = True
        if gone:
            self._row_of = {ep.id: i for i, ep in enumerate(self._rows)}
            self._cache.clear()
        # 2. insertions, top down (positions in the final list)
        added = [i for i, eid in enumerate(new_ids) if eid not in old_of]
        for a, b in _diff_runs(added):
            self.beginInsertRows(QModelIndex(), a, b)
            self._rows[a:a] = rows[a:b + 1]
            self.endInsertRows()
            changed = True
        if added:
            self._row_of = {ep.id: i for i, ep in enumerate(self._rows)}
            self._cache.clear()
        # 3. changed rows: new objects in place; repaint only those whose shown values differ
        dirty = []
        cur = self._rows
        for i, ep in enumerate(rows):
            prev = cur[i]
            if prev is not ep:
                if _episode_key(prev) != _episode_key(ep):
                    dirty.append(i)
                    self._cache.pop(i, None)
                cur[i] = ep
        for a, b in _diff_runs(dirty):
            self.dataChanged.emit(self.index(a, 0), self.index(b, self._NC - 1))
        return "diff" if changed or dirty else "same"

    def rows(self) -> list:
        return self._rows

    def episode_at(self, row: int):
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, episode_id: int) -> int:
        return self._row_of.get(episode_id, -1)

    def update_episode(self, episode_id: int, **fields) -> None:
        """Change cached fields of one episode (position, played, file...)."""
        r = self._row_of.get(episode_id)
        if r is None:
            return
        ep = self._rows[r]
        for k, v in fields.items():
            setattr(ep, k, v)
        self._cache.pop(r, None)
        self.dataChanged.emit(self.index(r, 0), self.index(r, len(self.COLUMNS) - 1))

    def replace_episode(self, ep) -> None:
        r = self._row_of.get(ep.id)
        if r is None:
            return
        self._rows[r] = ep
        self._cache.pop(r, None)
        self.dataChanged.emit(self.index(r, 0), self.index(r, len(self.COLUMNS) - 1))

    def set_download(self, episode_id: int, fraction: float | None) -> None:
        if fraction is None:
            if self._downloads.pop(episode_id, None) is None:
                return
        else:
            if self._downloads.get(episode_id, -2.0) == fraction:
                return
            self._downloads[episode_id] = fraction
        r = self._row_of.get(episode_id)
        if r is not None:
            idx = self.index(r, self.STATUS)
            self.dataChanged.emit(idx, idx)

    def download_fraction(self, episode_id: int) -> float | None:
        return self._downloads.get(episode_id)

    # -- Qt API ---------------------------------------------------------------

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and _ri(role) == R_DISPLAY:
            return self.COLUMNS[section]
        return None

    def _record(self, r: int) -> tuple:
        ep = self._rows[r]
        listened = 0.0
        if ep.duration and ep.position and not ep.played:
            listened = min(1.0, ep.position / ep.duration)
        status = []
        is_new = bool(getattr(ep, "is_new", False)) and not ep.played
        if is_new:
            status.append("New")
        if ep.played:
            status.append("Played")
        elif listened:
            status.append(f"{int(listened * 100)} %")
        elif ep.position:
            status.append(f"at {fmt_time(ep.position)}")
        if ep.file:
            status.append("Downloaded")
        guests = ep.guest_names
        guest_tip = "\n".join(
            p.name + (f" ({', '.join(p.affiliations)})" if p.affiliations else "") for p in ep.guests
        ) if ep.guests else None
        if ep.played:
            if self._dim is None:
                self._dim = QApplication.palette().brush(QPalette.Disabled, QPalette.Text)
            fg = self._dim
        else:
            fg = None
        bold = None
        if not ep.played and not ep.position:
            if self._bold is None:
                self._bold = QFont(QApplication.font())
                self._bold.setBold(True)
            bold = self._bold
        eid, played, dl = ep.id, ep.played, bool(ep.file)
        title = ep.title
        if eid == self._now_playing:
            title = self.NOW_PLAYING + title
        elif is_new:
            title = self.NEW + title
        feed = getattr(ep, "feed_title", "") or ""
        title_tip = ep.title + (f"\n{feed}" if feed else "") + ("\nNew since you last looked" if is_new else "") \
            + ("\nNow playing" if eid == self._now_playing else "")
        status_tip = (f"{int(listened * 100)} % listened, {fmt_time(max(0, (ep.duration or 0) - ep.position))} left"
                      if listened else None)
        nc = self._NC
        rec = (
            # display
            title, guests, fmt_date(ep.published), fmt_time(ep.duration) if ep.duration else "",
            " · ".join(status), feed,
            # tooltip
            title_tip, guest_tip, None, None, status_tip, feed or None,
            # font, foreground, alignment
            bold, None, None, None, None, None,
            fg, fg, fg, fg, fg, fg,
            None, None, ALIGN_RIGHT, ALIGN_RIGHT, None, None,
            # row-wide
        ) + (eid,) * nc + (played,) * nc + (dl,) * nc + (listened,) * nc
        self._cache[r] = rec
        return rec

    def _texts(self, r: int) -> tuple:
        rec = self._cache.get(r) or self._record(r)
        return rec[0:5] + (rec[self._ROLE_BASE[R_LISTEN]],)

    def _uncached_role(self, index: QModelIndex, role: int):
        if role == R_DOWNLOAD:
            ep = self.episode_at(index.row())
            return self._downloads.get(ep.id) if ep is not None else None
        return None


# ---------------------------------------------------------------- chapters


class ChaptersModel(_RecordRoles, QAbstractTableModel):
    """Chapters of one episode: start, title, duration; the current chapter
    and the progress within it are roles."""

    COLUMNS = ("Start", "Chapter", "Length")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._chapters: list[Chapter] = []
        self._starts: list[float] = []
        self._durations: list[float | None] = []
        self._current = -1
        self._progress = 0.0
        self._bold: QFont | None = None
        self._cache: dict[int, tuple] = {}
        self.source: str | None = None
        self._skipped: set[int] = set()  # rows dimmed: jumped over (skip words, "skip this chapter")
        self._heard: set[int] = set()  # rows heard through: a check mark

    def set_marks(self, skipped: set[int] | None = None, heard: set[int] | None = None) -> None:
        """Which rows are skipped (dimmed) and heard (checked); None keeps one."""
        if skipped is not None:
            self._skipped = set(skipped)
        if heard is not None:
            self._heard = set(heard)
        self._cache.clear()
        if self._chapters:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._chapters) - 1, 2))

    def skipped(self) -> set[int]:
        return set(self._skipped)

    def heard(self) -> set[int]:
        return set(self._heard)

    def set_chapters(self, chapters: list[Chapter], duration: float | None, source: str | None = None) -> None:
        self.beginResetModel()
        self._chapters = [c for c in chapters if not c.hidden] or list(chapters)
        self._chapters.sort(key=lambda c: c.start)
        self._starts = [c.start for c in self._chapters]
        self._durations = []
        for i, c in enumerate(self._chapters):
            nxt = self._starts[i + 1] if i + 1 < len(self._starts) else (c.end or duration)
            self._durations.append((nxt - c.start) if nxt and nxt > c.start else None)
        self._current = -1
        self._progress = 0.0
        self._cache.clear()
        self.source = source
        self._skipped, self._heard = set(), set()
        self.endResetModel()

    def set_duration(self, duration: float | None) -> None:
        if self._chapters and duration and self._durations and self._durations[-1] is None:
            last = len(self._chapters) - 1
            if duration > self._starts[last]:
                self._durations[last] = duration - self._starts[last]
                self._cache.pop(last, None)
                idx = self.index(last, 2)
                self.dataChanged.emit(idx, idx)

    def chapters(self) -> list[Chapter]:
        return self._chapters

    def starts(self) -> list[float]:
        return self._starts

    def chapter_at(self, t: float) -> int:
        """Index of the chapter playing at ``t`` (-1 before the first)."""
        return bisect.bisect_right(self._starts, t + 0.05) - 1

    def current(self) -> int:
        return self._current

    def progress(self) -> float:
        return self._progress

    def update_time(self, t: float) -> bool:
        """Move the current chapter / progress to time ``t``; True when the
        current chapter changed."""
        i = self.chapter_at(t)
        prog = 0.0
        if i >= 0:
            d = self._durations[i]
            prog = min(1.0, max(0.0, (t - self._starts[i]) / d)) if d else 0.0
        changed = i != self._current
        old = self._current
        self._current, self._progress = i, prog
        for r in {old, i}:
            self._cache.pop(r, None)
            if 0 <= r < len(self._chapters):
                self.dataChanged.emit(self.index(r, 0), self.index(r, 2))
        return changed

    def duration_of(self, i: int) -> float | None:
        return self._durations[i] if 0 <= i < len(self._durations) else None

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._chapters)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else 3

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return self.COLUMNS[section]
        return None

    _ROLE_BASE = {R_DISPLAY: 0, R_TOOLTIP: 3, R_START: 6, R_ALIGN: 9, R_FONT: 12, R_CURRENT: 15,
                  R_CHAPTER_PROGRESS: 18, R_FOREGROUND: 21}

    def _record(self, r: int) -> tuple:
        ch = self._chapters[r]
        d = self._durations[r]
        cur = r == self._current
        if cur and self._bold is None:
            self._bold = QFont(QApplication.font())
            self._bold.setBold(True)
        font = self._bold if cur else None
        prog = self._progress if cur else None
        start = fmt_time(ch.start)
        tip = f"{start}  {ch.title}"
        heard, skipped = r in self._heard, r in self._skipped
        title = ("✓ " + ch.title) if heard else ch.title
        if skipped:
            tip += "\n(skipped: its title matches a skip word of this feed, or you chose to skip it)"
        elif heard:
            tip += "\n(heard)"
        dim = QApplication.palette().color(QPalette.Disabled, QPalette.Text) if skipped else None
        rec = (start, title, fmt_time(d) if d else "",
               tip, tip, tip,
               ch.start, ch.start, ch.start,
               ALIGN_RIGHT, None, ALIGN_RIGHT,
               font, font, font,
               cur, cur, cur,
               prog, prog, prog,
               dim, dim, dim)
        self._cache[r] = rec
        return rec



# ---------------------------------------------------------------- search hits


class HitsModel(QAbstractListModel):
    """Search hits (chapters, episodes, guests) or chapters on a topic."""

    KIND_LABEL = {"chapter": "Chapter", "episode": "Episode", "guest": "Guest"}

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._hits: list = []

    def set_hits(self, hits: list) -> None:
        self.beginResetModel()
        self._hits = list(hits)
        self.endResetModel()

    def hits(self) -> list:
        return self._hits

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._hits)

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid():
            return None
        h = self._hits[index.row()]
        if role == Qt.DisplayRole:
            feed = f" · {h.feed_title}" if h.feed_title else ""  # each hit says which feed it is from
            if h.kind == "chapter":
                return f"▸ {fmt_time(h.start)}  {h.title}\n    in {h.episode_title}{feed}"
            if h.kind == "guest":
                return f"☺ {h.title}\n    {h.episode_title}{feed}"
            return f"♫ {h.title}{feed}\n    {h.snippet.replace(chr(10), ' ')[:120]}"
        if role == Qt.ToolTipRole:
            return f"{self.KIND_LABEL.get(h.kind, h.kind)}: {h.title}\n{h.episode_title or ''}\n{h.snippet}"
        if role == HitRole:
            return h
        return None


# ---------------------------------------------------------------- downloads


class DownloadsModel(QAbstractTableModel):
    COLUMNS = ("Episode", "Status", "Progress")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._jobs: list[dict] = []
        self._row_of: dict[int, int] = {}

    def job(self, episode_id: int) -> dict | None:
        r = self._row_of.get(episode_id)
        return self._jobs[r] if r is not None else None

    def upsert(self, episode_id: int, **fields) -> None:
        r = self._row_of.get(episode_id)
        if r is None:
            r = len(self._jobs)
            self.beginInsertRows(QModelIndex(), r, r)
            self._jobs.append({"id": episode_id, "title": "", "state": "queued", "fraction": None,
                               "done": 0, "total": None, "speed": 0.0, "message": ""})
            self._row_of[episode_id] = r
            self._jobs[r].update(fields)
            self.endInsertRows()
            return
        self._jobs[r].update(fields)
        self.dataChanged.emit(self.index(r, 0), self.index(r, 2))

    def active(self) -> list[int]:
        return [j["id"] for j in self._jobs if j["state"] in ("queued", "running")]

    def ids(self, *states: str) -> list[int]:
        return [j["id"] for j in self._jobs if not states or j["state"] in states]

    def remove(self, episode_id: int) -> None:
        r = self._row_of.get(episode_id)
        if r is None:
            return
        self.beginRemoveRows(QModelIndex(), r, r)
        del self._jobs[r]
        self._row_of = {j["id"]: i for i, j in enumerate(self._jobs)}
        self.endRemoveRows()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else 3

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid():
            return None
        j = self._jobs[index.row()]
        c = index.column()
        if role == Qt.DisplayRole:
            if c == 0:
                return j["title"]
            if c == 1:
                s = {"queued": "Queued", "running": "Downloading", "done": "Done", "error": "Failed",
                     "cancelled": "Cancelled", "paused": "Paused"}.get(j["state"], j["state"])
                if j["state"] == "running" and j["speed"]:
                    s += f" · {j['speed'] / 1e6:.1f} MB/s"
                if j["message"]:
                    s += f" · {j['message']}"
                return s
            if c == 2:
                mb = j["done"] / 1e6
                if j["total"]:
                    return f"{mb:.1f} / {j['total'] / 1e6:.1f} MB"
                return f"{mb:.1f} MB" if j["done"] else ""
        if role == EpisodeIdRole:
            return j["id"]
        if role == DownloadRole and c == 2:
            if j["state"] == "running":
                return j["fraction"] if j["fraction"] is not None else -1.0
            return 1.0 if j["state"] == "done" else None
        if role == Qt.ToolTipRole:
            return j["message"] or j["title"]
        return None
