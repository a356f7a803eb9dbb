"""Desktop notifications (the setting notify_new; off by default): the
system tray's balloon when there is a tray, else the freedesktop
Notifications service on the session bus.  Without either (no bus, no
service, no tray) nothing is shown and nothing fails: the status bar still
says what a refresh brought."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QApplication, QSystemTrayIcon

log = logging.getLogger(__name__)

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


class Notifier:
    def __init__(self, parent=None, address: str | None = None) -> None:
        self.parent = parent
        self.address = address  # a D-Bus address (tests pass a private bus); None: the session bus
        self.tray = None
        self.process = None
        self.delivered: bool | None = None  # the last D-Bus call's outcome, once known
        self.last_method: str | None = None  # "tray" | "dbus" | None

    def notify(self, title: str, body: str) -> bool:
        for method in (self._tray, self._dbus):
            try:
                if method(title, body):
                    return True
            except Exception:  # noqa: BLE001 - a notification must never take the app down
                log.debug("notification via %s failed", method.__name__, exc_info=True)
        self.last_method = None
        return False

    def _tray(self, title: str, body: str) -> bool:
        if self.address is not None or not QSystemTrayIcon.isSystemTrayAvailable():
            return False
        if self.tray is None:
            self.tray = QSystemTrayIcon(QApplication.windowIcon(), self.parent)
            self.tray.setToolTip("ibplayer")
            self.tray.show()
        if not self.tray.supportsMessages():
            return False
        self.tray.showMessage(title, body, QSystemTrayIcon.Information, 8000)
        self.last_method = "tray"
        return True

    def _dbus(self, title: str, body: str) -> bool:
        """org.freedesktop.Notifications.Notify (susssasa{sv}i).  PySide6
        cannot marshal the uint32 replaces_id from Python (an int goes out
        as "i" or "q", and the service refuses the call), so the call is
        made by GLib's ``gdbus`` (on every desktop that has the service),
        asynchronously: the window never waits on the bus."""
        import shutil

        from PySide6.QtCore import QProcess

        gdbus = shutil.which("gdbus")
        if gdbus is None:
            return False
        bus_args = ["--address", self.address] if self.address else ["--session"]
        args = ["call", *bus_args, "--dest", SERVICE, "--object-path", PATH, "--method", SERVICE + ".Notify",
                "--", "ibplayer", "0", "ibplayer", title, body, "[]", "{}", "8000"]
        proc = QProcess(self.parent)
        proc.setProcessChannelMode(QProcess.MergedChannels)
        proc.finished.connect(lambda code, _status: self._finished(proc, code))
        proc.start(gdbus, args)
        self.process = proc
        self.last_method = "dbus"
        return True

    def _finished(self, proc, code: int) -> None:
        out = bytes(proc.readAll()).decode("utf-8", "replace").strip()
        if code != 0:
            log.info("desktop notification failed: %s", out.splitlines()[-1] if out else code)
        self.delivered = code == 0
        proc.deleteLater()
