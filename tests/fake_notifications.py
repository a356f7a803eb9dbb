"""A strict freedesktop Notifications service on a given bus, for tests: prints each Notify call as JSON."""
import json
import sys

from PySide6.QtCore import ClassInfo, QCoreApplication, QObject, Slot
from PySide6.QtDBus import QDBusAbstractAdaptor, QDBusConnection

app = QCoreApplication([])


@ClassInfo({"D-Bus Interface": "org.freedesktop.Notifications"})
class Adaptor(QDBusAbstractAdaptor):
    @Slot(str, "uint", str, str, str, "QStringList", "QVariantMap", int, result="uint")
    def Notify(self, app_name, replaces_id, icon, summary, body, actions, hints, timeout):  # noqa: N802
        print(json.dumps({"app": app_name, "summary": summary, "body": body, "timeout": timeout}), flush=True)
        return 7

    @Slot(result="QStringList")
    def GetCapabilities(self):  # noqa: N802
        return ["body"]


obj = QObject()
adaptor = Adaptor(obj)
bus = QDBusConnection.connectToBus(sys.argv[1], "fake-notify")
assert bus.registerObject("/org/freedesktop/Notifications", obj, QDBusConnection.ExportAdaptors)
assert bus.registerService("org.freedesktop.Notifications")
print("READY", flush=True)
app.exec()
