"""The feed list and the episode list: filters, the guest banner, and their
context menus."""

from __future__ import annotations

import html

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer, QUrl
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

from ..models import EpisodesModel, FeedIdRole, FeedsModel
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
        fl.addWidget(self.filter_box, 1)
        fl.addWidget(self.unplayed_check)
        fl.addWidget(self.downloaded_check)
        el.addLayout(fl)
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
        h.setSectionResizeMode(EpisodesModel.GUEST, QHeaderView.Interactive)
        fm = w.fontMetrics()
        h.resizeSection(EpisodesModel.GUEST, fm.horizontalAdvance("Christian Szegedy") + 10)
        h.resizeSection(EpisodesModel.DATE, fm.horizontalAdvance(" 28 Sep 2025 ") + 8)
        h.resizeSection(EpisodesModel.LENGTH, fm.horizontalAdvance(" 1:59:59 ") + 8)
        h.resizeSection(EpisodesModel.STATUS, fm.horizontalAdvance(" Downloaded ") + 8)
        el.addWidget(v, 1)

        self.filter_timer = QTimer(self, singleShot=True, interval=150)
        self.filter_timer.timeout.connect(self.reload_episodes)
        self.filter_box.textChanged.connect(lambda: self.filter_timer.start())
        self.unplayed_check.toggled.connect(self.reload_episodes)
        self.downloaded_check.toggled.connect(self.reload_episodes)

    # ------------------------------------------------------------ loading

    def reload_feeds(self) -> None:
        """The feed list (then the episode list), read in a worker."""
        self.w.read(lambda lib: lib.feeds(), self._set_feeds)

    def _set_feeds(self, feeds) -> None:
        self.feeds_model.set_feeds(feeds)
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

    def reload_episodes(self) -> None:
        """Load the episode list in a worker; stale results are dropped."""
        self._gen += 1
        gen = self._gen
        feed_id, text = self.feed_id, self.filter_box.text().strip()
        unplayed, downloaded = self.unplayed_check.isChecked(), self.downloaded_check.isChecked()
        guest = self.guest_filter
        query = (feed_id, text, unplayed, downloaded, guest)

        def fetch(lib):
            if guest is not None:
                eps = lib.episodes_with_person(guest[0])
                if text:
                    t = text.lower()
                    eps = [e for e in eps if t in e.title.lower() or t in e.guest_names.lower()]
                if unplayed:
                    eps = [e for e in eps if not e.played]
                if downloaded:
                    eps = [e for e in eps if e.file]
                return eps
            return lib.episodes(feed_id, text=text or None, unplayed=unplayed, downloaded=downloaded)

        def done(rows):
            if gen == self._gen:
                self._set_rows(rows, query)

        self.w.read(fetch, done)

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
        hide_length = not any(ep.duration for ep in rows)  # no itunes:duration: no empty column
        if self.view.isColumnHidden(EpisodesModel.LENGTH) != hide_length:
            self.view.setColumnHidden(EpisodesModel.LENGTH, hide_length)
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
        if w.downloads.is_downloading(ep.id):
            m.addAction("Cancel download", lambda: w.downloads.cancel(ep.id))
        elif ep.file:
            m.addAction("Delete download", lambda: w.downloads.delete(ep))
        else:
            m.addAction("Download", lambda: w.downloads.download(ep))
        m.addAction("Mark unplayed" if ep.played else "Mark played", lambda: w.set_played(ep, not ep.played))
        if ep.link and ep.link.startswith(("http://", "https://")):
            m.addAction("Open episode web page", lambda: QDesktopServices.openUrl(QUrl(ep.link)))
        m.exec(self.view.viewport().mapToGlobal(pos))

    def _feed_menu(self, pos) -> None:
        idx = self.feed_view.indexAt(pos)
        fid = idx.data(FeedIdRole) if idx.isValid() else None
        w = self.w
        m = QMenu(w)
        m.addAction("Refresh all", w.refresh_all)
        if fid is not None:
            m.addAction("Refresh this feed", lambda: w.refresh_all([fid]))
            m.addAction("Skip chapters about…", lambda: w.sidebar.edit_skip_words(fid, idx.data(Qt.DisplayRole)))
            m.addAction("Unsubscribe…", lambda: w.unsubscribe(fid, idx.data(Qt.DisplayRole)))
        m.addAction("Add feed…", w.add_feed_dialog)
        m.exec(self.feed_view.viewport().mapToGlobal(pos))
