"""Small custom widgets: the chapter-tick seek slider, row delegates, the
show-notes browser, a flow layout for topic chips."""

from __future__ import annotations

import html
import re

from PySide6.QtCore import QPoint, QRect, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QApplication,
    QLayout,
    QSlider,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QTextBrowser,
)

from .models import ChapterProgressRole, CurrentRole, DownloadRole, ListenRole

SEEK_SCHEME = "ibplayer-seek"


def accent(palette: QPalette, alpha: int = 255) -> QColor:
    c = QColor(palette.color(QPalette.Highlight))
    c.setAlpha(alpha)
    return c


# ---------------------------------------------------------------- seek slider


class ChapterSlider(QSlider):
    """A horizontal seek slider (milliseconds) with a tick at each chapter
    start.  Clicking jumps to the clicked position."""

    seekRequested = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(Qt.Horizontal, parent)
        self._ticks: list[float] = []
        self._length = 0.0
        self.setRange(0, 0)
        self.setMinimumHeight(22)
        self.sliderReleased.connect(lambda: self.seekRequested.emit(self.value() / 1000.0))

    def set_length(self, seconds: float | None) -> None:
        self._length = float(seconds or 0)
        self.setRange(0, int(self._length * 1000))
        self.update()

    def set_ticks(self, starts: list[float]) -> None:
        self._ticks = [s for s in starts if s > 0]
        self.update()

    def ticks(self) -> list[float]:
        return list(self._ticks)

    def set_time(self, seconds: float) -> None:
        if not self.isSliderDown():
            self.blockSignals(True)
            self.setValue(int(seconds * 1000))
            self.blockSignals(False)

    # Geometry from pixel metrics: calling initStyleOption() from Python
    # corrupts refcounts in PySide6 6.12 (the process aborts at exit).
    def _handle_len(self) -> int:
        return max(1, self.style().pixelMetric(QStyle.PM_SliderLength, None, self))

    def _groove(self) -> QRect:
        half = self._handle_len() // 2
        return QRect(half, 0, max(1, self.width() - 2 * half), self.height())

    def x_for(self, seconds: float) -> int:
        g = self._groove()
        if self._length <= 0:
            return g.left()
        return g.left() + int(round(g.width() * min(1.0, seconds / self._length)))

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.LeftButton and self._length > 0:
            g = self._groove()
            x = event.position().x()
            handle_x = self.x_for(self.value() / 1000.0)
            if abs(x - handle_x) > self._handle_len() / 2:
                frac = min(1.0, max(0.0, (x - g.left()) / g.width()))
                self.setValue(int(frac * self.maximum()))
                self.seekRequested.emit(frac * self._length)
                event.accept()
                return
        super().mousePressEvent(event)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if not self._ticks or self._length <= 0:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing, False)
        pen = QPen(self.palette().color(QPalette.WindowText))
        pen.setWidth(1)
        p.setPen(pen)
        self._groove()
        cy = self.height() // 2
        for s in self._ticks:
            if s >= self._length:
                continue
            x = self.x_for(s)
            p.drawLine(x, cy - 8, x, cy - 4)
            p.drawLine(x, cy + 4, x, cy + 8)
        p.end()


# ---------------------------------------------------------------- delegates


def _data(index, role):
    """``index.data(role)`` without going through QVariant (PySide6 6.12
    leaks a reference to None for every unset role read that way)."""
    return index.model().data(index, role)


def _paint_bar(painter: QPainter, option, rect: QRect, fraction: float | None, text: str, widget) -> None:
    bar = QStyleOptionProgressBar()
    bar.rect = rect
    bar.minimum = 0
    bar.maximum = 1000 if fraction is not None and fraction >= 0 else 0
    bar.progress = int((fraction or 0) * 1000) if fraction is not None and fraction >= 0 else 0
    bar.text = text
    bar.textVisible = True
    bar.textAlignment = Qt.AlignCenter
    bar.state = option.state | QStyle.State_Horizontal
    bar.palette = option.palette
    style = widget.style() if widget else QApplication.style()
    style.drawControl(QStyle.CE_ProgressBar, bar, painter, widget)


class EpisodeStatusDelegate(QStyledItemDelegate):
    """Status column: a download progress bar while downloading; else the
    status text over a thin listening-progress line."""

    def paint(self, painter, option, index) -> None:
        frac = _data(index, DownloadRole)
        if frac is not None:
            r = option.rect.adjusted(2, 3, -2, -3)
            text = f"{int(frac * 100)} %" if frac >= 0 else "…"
            _paint_bar(painter, option, r, frac, text, option.widget)
            return
        super().paint(painter, option, index)
        listened = _data(index, ListenRole) or 0.0
        if listened > 0:
            painter.save()
            r = option.rect
            y = r.bottom() - 2
            painter.fillRect(QRect(r.left() + 3, y, int((r.width() - 6) * listened), 2), accent(option.palette))
            painter.restore()


class ChapterDelegate(QStyledItemDelegate):
    """Chapter rows: the current chapter (bold, from the model) gets a tinted
    background and a progress line under it.  (Overriding initStyleOption in
    Python corrupts refcounts in PySide6 6.12, so it is not done here.)"""

    def paint(self, painter, option, index) -> None:
        if _data(index, CurrentRole) and not (option.state & QStyle.State_Selected):
            painter.fillRect(option.rect, accent(option.palette, 60))
        super().paint(painter, option, index)
        prog = _data(index, ChapterProgressRole)
        if prog is not None and index.column() == 1:
            painter.save()
            r = option.rect
            color = option.palette.color(QPalette.HighlightedText) if option.state & QStyle.State_Selected \
                else accent(option.palette)
            painter.fillRect(QRect(r.left() + 2, r.bottom() - 2, int((r.width() - 4) * prog), 3), color)
            painter.restore()

    def sizeHint(self, option, index) -> QSize:  # noqa: N802
        """Title rows as tall as their word-wrapped title at the column's
        width (the view passes no width, so Qt would measure one line)."""
        size = super().sizeHint(option, index)
        view = self.parent()
        if index.column() != 1 or view is None:
            return size
        width = view.header().sectionSize(1) - 8
        text = _data(index, Qt.DisplayRole) or ""
        if width <= 20 or not text:
            return size
        h = option.fontMetrics.boundingRect(QRect(0, 0, width, 10000), Qt.TextWordWrap, text).height() + 6
        return QSize(size.width(), max(size.height(), h))


class DownloadBarDelegate(QStyledItemDelegate):
    def paint(self, painter, option, index) -> None:
        frac = _data(index, DownloadRole)
        if frac is None:
            super().paint(painter, option, index)
            return
        _paint_bar(painter, option, option.rect.adjusted(2, 3, -2, -3), frac, _data(index, Qt.DisplayRole) or "",
                   option.widget)


# ---------------------------------------------------------------- notes


# A tag, with quoted attribute values that may contain ">"; comments.
_TAG_RE = re.compile(r"<!--.*?-->|<[^>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^>\"']*)*>", re.S)
_A_OPEN = re.compile(r"<a\b", re.I)
_A_CLOSE = re.compile(r"</a\s*>", re.I)


def linkify_timestamps(notes_html: str, duration: float | None = None) -> str:
    """Turn every timestamp in the text nodes of ``notes_html`` (not inside
    tags, attributes or existing links) into an ``ibplayer-seek:SECONDS`` link."""
    out: list[str] = []
    pos = 0
    in_link = 0
    for m in _TAG_RE.finditer(notes_html):
        out.append(_link_text(notes_html[pos:m.start()], duration) if not in_link else notes_html[pos:m.start()])
        tag = m.group(0)
        if _A_OPEN.match(tag):
            in_link += 1
        elif _A_CLOSE.match(tag):
            in_link = max(0, in_link - 1)
        out.append(tag)
        pos = m.end()
    rest = notes_html[pos:]
    out.append(_link_text(rest, duration) if not in_link else rest)
    return "".join(out)


def _link_text(text: str, duration: float | None) -> str:
    if not text or ":" not in text:
        return text
    from ibplayer.domain.timestamps import timestamp_mentions  # no models: the chapter parser stays unloaded

    mentions = timestamp_mentions(text, duration)
    if not mentions:
        return text
    parts, last = [], 0
    for start, end, seconds in mentions:
        if start < last:
            continue
        parts.append(text[last:start])
        parts.append(f'<a href="{SEEK_SCHEME}:{seconds:g}">{text[start:end]}</a>')
        last = end
    parts.append(text[last:])
    return "".join(parts)


def plain_to_html(text: str) -> str:
    return "<p>" + html.escape(text).replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>"


class NotesBrowser(QTextBrowser):
    """Show notes: never loads anything remote; links are handled by the
    window (``anchorClicked``)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.blocked: list[str] = []

    def loadResource(self, type_: int, name: QUrl):  # noqa: N802 - Qt API
        if name.scheme().lower() != "data":  # no remote (or local file) loads
            self.blocked.append(name.toString())
            return None
        return super().loadResource(type_, name)


# ---------------------------------------------------------------- flow layout


class FlowLayout(QLayout):
    """Lays widgets out left to right, wrapping (for topic chips)."""

    def __init__(self, parent=None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item) -> None:  # noqa: N802
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, i):  # noqa: N802
        return self._items[i] if 0 <= i < len(self._items) else None

    def takeAt(self, i):  # noqa: N802
        return self._items.pop(i) if 0 <= i < len(self._items) else None

    def expandingDirections(self):  # noqa: N802
        return Qt.Orientations(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._do_layout(QRect(0, 0, width, 0), True)

    def setGeometry(self, rect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._do_layout(rect, False)

    def sizeHint(self) -> QSize:  # noqa: N802
        return self.minimumSize()

    def minimumSize(self) -> QSize:  # noqa: N802
        size = QSize()
        for it in self._items:
            size = size.expandedTo(it.minimumSize())
        return size + QSize(2, 2)

    def _do_layout(self, rect: QRect, test: bool) -> int:
        x, y, line_h = rect.x(), rect.y(), 0
        for it in self._items:
            hint = it.sizeHint()
            nx = x + hint.width() + self._spacing
            if nx - self._spacing > rect.right() and line_h > 0:
                x, y = rect.x(), y + line_h + self._spacing
                nx = x + hint.width() + self._spacing
                line_h = 0
            if not test:
                it.setGeometry(QRect(QPoint(x, y), hint))
            x = nx
            line_h = max(line_h, hint.height())
        return y + line_h - rect.y()
