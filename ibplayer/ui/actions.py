"""One actions table: name, menu text, keys, help line.  It builds the menus,
the keyboard shortcuts and the Help › Keyboard Shortcuts dialog, so the three
never disagree (after Picard's actions registry)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence


@dataclass(frozen=True)
class ActionSpec:
    name: str  # the window method it calls
    text: str  # menu text
    menu: str | None  # "File" | "View" | "Playback" | "Help" | None (keys only)
    keys: tuple[str, ...] = ()
    help: str = ""  # the shortcuts dialog line ("" = the menu text)
    # Single keys for playback (Space, arrows, letters) are read by the
    # window's key filter, so text fields and lists keep theirs; the menu
    # only shows them.
    playback_key: bool = False


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("add_feed_dialog", "&Add Feed…", "File", ("Ctrl+N",), "Add a feed"),
    ActionSpec("refresh_all", "&Refresh All", "File", ("F5",), "Refresh all feeds"),
    ActionSpec("import_opml", "&Import OPML…", "File"),
    ActionSpec("export_opml", "&Export OPML…", "File"),
    ActionSpec("settings_dialog", "&Settings…", "File", ("Ctrl+,",), "Settings"),
    ActionSpec("close", "&Quit", "File", ("Ctrl+Q",), "Quit"),
    ActionSpec("focus_search", "&Search…", "View", ("Ctrl+F",), "Search chapters, episodes and guests"),
    ActionSpec("focus_filter", "&Filter Episodes", "View", ("Ctrl+L",), "Filter the episode list"),
    ActionSpec("toggle_downloads", "&Downloads", "View", ("Ctrl+D",), "Show or hide downloads"),
    ActionSpec("toggle_up_next", "&Up Next", "View", ("Ctrl+U",), "Show or hide Up Next (the play queue)"),
    ActionSpec("show_new", "&New Episodes", "View", ("Ctrl+Shift+N",), "Show the episodes that arrived since you last looked"),
    ActionSpec("mark_all_seen", "&Mark All Seen", "View", ("Ctrl+Shift+M",), "Mark every new episode seen"),
    ActionSpec("toggle_play", "Play / Pause", "Playback", ("Space",), playback_key=True),
    ActionSpec("skip_back", "Skip Back", "Playback", ("Left",), "Skip back (15 s by default)", playback_key=True),
    ActionSpec("skip_forward", "Skip Forward", "Playback", ("Right",), "Skip forward (30 s by default)",
               playback_key=True),
    ActionSpec("previous_chapter", "Previous Chapter", "Playback", ("Ctrl+Left", "P"), playback_key=True),
    ActionSpec("next_chapter", "Next Chapter", "Playback", ("Ctrl+Right", "N"), playback_key=True),
    ActionSpec("skip_chapter", "S&kip This Chapter", "Playback", ("S",), "Skip the chapter playing",
               playback_key=True),
    ActionSpec("continue_unheard", "Continue from First &Unheard Chapter", "Playback", ("U",),
               "Play the shown episode from its first chapter not yet heard", playback_key=True),
    ActionSpec("toggle_mute", "Mute / Unmute", "Playback", ("M",), playback_key=True),
    ActionSpec("show_shortcuts", "&Keyboard Shortcuts", "Help", ("F1",), "This list"),
    ActionSpec("about", "&About ibplayer", "Help"),
)

MENUS = ("File", "View", "Playback", "Help")


_ARROWS = {"Left": "←", "Right": "→", "Up": "↑", "Down": "↓"}


def key_text(keys: tuple[str, ...]) -> str:
    def one(k: str) -> str:
        text = QKeySequence(k).toString(QKeySequence.NativeText)
        for name, arrow in _ARROWS.items():
            text = text.replace(name, arrow)
        return text

    return " or ".join(one(k) for k in keys)


def shortcut_rows() -> list[tuple[str, str]]:
    """(keys, what) for the shortcuts dialog: every action that has keys."""
    return [(key_text(a.keys), a.help or a.text.replace("&", "").rstrip("…")) for a in ACTIONS if a.keys]


def playback_keys() -> dict[tuple[int, int], str]:
    """{(key, modifiers): action name} for the window's key filter."""
    out = {}
    for a in ACTIONS:
        if not a.playback_key:
            continue
        for k in a.keys:
            combo = QKeySequence(k)[0]
            out[(int(combo.key()), int(combo.keyboardModifiers().value))] = a.name
    return out


def build(window) -> dict[str, QAction]:
    """Menus and shortcuts on ``window`` from the table; returns the actions."""
    menus = {name: window.menuBar().addMenu("&" + name) for name in MENUS}
    actions = {}
    for a in ACTIONS:
        act = QAction(a.text, window)
        handler = getattr(window, a.name)
        act.triggered.connect(lambda _checked=False, h=handler: h())
        if a.playback_key:
            act.setText(f"{a.text}\t{key_text(a.keys[:1])}")
        elif a.keys:
            act.setShortcuts([QKeySequence(k) for k in a.keys])
            act.setShortcutContext(Qt.WindowShortcut)
        if a.menu:
            menus[a.menu].addAction(act)
        else:
            window.addAction(act)
        actions[a.name] = act
    return actions
