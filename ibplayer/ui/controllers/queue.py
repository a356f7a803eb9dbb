"""Up Next in the window: the queue dock (drag to reorder, Delete or the
context menu to remove), "Play next" / "Play last", and auto-advance (the
services' `AutoAdvance` listener on the playback session; the next episode
comes from `QueueService.advance` on the writer thread)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractItemView, QDockWidget, QLabel, QListWidget, QListWidgetItem, QMenu, QVBoxLayout, QWidget

from ibplayer.services.queue import AutoAdvance

from ..models import fmt_time

IdRole = Qt.UserRole + 1


class QueueList(QListWidget):
    """The queue's rows; a drag inside it says the new order."""

    reordered = Signal(list)

    def __init__(self) -> None:
        super().__init__()
        self.setDragDropMode(QAbstractItemView.InternalMove)
        self.setDefaultDropAction(Qt.MoveAction)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setContextMenuPolicy(Qt.CustomContextMenu)
        self.setAlternatingRowColors(True)
        self.setTextElideMode(Qt.ElideRight)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setUniformItemSizes(True)

    def ids(self) -> list[int]:
        return [self.item(i).data(IdRole) for i in range(self.count())]

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        """The dragged (selected) rows go where they were dropped.  The new
        order goes to the queue service; the rows move here at once (and the
        drag is reported as a copy, so Qt removes nothing by itself)."""
        ids = [it.data(IdRole) for it in self.selectedItems()]
        if not ids:
            event.ignore()
            return
        pos = event.position().toPoint()
        item = self.itemAt(pos)
        if item is None:
            row = self.count()
        else:
            row = self.row(item) + (1 if pos.y() > self.visualItemRect(item).center().y() else 0)
        current = self.ids()
        moved = [i for i in current if i in ids]
        new = [i for i in current[:row] if i not in ids] + moved + [i for i in current[row:] if i not in ids]
        event.setDropAction(Qt.CopyAction)
        event.accept()
        if new != current:
            by_id = {self.item(r).data(IdRole): r for r in range(self.count())}
            items = [self.item(by_id[i]) for i in new]
            while self.count():
                self.takeItem(0)
            for it in items:
                self.addItem(it)
                it.setSelected(it.data(IdRole) in ids)
            self.reordered.emit(new)


class QueueController(QObject):
    def __init__(self, w) -> None:
        super().__init__(w)
        self.w = w
        self.episodes: list = []
        self._loaded_once = False
        self.auto_feeds: set[int] = set()  # feeds whose new episodes join Up Next after a refresh
        self.view = QueueList()
        self.view.reordered.connect(self.reorder)
        self.view.customContextMenuRequested.connect(self._menu)
        self.view.itemActivated.connect(lambda item: self.play(item.data(IdRole)))
        QShortcut(QKeySequence(QKeySequence.Delete), self.view, activated=self.remove_selected,
                  context=Qt.WidgetShortcut)
        self.empty_label = QLabel("Up Next is empty.\nRight-click an episode: Play Next or Play Last.")
        self.empty_label.setAlignment(Qt.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setEnabled(False)
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.empty_label, 1)
        self.dock = QDockWidget("Up Next", w)
        self.dock.setObjectName("up_next")
        self.dock.setWidget(box)
        self.advance = AutoAdvance(self._start_next)
        w.player.session.add_listener(self.advance)
        self._show(None)

    # ------------------------------------------------------------ showing

    def reload(self) -> None:
        first = not self._loaded_once
        self._loaded_once = True

        def got(result):
            self.auto_feeds = result[1]
            self._show(result[0])
            if first and self.episodes and self.w.ui_settings.value("window_state") is None:
                self.reveal()  # a queue made before the first launch (the CLI): show it once

        self.w.read(lambda lib: (lib.queue_episodes(), set(lib.auto_queue_feeds())), got)

    def _show(self, episodes) -> None:
        self.episodes = list(episodes or [])
        selected = {it.data(IdRole) for it in self.view.selectedItems()}
        self.view.clear()
        for ep in self.episodes:
            resume = f" · resume at {fmt_time(ep.position)}" if ep.position and not ep.played else ""
            length = fmt_time(ep.duration) if ep.duration else ""
            item = QListWidgetItem("  ·  ".join(b for b in (ep.title, ep.feed_title, length, resume[3:]) if b))
            item.setData(IdRole, ep.id)
            item.setToolTip(f"{ep.title}\n{ep.feed_title} · {fmt_time(ep.duration) if ep.duration else '?'}{resume}")
            item.setFlags(item.flags() & ~Qt.ItemIsDropEnabled)  # drop between rows, never onto one
            self.view.addItem(item)
            item.setSelected(ep.id in selected)
        self.view.setVisible(bool(self.episodes))
        self.empty_label.setVisible(not self.episodes)
        self.dock.setWindowTitle(f"Up Next ({len(self.episodes)})" if self.episodes else "Up Next")

    def toggle(self) -> None:
        if self.dock.isVisible():
            self.dock.hide()
        else:
            self.reveal()

    def reveal(self) -> None:
        """Show the dock, a few rows high (it would take half the window)."""
        if self.dock.isVisible():
            return
        self.dock.show()
        rows = min(max(self.view.count(), 3), 6)
        self.w.resizeDocks([self.dock], [self.view.sizeHintForRow(0) * rows + 40 if self.view.count() else 120],
                           Qt.Vertical)

    # ------------------------------------------------------------ changing (through the queue service)

    def play_next(self, episode_ids: list[int]) -> None:
        self._write(lambda core: core.queue.play_next(episode_ids), "Playing next")

    def play_last(self, episode_ids: list[int]) -> None:
        self._write(lambda core: core.queue.play_last(episode_ids), "Added to Up Next")

    def _write(self, fn, what: str) -> None:
        def done(_changes):
            self.reveal()
            self.w.set_status(what)

        self.w.write(fn, done)

    def set_auto_add(self, feed_id: int, on: bool) -> None:
        """New episodes of this feed join Up Next after each refresh (the
        library service's policy plan, as in the CLI)."""
        (self.auto_feeds.add if on else self.auto_feeds.discard)(feed_id)
        self.w.write(lambda core: core.queue.set_auto_add(feed_id, on))
        self.w.set_status("New episodes of this feed will be added to Up Next" if on
                          else "New episodes of this feed are no longer added to Up Next")

    def reorder(self, ids: list[int]) -> None:
        self.w.write(lambda core: core.queue.reorder(ids))

    def remove(self, ids: list[int]) -> None:
        if ids:
            self.w.write(lambda core: core.queue.remove(ids))

    def remove_selected(self) -> None:
        self.remove([it.data(IdRole) for it in self.view.selectedItems()])

    def clear(self) -> None:
        self.w.write(lambda core: core.queue.clear())

    def move(self, eid: int, index: int) -> None:
        self.w.write(lambda core: core.queue.move(eid, index))

    def play(self, eid: int) -> None:
        """Play a queued episode now: it leaves the queue as it starts."""
        def done(result):
            nxt, _changes = result
            if nxt is not None:
                self.w.play_episode(nxt)

        self.w.write(lambda core: self._take(core, eid), done)

    @staticmethod
    def _take(core, eid: int):
        ep = core.library.episode(eid)
        return ep, core.queue.remove([eid]) if ep is not None else None

    # ------------------------------------------------------------ auto-advance

    def _start_next(self, ended_id: int) -> None:
        def done(result):
            nxt, _changes = result
            if nxt is None:
                return
            self.w.set_status(f"Up Next: {nxt.title}")
            self.w.play_episode(nxt)

        self.w.write(lambda core: core.queue.advance(ended_id), done)

    # ------------------------------------------------------------ menu

    def _menu(self, pos) -> None:
        item = self.view.itemAt(pos)
        m = QMenu(self.w)
        if item is not None:
            eid = item.data(IdRole)
            ids = [it.data(IdRole) for it in self.view.selectedItems()] or [eid]
            m.addAction("Play now", lambda: self.play(eid))
            m.addAction("Move to top", lambda: self.move(eid, 0))
            m.addAction("Move to bottom", lambda: self.move(eid, self.view.count()))
            m.addAction("Remove from Up Next", lambda: self.remove(ids))
            m.addSeparator()
        if self.view.count():
            m.addAction("Clear Up Next", self.clear)
        if not m.isEmpty():
            m.exec(self.view.viewport().mapToGlobal(pos))
