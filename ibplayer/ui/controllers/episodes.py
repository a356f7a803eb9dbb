"""The feed list and the episode list: filters, the guest banner, and their
context menus."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ..dialogs import ask
from ..models import EpisodesModel, FeedIdRole, FeedsModel
from ..startup import NEW_VIEW, START_QUERY, EarlyRead, episode_fetch, first_read  # noqa: F401 - re-exported
from ..widgets import EpisodeStatusDelegate


class EpisodeListController(QObject):
    def __init__(self, w) -> None:
        super().__init__(w)
        self.w = w
        self.feed_id: int | None = None
        self.guest_filter: tuple[int, str] | None = None
        self.pending_select: int | None = None
        self._gen = 0
        self._shown_query = None
        self._first_load_done = False

        self.feeds_model = FeedsModel(w)
        self.feed_view = QListView()
        self.feed_view.setModel(self.feeds_model)
        self.feed_view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.feed_view.setContextMenuPolicy(Qt.CustomContextMenu)
        self.feed_view.customContextMenuRequested.connect(self._feed_menu)
        self.feed_view.selectionModel().currentChanged.connect(self._feed_selected)

        self.box = QWidget()
        el = QVBoxLayout(self.box)
        el.setContentsMargins(0, 0, 0, 0)
        fl = QHBoxLayout()
        self.filter_box = QLineEdit(placeholderText="Filter by title or guest")
        self.filter_box.setClearButtonEnabled(True)
        self.unplayed_check = QCheckBox("Unplayed")
        self.downloaded_check = QCheckBox("Downloaded")
        self.mark_seen_button = QToolButton(text="Mark all seen", toolTip="Clear the “new” mark of these episodes")
        self.mark_seen_button.clicked.connect(lambda: self.mark_all_seen())
        fl.addWidget(self.filter_box, 1)
        fl.addWidget(self.unplayed_check)
        fl.addWidget(self.downloaded_check)
        el.addLayout(fl)
        self.new_bar = QFrame()  # the New view's own line: what it is, and "Mark all seen"
        nl = QHBoxLayout(self.new_bar)
        nl.setContentsMargins(6, 0, 0, 0)
        nl.addWidget(QLabel("Arrived since you last looked"), 1)
        nl.addWidget(self.mark_seen_button)
        self.new_bar.hide()
        el.addWidget(self.new_bar)
        self.banner = QFrame()
        bl = QHBoxLayout(self.banner)
        bl.setContentsMargins(6, 2, 2, 2)
        self.banner_label = QLabel()
        clear_banner = QToolButton(text="✕", autoRaise=True, toolTip="Show all episodes again")
        clear_banner.clicked.connect(self.clear_guest_filter)
        bl.addWidget(self.banner_label, 1)
        bl.addWidget(clear_banner)
        self.banner.setFrameShape(QFrame.StyledPanel)
        self.banner.hide()
        el.addWidget(self.banner)
        self.model = EpisodesModel(w)
        v = self.view = QTreeView()
        v.setModel(self.model)
        v.setRootIsDecorated(False)
        v.setUniformRowHeights(True)
        v.setAlternatingRowColors(True)
        v.setAllColumnsShowFocus(True)
        v.setEditTriggers(QAbstractItemView.NoEditTriggers)
        v.setSelectionMode(QAbstractItemView.SingleSelection)
        v.setItemDelegateForColumn(EpisodesModel.STATUS, EpisodeStatusDelegate(v))
        v.setContextMenuPolicy(Qt.CustomContextMenu)
        v.customContextMenuRequested.connect(self._episode_menu)
        v.selectionModel().currentChanged.connect(self._episode_selected)
        v.doubleClicked.connect(lambda idx: w.play_episode(self.model.episode_at(idx.row())))
        h = v.header()
        h.setStretchLastSection(False)
        h.setSectionResizeMode(EpisodesModel.TITLE, QHeaderView.Stretch)
        for col in range(1, EpisodesModel._NC):
            h.setSectionResizeMode(col, QHeaderView.Interactive)
        h.moveSection(h.visualIndex(EpisodesModel.FEED), 1)  # Title, Feed, Guest, Date, Length, Status
        fm = w.fontMetrics()
        adv = fm.horizontalAdvance
        # preferred and least widths of the columns that give way to the title
        self._pref = {EpisodesModel.GUEST: adv("Christian Szegedy") + 10, EpisodesModel.FEED: adv("A Podcast Name") + 10,
                      EpisodesModel.DATE: adv(" 28 Sep 2025 ") + 8, EpisodesModel.LENGTH: adv(" 1:59:59 ") + 8,
                      EpisodesModel.STATUS: adv(" Downloaded ") + 10}
        self._least = {EpisodesModel.GUEST: adv("Ada Exam") + 10, EpisodesModel.FEED: adv("A Podcast") + 10,
                       EpisodesModel.DATE: self._pref[EpisodesModel.DATE],
                       EpisodesModel.LENGTH: self._pref[EpisodesModel.LENGTH]}
        self._has_length = True
        self._mixed = False  # the rows come from more than one feed
        self._fitting = False
        v.viewport().installEventFilter(self)
        el.addWidget(v, 1)

        self.filter_timer = QTimer(self, singleShot=True, interval=150)
        self.filter_timer.timeout.connect(self.reload_episodes)
        self.filter_box.textChanged.connect(lambda: self.filter_timer.start())
        self.unplayed_check.toggled.connect(self.reload_episodes)
        self.downloaded_check.toggled.connect(self.reload_episodes)

    # ------------------------------------------------------------ columns

    def title_min_width(self, chars: int = 30) -> int:
        """About ``chars`` characters of a (bold, unplayed) title and its mark."""
        from PySide6.QtGui import QFont, QFontMetrics

        f = QFont(self.view.font())
        f.setBold(True)
        return QFontMetrics(f).averageCharWidth() * (chars + 2) + 12

    def _wanted(self, col: int) -> bool:
        if col == EpisodesModel.FEED:
            return self._mixed  # only where the rows come from several feeds
        if col == EpisodesModel.LENGTH:
            return self._has_length
        return True

    def fit_columns(self) -> None:
        """The title takes the spare width: it keeps about 30 characters,
        then grows to about 50 before the feed, guest and date columns get
        their full widths; they give way first (narrower, then hidden: the
        date first, then the guest, then the feed).  Whatever is left goes
        to the title."""
        if self._fitting:
            return
        self._fitting = True
        try:
            M = EpisodesModel  # noqa: N806
            v, h = self.view, self.view.header()
            avail = v.viewport().width()
            if avail <= 0:
                return
            widths = {}
            widths = {M.STATUS: self._pref[M.STATUS]}
            rem = avail - widths[M.STATUS] - self.title_min_width()
            optional = (M.FEED, M.LENGTH, M.GUEST, M.DATE)  # the last gives way first
            for col in optional:
                least = self._least[col]
                widths[col] = least if self._wanted(col) and rem >= least else 0
                rem -= widths[col]
            rem -= max(0, min(rem, self.title_min_width(50) - self.title_min_width()))  # the title grows first
            for col in optional:
                if widths[col]:
                    grow = max(0, min(rem, self._pref[col] - widths[col]))
                    widths[col] += grow
                    rem -= grow
            for col, w in widths.items():
                if v.isColumnHidden(col) != (w == 0):
                    v.setColumnHidden(col, w == 0)
                if w and h.sectionSize(col) != w:
                    h.resizeSection(col, w)
        finally:
            self._fitting = False

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Resize and obj is self.view.viewport():
            self.fit_columns()
        return False

    # ------------------------------------------------------------ loading

    def reload_feeds(self) -> None:
        """The feed list (then the episode list), read in a worker."""
        self.w.read(lambda lib: (lib.feeds(), lib.new_counts()), lambda r: self._set_feeds(*r))

    def _set_feeds(self, feeds, new_counts=None) -> None:
        self.feeds_model.set_feeds(feeds, new_counts)
        row = self.feeds_model.row_for_feed(self.feed_id)
        # the selection model emits currentChanged (-> _feed_selected -> a
        # second, parallel episode query): block it, we reload just below
        sm = self.feed_view.selectionModel()
        sm.blockSignals(True)
        self.feed_view.setCurrentIndex(self.feeds_model.index(row))
        sm.blockSignals(False)
        self.reload_episodes()

    def _feed_selected(self, current: QModelIndex, _prev=None) -> None:
        self.feed_id = current.data(FeedIdRole) if current.isValid() else None
        self.guest_filter = None
        self.banner.hide()
        self.reload_episodes()

    def episode_query(self):
        """The list's current query and ``fetch(lib)`` reading its rows."""
        query = (self.feed_id, self.filter_box.text().strip(), self.unplayed_check.isChecked(),
                 self.downloaded_check.isChecked(), self.guest_filter)
        return query, episode_fetch(query)

    def reload_episodes(self) -> None:
        """Load the episode list in a worker; stale results are dropped."""
        self._gen += 1
        gen = self._gen
        query, fetch = self.episode_query()

        def done(rows):
            if gen == self._gen:
                self._set_rows(rows, query)

        self.w.read(fetch, done)

    def first_load(self, has_feeds, early=None) -> None:
        """Start-up: the feed list and the episode list from ONE read (one
        worker round trip before the first paint); ``has_feeds(bool)`` then.
        ``early``: that read, started (`EarlyRead`) before the widgets were
        built, used when it was for the query the list shows."""
        self._gen += 1
        gen = self._gen
        query = self.episode_query()[0]

        def done(r):
            if r is None:
                has_feeds(False)
                return
            feeds, counts, rows = r
            self.feeds_model.set_feeds(feeds, counts)
            sm = self.feed_view.selectionModel()
            sm.blockSignals(True)
            self.feed_view.setCurrentIndex(self.feeds_model.index(self.feeds_model.row_for_feed(self.feed_id)))
            sm.blockSignals(False)
            if gen == self._gen and query == self.episode_query()[0]:
                self._set_rows(rows, query)
            else:  # the listener changed the filter meanwhile
                self.reload_episodes()
            has_feeds(True)

        if early is not None and early.query == query:
            early.then(self.w._guard(done), self.w._guard(self.w._task_failed))
        else:
            self.w.read(first_read(query), done)

    def _set_rows(self, rows, query) -> None:
        w = self.w
        keep = w.shown_episode.id if w.shown_episode else self.pending_select
        pe = w.player.episode  # keep in-memory playback state for the loaded episode
        if pe is not None:
            for ep in rows:
                if ep.id == pe.id:
                    ep.position, ep.played = pe.position, pe.played
                    break
        if query == self._shown_query:
            # same list, newer contents (a refresh, a download): insert /
            # remove / repaint only what changed, no reset and relayout
            how = self.model.update_rows(rows)
        else:
            self.model.set_rows(rows)
            how = "reset"
        self._shown_query = query
        self.new_bar.setVisible(self.feed_id == NEW_VIEW)
        self.mark_seen_button.setEnabled(self.feed_id == NEW_VIEW and bool(rows))
        self._has_length = any(ep.duration for ep in rows)  # no itunes:duration: no empty column
        self._mixed = len({ep.feed_id for ep in rows}) > 1
        self.fit_columns()
        w.downloads.mark_rows()
        try:
            if keep is not None:
                r = self.model.row_of(keep)
                if r >= 0:
                    self.pending_select = None
                    idx = self.model.index(r, 0)
                    if self.view.currentIndex().row() != r:
                        self.view.setCurrentIndex(idx)
                    if how == "reset":
                        self.view.scrollTo(idx, QAbstractItemView.PositionAtCenter)
                    return
            if w.shown_episode is None and rows:
                self.pending_select = None
                self.view.setCurrentIndex(self.model.index(0, 0))
        finally:
            w.episodes_loaded.emit(len(rows))
            if not self._first_load_done:
                self._first_load_done = True
                w.after_first_load()

    def _episode_selected(self, current: QModelIndex, _prev=None) -> None:
        if not current.isValid():
            return
        ep = self.model.episode_at(current.row())
        if ep is not None and (self.w.shown_episode is None or ep.id != self.w.shown_episode.id):
            self.w.pane.show_episode(ep)

    def select(self, episode_id: int) -> bool:
        """Select an episode in the list; False when the list does not show it."""
        r = self.model.row_of(episode_id)
        if r < 0:
            return False
        self.view.setCurrentIndex(self.model.index(r, 0))
        self.view.scrollTo(self.model.index(r, 0))
        return True

    # ------------------------------------------------------------ guests

    def show_guest(self, name: str) -> None:
        def found(pid):
            if pid is None:
                return
            self.guest_filter = (pid, name)
            self.banner_label.setText(f"Episodes with <b>{html.escape(name)}</b>")
            self.banner.show()
            self.reload_episodes()

        self.w.read(lambda lib: lib.person_id(name), found)

    def clear_guest_filter(self) -> None:
        self.guest_filter = None
        self.banner.hide()
        self.reload_episodes()

    # ------------------------------------------------------------ menus

    def _episode_menu(self, pos) -> None:
        idx = self.view.indexAt(pos)
        ep = self.model.episode_at(idx.row()) if idx.isValid() else None
        if ep is None:
            return
        w = self.w
        m = QMenu(w)
        m.addAction("Play", lambda: w.play_episode(ep))
        m.addAction("Play Next", lambda: w.upnext.play_next([ep.id]))
        m.addAction("Play Last", lambda: w.upnext.play_last([ep.id]))
        if w.downloads.is_downloading(ep.id):
            m.addAction("Cancel download", lambda: w.downloads.cancel(ep.id))
        elif ep.file:
            m.addAction("Delete download", lambda: w.downloads.delete(ep))
        else:
            m.addAction("Download", lambda: w.downloads.download(ep))
        m.addAction("Mark unplayed" if ep.played else "Mark played", lambda: w.set_played(ep, not ep.played))
        m.addAction("Mark older as played", lambda: self.mark_older_played(ep))
        m.addAction("Mark all played…", self.mark_all_played)
        if getattr(ep, "is_new", False):
            m.addAction("Mark seen", lambda: self.mark_seen([ep.id]))
        if ep.link and ep.link.startswith(("http://", "https://")):
            m.addAction("Open episode web page", lambda: QDesktopServices.openUrl(QUrl(ep.link)))
        m.exec(self.view.viewport().mapToGlobal(pos))

    def _feed_menu(self, pos) -> None:
        idx = self.feed_view.indexAt(pos)
        fid = idx.data(FeedIdRole) if idx.isValid() else None
        w = self.w
        m = QMenu(w)
        m.addAction("Refresh all", w.refresh_all)
        if fid is not None and fid != NEW_VIEW:
            m.addAction("Refresh this feed", lambda: w.refresh_all([fid]))
            m.addAction("Mark all seen", lambda: self.mark_all_seen(fid))
            m.addAction("Mark all played…", lambda: self.mark_all_played(fid))
            m.addAction("Skip chapters about…", lambda: w.sidebar.edit_skip_words(fid, idx.data(Qt.DisplayRole)))
            m.addAction("Unsubscribe…", lambda: w.unsubscribe(fid, idx.data(Qt.DisplayRole)))
            auto = m.addAction("Add New Episodes to Up Next")
            auto.setCheckable(True)
            auto.setChecked(fid in w.upnext.auto_feeds)
            auto.toggled.connect(lambda on: w.upnext.set_auto_add(fid, on))
        m.addAction("Add feed…", w.add_feed_dialog)
        m.exec(self.feed_view.viewport().mapToGlobal(pos))

    # ------------------------------------------------------------ marks (through the services)

    def mark_seen(self, ids: list[int]) -> None:
        self.w.write(lambda core: core.marks.mark_seen(list(ids)))

    def mark_all_seen(self, feed_id: int | None = None) -> None:
        """Every new episode (of ``feed_id``) is seen; the New view empties."""
        fid = feed_id if feed_id not in (None, NEW_VIEW) else None
        self.w.write(lambda core: core.marks.mark_all_seen(fid))

    def mark_older_played(self, ep) -> None:
        eid = ep.id
        self.w.write(lambda core: core.marks.mark_older_played(eid))

    def mark_all_played(self, feed_id: int | None | bool = False, *, confirm: bool = True) -> None:
        """Every unplayed episode of the list shown (a feed, everything, or
        the new ones) is played; ``feed_id`` names a feed instead."""
        shown = self.feed_id if feed_id is False else feed_id
        only_new = shown == NEW_VIEW
        fid = None if only_new else shown
        if confirm:
            what = "every new episode" if only_new else ("every episode of this feed" if fid is not None
                                                          else "every episode of every feed")
            if not ask(self.w, "Mark all played", f"Mark {what} as played?"):
                return
        self.w.write(lambda core: core.marks.mark_all_played(fid, only_new=only_new))
