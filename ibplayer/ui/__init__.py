"""The ibplayer desktop window (PySide6 Widgets)."""

from __future__ import annotations

import sys


def _pin_singletons() -> None:
    """Work around a PySide6 refcount bug on Python < 3.12.

    PySide6 6.12 drops a reference to ``None`` each time an invalid
    QVariant is converted (``QModelIndex.data()`` for an unset role, some
    event processing), and to ``True``/``False`` when ``initStyleOption`` is
    called from Python.  Over a session the count reaches zero and the
    interpreter aborts at exit ("Fatal Python error: none_dealloc").  Python
    3.12+ makes these singletons immortal; here we emulate that by giving
    them a huge extra reference count once (they are never freed anyway).
    """
    if sys.version_info >= (3, 12):
        return
    try:
        import ctypes

        for obj in (None, True, False):
            # ob_refcnt is the first field of every CPython object
            ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
    except Exception:  # noqa: BLE001 - best effort
        pass


_pin_singletons()
