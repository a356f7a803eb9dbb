"""The window's colours (the setting theme): "system" keeps the platform
palette, "light" and "dark" set a Fusion palette.  Colours elsewhere come
from the palette (palette(...) in style sheets, QPalette roles in painting),
so chips, delegates and icons follow the theme."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QIconEngine, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication, QProxyStyle

THEMES = ("system", "light", "dark")
_system_palette: QPalette | None = None
current = "system"


def dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor(30, 31, 34), QColor(43, 45, 48), QColor(224, 226, 230)
    for group in (QPalette.Active, QPalette.Inactive):
        p.setColor(group, QPalette.Window, window)
        p.setColor(group, QPalette.WindowText, text)
        p.setColor(group, QPalette.Base, base)
        p.setColor(group, QPalette.AlternateBase, QColor(50, 52, 56))
        p.setColor(group, QPalette.Text, text)
        p.setColor(group, QPalette.Button, QColor(55, 57, 61))
        p.setColor(group, QPalette.ButtonText, text)
        p.setColor(group, QPalette.BrightText, QColor(255, 120, 120))
        p.setColor(group, QPalette.Highlight, QColor(74, 136, 214))
        p.setColor(group, QPalette.HighlightedText, QColor(255, 255, 255))
        p.setColor(group, QPalette.ToolTipBase, QColor(55, 57, 61))
        p.setColor(group, QPalette.ToolTipText, text)
        p.setColor(group, QPalette.PlaceholderText, QColor(150, 152, 158))
        p.setColor(group, QPalette.Link, QColor(120, 170, 240))
        p.setColor(group, QPalette.LinkVisited, QColor(170, 140, 230))
        p.setColor(group, QPalette.Light, QColor(75, 77, 82))
        p.setColor(group, QPalette.Midlight, QColor(62, 64, 68))
        p.setColor(group, QPalette.Mid, QColor(90, 92, 98))
        p.setColor(group, QPalette.Dark, QColor(22, 23, 25))
        p.setColor(group, QPalette.Shadow, QColor(0, 0, 0))
    for role, c in ((QPalette.WindowText, QColor(125, 127, 133)), (QPalette.Text, QColor(125, 127, 133)),
                    (QPalette.ButtonText, QColor(125, 127, 133)), (QPalette.Base, QColor(36, 37, 40)),
                    (QPalette.Window, QColor(43, 45, 48)), (QPalette.Button, QColor(48, 50, 54)),
                    (QPalette.Highlight, QColor(70, 72, 78)), (QPalette.HighlightedText, QColor(200, 200, 200))):
        p.setColor(QPalette.Disabled, role, c)
    return p


def light_palette() -> QPalette:
    from PySide6.QtWidgets import QStyleFactory

    style = QStyleFactory.create("Fusion")
    return style.standardPalette() if style is not None else QPalette()


def is_dark(palette: QPalette | None = None) -> bool:
    p = palette or QApplication.palette()
    return p.color(QPalette.Window).lightness() < 128


class TintedIconEngine(QIconEngine):
    """A style's icon drawn in the palette's button-text colour when the
    palette is dark (the stock icons are dark grey: on a dark button they
    all but vanish).  Decided at paint time, so switching themes needs no
    new icons."""

    def __init__(self, base: QIcon) -> None:
        super().__init__()
        self.base = base

    def pixmap(self, size: QSize, mode, state) -> QPixmap:
        pm = self.base.pixmap(size, mode, state)
        if pm.isNull() or not is_dark():
            return pm
        pal = QApplication.palette()
        color = pal.color(QPalette.Disabled if mode == QIcon.Disabled else QPalette.Active, QPalette.ButtonText)
        out = QPixmap(pm.size())
        out.setDevicePixelRatio(pm.devicePixelRatio())
        out.fill(Qt.transparent)
        p = QPainter(out)
        p.drawPixmap(0, 0, pm)
        p.setCompositionMode(QPainter.CompositionMode_SourceIn)
        p.fillRect(QRect(0, 0, out.width(), out.height()), color)
        p.end()
        return out

    def paint(self, painter: QPainter, rect: QRect, mode, state) -> None:
        painter.drawPixmap(rect, self.pixmap(rect.size(), mode, state))

    def actualSize(self, size: QSize, mode, state) -> QSize:  # noqa: N802 - Qt API
        return self.base.actualSize(size, mode, state)

    def clone(self) -> QIconEngine:
        return TintedIconEngine(self.base)


class ThemedStyle(QProxyStyle):
    """Fusion with stock icons that keep their contrast in a dark palette."""

    def standardIcon(self, sp, option=None, widget=None) -> QIcon:  # noqa: N802 - Qt API
        base = super().standardIcon(sp, option, widget)
        return QIcon(TintedIconEngine(base)) if not base.isNull() else base


def install_style(app) -> None:
    if not isinstance(app.style(), ThemedStyle):
        style = ThemedStyle("Fusion")
        app.setStyle(style)


def apply_theme(name: str) -> str:
    """Set the application's palette; returns the theme applied."""
    global _system_palette, current
    app = QApplication.instance()
    if app is None:
        return current
    install_style(app)
    if name not in THEMES:
        name = "system"
    if _system_palette is None:
        _system_palette = QPalette(app.palette())
    if name == current:
        return current
    app.setPalette(dark_palette() if name == "dark" else light_palette() if name == "light" else _system_palette)
    current = name
    return current


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours."""
    def lum(c: QColor) -> float:
        def ch(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * ch(c.redF()) + 0.7152 * ch(c.greenF()) + 0.0722 * ch(c.blueF())

    la, lb = sorted((lum(a), lum(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
