"""Search across the library (chapters, episodes, guests) and topic lists:
a click lands in the right minute of the right episode."""

from __future__ import annotations

import html

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer
from PySide6.QtWidgets import QAbstractItemView, QFrame, QHBoxLayout, QLabel, QLineEdit, QListView, QToolButton, QVBoxLayout

from ..models import HitRole, HitsModel


class SearchController(QObject):
    def __init__(self, w) -> None:
        super().__init__(w)
        self.w = w
        self._gen = 0
        self.box = QLineEdit(placeholderText="Search chapters, episodes, guests  (Ctrl+F)")
        self.box.setClearButtonEnabled(True)
        self.panel = QFrame()
        rl = QVBoxLayout(self.panel)
        rl.setContentsMargins(0, 0, 0, 0)
        rh = QHBoxLayout()
        self.label = QLabel()
        self.label.setWordWrap(True)
        close = QToolButton(text="✕", autoRaise=True, toolTip="Close the results")
        close.clicked.connect(self.close_results)
        rh.addWidget(self.label, 1)
        rh.addWidget(close)
        rl.addLayout(rh)
        self.model = HitsModel(w)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setWordWrap(True)
        self.view.setAlternatingRowColors(True)
        self.view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.view.activated.connect(self._activated)
        self.view.clicked.connect(self._activated)
        rl.addWidget(self.view)
        self.panel.hide()
        self.timer = QTimer(self, singleShot=True, interval=250)
        self.timer.timeout.connect(self.run)
        self.box.textChanged.connect(lambda: self.timer.start())
        self.box.returnPressed.connect(self._return)

    def focus(self) -> None:
        self.box.setFocus(Qt.ShortcutFocusReason)
        self.box.selectAll()

    def escape(self) -> None:
        self.box.clear()
        self.close_results()
        self.w.episodes.view.setFocus()

    def _return(self) -> None:
        self.timer.stop()
        self.run()

    def run(self) -> None:
        q = self.box.text().strip()
        self._gen += 1
        gen = self._gen
        if not q:
            self.close_results()
            return

        def done(hits):
            if gen == self._gen:
                self._show(hits, f"{len(hits)} result{'s' if len(hits) != 1 else ''} for “{html.escape(q)}”")

        self.w.read(lambda lib: lib.search(q), done)

    def show_topic(self, topic: str) -> None:
        self._gen += 1
        gen = self._gen

        def done(hits):
            if gen == self._gen:
                self._show(hits, f"Chapters on <b>{html.escape(topic)}</b> across the library")

        self.w.read(lambda lib: lib.chapters_with_topic(topic), done)

    def _show(self, hits, label: str) -> None:
        self.model.set_hits(hits)
        self.label.setText(label if hits else label + "<br><i>Nothing found.</i>")
        self.panel.show()
        self.w.search_done.emit(len(hits))

    def close_results(self) -> None:
        self.panel.hide()
        self.model.set_hits([])

    def _activated(self, index: QModelIndex) -> None:
        hit = index.data(HitRole)
        if hit is not None:
            self.activate(hit)

    def activate(self, hit) -> None:
        """A chapter hit plays its episode from that chapter; an episode hit
        opens it; a guest hit lists the guest's episodes."""
        w = self.w
        if hit.kind == "guest":
            w.select_episode(hit.episode_id)
            w.episodes.show_guest(hit.title)
            return
        if hit.episode_id is None:
            return
        if hit.kind == "chapter":
            w.select_episode(hit.episode_id, then=lambda: w.play_at(hit.start or 0.0))
        else:
            w.select_episode(hit.episode_id)
