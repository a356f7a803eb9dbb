"""The main window: feeds and episodes, the episode pane, the chapter
sidebar, the player bar, search and downloads."""

from __future__ import annotations

import html
import logging
import threading
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QObject, QSettings, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSplitter,
    QStyle,
    QTextEdit,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ibplayer import __version__
from ibplayer.domain.models import SOURCE_LABELS
from ibplayer.infra.paths import data_dir as resolve_data_dir
from ibplayer.infra.store import Library

from . import workers
from .dialogs import DEFAULTS, SettingsDialog, ShortcutsDialog, vlc_missing_dialog
from .models import (
    ChaptersModel,
    DownloadsModel,
    EpisodeIdRole,
    EpisodesModel,
    FeedIdRole,
    FeedsModel,
    HitRole,
    HitsModel,
    fmt_date,
    fmt_duration,
    fmt_time,
)
from .player import SPEEDS, Player
from .widgets import (
    SEEK_SCHEME,
    ChapterDelegate,
    ChapterSlider,
    DownloadBarDelegate,
    EpisodeStatusDelegate,
    FlowLayout,
    NotesBrowser,
    linkify_timestamps,
    plain_to_html,
)

log = logging.getLogger(__name__)


class _DownloadBridge(QObject):
    """DownloadQueue callbacks come from worker threads: emit only."""

    progress = Signal(str, object)
    done = Signal(str, object)
    failed = Signal(str, str)
    cancelled = Signal(str)
    paused = Signal(str)


def _is_text_input(w) -> bool:
    if isinstance(w, (QLineEdit, QAbstractSpinBox)):
        return True
    if isinstance(w, QComboBox) and w.isEditable():
        return True
    if isinstance(w, (QTextEdit, QPlainTextEdit)) and not w.isReadOnly():
        return True
    return False


class MainWindow(QMainWindow):
    def __init__(self, data_dir=None, *, backend=None, backend_args=(), auto_refresh: bool = True,
                 show_vlc_dialog: bool = True, mpris: bool = True) -> None:
        super().__init__()
        workers.init()
        self.data_dir = resolve_data_dir(data_dir)
        self.library = Library(self.data_dir)  # GUI-thread reads only
        self.writer = workers.LibraryWriter(self.data_dir)
        self.ui_settings = QSettings(str(self.data_dir / "ui.ini"), QSettings.IniFormat)
        self.auto_refresh = auto_refresh
        self._show_vlc_dialog = show_vlc_dialog
        self._closed = False
        self._started = False
        self._gen = {"episodes": 0, "search": 0}
        self._feed_id: int | None = None
        self._guest_filter: tuple[int, str] | None = None
        self.shown_episode = None  # EpisodeRow in the pane
        self._playing_chapters: list = []
        self._pending_select: int | None = None
        self.vlc_dialog = None
        self.shortcuts_dialog = None
        self._queue = None
        self._bridge = None
        self._queue_lock = threading.Lock()

        if backend is None:
            from ibplayer.infra.playback import create_backend

            backend = create_backend(tuple(backend_args))
        self.player = Player(backend, self.writer, self)
        self.prefs = dict(DEFAULTS)
        for k, v in DEFAULTS.items():
            raw = self.library.get_setting(k)
            if raw is not None:
                try:
                    self.prefs[k] = type(v)(float(raw)) if isinstance(v, int) else type(v)(raw)
                except ValueError:
                    pass

        self.setWindowTitle("ibplayer")
        self._build_ui()
        self._build_menus()
        self._connect_player()
        self._restore_state()
        self.player.set_rate(float(self.prefs["default_speed"]))
        QApplication.instance().installEventFilter(self)

        self.mpris = None
        if mpris:
            from .mpris import start_mpris

            self.mpris = start_mpris(self)

    # ================================================================ UI

    def _build_ui(self) -> None:
        st = self.style()
        # ---- left: search, feeds, filter, episodes
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(6, 6, 3, 0)
        self.search_box = QLineEdit(placeholderText="Search chapters, episodes, guests  (Ctrl+F)")
        self.search_box.setClearButtonEnabled(True)
        ll.addWidget(self.search_box)
        self.results_panel = QFrame()
        rl = QVBoxLayout(self.results_panel)
        rl.setContentsMargins(0, 0, 0, 0)
        rh = QHBoxLayout()
        self.results_label = QLabel()
        self.results_label.setWordWrap(True)
        close_results = QToolButton(text="✕", autoRaise=True, toolTip="Close the results")
        close_results.clicked.connect(self.close_results)
        rh.addWidget(self.results_label, 1)
        rh.addWidget(close_results)
        rl.addLayout(rh)
        self.hits_model = HitsModel(self)
        self.results_view = QListView()
        self.results_view.setModel(self.hits_model)
        self.results_view.setWordWrap(True)
        self.results_view.setAlternatingRowColors(True)
        self.results_view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.results_view.activated.connect(self._hit_activated)
        self.results_view.clicked.connect(self._hit_activated)
        rl.addWidget(self.results_view)
        self.results_panel.hide()

        self.feeds_model = FeedsModel(self)
        self.feed_view = QListView()
        self.feed_view.setModel(self.feeds_model)
        self.feed_view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.feed_view.setContextMenuPolicy(Qt.CustomContextMenu)
        self.feed_view.customContextMenuRequested.connect(self._feed_menu)
        self.feed_view.selectionModel().currentChanged.connect(self._feed_selected)

        episodes_box = QWidget()
        el = QVBoxLayout(episodes_box)
        el.setContentsMargins(0, 0, 0, 0)
        fl = QHBoxLayout()
        self.filter_box = QLineEdit(placeholderText="Filter by title or guest")
        self.filter_box.setClearButtonEnabled(True)
        self.unplayed_check = QCheckBox("Unplayed")
        self.downloaded_check = QCheckBox("Downloaded")
        fl.addWidget(self.filter_box, 1)
        fl.addWidget(self.unplayed_check)
        fl.addWidget(self.downloaded_check)
        el.addLayout(fl)
        self.banner = QFrame()
        bl = QHBoxLayout(self.banner)
        bl.setContentsMargins(6, 2, 2, 2)
        self.banner_label = QLabel()
        clear_banner = QToolButton(text="✕", autoRaise=True, toolTip="Show all episodes again")
        clear_banner.clicked.connect(self.clear_guest_filter)
        bl.addWidget(self.banner_label, 1)
        bl.addWidget(clear_banner)
        self.banner.setFrameShape(QFrame.StyledPanel)
        self.banner.hide()
        el.addWidget(self.banner)
        self.episodes_model = EpisodesModel(self)
        self.episode_view = QTreeView()
        self.episode_view.setModel(self.episodes_model)
        self.episode_view.setRootIsDecorated(False)
        self.episode_view.setUniformRowHeights(True)
        self.episode_view.setAlternatingRowColors(True)
        self.episode_view.setAllColumnsShowFocus(True)
        self.episode_view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.episode_view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.episode_view.setItemDelegateForColumn(EpisodesModel.STATUS, EpisodeStatusDelegate(self.episode_view))
        self.episode_view.setContextMenuPolicy(Qt.CustomContextMenu)
        self.episode_view.customContextMenuRequested.connect(self._episode_menu)
        self.episode_view.selectionModel().currentChanged.connect(self._episode_selected)
        self.episode_view.doubleClicked.connect(lambda idx: self.play_episode(self.episodes_model.episode_at(idx.row())))
        h = self.episode_view.header()
        h.setStretchLastSection(False)
        h.setSectionResizeMode(EpisodesModel.TITLE, QHeaderView.Stretch)
        h.setSectionResizeMode(EpisodesModel.GUEST, QHeaderView.Interactive)
        fm = self.fontMetrics()
        h.resizeSection(EpisodesModel.GUEST, fm.horizontalAdvance("Christian Szegedy") + 10)
        h.resizeSection(EpisodesModel.DATE, fm.horizontalAdvance(" 28 Sep 2025 ") + 8)
        h.resizeSection(EpisodesModel.LENGTH, fm.horizontalAdvance(" 1:59:59 ") + 8)
        h.resizeSection(EpisodesModel.STATUS, fm.horizontalAdvance(" Downloaded ") + 8)
        el.addWidget(self.episode_view, 1)

        self.left_splitter = QSplitter(Qt.Vertical)
        self.left_splitter.addWidget(self.feed_view)
        self.left_splitter.addWidget(episodes_box)
        self.left_splitter.setStretchFactor(0, 1)
        self.left_splitter.setStretchFactor(1, 5)
        self.left_splitter.setSizes([60, 700])
        ll.addWidget(self.results_panel, 2)
        ll.addWidget(self.left_splitter, 5)

        self.filter_timer = QTimer(self, singleShot=True, interval=150)
        self.filter_timer.timeout.connect(self.reload_episodes)
        self.filter_box.textChanged.connect(lambda: self.filter_timer.start())
        self.unplayed_check.toggled.connect(self.reload_episodes)
        self.downloaded_check.toggled.connect(self.reload_episodes)
        self.search_timer = QTimer(self, singleShot=True, interval=250)
        self.search_timer.timeout.connect(self._run_search)
        self.search_box.textChanged.connect(lambda: self.search_timer.start())
        self.search_box.returnPressed.connect(self._search_return)

        # ---- centre: episode pane
        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(8, 8, 8, 0)
        self.title_label = QLabel("Select an episode")
        tf = QFont(self.font())
        tf.setPointSizeF(tf.pointSizeF() * 1.35)
        tf.setBold(True)
        self.title_label.setFont(tf)
        self.title_label.setWordWrap(True)
        self.title_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.meta_label = QLabel()
        self.meta_label.setWordWrap(True)
        cl.addWidget(self.title_label)
        cl.addWidget(self.meta_label)
        actions = QHBoxLayout()
        self.pane_play_button = QPushButton(st.standardIcon(QStyle.SP_MediaPlay), "Play")
        self.pane_play_button.clicked.connect(self._pane_play_clicked)
        self.download_button = QPushButton(st.standardIcon(QStyle.SP_ArrowDown), "Download")
        self.download_button.clicked.connect(self._download_button_clicked)
        self.played_button = QPushButton("Mark played")
        self.played_button.clicked.connect(self._toggle_played_shown)
        self.pane_progress = QProgressBar()
        self.pane_progress.setMaximumWidth(160)
        # showing / hiding it and relabelling the button must not relayout the
        # pane (re-wrapping the notes and chips: ~25 ms at each download start)
        sp = self.pane_progress.sizePolicy()
        sp.setRetainSizeWhenHidden(True)
        self.pane_progress.setSizePolicy(sp)
        self.pane_progress.setMinimumWidth(40)  # the pane may still be narrow
        self.pane_progress.hide()
        bfm = self.download_button.fontMetrics()
        self.download_button.setFixedWidth(
            max(bfm.horizontalAdvance(t) for t in ("Download", "Cancel download", "Delete download"))
            + self.download_button.iconSize().width() + 24)
        for w in (self.pane_play_button, self.download_button, self.pane_progress, self.played_button):
            actions.addWidget(w)
        actions.addStretch(1)
        cl.addLayout(actions)
        self.guest_card = QFrame()
        self.guest_card.setFrameShape(QFrame.StyledPanel)
        gl = QVBoxLayout(self.guest_card)
        gl.setContentsMargins(8, 6, 8, 6)
        self.guest_label = QLabel()
        self.guest_label.setWordWrap(True)
        self.guest_label.setTextFormat(Qt.RichText)
        self.guest_label.linkActivated.connect(self._guest_link)
        gl.addWidget(self.guest_label)
        cl.addWidget(self.guest_card)
        self.topics_box = QWidget()
        # chips: rounded, tinted from the palette (light and dark themes);
        # one style sheet for the box, not one per button
        self.topics_box.setStyleSheet(
            "QPushButton#chip { background: palette(alternate-base); color: palette(text);"
            " border: 1px solid palette(mid); border-radius: 10px; padding: 2px 10px; }"
            " QPushButton#chip:hover { background: palette(highlight); color: palette(highlighted-text);"
            " border-color: palette(highlight); }"
            " QPushButton#chip:pressed { background: palette(dark); }")
        self.topics_layout = FlowLayout(self.topics_box)
        self.topic_buttons: list[QPushButton] = []
        cl.addWidget(self.topics_box)
        self.notes = NotesBrowser()
        self.notes.anchorClicked.connect(self._notes_link)
        cl.addWidget(self.notes, 1)

        # ---- right: chapter sidebar
        right = QWidget()
        rl2 = QVBoxLayout(right)
        rl2.setContentsMargins(3, 8, 6, 0)
        head = QHBoxLayout()
        ch_title = QLabel("<b>Chapters</b>")
        self.prev_chapter_button = QToolButton(toolTip="Previous chapter (Ctrl+← or P)")
        self.prev_chapter_button.setIcon(st.standardIcon(QStyle.SP_MediaSkipBackward))
        self.next_chapter_button = QToolButton(toolTip="Next chapter (Ctrl+→ or N)")
        self.next_chapter_button.setIcon(st.standardIcon(QStyle.SP_MediaSkipForward))
        self.prev_chapter_button.clicked.connect(self.previous_chapter)
        self.next_chapter_button.clicked.connect(self.next_chapter)
        head.addWidget(ch_title, 1)
        head.addWidget(self.prev_chapter_button)
        head.addWidget(self.next_chapter_button)
        rl2.addLayout(head)
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        rl2.addWidget(self.source_label)
        self.source_combo = QComboBox()
        self.source_combo.setToolTip("These chapter lists differ: choose which one to use")
        self.source_combo.activated.connect(self._source_chosen)
        self.source_combo.hide()
        rl2.addWidget(self.source_combo)
        self.chapters_model = ChaptersModel(self)
        self.chapter_view = QTreeView()
        self.chapter_view.setModel(self.chapters_model)
        self.chapter_view.setRootIsDecorated(False)
        # long chapter titles wrap (a few dozen rows: per-row heights are cheap here)
        self.chapter_view.setUniformRowHeights(False)
        self.chapter_view.setAllColumnsShowFocus(True)
        self.chapter_view.setWordWrap(True)
        self.chapter_view.setTextElideMode(Qt.ElideNone)
        self.chapter_view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.chapter_view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.chapter_view.setItemDelegate(ChapterDelegate(self.chapter_view))
        self.chapter_view.clicked.connect(self._chapter_clicked)
        self.chapter_view.activated.connect(self._chapter_clicked)
        ch = self.chapter_view.header()
        ch.setStretchLastSection(False)
        # fixed widths from the font (ResizeToContents measures every row on each change)
        tw = self.fontMetrics().horizontalAdvance("0:00:00") + 16
        ch.setSectionResizeMode(0, QHeaderView.Fixed)
        ch.setSectionResizeMode(1, QHeaderView.Stretch)
        ch.setSectionResizeMode(2, QHeaderView.Fixed)
        ch.resizeSection(0, tw)
        ch.resizeSection(2, tw)
        # wrapped rows get their heights again when the title column's width changes
        self._chapter_relayout = QTimer(self, singleShot=True, interval=50)
        self._chapter_relayout.timeout.connect(self.chapter_view.doItemsLayout)
        ch.sectionResized.connect(lambda i, _o, _n: i == 1 and self._chapter_relayout.start())
        rl2.addWidget(self.chapter_view, 1)
        self.chapter_progress = QProgressBar()
        self.chapter_progress.setRange(0, 1000)
        self.chapter_progress.setTextVisible(True)
        self.chapter_progress.setFormat("")
        rl2.addWidget(self.chapter_progress)
        self.no_chapters_label = QLabel("This episode has no chapters.")
        self.no_chapters_label.setWordWrap(True)
        self.no_chapters_label.hide()
        rl2.addWidget(self.no_chapters_label)

        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([560, 420, 420])

        # ---- bottom: player bar
        bar = QFrame()
        bar.setFrameShape(QFrame.StyledPanel)
        bar.setAutoFillBackground(True)
        pb = QVBoxLayout(bar)
        pb.setContentsMargins(8, 4, 8, 6)
        self.now_label = QLabel("Nothing playing")
        self.now_label.setTextFormat(Qt.PlainText)
        self.now_label.setMinimumWidth(100)
        self.now_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        pb.addWidget(self.now_label)
        row = QHBoxLayout()
        self.back_button = QToolButton()
        self.back_button.setIcon(st.standardIcon(QStyle.SP_MediaSeekBackward))
        self.back_button.clicked.connect(self.skip_back)
        self.play_button = QToolButton()
        self.play_button.setIcon(st.standardIcon(QStyle.SP_MediaPlay))
        self.play_button.setIconSize(QSize(28, 28))
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        self.fwd_button = QToolButton()
        self.fwd_button.setIcon(st.standardIcon(QStyle.SP_MediaSeekForward))
        self.fwd_button.clicked.connect(self.skip_forward)
        for b in (self.back_button, self.fwd_button):
            b.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self._update_skip_labels()
        self.elapsed_label = QLabel("")
        self.remaining_label = QLabel("")
        for lab in (self.elapsed_label, self.remaining_label):
            lab.setMinimumWidth(self.fontMetrics().horizontalAdvance("-0:00:00") + 6)
            lab.setAlignment(Qt.AlignCenter)
        self.slider = ChapterSlider()
        self.slider.seekRequested.connect(lambda t: self.player.seek(t))
        self.speed_combo = QComboBox()
        for s in SPEEDS:
            self.speed_combo.addItem(f"{s:g}×", s)
        self.speed_combo.setToolTip("Playback speed (pitch kept)")
        self.speed_combo.setCurrentIndex(
            min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - float(self.prefs["default_speed"]))))
        self.speed_combo.currentIndexChanged.connect(lambda i: self.player.set_rate(self.speed_combo.itemData(i)))
        self.mute_button = QToolButton(checkable=True, toolTip="Mute (M)")
        self.mute_button.setIcon(st.standardIcon(QStyle.SP_MediaVolume))
        self.mute_button.toggled.connect(self._mute_toggled)
        self.volume_slider = QSlider(Qt.Horizontal)
        self.volume_slider.setRange(0, 100)
        self.volume_slider.setValue(int(self.ui_settings.value("volume", 100)))
        self.volume_slider.setMaximumWidth(110)
        self.volume_slider.setToolTip("Volume")
        self.volume_slider.valueChanged.connect(self.player.set_volume)
        self.player.set_volume(self.volume_slider.value())
        for w in (self.back_button, self.play_button, self.fwd_button, self.elapsed_label):
            row.addWidget(w)
        row.addWidget(self.slider, 1)
        for w in (self.remaining_label, self.speed_combo, self.mute_button, self.volume_slider):
            row.addWidget(w)
        pb.addLayout(row)
        for w in (self.back_button, self.play_button, self.fwd_button, self.slider, self.speed_combo,
                  self.mute_button, self.volume_slider, self.prev_chapter_button, self.next_chapter_button):
            w.setFocusPolicy(Qt.NoFocus)  # keys belong to the shortcuts

        central = QWidget()
        vl = QVBoxLayout(central)
        vl.setContentsMargins(0, 0, 0, 0)
        vl.setSpacing(0)
        vl.addWidget(self.splitter, 1)
        vl.addWidget(bar)
        self.setCentralWidget(central)

        # ---- downloads dock
        self.downloads_model = DownloadsModel(self)
        self.downloads_view = QTreeView()
        self.downloads_view.setModel(self.downloads_model)
        self.downloads_view.setRootIsDecorated(False)
        self.downloads_view.setUniformRowHeights(True)
        self.downloads_view.setItemDelegateForColumn(2, DownloadBarDelegate(self.downloads_view))
        self.downloads_view.setContextMenuPolicy(Qt.CustomContextMenu)
        self.downloads_view.customContextMenuRequested.connect(self._downloads_menu)
        self.downloads_view.header().setSectionResizeMode(0, QHeaderView.Stretch)
        self.downloads_view.header().setStretchLastSection(False)
        self.downloads_view.header().resizeSection(2, 180)
        self.downloads_dock = QDockWidget("Downloads", self)
        self.downloads_dock.setObjectName("downloads")
        self.downloads_dock.setWidget(self.downloads_view)
        self.addDockWidget(Qt.BottomDockWidgetArea, self.downloads_dock)
        self.downloads_dock.hide()

        # ---- status bar
        self.status_label = QLabel()
        self.statusBar().addWidget(self.status_label, 1)
        self.offline_label = QLabel("● Offline")
        self.offline_label.setToolTip("The last refresh could not reach the network")
        self.offline_label.hide()
        self.statusBar().addPermanentWidget(self.offline_label)
        self.vlc_label = QLabel()
        self.statusBar().addPermanentWidget(self.vlc_label)
        if not self.player.available:
            self.vlc_label.setText("No audio: VLC missing")

        self._show_episode(None)

        # shortcuts
        self.find_shortcut = QShortcut(QKeySequence.Find, self, activated=self.focus_search)
        QShortcut(QKeySequence("Ctrl+L"), self, activated=lambda: (self.filter_box.setFocus(), self.filter_box.selectAll()))
        QShortcut(QKeySequence(Qt.Key_Escape), self.search_box, activated=self._escape_search,
                  context=Qt.WidgetShortcut)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        fm = mb.addMenu("&File")
        fm.addAction("&Add Feed…", QKeySequence("Ctrl+N"), self.add_feed_dialog)
        fm.addAction("&Refresh All", QKeySequence("F5"), self.refresh_all)
        fm.addSeparator()
        fm.addAction("&Import OPML…", self.import_opml)
        fm.addAction("&Export OPML…", self.export_opml)
        fm.addSeparator()
        fm.addAction("&Settings…", QKeySequence("Ctrl+,"), self.settings_dialog)
        fm.addSeparator()
        fm.addAction("&Quit", QKeySequence.Quit, self.close)
        vm = mb.addMenu("&View")
        act = self.downloads_dock.toggleViewAction()
        act.setText("&Downloads")
        act.setShortcut(QKeySequence("Ctrl+D"))
        vm.addAction(act)
        pm = mb.addMenu("&Playback")
        # Keys are handled by the window's event filter (so text fields keep
        # theirs); the menu shows them.
        for text, keys, slot in (
            ("Play / Pause", "Space", self.toggle_play),
            ("Skip Back", "Left", self.skip_back),
            ("Skip Forward", "Right", self.skip_forward),
            ("Previous Chapter", "P", self.previous_chapter),
            ("Next Chapter", "N", self.next_chapter),
        ):
            a = QAction(f"{text}\t{QKeySequence(keys).toString(QKeySequence.NativeText)}", self)
            a.triggered.connect(slot)
            pm.addAction(a)
        hm = mb.addMenu("&Help")
        hm.addAction("&Keyboard Shortcuts", QKeySequence("F1"), self.show_shortcuts)
        hm.addAction("&About ibplayer", self.about)

    def _update_skip_labels(self) -> None:
        b, f = int(self.prefs["skip_back"]), int(self.prefs["skip_forward"])
        self.back_button.setText(f"{b}")
        self.back_button.setToolTip(f"Back {b} s (←)")
        self.fwd_button.setText(f"{f}")
        self.fwd_button.setToolTip(f"Forward {f} s (→)")

    # ================================================================ start-up

    def start(self) -> None:
        """First launch (default feed) and the background refresh."""
        if self._started:
            return
        self._started = True
        last = self.ui_settings.value("last_episode")
        if last is not None:
            try:
                self._pending_select = int(last)
            except (TypeError, ValueError):
                pass
        self.reload_feeds()
        if not self.library.feeds():
            self.set_status("First launch: subscribing to the default feed…")
            workers.run_task(workers.core_task(self.data_dir, lambda core: core.ensure_default()),
                             self._guard(self._default_done), self._guard(self._task_failed))
        elif self.auto_refresh:
            # after the list has painted: the refresh's imports and parsing
            # would otherwise compete with the first paint for the GIL
            self._refresh_when_loaded = True

    _refresh_when_loaded = False

    def _after_first_load(self) -> None:
        """Once the first episode list is shown: the start-up refresh, then
        (at idle) the download machinery, so the first Download click does
        not import httpx or set up TLS on the GUI thread."""
        if self._refresh_when_loaded:
            self._refresh_when_loaded = False
            QTimer.singleShot(150, self._guard(self.refresh_all))
        QTimer.singleShot(300, self._guard(self._prepare_downloads))

    def _default_done(self, result) -> None:
        self.reload_feeds()
        if result is not None:
            self.set_status(result.line())
            self.set_offline(result.status in ("snapshot", "offline"), result.error)
            if result.status != "snapshot" and self.auto_refresh:
                self.refresh_all()
        elif self.auto_refresh:
            self.refresh_all()

    def refresh_all(self) -> None:
        """Refresh every feed in the helper process (parsing there cannot
        stall this window's thread; see :mod:`.procs`)."""
        self.set_status("Refreshing feeds…")
        fallback = workers.core_task(self.data_dir, lambda core: core.refresh())
        workers.run_task(workers.in_helper(fallback, "refresh", str(self.data_dir)),
                         self._guard(self._refresh_done), self._guard(self._task_failed))

    def _refresh_done(self, results) -> None:
        offline = [r for r in results if r.status == "offline"]
        errors = [r for r in results if r.status == "error"]
        new = sum(r.new for r in results)
        if not results:
            self.set_status("No feeds to refresh.")
        elif offline and len(offline) == len(results):
            self.set_status("Offline: showing what the library has.")
        else:
            msg = f"Refreshed {len(results)} feed{'s' if len(results) != 1 else ''}: {new} new episode{'s' if new != 1 else ''}"
            if errors:
                msg += f"; {len(errors)} failed ({errors[0].line()})"
            self.set_status(msg)
        self.set_offline(bool(offline), offline[0].error if offline else None)
        if any(r.new or r.updated for r in results):
            self.reload_feeds()

    def set_status(self, text: str) -> None:
        self.status_label.setText(text)

    def set_offline(self, offline: bool, why: str | None = None) -> None:
        self.offline_label.setVisible(offline)
        if why:
            self.offline_label.setToolTip(f"Offline: {why}")

    def _guard(self, fn):
        """Drop callbacks that arrive after the window closed."""

        def wrapped(*args):
            if not self._closed:
                fn(*args)

        return wrapped

    def _task_failed(self, exc: BaseException) -> None:
        self.set_status(f"Error: {exc}")
        log.warning("task failed: %s", getattr(exc, "__traceback_text__", exc))

    # ================================================================ feeds & episodes

    def reload_feeds(self) -> None:
        feeds = self.library.feeds()
        current = self._feed_id
        self.feeds_model.set_feeds(feeds)
        row = self.feeds_model.row_for_feed(current)
        # the selection model emits currentChanged (-> _feed_selected -> a
        # second, parallel episode query): block it, we reload just below
        sm = self.feed_view.selectionModel()
        sm.blockSignals(True)
        self.feed_view.setCurrentIndex(self.feeds_model.index(row))
        sm.blockSignals(False)
        self.reload_episodes()

    def _feed_selected(self, current: QModelIndex, _prev=None) -> None:
        self._feed_id = current.data(FeedIdRole) if current.isValid() else None
        self._guest_filter = None
        self.banner.hide()
        self.reload_episodes()

    def reload_episodes(self) -> None:
        """Load the episode list in a worker; stale results are dropped."""
        self._gen["episodes"] += 1
        gen = self._gen["episodes"]
        feed_id, text = self._feed_id, self.filter_box.text().strip()
        unplayed, downloaded = self.unplayed_check.isChecked(), self.downloaded_check.isChecked()
        guest = self._guest_filter
        query = (feed_id, text, unplayed, downloaded, guest)

        def fetch(lib):
            if guest is not None:
                eps = lib.episodes_with_person(guest[0])
                if text:
                    t = text.lower()
                    eps = [e for e in eps if t in e.title.lower() or t in e.guest_names.lower()]
                if unplayed:
                    eps = [e for e in eps if not e.played]
                if downloaded:
                    eps = [e for e in eps if e.file]
                return eps
            return lib.episodes(feed_id, text=text or None, unplayed=unplayed, downloaded=downloaded)

        def done(rows):
            if gen != self._gen["episodes"]:
                return
            self._set_episode_rows(rows, query)

        workers.run_task(workers.library_task(self.data_dir, fetch), self._guard(done), self._guard(self._task_failed))

    _shown_query = None

    def _set_episode_rows(self, rows, query=None) -> None:
        keep = self.shown_episode.id if self.shown_episode else self._pending_select
        # keep in-memory playback state for the loaded episode
        pe = self.player.episode
        if pe is not None:
            for ep in rows:
                if ep.id == pe.id:
                    ep.position, ep.played = pe.position, pe.played
                    break
        first = self._shown_query is None
        if query is not None and query == self._shown_query:
            # same list, newer contents (a refresh, a download): insert /
            # remove / repaint only what changed, no reset and relayout
            how = self.episodes_model.update_rows(rows)
        else:
            self.episodes_model.set_rows(rows)
            how = "reset"
        self._shown_query = query
        # a feed without itunes:duration: no empty Length column
        hide_length = not any(ep.duration for ep in rows)
        if self.episode_view.isColumnHidden(EpisodesModel.LENGTH) != hide_length:
            self.episode_view.setColumnHidden(EpisodesModel.LENGTH, hide_length)
        for eid in self.downloads_model.active():
            job = self.downloads_model.job(eid)
            self.episodes_model.set_download(eid, job["fraction"] if job["fraction"] is not None else -1.0)
        try:
            if keep is not None:
                r = self.episodes_model.row_of(keep)
                if r >= 0:
                    self._pending_select = None
                    idx = self.episodes_model.index(r, 0)
                    if self.episode_view.currentIndex().row() != r:
                        self.episode_view.setCurrentIndex(idx)
                    if how == "reset":
                        self.episode_view.scrollTo(idx, QAbstractItemView.PositionAtCenter)
                    self.episodes_loaded.emit(len(rows))
                    return
            if self.shown_episode is None and rows:
                self._pending_select = None
                self.episode_view.setCurrentIndex(self.episodes_model.index(0, 0))
            self.episodes_loaded.emit(len(rows))
        finally:
            if first:
                self._after_first_load()

    episodes_loaded = Signal(int)

    def _episode_selected(self, current: QModelIndex, _prev=None) -> None:
        if not current.isValid():
            return
        ep = self.episodes_model.episode_at(current.row())
        if ep is not None and (self.shown_episode is None or ep.id != self.shown_episode.id):
            self._show_episode(ep)

    def select_episode(self, episode_id: int) -> bool:
        """Show an episode (selecting it in the list when it is there)."""
        r = self.episodes_model.row_of(episode_id)
        if r >= 0:
            self.episode_view.setCurrentIndex(self.episodes_model.index(r, 0))
            self.episode_view.scrollTo(self.episodes_model.index(r, 0))
            return True
        ep = self.library.episode(episode_id)
        if ep is None:
            return False
        self._show_episode(ep)
        return True

    # ================================================================ episode pane

    def _show_episode(self, ep) -> None:
        self.shown_episode = ep
        has = ep is not None
        for w in (self.pane_play_button, self.download_button, self.played_button):
            w.setVisible(has)
        self.guest_card.setVisible(False)
        self.topics_box.setVisible(False)
        if not has:
            self.title_label.setText("Select an episode")
            self.meta_label.setText("")
            self.notes.setHtml("")
            self.chapters_model.set_chapters([], None)
            self._chapters_ui(None, [], {})
            self.pane_progress.hide()
            return
        self.ui_settings.setValue("last_episode", ep.id)
        pe = self.player.episode
        if pe is not None and pe.id == ep.id:
            ep = pe
            self.shown_episode = ep
        self._update_pane_play()
        self.title_label.setText(ep.title)
        self._update_meta()
        guests = ep.guests or self.library.guests(ep.id)
        if guests:
            parts = []
            for p in guests:
                link = f'<a href="guest:{html.escape(p.name, quote=True)}"><b>{html.escape(p.name)}</b></a>'
                if p.affiliations:
                    link += " — " + html.escape(", ".join(p.affiliations))
                parts.append(link)
            self.guest_label.setText(("Guest: " if len(guests) == 1 else "Guests:<br>") + "<br>".join(parts))
            self.guest_label.setToolTip("Click a guest to list every episode with them")
            self.guest_card.setVisible(True)
        topics = self.library.topics(ep.id)
        for b in self.topic_buttons:
            self.topics_layout.removeWidget(b)
            b.deleteLater()
        self.topic_buttons = []
        for t in topics[:12]:
            b = QPushButton(t)
            b.setFlat(False)
            b.setCursor(Qt.PointingHandCursor)
            b.setToolTip(f"Every chapter about “{t}” in the library")
            b.setObjectName("chip")
            b.clicked.connect(lambda _=False, t=t: self.show_topic(t))
            self.topics_layout.addWidget(b)
            self.topic_buttons.append(b)
        self.topics_box.setVisible(bool(topics))
        notes = self.library.notes_html(ep.id) or (plain_to_html(ep.summary) if ep.summary else "")
        self.notes.setHtml(linkify_timestamps(notes, ep.duration) if notes else "<p><i>No show notes.</i></p>")
        self.reload_chapters()
        self._update_download_ui()

    def _update_meta(self) -> None:
        ep = self.shown_episode
        if ep is None:
            return
        bits = [ep.feed_title, fmt_date(ep.published)]
        if ep.duration:
            bits.append(fmt_duration(ep.duration))
        if ep.played:
            bits.append("played")
        elif ep.position:
            bits.append(f"stopped at {fmt_time(ep.position)}")
        if ep.file:
            bits.append("downloaded")
        self.meta_label.setText(" · ".join(b for b in bits if b))
        self.played_button.setText("Mark unplayed" if ep.played else "Mark played")

    def reload_chapters(self, source: str | None = None) -> None:
        ep = self.shown_episode
        if ep is None:
            return
        sets = self.library.chapter_sets(ep.id)
        src, chapters = self.library.chapters(ep.id, source)
        self.chapters_model.set_chapters(chapters, ep.duration or self.player.length(), src)
        self._chapters_ui(src, chapters, sets)
        if self._shown_is_playing():
            self.chapter_progress.setVisible(bool(chapters))
            self.player.set_chapters(self.chapters_model.starts())
            self._playing_chapters = self.chapters_model.chapters()
            self.slider.set_ticks(self.chapters_model.starts())
            self._on_time(self.player.time())

    def _chapters_ui(self, src, chapters, sets) -> None:
        self.no_chapters_label.setVisible(not chapters and self.shown_episode is not None)
        self.chapter_view.setVisible(bool(chapters) or self.shown_episode is None)
        self.chapter_progress.setVisible(bool(chapters) and self._shown_is_playing())
        self.chapter_progress.setValue(0)
        self.chapter_progress.setFormat("")
        if src:
            self.source_label.setText(f"Chapters from {SOURCE_LABELS.get(src, src).replace('Show notes', 'show notes')}"
                                      f" · {len(chapters)}")
        else:
            self.source_label.setText("")
        disagree = len(sets) > 1 and self.shown_episode is not None and self.library.chapters_disagree(self.shown_episode.id)
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        if len(sets) > 1:
            for s in sorted(sets, key=lambda s: SOURCE_LABELS.get(s, s)):
                self.source_combo.addItem(f"{SOURCE_LABELS.get(s, s)} ({len(sets[s])} chapters)", s)
            self.source_combo.setCurrentIndex(max(0, self.source_combo.findData(src)))
            self.source_combo.setToolTip("The chapter sources differ: choose one" if disagree
                                         else "Several chapter sources exist")
        self.source_combo.setVisible(len(sets) > 1)
        self.source_combo.blockSignals(False)

    def _source_chosen(self, index: int) -> None:
        ep = self.shown_episode
        src = self.source_combo.itemData(index)
        if ep is None or not src:
            return
        eid = ep.id
        self.writer.submit(lambda lib: lib.set_chapter_source(eid, src))
        self.reload_chapters(src)

    def _shown_is_playing(self) -> bool:
        return (self.shown_episode is not None and self.player.episode is not None
                and self.shown_episode.id == self.player.episode.id)

    def _guest_link(self, link: str) -> None:
        if link.startswith("guest:"):
            self.show_guest(html.unescape(link[6:]))

    def show_guest(self, name: str) -> None:
        pid = self.library.person_id(name)
        if pid is None:
            return
        self._guest_filter = (pid, name)
        self.banner_label.setText(f"Episodes with <b>{html.escape(name)}</b>")
        self.banner.show()
        self.reload_episodes()

    def clear_guest_filter(self) -> None:
        self._guest_filter = None
        self.banner.hide()
        self.reload_episodes()

    def show_topic(self, topic: str) -> None:
        self._gen["search"] += 1
        gen = self._gen["search"]

        def done(hits):
            if gen == self._gen["search"]:
                self._show_hits(hits, f"Chapters on <b>{html.escape(topic)}</b> across the library")

        workers.run_task(workers.library_task(self.data_dir, lambda lib: lib.chapters_with_topic(topic)),
                         self._guard(done), self._guard(self._task_failed))

    def _notes_link(self, url: QUrl) -> None:
        scheme = url.scheme().lower()
        if scheme == SEEK_SCHEME:
            try:
                t = float(url.path() or url.toString().split(":", 1)[1])
            except (ValueError, IndexError):
                return
            ep = self.shown_episode
            if ep is None:
                return
            if self._shown_is_playing():
                self.player.seek(t, play=True)
            else:
                self.play_episode(ep, start=t)
        elif scheme in ("http", "https"):
            QDesktopServices.openUrl(url)
        # anything else (mailto:, javascript:, file:...) is ignored

    # ================================================================ search

    def focus_search(self) -> None:
        self.search_box.setFocus(Qt.ShortcutFocusReason)
        self.search_box.selectAll()

    def _escape_search(self) -> None:
        self.search_box.clear()
        self.close_results()
        self.episode_view.setFocus()

    def _search_return(self) -> None:
        self.search_timer.stop()
        self._run_search()

    def _run_search(self) -> None:
        q = self.search_box.text().strip()
        self._gen["search"] += 1
        gen = self._gen["search"]
        if not q:
            self.close_results()
            return

        def done(hits):
            if gen == self._gen["search"]:
                self._show_hits(hits, f"{len(hits)} result{'s' if len(hits) != 1 else ''} for “{html.escape(q)}”")

        workers.run_task(workers.library_task(self.data_dir, lambda lib: lib.search(q)),
                         self._guard(done), self._guard(self._task_failed))

    search_done = Signal(int)

    def _show_hits(self, hits, label: str) -> None:
        self.hits_model.set_hits(hits)
        self.results_label.setText(label if hits else label + "<br><i>Nothing found.</i>")
        self.results_panel.show()
        self.search_done.emit(len(hits))

    def close_results(self) -> None:
        self.results_panel.hide()
        self.hits_model.set_hits([])

    def _hit_activated(self, index: QModelIndex) -> None:
        hit = index.data(HitRole)
        if hit is not None:
            self.activate_hit(hit)

    def activate_hit(self, hit) -> None:
        """A chapter hit plays its episode from that chapter; an episode hit
        opens it; a guest hit lists the guest's episodes."""
        if hit.kind == "guest":
            self.select_episode(hit.episode_id)
            self.show_guest(hit.title)
            return
        if hit.episode_id is None:
            return
        self.select_episode(hit.episode_id)
        if hit.kind == "chapter" and self.shown_episode is not None:
            if self._shown_is_playing():
                self.player.seek(hit.start or 0.0, play=True)
            else:
                self.play_episode(self.shown_episode, start=hit.start or 0.0)

    # ================================================================ playback

    def _connect_player(self) -> None:
        p = self.player
        p.timeChanged.connect(self._on_time)
        p.lengthChanged.connect(self._on_length)
        p.stateChanged.connect(self._on_state)
        p.chapterChanged.connect(self._on_chapter)
        p.error.connect(lambda m: self.set_status(f"Playback error: {m}"))
        p.positionSaved.connect(self._position_saved)

    def play_episode(self, ep, start: float | None = None) -> None:
        if ep is None:
            return
        if self.player.episode is not None and self.player.episode.id == ep.id and start is None:
            if not self.player.is_playing():
                self.player.play()
            return
        if self.shown_episode is None or self.shown_episode.id != ep.id:
            self.select_episode(ep.id)
            ep = self.shown_episode or ep
        if not self.player.load(ep, start=start, play=False):
            return  # no playable source (e.g. a non-http(s) enclosure): the player said why
        self.player.set_chapters(self.chapters_model.starts() if self._shown_is_playing() else [])
        self._playing_chapters = self.chapters_model.chapters() if self._shown_is_playing() else []
        self.slider.set_ticks(self.chapters_model.starts() if self._shown_is_playing() else [])
        self.player.set_rate(self.speed_combo.currentData())
        self.chapter_progress.setVisible(self._shown_is_playing() and self.chapters_model.rowCount() > 0)
        self.player.play()
        self._on_time(self.player.time())
        self._update_now()

    def _pane_play_clicked(self) -> None:
        """The pane's button: Play/Pause for the episode it shows."""
        if self._shown_is_playing():
            self.player.toggle()
        else:
            self.play_episode(self.shown_episode)

    def _update_pane_play(self) -> None:
        self.pane_play_button.setText("Pause" if self._shown_is_playing() and self.player.is_playing() else "Play")

    def toggle_play(self) -> None:
        if self.player.episode is None:
            self.play_episode(self.shown_episode)
        else:
            self.player.toggle()

    def skip_back(self) -> None:
        self.player.skip(-float(self.prefs["skip_back"]))

    def skip_forward(self) -> None:
        self.player.skip(float(self.prefs["skip_forward"]))

    def next_chapter(self) -> None:
        self.player.next_chapter()

    def previous_chapter(self) -> None:
        self.player.previous_chapter()

    def _mute_toggled(self, muted: bool) -> None:
        self.player.set_mute(muted)
        self.mute_button.setIcon(self.style().standardIcon(QStyle.SP_MediaVolumeMuted if muted else QStyle.SP_MediaVolume))

    def _chapter_clicked(self, index: QModelIndex) -> None:
        if not index.isValid() or self.shown_episode is None:
            return
        start = self.chapters_model.chapters()[index.row()].start
        if self._shown_is_playing():
            self.player.seek(start, play=True)
        else:
            self.play_episode(self.shown_episode, start=start)

    def highlighted_chapter(self) -> int:
        """The chapter row highlighted in the sidebar (-1: none)."""
        idx = self.chapter_view.currentIndex()
        if not self._shown_is_playing():
            return -1
        cur = self.chapters_model.current()
        return cur if idx.isValid() and idx.row() == cur else -1

    def _on_time(self, t: float) -> None:
        length = self.player.length() or 0.0
        self.slider.set_time(t)
        self.elapsed_label.setText(fmt_time(t))
        self.remaining_label.setText("-" + fmt_time(max(0.0, length - t)) if length else "")
        if self._shown_is_playing() and self.chapters_model.rowCount():
            changed = self.chapters_model.update_time(t)
            cur = self.chapters_model.current()
            if cur >= 0:
                idx = self.chapters_model.index(cur, 0)
                if changed or self.chapter_view.currentIndex().row() != cur:
                    self.chapter_view.setCurrentIndex(idx)
                    self.chapter_view.scrollTo(idx, QAbstractItemView.EnsureVisible)
                d = self.chapters_model.duration_of(cur)
                self.chapter_progress.setValue(int(self.chapters_model.progress() * 1000))
                into = t - self.chapters_model.starts()[cur]
                self.chapter_progress.setFormat(
                    f"{fmt_time(into)} / {fmt_time(d)} in chapter {cur + 1}" if d else f"chapter {cur + 1}")
            else:
                self.chapter_view.clearSelection()
                self.chapter_progress.setValue(0)
                self.chapter_progress.setFormat("")
        if self.mpris is not None:
            self.mpris.time_changed(t)

    def _on_length(self, length: float) -> None:
        self.slider.set_length(length)
        if self._shown_is_playing():
            self.chapters_model.set_duration(length)

    def _on_state(self, state: str) -> None:
        icon = QStyle.SP_MediaPause if state == "playing" else QStyle.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self._update_pane_play()
        if state == "ended":
            self.set_status("Finished: " + (self.player.episode.title if self.player.episode else ""))
        elif state == "error" and self.player.episode is None:
            # a failed start: nothing stays looking loaded, no chapter highlighted
            self.chapter_view.setCurrentIndex(QModelIndex())
            self.chapter_view.clearSelection()
            self.chapter_progress.setVisible(False)
            self.slider.set_ticks([])
            self._playing_chapters = []
        self._update_now()
        if self.mpris is not None:
            self.mpris.state_changed(state)

    def _on_chapter(self, i: int) -> None:
        self._update_now()
        if self.mpris is not None:
            self.mpris.metadata_changed()

    def current_chapter_title(self) -> str | None:
        i = self.player.chapter()
        if 0 <= i < len(self._playing_chapters):
            return self._playing_chapters[i].title
        return None

    def _update_now(self) -> None:
        ep = self.player.episode
        if ep is None:
            self.now_label.setText("Nothing playing")
            self.setWindowTitle("ibplayer")
            return
        text = ep.title
        ch = self.current_chapter_title()
        if ch:
            text += f"  —  Chapter {self.player.chapter() + 1}: {ch}"
        self.now_label.setText(text)
        self.now_label.setToolTip(text)
        self.slider.set_length(self.player.length())
        self.setWindowTitle(f"{ep.title} — ibplayer")

    def _position_saved(self, eid: int, pos: float, played: bool) -> None:
        self.episodes_model.update_episode(eid, position=pos, played=played)
        if self.shown_episode is not None and self.shown_episode.id == eid:
            self.shown_episode.position, self.shown_episode.played = pos, played
            self._update_meta()
        if played:
            self.writer.submit(lambda lib: None, self._guard(lambda _: self.feeds_model.set_feeds(self.library.feeds())))

    def _toggle_played_shown(self) -> None:
        ep = self.shown_episode
        if ep is None:
            return
        self.set_played(ep, not ep.played)

    def set_played(self, ep, played: bool) -> None:
        eid = ep.id
        ep.played = played
        if played:
            ep.position = 0.0
        if self.player.episode is not None and self.player.episode.id == eid:
            self.player.episode.played = played
            self.player._marked_played = played
        self.writer.submit(lambda lib: lib.set_played(eid, played))
        self.episodes_model.update_episode(eid, played=played, position=ep.position)
        self._update_meta()

    # ================================================================ downloads

    def _make_bridge(self) -> _DownloadBridge:
        """The queue's callbacks (GUI thread; the queue calls them from its threads)."""
        if getattr(self, "_bridge", None) is None:
            self._bridge = _DownloadBridge(self)
            self._bridge.progress.connect(self._dl_progress)
            self._bridge.done.connect(self._dl_done)
            self._bridge.failed.connect(self._dl_failed)
            self._bridge.cancelled.connect(lambda j: self._dl_state(j, "cancelled"))
            self._bridge.paused.connect(lambda j: self._dl_state(j, "paused"))
        return self._bridge

    def _queue_maker(self):
        """A function (for a worker thread) that creates the DownloadQueue once:
        importing httpx and ibplayer.infra.downloader and the client's TLS set-up take
        ~150 ms, which the GUI thread must not spend."""
        b = self._make_bridge()
        max_dl = int(self.prefs["max_downloads"])
        lock = self._queue_lock

        def make():
            with lock:
                if self._queue is None and not self._closed:
                    from ibplayer.infra.downloader import DownloadQueue

                    self._queue = DownloadQueue(
                        max_concurrent=max_dl,
                        on_progress=b.progress.emit, on_done=b.done.emit, on_error=b.failed.emit,
                        on_paused=b.paused.emit, on_cancelled=b.cancelled.emit,
                    )
                return self._queue

        return make

    def _prepare_downloads(self) -> None:
        """At idle after start-up: create the download queue in a worker (and
        import what a download and a refresh need there, not on the GUI thread
        at the first click)."""
        if self._queue is not None or self._closed:
            return
        make = self._queue_maker()

        def job():
            make()
            import ibplayer.infra.audiofile  # noqa: F401 - read after each download
            import ibplayer.services.core  # noqa: F401 - the refresh's and each download's preparation

        workers.run_task(job, None, lambda exc: log.warning("preparing downloads: %s", exc))

    def _download_queue(self):
        if self._queue is None:
            self._queue_maker()()  # not prepared yet (a very early click): here then
        return self._queue

    def is_downloading(self, eid: int) -> bool:
        job = self.downloads_model.job(eid)
        return bool(job and job["state"] in ("queued", "running", "preparing"))

    def download(self, ep) -> None:
        if ep is None or ep.file or self.is_downloading(ep.id):
            return
        self.downloads_model.upsert(ep.id, title=ep.title, state="preparing", fraction=None, message="", done=0)
        self.episodes_model.set_download(ep.id, 0.0)
        self._update_download_ui()
        title, url = ep.title, ep.audio_url
        eid, expected = ep.id, ep.audio_length

        make_queue = self._queue_maker()

        def prepare(core):
            make_queue()  # in this worker, not on the GUI thread
            # The core picks (and remembers) the file name, so the CLI and the
            # app resume the same .part after a crash.
            dest = core.download_path(eid, reserve=True)
            dest.parent.mkdir(parents=True, exist_ok=True)
            return dest

        def go(dest):
            job = self.downloads_model.job(eid)
            if job is None or job["state"] != "preparing":
                return  # cancelled meanwhile
            self.downloads_model.upsert(eid, state="queued", dest=str(dest))
            self._download_queue().add(str(eid), url, Path(dest), expected)

        def failed(exc):
            self._dl_failed(str(eid), str(exc))

        workers.run_task(workers.core_task(self.data_dir, prepare), self._guard(go), self._guard(failed))
        self.set_status(f"Downloading “{title}”…")

    def cancel_download(self, eid: int) -> None:
        job = self.downloads_model.job(eid)
        if job is None:
            return
        if job["state"] == "preparing":
            self._dl_state(str(eid), "cancelled")
        elif self._queue is not None:
            self._queue.cancel(str(eid))

    def delete_download(self, ep) -> None:
        if ep is None or not ep.file:
            return
        eid = ep.id

        def rm(core):
            core.delete_download(eid)  # the file, any .part and sidecar; keeps position
            return core.library.episode(eid)

        workers.run_task(workers.core_task(self.data_dir, rm), self._guard(self._episode_updated))

    def _dl_progress(self, job_id: str, prog) -> None:
        eid = int(job_id)
        frac = prog.fraction
        self.downloads_model.upsert(eid, state="running", fraction=frac, done=prog.bytes_done, total=prog.total,
                                    speed=prog.speed)
        self.episodes_model.set_download(eid, frac if frac is not None else -1.0)
        if self.shown_episode is not None and self.shown_episode.id == eid:
            self._update_download_ui()

    def _dl_done(self, job_id: str, path) -> None:
        eid = int(job_id)
        self.downloads_model.upsert(eid, state="recording", fraction=1.0)

        def record(core):
            # File, size, real duration, the file's own chapters, cached
            # Podcasting 2.0 chapters, feed chapters re-checked: one place.
            return core.finish_download(eid, path)

        def recorded(ep):
            self.downloads_model.upsert(eid, state="done", fraction=1.0, message="")
            self.episodes_model.set_download(eid, None)
            self.set_status(f"Downloaded “{ep.title}”" if ep else "Download finished")
            self._episode_updated(ep)

        workers.run_task(workers.core_task(self.data_dir, record), self._guard(recorded),
                         self._guard(lambda exc: self._dl_failed(job_id, f"could not record the download: {exc}")))

    def _episode_updated(self, ep) -> None:
        if ep is None:
            return
        old = self.episodes_model.episode_at(self.episodes_model.row_of(ep.id))
        if old is not None:
            ep.guests = ep.guests or old.guests
        if self.player.episode is not None and self.player.episode.id == ep.id:
            ep.position, ep.played = self.player.episode.position, self.player.episode.played
            self.player.episode.file = ep.file
            self.player.episode.duration = ep.duration
        self.episodes_model.replace_episode(ep)
        if self.shown_episode is not None and self.shown_episode.id == ep.id:
            if self.player.episode is not None and self.player.episode.id == ep.id:
                self.shown_episode = self.player.episode
            else:
                self.shown_episode = ep
            self._update_meta()
            self.reload_chapters()
            self._update_download_ui()
        self.downloads_changed.emit(ep.id)

    downloads_changed = Signal(int)

    def _dl_failed(self, job_id: str, message: str) -> None:
        eid = int(job_id)
        self.downloads_model.upsert(eid, state="error", message=message)
        self.episodes_model.set_download(eid, None)
        self.set_status(f"Download failed: {message}")
        self._update_download_ui()

    def _dl_state(self, job_id: str, state: str) -> None:
        eid = int(job_id)
        self.downloads_model.upsert(eid, state=state)
        self.episodes_model.set_download(eid, None)
        self._update_download_ui()

    def _update_download_ui(self) -> None:
        ep = self.shown_episode
        if ep is None:
            return
        job = self.downloads_model.job(ep.id)
        busy = self.is_downloading(ep.id)
        if busy:
            self.download_button.setText("Cancel download")
            frac = job["fraction"]
            self.pane_progress.setRange(0, 1000 if frac is not None else 0)
            self.pane_progress.setValue(int((frac or 0) * 1000))
            self.pane_progress.show()
        else:
            self.pane_progress.hide()
            self.download_button.setText("Delete download" if ep.file else "Download")
        self.download_button.setToolTip(ep.file or "")

    def _download_button_clicked(self) -> None:
        ep = self.shown_episode
        if ep is None:
            return
        if self.is_downloading(ep.id):
            self.cancel_download(ep.id)
        elif ep.file:
            if QMessageBox.question(self, "Delete download", f"Delete the downloaded file of “{ep.title}”?") \
                    == QMessageBox.Yes:
                self.delete_download(ep)
        else:
            self.download(ep)
            self.downloads_dock.show()

    # ================================================================ menus

    def _episode_menu(self, pos) -> None:
        idx = self.episode_view.indexAt(pos)
        ep = self.episodes_model.episode_at(idx.row()) if idx.isValid() else None
        if ep is None:
            return
        m = QMenu(self)
        m.addAction("Play", lambda: self.play_episode(ep))
        if self.is_downloading(ep.id):
            m.addAction("Cancel download", lambda: self.cancel_download(ep.id))
        elif ep.file:
            m.addAction("Delete download", lambda: self.delete_download(ep))
        else:
            m.addAction("Download", lambda: self.download(ep))
        m.addAction("Mark unplayed" if ep.played else "Mark played", lambda: self.set_played(ep, not ep.played))
        if ep.link and ep.link.startswith(("http://", "https://")):
            m.addAction("Open episode web page", lambda: QDesktopServices.openUrl(QUrl(ep.link)))
        m.exec(self.episode_view.viewport().mapToGlobal(pos))

    def _downloads_menu(self, pos) -> None:
        idx = self.downloads_view.indexAt(pos)
        if not idx.isValid():
            return
        eid = idx.data(EpisodeIdRole)
        m = QMenu(self)
        if self.is_downloading(eid):
            m.addAction("Cancel", lambda: self.cancel_download(eid))
        m.addAction("Show episode", lambda: self.select_episode(eid))
        m.exec(self.downloads_view.viewport().mapToGlobal(pos))

    def _feed_menu(self, pos) -> None:
        idx = self.feed_view.indexAt(pos)
        fid = idx.data(FeedIdRole) if idx.isValid() else None
        m = QMenu(self)
        m.addAction("Refresh all", self.refresh_all)
        if fid is not None:
            def refresh_one():
                fallback = workers.core_task(self.data_dir, lambda c: [c.refresh_feed(fid)])
                workers.run_task(workers.in_helper(fallback, "refresh", str(self.data_dir), f"[{int(fid)}]"),
                                 self._guard(self._refresh_done), self._guard(self._task_failed))

            m.addAction("Refresh this feed", refresh_one)
            m.addAction("Unsubscribe…", lambda: self.unsubscribe(fid, idx.data(Qt.DisplayRole)))
        m.addAction("Add feed…", self.add_feed_dialog)
        m.exec(self.feed_view.viewport().mapToGlobal(pos))

    def unsubscribe(self, fid: int, title: str) -> None:
        if QMessageBox.question(self, "Unsubscribe", f"Unsubscribe from {title}? Downloads stay on disk.") \
                != QMessageBox.Yes:
            return
        if self.player.episode is not None and self.player.episode.feed_id == fid:
            self.player.unload()
        self._feed_id = None
        self.writer.submit(lambda lib: lib.delete_feed(fid), self._guard(lambda _: self.reload_feeds()))

    def add_feed_dialog(self) -> None:
        url, ok = QInputDialog.getText(self, "Add Feed", "Podcast feed URL (RSS):")
        if ok and url.strip():
            self.add_feed(url.strip())

    def add_feed(self, url: str) -> None:
        self.set_status(f"Subscribing to {url}…")

        def done(result):
            self.set_status(result.line())
            self._feed_id = result.feed_id
            self.reload_feeds()

        def failed(exc):
            self.set_status(f"Could not subscribe: {exc}")
            QMessageBox.warning(self, "Add Feed", f"Could not subscribe to {url}:\n{exc}")

        workers.run_task(workers.core_task(self.data_dir, lambda core: core.subscribe(url)),
                         self._guard(done), self._guard(failed))

    def import_opml(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import OPML", "", "OPML (*.opml *.xml);;All files (*)")
        if not path:
            return
        self.set_status("Importing OPML…")

        def done(results):
            ok = sum(1 for r in results if not isinstance(r, str))
            bad = [r for r in results if isinstance(r, str)]
            self.set_status(f"Imported {ok} feed{'s' if ok != 1 else ''}" + (f"; {len(bad)} failed" if bad else ""))
            if bad:
                QMessageBox.warning(self, "Import OPML", "Some feeds failed:\n" + "\n".join(bad[:20]))
            self.reload_feeds()

        workers.run_task(workers.core_task(self.data_dir, lambda core: core.opml_import(path)),
                         self._guard(done), self._guard(self._task_failed))

    def export_opml(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export OPML", "ibplayer-feeds.opml", "OPML (*.opml)")
        if not path:
            return
        workers.run_task(workers.core_task(self.data_dir, lambda core: core.opml_export(path)),
                         self._guard(lambda n: self.set_status(f"Exported {n} feeds to {path}")),
                         self._guard(self._task_failed))

    def settings_dialog(self) -> None:
        values = dict(self.prefs)
        values["download_dir"] = self.library.get_setting("download_dir") or str(self.data_dir / "downloads")
        dlg = SettingsDialog(values, self)
        if dlg.exec() != SettingsDialog.Accepted:
            return
        self.apply_settings(dlg.values())

    def apply_settings(self, values: dict) -> None:
        for k in DEFAULTS:
            if k in values:
                self.prefs[k] = values[k]
        saved = {k: str(self.prefs[k]) for k in DEFAULTS}
        folder = values.get("download_dir")
        if folder:
            saved["download_dir"] = folder

        def write(lib):
            for k, v in saved.items():
                lib.set_setting(k, v)

        self.writer.submit(write)
        self._update_skip_labels()
        if self._queue is not None:
            self._queue.set_max_concurrent(int(self.prefs["max_downloads"]))

    def show_shortcuts(self) -> None:
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = ShortcutsDialog(self)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()

    def about(self) -> None:
        from ibplayer.infra import vlcloader

        info = "VLC: not found" if not self.player.available else "VLC: " + str(vlcloader.vlc_info().get("version", "?"))
        QMessageBox.about(self, "About ibplayer",
                          f"<b>ibplayer {__version__}</b><p>A podcast player for long interview shows, "
                          f"with chapters beside the player.</p><p>{html.escape(info)}<br>"
                          f"Library: {html.escape(str(self.data_dir))}</p>")

    # ================================================================ keys

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if event.type() != QEvent.KeyPress or self._closed:
            return False
        if not isinstance(obj, QWidget) or obj.window() is not self:
            return False  # dialogs and other windows keep their keys
        focus = QApplication.focusWidget() or obj
        if _is_text_input(focus) or _is_text_input(obj):
            return False  # typing in the search / filter box
        return self.handle_key(event.key(), event.modifiers())

    def handle_key(self, key, mods) -> bool:
        mods = mods & (Qt.ControlModifier | Qt.ShiftModifier | Qt.AltModifier | Qt.MetaModifier)
        if mods == Qt.NoModifier:
            if key == Qt.Key_Space:
                self.toggle_play()
            elif key == Qt.Key_Left:
                self.skip_back()
            elif key == Qt.Key_Right:
                self.skip_forward()
            elif key == Qt.Key_N:
                self.next_chapter()
            elif key == Qt.Key_P:
                self.previous_chapter()
            elif key == Qt.Key_M:
                self.mute_button.toggle()
            else:
                return False
            return True
        if mods == Qt.ControlModifier:
            if key == Qt.Key_Left:
                self.previous_chapter()
            elif key == Qt.Key_Right:
                self.next_chapter()
            else:
                return False
            return True
        return False

    # ================================================================ state

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self.player.available and self._show_vlc_dialog and self.vlc_dialog is None:
            QTimer.singleShot(0, self._show_vlc_missing)

    def _show_vlc_missing(self) -> None:
        if self._closed or self.vlc_dialog is not None:
            return
        from ibplayer.infra import vlcloader

        self.vlc_dialog = vlc_missing_dialog(self, vlcloader.install_hint(), getattr(self.player.backend, "reason", None))
        self.vlc_dialog.show()

    def _restore_state(self) -> None:
        s = self.ui_settings
        geo = s.value("geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1360, 840)
        st = s.value("window_state")
        if st is not None:
            self.restoreState(st)
        for name, sp in (("splitter", self.splitter), ("left_splitter", self.left_splitter)):
            v = s.value(name)
            if v is not None:
                sp.restoreState(v)
        for name, hv in (("episode_header", self.episode_view.header()),):
            v = s.value(name)
            if v is not None:
                hv.restoreState(v)

    def save_state(self) -> None:
        s = self.ui_settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("window_state", self.saveState())
        s.setValue("splitter", self.splitter.saveState())
        s.setValue("left_splitter", self.left_splitter.saveState())
        s.setValue("episode_header", self.episode_view.header().saveState())
        s.setValue("volume", self.volume_slider.value())
        if self.shown_episode is not None:
            s.setValue("last_episode", self.shown_episode.id)
        s.sync()

    def closeEvent(self, event) -> None:  # noqa: N802
        if not self._closed:
            self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Save the resume position and the layout; stop downloads and the writer."""
        if self._closed:
            return
        self.save_state()
        self.player.shutdown()
        self._closed = True
        QApplication.instance().removeEventFilter(self)
        if self.mpris is not None:
            self.mpris.close()
        with self._queue_lock:
            queue = self._queue
        if queue is not None:
            try:
                queue.shutdown(timeout=5)
            except Exception:  # noqa: BLE001
                log.exception("stopping downloads")
        self.writer.flush()
        self.writer.close()
        workers.wait_idle(5000)
        self.library.close()
        if self.vlc_dialog is not None:
            self.vlc_dialog.close()


def build_main_window(data_dir=None, backend_args=("--aout=dummy",), *, backend=None, show: bool = True,
                      auto_refresh: bool = False, show_vlc_dialog: bool = False, mpris: bool = False) -> MainWindow:
    """A ready main window (for `ibplayer selftest` and tests): creates the
    QApplication when needed (offscreen without a display)."""
    from .app import ensure_app

    ensure_app()
    w = MainWindow(data_dir, backend=backend, backend_args=backend_args, auto_refresh=auto_refresh,
                   show_vlc_dialog=show_vlc_dialog, mpris=mpris)
    if show:
        w.show()
    w.start()
    return w
