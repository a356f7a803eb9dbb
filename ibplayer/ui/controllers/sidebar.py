"""The chapter sidebar: the chapter list that follows playback, its source
(with a choice when the sources differ), progress within the chapter, and
previous / next."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMenu,
    QProgressBar,
    QStyle,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ibplayer.domain.sources import SOURCE_LABELS
from ibplayer.services.listening import first_unheard, heard_indexes, title_matches

from ..dialogs import warn
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
        v.viewport().installEventFilter(self)  # a narrow sidebar gives the titles the Length column's room
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
        # issue 10 §5: the shown episode's feed skip words and its heard chapters (starts)
        self.marks_feed: int | None = None
        self.skip_words: list[str] = []
        self.heard_starts: set[float] = set()
        v.setContextMenuPolicy(Qt.CustomContextMenu)
        v.customContextMenuRequested.connect(self._menu)
        w.player.chapterHeard.connect(self._heard)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Resize and obj is self.view.viewport():
            narrow = obj.width() < 300
            if self.view.isColumnHidden(2) != narrow:
                self.view.setColumnHidden(2, narrow)
        return False

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
        self.apply_marks()
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
        self.hand_to_player(True)
        self.playing_chapters = self.model.chapters()
        self.progress.setVisible(self.model.rowCount() > 0)
        self.on_time(w.player.time())

    def hand_to_player(self, loaded: bool) -> None:
        """The shown episode is (``loaded``) the player's: its chapters, with
        titles, and its feed's skip words go to the player."""
        w = self.w
        starts = self.model.starts() if loaded else []
        w.player.set_chapters(starts, [c.title for c in self.model.chapters()] if loaded else [])
        w.player.set_skip_words(self.skip_words if loaded else [])
        w.bar.slider.set_ticks(starts)
        self.apply_marks()
        self.playing_chapters = self.model.chapters() if loaded else []
        w.bar.set_art_paths(*(w.pane.art_paths if loaded else (None, None)))

    # ------------------------------------------------------------ skip words, heard marks (issue 10 §5)

    def set_feed_marks(self, feed_id: int, words: list[str], heard: set[float]) -> None:
        self.marks_feed, self.skip_words, self.heard_starts = feed_id, list(words), set(heard)

    def apply_marks(self) -> None:
        chapters = self.model.chapters()
        skipped = {i for i, c in enumerate(chapters) if title_matches(c.title, self.skip_words)}
        if self.w.shown_is_loaded():
            skipped |= {i for i in range(len(chapters)) if self.w.player.session.chapter_skipped(i)}
        self.model.set_marks(skipped, heard_indexes(self.model.starts(), self.heard_starts))

    def _heard(self, eid: int, _index: int, start: float) -> None:
        self.w.write(lambda core: core.listening.mark_heard(eid, start))
        ep = self.w.shown_episode
        if ep is not None and ep.id == eid:
            self.heard_starts.add(start)
            self.apply_marks()

    def skip_chapter(self, row: int | None = None) -> None:
        """Skip the chapter playing (or ``row``, when playback reaches it)."""
        if not self.w.shown_is_loaded():
            self.w.set_status("Skip this chapter: play the episode first.")
            return
        self.w.player.skip_chapter(row)
        self.apply_marks()

    def continue_unheard(self) -> None:
        """Play the shown episode from its first chapter neither heard nor skipped."""
        w = self.w
        if w.shown_episode is None or not self.model.rowCount():
            w.set_status("This episode has no chapters.")
            return
        skipped = self.model.skipped()
        i = first_unheard(self.model.starts(), self.heard_starts, lambda i: i in skipped)
        if i is None:
            w.set_status("Every chapter of this episode has been heard.")
            return
        w.play_at(self.model.starts()[i])

    def _menu(self, pos) -> None:
        idx = self.view.indexAt(pos)
        m = QMenu(self.w)
        if idx.isValid():
            row = idx.row()
            m.addAction("Play from here", lambda: self._clicked(idx))
            act = m.addAction("Skip this chapter",
                              lambda: self.skip_chapter(None if row == self.w.player.chapter() else row))
            act.setEnabled(self.w.shown_is_loaded())
        m.addAction("Continue from the first unheard chapter", self.continue_unheard)
        if self.marks_feed is not None:
            fid = self.marks_feed
            ep = self.w.shown_episode
            m.addAction("Skip chapters about…", lambda: self.edit_skip_words(fid, ep.feed_title if ep else ""))
        m.exec(self.view.viewport().mapToGlobal(pos))

    def edit_skip_words(self, feed_id: int, title: str) -> None:
        """Ask for a feed's skip words (comma separated); stored through the services."""
        w = self.w
        w.read(lambda lib: lib.skip_words(feed_id), lambda words: self._ask_skip_words(feed_id, title, words))

    def _ask_skip_words(self, feed_id: int, title: str, words: list[str]) -> None:
        text, ok = QInputDialog.getText(
            self.w, "Skip chapters", f"Skip chapters of “{title}” whose titles contain (comma separated):",
            text=", ".join(words))
        if ok:
            self.set_skip_words(feed_id, text)

    def set_skip_words(self, feed_id: int, text: str) -> None:
        w = self.w

        def done(_changes):
            w.read(lambda lib: lib.skip_words(feed_id), lambda words: self._skip_words_stored(feed_id, words))

        def failed(exc):
            w.set_status(f"Skip words not changed: {exc}")
            warn(w, "Skip chapters", f"Skip words not changed: {exc}")

        w.write(lambda core: core.listening.set_skip_words(feed_id, text), done, failed)

    def _skip_words_stored(self, feed_id: int, words: list[str]) -> None:
        w = self.w
        n = len(words)
        w.set_status(f"{n} skip word{'s' if n != 1 else ''} for this feed" + (f": {', '.join(words)}" if words else ""))
        if self.marks_feed == feed_id:
            self.skip_words = list(words)
        pe = w.player.episode
        if pe is not None and pe.feed_id == feed_id and w.shown_is_loaded():
            w.player.set_skip_words(words)
        self.apply_marks()

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
        self.model.update_time(-1.0)  # no chapter stays bold / tinted as if playing
        self.progress.setVisible(False)
        self.w.bar.slider.set_ticks([])
        self.playing_chapters = []

    def current_title(self) -> str | None:
        i = self.w.player.chapter()
        if 0 <= i < len(self.playing_chapters):
            return self.playing_chapters[i].title
        return None
