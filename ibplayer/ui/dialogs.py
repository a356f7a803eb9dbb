"""Settings, keyboard shortcuts, About and the missing-VLC notice."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMessageBox,
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
