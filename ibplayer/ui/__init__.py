"""The ibplayer desktop window (PySide6 Widgets)."""
