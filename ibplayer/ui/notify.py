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
    def __init__(self, parent=None, bus=None) -> None:
        self.parent = parent
        self._bus = bus  # a QDBusConnection (tests pass a private bus); None: the session bus
        self.tray = None
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
        if self._bus is not None or not QSystemTrayIcon.isSystemTrayAvailable():
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
        from PySide6 import QtDBus

        bus = self._bus if self._bus is not None else QtDBus.QDBusConnection.sessionBus()
        if not bus.isConnected():
            return False
        iface = QtDBus.QDBusInterface(SERVICE, PATH, SERVICE, bus)
        if not iface.isValid():
            return False
        # the introspected signature (susssasa{sv}i) types the arguments
        reply = iface.call("Notify", "ibplayer", 0, "ibplayer", title, body, [], {}, 8000)
        if reply.type() == QtDBus.QDBusMessage.ErrorMessage:
            log.debug("Notify: %s", reply.errorMessage())
            return False
        self.last_method = "dbus"
        return True
