"""Settings, keyboard shortcuts, About and the missing-VLC notice."""

from __future__ import annotations

import html
import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .player import SPEEDS


class ShortcutsDialog(QDialog):
    """Every shortcut, from the window's actions table (:mod:`.actions`)."""

    def __init__(self, rows: list[tuple[str, str]], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        table = QTableWidget(len(rows), 2, self)
        table.setHorizontalHeaderLabels(["Keys", "Action"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.NoEditTriggers)
        table.setSelectionMode(QTableWidget.NoSelection)
        for r, (keys, what) in enumerate(rows):
            table.setItem(r, 0, QTableWidgetItem(keys))
            table.setItem(r, 1, QTableWidgetItem(what))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(table)
        lay.addWidget(buttons)
        # tall enough for every row (no scrolling to find one)
        table.resizeRowsToContents()
        rows_h = sum(table.rowHeight(r) for r in range(table.rowCount())) + table.horizontalHeader().height()
        self.resize(480, min(900, rows_h + 90))


class SettingsDialog(QDialog):
    """Skip lengths, concurrent downloads, download folder, default speed."""

    def __init__(self, values: dict, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        form = QFormLayout()
        self.skip_back = QSpinBox(minimum=1, maximum=600, suffix=" s", value=int(values["skip_back"]))
        self.skip_forward = QSpinBox(minimum=1, maximum=600, suffix=" s", value=int(values["skip_forward"]))
        self.max_downloads = QSpinBox(minimum=1, maximum=8, value=int(values["max_downloads"]))
        self.speed = QComboBox()
        for s in SPEEDS:
            self.speed.addItem(f"{s:g}×", s)
        self.speed.setCurrentIndex(min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - float(values["default_speed"]))))
        self.start_timeout = QSpinBox(minimum=1, maximum=120, suffix=" s",
                                      value=int(round(float(values.get("start_timeout", 10)))))
        self.start_timeout.setToolTip("A stream that sends nothing for this long is reported, not left silent")
        self.folder = QLineEdit(str(values["download_dir"]))
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        row = QWidget()
        hl = QHBoxLayout(row)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.addWidget(self.folder, 1)
        hl.addWidget(browse)
        form.addRow("Skip back:", self.skip_back)
        form.addRow("Skip forward:", self.skip_forward)
        form.addRow("Default speed:", self.speed)
        form.addRow("Concurrent downloads:", self.max_downloads)
        form.addRow("Stream timeout:", self.start_timeout)
        form.addRow("Download folder:", row)
        self.refresh_every = QSpinBox(minimum=0, maximum=7 * 24 * 60, suffix=" min", value=int(values.get("refresh_every", 60)))
        self.refresh_every.setSpecialValueText("Off")
        self.refresh_every.setToolTip("Check every feed for new episodes this often while ibplayer runs (0 = off)")
        form.addRow("Refresh feeds every:", self.refresh_every)
        self.notify_new = QCheckBox("Show a desktop notification for new episodes")
        self.notify_new.setChecked(bool(values.get("notify_new", False)))
        form.addRow("", self.notify_new)
        self.theme = QComboBox()
        for key, label in (("system", "System"), ("light", "Light"), ("dark", "Dark")):
            self.theme.addItem(label, key)
        self.theme.setCurrentIndex(max(0, self.theme.findData(values.get("theme", "system"))))
        form.addRow("Theme:", self.theme)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(buttons)
        self.resize(520, 0)

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Download folder", self.folder.text())
        if d:
            self.folder.setText(d)

    def values(self) -> dict:
        return {
            "skip_back": self.skip_back.value(),
            "skip_forward": self.skip_forward.value(),
            "max_downloads": self.max_downloads.value(),
            "default_speed": self.speed.currentData(),
            "download_dir": self.folder.text().strip(),
            "refresh_every": self.refresh_every.value(),
            "notify_new": self.notify_new.isChecked(),
            "theme": self.theme.currentData(),
            "start_timeout": self.start_timeout.value(),
        }


def vlc_missing_dialog(parent, hint: str, reason: str | None) -> QMessageBox:
    """A non-blocking notice: how to install VLC on this OS."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Warning)
    box.setWindowTitle("VLC is not installed")
    box.setText("ibplayer plays audio through VLC, which was not found on this computer.")
    os_name = {"win32": "Windows", "darwin": "macOS"}.get(sys.platform, "Linux")
    box.setInformativeText(
        f"{hint}\n\nUntil then you can still browse episodes, read chapters and show notes, "
        f"search and download episodes. (On {os_name}.)"
    )
    if reason:
        box.setDetailedText(reason)
    box.setStandardButtons(QMessageBox.Ok)
    box.setModal(False)
    box.setWindowModality(Qt.NonModal)
    return box


class AddFeedDialog(QDialog):
    """A feed address (wide enough for a real URL; a missing https:// is
    added by the services).  Subscribing runs in the background: the text
    stays after an error, and Cancel gives up on a slow server (a
    subscription that still completes afterwards is removed again)."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.w = window
        self.setWindowTitle("Add Feed")
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("https://example.com/podcast/feed.xml")
        self.url_edit.setClearButtonEnabled(True)
        self.url_edit.setMinimumWidth(self.fontMetrics().horizontalAdvance("x" * 64))
        self.message = QLabel("Podcast feed address (RSS or Atom):")
        self.message.setWordWrap(True)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(8)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.Cancel, self)
        self.subscribe_button = self.buttons.addButton("Subscribe", QDialogButtonBox.AcceptRole)
        self.subscribe_button.setDefault(True)
        self.buttons.accepted.connect(self.subscribe)
        self.buttons.rejected.connect(self.cancel)
        lay = QVBoxLayout(self)
        lay.addWidget(self.message)
        lay.addWidget(self.url_edit)
        lay.addWidget(self.busy)
        lay.addWidget(self.buttons)
        self.pending = 0  # the attempt that runs (0: none)
        self._attempts = 0
        self.result = None

    def subscribe(self) -> None:
        url = self.url_edit.text().strip()
        if not url or self.pending:
            return
        self._attempts += 1
        attempt = self.pending = self._attempts
        self.url_edit.setEnabled(False)
        self.subscribe_button.setEnabled(False)
        self.busy.show()
        self.message.setText(f"Subscribing to {url}…")
        self.w.set_status(f"Subscribing to {url}…")
        self.w.run(lambda core: core.subscribe(url), lambda r: self._done(attempt, r),
                   lambda exc: self._failed(attempt, exc))

    def _done(self, attempt: int, result) -> None:
        if attempt != self.pending:  # cancelled: a new subscription it made is undone
            if result.status == "new":
                fid = result.feed_id
                self.w.write(lambda core: core.library_service.unsubscribe(str(fid)))
            return
        self.pending = 0
        self.result = result
        self.w.set_status(result.line())
        self.w.episodes.feed_id = result.feed_id
        self.accept()

    def _failed(self, attempt: int, exc: BaseException) -> None:
        if attempt != self.pending:
            return
        self.pending = 0
        self.url_edit.setEnabled(True)
        self.subscribe_button.setEnabled(True)
        self.busy.hide()
        self.message.setText(f"<b>Could not subscribe:</b> {html.escape(str(exc))}")
        self.message.setTextFormat(Qt.RichText)
        self.w.set_status(f"Could not subscribe: {exc}")
        self.url_edit.setFocus()  # the text stays, to correct it

    def cancel(self) -> None:
        if self.pending:
            self.w.set_status("Subscribing cancelled.")
        self.pending = 0
        self.reject()


def plain_box(parent, icon, title: str, text: str, buttons) -> QMessageBox:
    """A message box whose text is shown as written: feed and episode
    titles are never taken for markup (a hostile title cannot restyle it)."""
    box = QMessageBox(icon, title, text, buttons, parent)
    box.setTextFormat(Qt.PlainText)
    return box


def ask(parent, title: str, text: str) -> bool:
    return plain_box(parent, QMessageBox.Question, title, text, QMessageBox.Yes | QMessageBox.No).exec() \
        == QMessageBox.Yes


def warn(parent, title: str, text: str) -> None:
    plain_box(parent, QMessageBox.Warning, title, text, QMessageBox.Ok).exec()
