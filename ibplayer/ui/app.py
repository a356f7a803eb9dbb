"""`run_gui(args)`: the desktop application."""

from __future__ import annotations

import logging
import os
import sys

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from ibplayer import __version__
from ibplayer.infra.paths import resource

log = logging.getLogger(__name__)


def _no_source_reads_on_import() -> None:
    """PySide6 hooks `import`: each module imported after it is read back as
    source text (`inspect.getsource`) to see whether it names PySide6, so
    that `from __feature__ import snake_case` can apply per module.  ibplayer
    uses no such feature, so every module may keep the default selection;
    the check only costs time: ~200 file reads (~90 ms) over a window's
    start-up, about a quarter of them before the first paint.  Where the
    private hook is not there (another PySide6), nothing changes."""
    try:
        feature = sys.modules["shibokensupport.feature"]
    except KeyError:
        return
    if callable(getattr(feature, "_mod_uses_pyside", None)):
        feature._mod_uses_pyside = lambda module: True


_no_source_reads_on_import()


def ensure_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once): Fusion style over the platform's
    palette, so light and dark system themes are both followed."""
    app = QApplication.instance()
    if app is None:
        if not os.environ.get("QT_QPA_PLATFORM") and sys.platform.startswith("linux") \
                and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        app = QApplication(argv or [sys.argv[0] if sys.argv else "ibplayer"])
    app.setApplicationName("ibplayer")
    app.setOrganizationName("ibplayer")
    app.setApplicationDisplayName("ibplayer")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("io.github.ibplayer.ibplayer")  # matches resources/*.desktop
    from .theme import install_style

    install_style(app)  # Fusion (keeps the platform palette, light or dark), icons that keep their contrast
    for name in ("ibplayer.svg", "ibplayer.png"):
        p = resource(name)
        if p.exists():
            app.setWindowIcon(QIcon(str(p)))
            break
    return app


def run_gui(args) -> int:
    # Background Python threads (reads, imports) hand the GIL back every 1 ms
    # instead of 5: the GUI thread takes it for every Qt callback into Python
    # (paint, event filters, timers), and a 5 ms wait at each turns a busy
    # moment into a visible stall.
    sys.setswitchinterval(0.001)
    app = ensure_app()
    from ibplayer.infra.store import LibraryError

    from . import startup

    data_dir = getattr(args, "data_dir", None)
    try:
        # the settings, then the episode list read in a worker: it reads while
        # this thread imports the window's modules and builds its widgets
        prepared = startup.prepare(data_dir)
        from .mainwindow import MainWindow

        win = MainWindow(data_dir, prepared=prepared)
    except LibraryError as exc:  # a newer schema, a directory, a damaged file that cannot be set aside…
        from PySide6.QtWidgets import QMessageBox

        log.error("%s", exc)
        QMessageBox.critical(None, "ibplayer cannot open its library", str(exc))
        return 1
    win.show()
    if os.environ.get("IBPLAYER_STALL_PROBE"):  # benchmarks only (see stallprobe)
        from . import stallprobe

        stallprobe.install(win)
    win.start()
    try:
        return app.exec()
    finally:
        if not win._closed:
            win.shutdown()
