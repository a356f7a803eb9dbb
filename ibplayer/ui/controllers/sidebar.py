"""The chapter sidebar: the chapter list that follows playback, its source
(with a choice when the sources differ), progress within the chapter, and
previous / next."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QStyle,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ibplayer.domain.sources import SOURCE_LABELS

from ..models import ChaptersModel, fmt_time
from ..widgets import ChapterDelegate


class ChapterSidebarController(QObject):
    def __init__(self, w) -> None:
        super().__init__(w)
        self.w = w
        st = w.style()
        self.widget = right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(3, 8, 6, 0)
        head = QHBoxLayout()
        title = QLabel("<b>Chapters</b>")
        self.prev_button = QToolButton(toolTip="Previous chapter (Ctrl+← or P)")
        self.prev_button.setIcon(st.standardIcon(QStyle.SP_MediaSkipBackward))
        self.next_button = QToolButton(toolTip="Next chapter (Ctrl+→ or N)")
        self.next_button.setIcon(st.standardIcon(QStyle.SP_MediaSkipForward))
        self.prev_button.clicked.connect(w.previous_chapter)
        self.next_button.clicked.connect(w.next_chapter)
        head.addWidget(title, 1)
        head.addWidget(self.prev_button)
        head.addWidget(self.next_button)
        rl.addLayout(head)
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        rl.addWidget(self.source_label)
        self.source_combo = QComboBox()
        self.source_combo.setToolTip("These chapter lists differ: choose which one to use")
        self.source_combo.activated.connect(self._source_chosen)
        self.source_combo.hide()
        rl.addWidget(self.source_combo)
        self.model = ChaptersModel(w)
        v = self.view = QTreeView()
        v.setModel(self.model)
        v.setRootIsDecorated(False)
        # long chapter titles wrap (a few dozen rows: per-row heights are cheap here)
        v.setUniformRowHeights(False)
        v.setAllColumnsShowFocus(True)
        v.setWordWrap(True)
        v.setTextElideMode(Qt.ElideNone)
        v.setEditTriggers(QAbstractItemView.NoEditTriggers)
        v.setSelectionMode(QAbstractItemView.SingleSelection)
        v.setItemDelegate(ChapterDelegate(v))
        v.clicked.connect(self._clicked)
        v.activated.connect(self._clicked)
        ch = v.header()
        ch.setStretchLastSection(False)
        # fixed widths from the font (ResizeToContents measures every row on each change)
        tw = w.fontMetrics().horizontalAdvance("0:00:00") + 16
        ch.setSectionResizeMode(0, QHeaderView.Fixed)
        ch.setSectionResizeMode(1, QHeaderView.Stretch)
        ch.setSectionResizeMode(2, QHeaderView.Fixed)
        ch.resizeSection(0, tw)
        ch.resizeSection(2, tw)
        # wrapped rows get their heights again when the title column's width changes
        self._relayout = QTimer(self, singleShot=True, interval=50)
        self._relayout.timeout.connect(v.doItemsLayout)
        ch.sectionResized.connect(lambda i, _o, _n: i == 1 and self._relayout.start())
        rl.addWidget(v, 1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        rl.addWidget(self.progress)
        self.empty_label = QLabel("This episode has no chapters.")
        self.empty_label.setWordWrap(True)
        self.empty_label.hide()
        rl.addWidget(self.empty_label)
        self.playing_chapters: list = []  # the loaded episode's chapters (the player's)

    # ------------------------------------------------------------ showing

    def show_chapters(self, cv) -> None:
        """Show a `ChapterView` for the shown episode (None: nothing shown)."""
        w = self.w
        ep = w.shown_episode
        chapters = cv.chapters if cv else []
        loaded = w.shown_is_loaded()
        # the last chapter ends at its own episode's end, never the playing one's
        duration = (ep.duration if ep else None) or (w.player.length() if loaded else None)
        self.model.set_chapters(chapters, duration, cv.source if cv else None)
        self.empty_label.setVisible(not chapters and ep is not None)
        self.view.setVisible(bool(chapters) or ep is None)
        self.progress.setVisible(bool(chapters) and loaded)
        self.progress.setValue(0)
        self.progress.setFormat("")
        src = cv.source if cv else None
        if src:
            self.source_label.setText(f"Chapters from {SOURCE_LABELS.get(src, src).replace('Show notes', 'show notes')}"
                                      f" · {len(chapters)}")
        else:
            self.source_label.setText("")
        counts = cv.counts if cv else {}
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        if len(counts) > 1:
            for s in sorted(counts, key=lambda s: SOURCE_LABELS.get(s, s)):
                self.source_combo.addItem(f"{SOURCE_LABELS.get(s, s)} ({counts[s]} chapters)", s)
            self.source_combo.setCurrentIndex(max(0, self.source_combo.findData(src)))
            self.source_combo.setToolTip("The chapter sources differ: choose one" if cv.disagree
                                         else "Several chapter sources exist")
        self.source_combo.setVisible(len(counts) > 1)
        self.source_combo.blockSignals(False)
        if loaded:
            self.follow_player()

    def follow_player(self) -> None:
        """The shown episode is the loaded one: its chapters drive the player."""
        w = self.w
        w.player.set_chapters(self.model.starts())
        self.playing_chapters = self.model.chapters()
        w.bar.slider.set_ticks(self.model.starts())
        self.progress.setVisible(self.model.rowCount() > 0)
        self.on_time(w.player.time())

    def _source_chosen(self, index: int) -> None:
        ep = self.w.shown_episode
        src = self.source_combo.itemData(index)
        if ep is None or not src:
            return
        eid = ep.id
        from ibplayer.services.views import chapter_view

        self.w.write(lambda core: core.set_chapter_source(eid, src))
        self.w.read(lambda lib: chapter_view(lib, eid, src),
                    lambda cv: self.show_chapters(cv) if self.w.shown_episode and self.w.shown_episode.id == eid else None)

    # ------------------------------------------------------------ playback

    def _clicked(self, index: QModelIndex) -> None:
        if index.isValid() and self.w.shown_episode is not None:
            self.w.play_at(self.model.chapters()[index.row()].start)

    def highlighted(self) -> int:
        """The chapter row highlighted (-1: none)."""
        if not self.w.shown_is_loaded():
            return -1
        idx = self.view.currentIndex()
        cur = self.model.current()
        return cur if idx.isValid() and idx.row() == cur else -1

    def on_time(self, t: float) -> None:
        if not (self.w.shown_is_loaded() and self.model.rowCount()):
            return
        changed = self.model.update_time(t)
        cur = self.model.current()
        if cur >= 0:
            idx = self.model.index(cur, 0)
            if changed or self.view.currentIndex().row() != cur:
                self.view.setCurrentIndex(idx)
                self.view.scrollTo(idx, QAbstractItemView.EnsureVisible)
            d = self.model.duration_of(cur)
            self.progress.setValue(int(self.model.progress() * 1000))
            into = t - self.model.starts()[cur]
            self.progress.setFormat(f"{fmt_time(into)} / {fmt_time(d)} in chapter {cur + 1}" if d
                                    else f"chapter {cur + 1}")
        else:
            self.view.clearSelection()
            self.progress.setValue(0)
            self.progress.setFormat("")

    def on_length(self, length: float) -> None:
        if self.w.shown_is_loaded():
            self.model.set_duration(length)

    def unloaded(self) -> None:
        """The player unloaded (a failed start): no highlight, ticks or progress."""
        self.view.setCurrentIndex(QModelIndex())
        self.view.clearSelection()
        self.progress.setVisible(False)
        self.w.bar.slider.set_ticks([])
        self.playing_chapters = []

    def current_title(self) -> str | None:
        i = self.w.player.chapter()
        if 0 <= i < len(self.playing_chapters):
            return self.playing_chapters[i].title
        return None
