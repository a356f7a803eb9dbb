"""The main window: lays out the areas (one controller each, see
:mod:`.controllers`), owns the player and the one writer through which every
change goes to the services, and applies the services' `Changes` in one
place (:meth:`MainWindow.apply_changes`)."""

from __future__ import annotations

import html
import json
import logging

from PySide6.QtCore import QByteArray, QEvent, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from ibplayer import __version__
from ibplayer.infra.paths import data_dir as resolve_data_dir
from ibplayer.services.changes import Changes

from . import actions, startup, workers
from .controllers.downloads import DownloadsController
from .controllers.episodes import EpisodeListController
from .controllers.pane import EpisodePaneController
from .controllers.playerbar import PlayerBarController
from .controllers.queue import QueueController
from .controllers.search import SearchController
from .controllers.sidebar import ChapterSidebarController
from .dialogs import AddFeedDialog, SettingsDialog, ShortcutsDialog, ask, vlc_missing_dialog, warn
from .player import DeferredBackend, Player

log = logging.getLogger(__name__)

PREFS = startup.PREFS
_prefs_from = startup.prefs_from


def _is_text_input(w) -> bool:
    if isinstance(w, (QLineEdit, QAbstractSpinBox)):
        return True
    if isinstance(w, QComboBox) and w.isEditable():
        return True
    if isinstance(w, (QTextEdit, QPlainTextEdit)) and not w.isReadOnly():
        return True
    return False


class MainWindow(QMainWindow):
    episodes_loaded = Signal(int)
    search_done = Signal(int)
    downloads_changed = Signal(int)

    def __init__(self, data_dir=None, *, backend=None, backend_args=(), auto_refresh: bool = True,
                 show_vlc_dialog: bool = True, mpris: bool = True, prepared: startup.Prepared | None = None) -> None:
        super().__init__()
        workers.init()
        self.data_dir = resolve_data_dir(data_dir)
        if prepared is None or prepared.data_dir != self.data_dir:
            # before the first paint, once: the only library read on this thread; then
            # the lists, read in a worker while the widgets are built (`run_gui` starts
            # both before importing this module)
            prepared = startup.Prepared(self.data_dir)
        self.prefs, self.library_notice = prepared.prefs, prepared.notice
        self._early_read, prepared.early = prepared.early, None
        from .theme import apply_theme

        apply_theme(self.prefs.get("theme", "system"))  # before the widgets take their icons
        self.writer = workers.CoreWriter(self.data_dir, self._guard(self.apply_changes))
        self.closed = False
        self.ui_settings = QSettings(str(self.data_dir / "ui.ini"), QSettings.IniFormat)
        self.auto_refresh = auto_refresh
        self._show_vlc_dialog = show_vlc_dialog
        self.closed = False
        self._started = False
        self._refresh_when_loaded = False
        self.refresh_timer = QTimer(self)  # the scheduled background refresh (setting refresh_every)
        self.refresh_timer.timeout.connect(self._scheduled_refresh)
        self.refreshing = False
        self.notifier = None
        self.shown_episode = None  # the EpisodeRow in the pane
        self.vlc_dialog = None
        self.shortcuts_dialog = None
        self._fitted = False

        if backend is None:  # libVLC starts after the first paint (or at the first playback call)
            args = tuple(backend_args)

            def make_backend():
                from ibplayer.infra.playback import create_backend

                return create_backend(args)

            backend = DeferredBackend(make_backend)
        self.player = Player(backend, self.writer, self, start_timeout=float(self.prefs["start_timeout"]))

        self.setWindowTitle("ibplayer")
        self.episodes = EpisodeListController(self)
        self.search = SearchController(self)
        self.pane = EpisodePaneController(self)
        self.sidebar = ChapterSidebarController(self)
        self.bar = PlayerBarController(self)
        self.downloads = DownloadsController(self)
        self.upnext = QueueController(self)
        self._layout()
        self.actions_by_name = actions.build(self)
        self._keys = actions.playback_keys()
        self._connect_player()
        self._restore_state()
        self.player.set_rate(float(self.prefs["default_speed"]))
        self.pane.show_episode(None)
        QApplication.instance().installEventFilter(self)
        self.player.backendReady.connect(self._guard(self._backend_known))
        self.mpris = None
        self._want_mpris = mpris  # started after the first paint (after_first_paint)
        self.mpris_tried = False  # start_mpris has run (None in self.mpris then means: no bus)
        self._painted = False
        self._loaded_once = False
        self._backend_waiters: list = []  # run once the deferred backend exists (when_backend)

    # The widgets tests, MPRIS and the selftest reach (each controller owns its own).
    player_bar = property(lambda self: self.bar)
    episodes_model = property(lambda self: self.episodes.model)
    episode_view = property(lambda self: self.episodes.view)
    feeds_model = property(lambda self: self.episodes.feeds_model)
    filter_box = property(lambda self: self.episodes.filter_box)
    unplayed_check = property(lambda self: self.episodes.unplayed_check)
    downloaded_check = property(lambda self: self.episodes.downloaded_check)
    banner = property(lambda self: self.episodes.banner)
    chapters_model = property(lambda self: self.sidebar.model)
    chapter_view = property(lambda self: self.sidebar.view)
    source_combo = property(lambda self: self.sidebar.source_combo)
    source_label = property(lambda self: self.sidebar.source_label)
    search_box = property(lambda self: self.search.box)
    results_panel = property(lambda self: self.search.panel)
    results_view = property(lambda self: self.search.view)
    hits_model = property(lambda self: self.search.model)
    notes = property(lambda self: self.pane.notes)
    meta_label = property(lambda self: self.pane.meta_label)
    title_label = property(lambda self: self.pane.title_label)
    download_button = property(lambda self: self.pane.download_button)
    pane_play_button = property(lambda self: self.pane.play_button)
    pane_progress = property(lambda self: self.pane.progress)
    downloads_model = property(lambda self: self.downloads.model)
    slider = property(lambda self: self.bar.slider)
    now_label = property(lambda self: self.bar.now_label)
    elapsed_label = property(lambda self: self.bar.elapsed_label)
    volume_slider = property(lambda self: self.bar.volume_slider)
    _closed = property(lambda self: self.closed)

    def _layout(self) -> None:
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(6, 6, 3, 0)
        ll.addWidget(self.search.box)
        self.left_splitter = QSplitter(Qt.Vertical)
        self.left_splitter.addWidget(self.episodes.feed_view)
        self.left_splitter.addWidget(self.episodes.box)
        self.left_splitter.setStretchFactor(0, 1)
        self.left_splitter.setStretchFactor(1, 5)
        self.left_splitter.setSizes([60, 700])
        ll.addWidget(self.search.panel, 2)
        ll.addWidget(self.left_splitter, 5)

        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.pane.widget)
        self.splitter.addWidget(self.sidebar.widget)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([560, 420, 420])
        for b in (self.sidebar.prev_button, self.sidebar.next_button):
            b.setFocusPolicy(Qt.NoFocus)

        central = QWidget()
        vl = QVBoxLayout(central)
        vl.setContentsMargins(0, 0, 0, 0)
        vl.setSpacing(0)
        vl.addWidget(self.splitter, 1)
        vl.addWidget(self.bar.widget)
        self.setCentralWidget(central)
        self.addDockWidget(Qt.BottomDockWidgetArea, self.downloads.dock)
        self.downloads.dock.hide()
        self.addDockWidget(Qt.BottomDockWidgetArea, self.upnext.dock)
        self.upnext.dock.hide()

        self.status_label = QLabel()
        self.status_label.setTextFormat(Qt.PlainText)  # feed titles and errors are never markup
        self.statusBar().addWidget(self.status_label, 1)
        self.offline_label = QLabel("● Offline")
        self.offline_label.setToolTip("The last refresh could not reach the network")
        self.offline_label.hide()
        self.statusBar().addPermanentWidget(self.offline_label)
        self.vlc_label = QLabel()
        self.statusBar().addPermanentWidget(self.vlc_label)
        if not self.player.available:
            self.vlc_label.setText("No audio: VLC missing")
        QShortcut(QKeySequence(Qt.Key_Escape), self.search.box, activated=self.search.escape,
                  context=Qt.WidgetShortcut)

    # ================================================================ running work

    def _guard(self, fn):
        """Drop callbacks that arrive after the window closed."""

        def wrapped(*args):
            if not self.closed:
                fn(*args)

        return wrapped

    def read(self, fn, done=None) -> None:
        """``fn(library)`` in a worker; ``done(result)`` back here."""
        workers.run_task(workers.library_task(self.data_dir, fn), self._guard(done) if done else None,
                         self._guard(self._task_failed))

    def write(self, fn, done=None, failed=None) -> None:
        """``fn(core)`` on the writer thread, in order: every change goes
        through the services; their `Changes` come to :meth:`apply_changes`."""
        self.writer.submit(fn, self._guard(done) if done else None,
                           self._guard(failed or self._task_failed))

    def run(self, fn, done=None, failed=None) -> None:
        """A long service call (network, file reads) ``fn(core)`` on a pool
        thread with its own Core; its `Changes` come to :meth:`apply_changes`."""
        workers.run_task(workers.core_task(self.data_dir, fn, on_changes=self._guard(self.apply_changes)),
                         self._guard(done) if done else None, self._guard(failed or self._task_failed))

    def _task_failed(self, exc: BaseException) -> None:
        self.set_status(f"Error: {exc}")
        log.warning("task failed: %s", getattr(exc, "__traceback_text__", exc))

    def apply_changes(self, changes: Changes) -> None:
        """The one place the window follows what the services changed."""
        if not changes or self.closed:
            return
        if changes.feeds_removed and self.episodes.feed_id in changes.feeds_removed:
            self.episodes.feed_id = None
        if changes.feed_list or changes.feeds or changes.feeds_removed:
            self.episodes.reload_feeds()  # and the episode list
        elif changes.episodes:
            self.episodes.reload_episodes()
        shown = self.shown_episode
        if shown is not None and shown.id in (changes.episodes | changes.chapters):
            self.pane.reload()
        if changes.queue:
            self.upnext.reload()
        if changes.settings:
            self.read(lambda lib: _prefs_from(lib), self._prefs_loaded)

    def _prefs_loaded(self, prefs: dict) -> None:
        self.prefs = prefs
        self.bar.update_skip_labels()
        self.downloads.set_max_concurrent(int(prefs["max_downloads"]))
        self.player.session.start_timeout = float(prefs["start_timeout"])
        self.schedule_refresh()
        self.set_theme(prefs.get("theme", "system"))

    def set_theme(self, name: str) -> None:
        """Apply a theme (the setting theme); cached row colours follow."""
        from . import theme

        before = theme.current
        if theme.apply_theme(name) != before:
            m = self.episodes.model
            m._dim = None
            m._cache.clear()
            if m.rowCount():
                m.dataChanged.emit(m.index(0, 0), m.index(m.rowCount() - 1, m._NC - 1))

    def schedule_refresh(self) -> None:
        """Refresh every ``refresh_every`` minutes (0: never) while the app runs."""
        minutes = int(self.prefs.get("refresh_every") or 0)
        if minutes <= 0 or not self.auto_refresh:
            self.refresh_timer.stop()
        elif self.refresh_timer.interval() != minutes * 60_000 or not self.refresh_timer.isActive():
            self.refresh_timer.start(minutes * 60_000)

    def _scheduled_refresh(self) -> None:
        if not self.refreshing and not self.closed:
            self.refresh_all()

    # ================================================================ start-up and refresh

    def start(self) -> None:
        """The episode list, first launch (the default feed) and the
        background refresh."""
        if self._started:
            return
        self._started = True
        last = self.ui_settings.value("last_episode")
        try:
            self.episodes.pending_select = int(last) if last is not None else None
        except (TypeError, ValueError):
            pass
        early, self._early_read = self._early_read, None
        self.episodes.first_load(self._started_with, early)
        self.episodes.view.setFocus(Qt.OtherFocusReason)  # not the search box: Space plays
        # the rest (libVLC, MPRIS, Up Next, continue, the refreshes) once the list has painted

    def after_first_paint(self) -> None:
        """Once the first episode list has painted: start what the first
        paint does not need (each would compete with it for the GIL)."""
        if self._painted or self.closed:
            return
        self._painted = True
        # libVLC (~100 ms of plugin loading, on a pool thread) once the pane has filled: started
        # right away it held up the first paints (measured); "continue" asks for it sooner
        QTimer.singleShot(800, self._guard(lambda: self.when_backend(None)))
        self.pane.release_hold()
        QTimer.singleShot(0, self._guard(self._after_first_paint_2))  # one step a loop turn: input stays live

    def _after_first_paint_2(self) -> None:
        # continue where the listener left off: the last episode, loaded and paused
        from ibplayer.services.resume import continue_point

        self.read(continue_point, self._continue)
        self.upnext.reload()
        self.schedule_refresh()
        if self._refresh_when_loaded:
            self._refresh_when_loaded = False
            QTimer.singleShot(150, self._guard(self.refresh_all))
        QTimer.singleShot(300, self._guard(self.downloads.prepare))
        if self._want_mpris and self.mpris is None:  # media keys can wait a second: not while the pane fills
            QTimer.singleShot(1000, self._guard(self._start_mpris))

    def _start_mpris(self) -> None:
        from . import mpris  # its Qt types (~20 ms) in this loop turn, the bus in the next

        def start():
            if self.mpris is None:
                self.mpris = mpris.start_mpris(self)
            self.mpris_tried = True

        QTimer.singleShot(0, self._guard(start))

    def _continue(self, found) -> None:
        if found is None or self.player.episode is not None:
            return  # nothing to continue, or the listener already started something
        ep, speed = found

        def load():
            if self.player.episode is None:
                self._load_and_play(self.shown_episode or ep, None, play=False)
                self.bar.apply_speed(speed)

        self.select_episode(ep.id, then=lambda: self.when_backend(load))

    def when_backend(self, fn) -> None:
        """``fn()`` once the player's backend exists: a deferred libVLC is
        created on a pool thread first (not on this one)."""
        if isinstance(self.player.backend, DeferredBackend):
            if fn is not None:
                self._backend_waiters.append(fn)
            self.player.realize_backend(in_thread=True, guard=self._guard)
        elif fn is not None:
            fn()

    def _started_with(self, has_feeds: bool) -> None:
        if not has_feeds:
            self.episodes.reload_feeds()
            self.set_status("First launch: subscribing to the default feed…")
            self.run(lambda core: core.ensure_default(), self._default_done)
        elif self.auto_refresh:
            # after the list has painted: the refresh's imports and parsing
            # would otherwise compete with the first paint for the GIL
            self._refresh_when_loaded = True

    def after_first_load(self) -> None:
        """The first episode list is in the model: :meth:`after_first_paint`
        runs once the list has painted (see :meth:`eventFilter`), or soon in
        any case (a hidden window never paints).  That starts the start-up
        refresh and (at idle) the download machinery, so the first Download
        click does not import httpx or set up TLS on the GUI thread."""
        self._loaded_once = True
        QTimer.singleShot(250, self._guard(self.after_first_paint))

    def _default_done(self, result) -> None:
        if result is not None:
            self.set_status(result.line())
            self.set_offline(result.status in ("snapshot", "offline"), result.error)
            if result.status != "snapshot" and self.auto_refresh:
                self.refresh_all()
        elif self.auto_refresh:
            self.refresh_all()

    def refresh_all(self, feed_ids: list[int] | None = None) -> None:
        """Refresh in a worker process (parsing there cannot stall this
        window's thread; :mod:`ibplayer.services.worker`), then apply the
        per-feed policies, as the CLI does after its refresh."""
        self.set_status("Refreshing feeds…")
        self.refreshing = True
        args = ("refresh", str(self.data_dir)) + ((json.dumps(list(feed_ids)),) if feed_ids else ())
        fallback = workers.core_task(self.data_dir, lambda core: core.refresh(feed_ids))
        def failed(exc):
            self.refreshing = False
            self._task_failed(exc)

        workers.run_task(workers.in_process(fallback, *args), self._guard(self._refresh_done), self._guard(failed))

    refreshed = Signal(int)

    def _refresh_done(self, results) -> None:
        self.refreshing = False
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
        if results:  # the last real network result: offline only when no feed got through
            self.set_offline(len(offline) == len(results), offline[0].error if offline else None)
        if new and self.prefs.get("notify_new"):
            self.notify_new(results)
        changes = Changes()
        for r in results:
            changes |= r.changes
        self.apply_changes(changes)
        # the per-feed policies: deletions in the writer, downloads in the queue
        self.write(lambda core: core.plan_policies(), self._policies_planned)

    def notify_new(self, results) -> bool:
        """A desktop notification for the episodes a refresh brought (the
        setting notify_new); False when no notification service answered."""
        from .notify import Notifier

        if self.notifier is None:
            self.notifier = Notifier(self)
        new = [r for r in results if r.new]
        total = sum(r.new for r in new)
        title = f"{total} new episode{'s' if total != 1 else ''}"
        body = "\n".join(f"{r.title or r.url}: {r.new} new" for r in new[:5])
        return self.notifier.notify(title, body)

    def _policies_planned(self, plan) -> None:
        for ep, why, _freed in plan.deleted:
            log.info("deleted download %r (%s)", ep.title, why)
        self.downloads.download_ids(plan.download)
        if plan.queued:
            n = len(plan.queued)
            self.set_status(f"{self.status_label.text()}; {n} added to Up Next".lstrip("; "))
        self.refreshed.emit(len(plan.download))

    def set_status(self, text: str) -> None:
        self.status_label.setText(text)

    def set_offline(self, offline: bool, why: str | None = None) -> None:
        self.offline_label.setVisible(offline)
        if why:
            self.offline_label.setToolTip(f"Offline: {why}")

    # ================================================================ episodes

    def shown_is_loaded(self) -> bool:
        """The pane shows the episode loaded in the player."""
        return (self.shown_episode is not None and self.player.episode is not None
                and self.shown_episode.id == self.player.episode.id)

    _shown_is_playing = shown_is_loaded

    def select_episode(self, episode_id: int, then=None) -> bool:
        """Show an episode (selecting it in the list when it is there), then
        call ``then()``.  Returns False only when it is known not to exist."""
        if self.episodes.select(episode_id) and self.shown_episode is not None \
                and self.shown_episode.id == episode_id:
            if then:
                then()
            return True

        def found(ep):
            if ep is None:
                return
            self.pane.show_episode(ep)
            if then:
                then()

        self.read(lambda lib: lib.episode(episode_id), found)
        return True

    def set_played(self, ep, played: bool) -> None:
        eid = ep.id
        ep.played = played
        if played:
            ep.position = 0.0
        if self.player.episode is not None and self.player.episode.id == eid:
            self.player.episode.played = played
            self.player._marked_played = played
        self.episodes.model.update_episode(eid, played=played, position=ep.position)
        self.pane.update_meta()
        self.write(lambda core: core.set_played(eid, played))

    def unsubscribe(self, fid: int, title: str) -> None:
        if not ask(self, "Unsubscribe", f"Unsubscribe from {title}? Downloads stay on disk."):
            return
        if self.player.episode is not None and self.player.episode.feed_id == fid:
            self.player.unload()
        self.write(lambda core: core.library_service.unsubscribe(str(fid)))

    def add_feed_dialog(self) -> AddFeedDialog:
        """The Add Feed dialog (non-blocking; subscribing runs in the background)."""
        dlg = AddFeedDialog(self)
        dlg.setAttribute(Qt.WA_DeleteOnClose)
        dlg.show()
        return dlg

    def add_feed(self, url: str) -> None:
        self.set_status(f"Subscribing to {url}…")

        def done(result):
            self.set_status(result.line())
            self.episodes.feed_id = result.feed_id

        def failed(exc):
            self.set_status(f"Could not subscribe: {exc}")
            warn(self, "Add Feed", f"Could not subscribe to {url}:\n{exc}")

        self.run(lambda core: core.subscribe(url), done, failed)

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
                warn(self, "Import OPML", "Some feeds failed:\n" + "\n".join(bad[:20]))

        self.run(lambda core: core.opml_import(path), done)

    def export_opml(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export OPML", "ibplayer-feeds.opml", "OPML (*.opml)")
        if path:
            self.run(lambda core: core.opml_export(path), lambda n: self.set_status(f"Exported {n} feeds to {path}"))

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
            self.select_episode(ep.id, then=lambda: self._load_and_play(self.shown_episode or ep, start))
            return
        self._load_and_play(self.shown_episode, start)

    def _load_and_play(self, ep, start: float | None, *, play: bool = True) -> None:
        self.pane.requested(ep, start)  # what Retry plays again if this start fails
        if not self.player.load(ep, start=start, play=False):
            return  # no playable source (e.g. a non-http(s) enclosure): the player said why
        loaded = self.shown_is_loaded()
        self.sidebar.hand_to_player(loaded)  # chapters with titles, the feed's skip words
        self.sidebar.playing_chapters = self.sidebar.model.chapters() if loaded else []
        self.bar.slider.set_ticks(self.sidebar.model.starts() if loaded else [])
        self.player.set_rate(self.bar.speed_combo.currentData())
        if play:  # (at launch the speed comes with the episode)
            self.bar.use_speed_of(self.player.episode)
        self.sidebar.progress.setVisible(loaded and self.sidebar.model.rowCount() > 0)
        if play:
            self.player.play()
        self._on_time(self.player.time())
        self.bar.update_now()

    def play_at(self, seconds: float) -> None:
        """Play the shown episode from ``seconds`` (a chapter, a timestamp in
        the notes, a search hit)."""
        if self.shown_episode is None:
            return
        if self.shown_is_loaded():
            self.player.seek(seconds, play=True)
        else:
            self.play_episode(self.shown_episode, start=seconds)

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

    def skip_chapter(self) -> None:
        self.sidebar.skip_chapter()

    def continue_unheard(self) -> None:
        self.sidebar.continue_unheard()

    def toggle_mute(self) -> None:
        self.bar.mute_button.toggle()

    def highlighted_chapter(self) -> int:
        return self.sidebar.highlighted()

    def current_chapter_title(self) -> str | None:
        return self.sidebar.current_title()

    def _on_time(self, t: float) -> None:
        self.bar.on_time(t)
        self.sidebar.on_time(t)

    def _on_length(self, length: float) -> None:
        self.bar.on_length(length)
        self.sidebar.on_length(length)

    def _on_state(self, state: str) -> None:
        self.bar.on_state(state)
        self.episodes.model.set_now_playing(self.player.episode.id if self.player.episode is not None else None)
        self.pane.update_play_button()
        if state == "ended":
            self.set_status("Finished: " + (self.player.episode.title if self.player.episode else ""))
        elif state == "error" and self.player.episode is None:
            self.sidebar.unloaded()  # a failed start: nothing stays looking loaded

    def _on_chapter(self, _i: int) -> None:
        self.bar.update_now()

    def _position_saved(self, eid: int, pos: float, played: bool) -> None:
        self.episodes.model.update_episode(eid, position=pos, played=played)
        if self.shown_episode is not None and self.shown_episode.id == eid:
            self.shown_episode.position, self.shown_episode.played = pos, played
            self.pane.update_meta()

    # ================================================================ actions

    def focus_search(self) -> None:
        self.search.focus()

    def focus_filter(self) -> None:
        self.episodes.filter_box.setFocus()
        self.episodes.filter_box.selectAll()

    def toggle_up_next(self) -> None:
        self.upnext.toggle()
    def show_new(self) -> None:
        """The "New" entry of the feed list."""
        fv = self.episodes.feed_view
        fv.setCurrentIndex(self.episodes.feeds_model.index(1))

    def mark_all_seen(self) -> None:
        self.episodes.mark_all_seen()

    def toggle_downloads(self) -> None:
        self.downloads.toggle()  # an empty dock stays hidden

    def download(self, ep) -> None:
        self.downloads.download(ep)

    def show_guest(self, name: str) -> None:
        self.episodes.show_guest(name)

    def clear_guest_filter(self) -> None:
        self.episodes.clear_guest_filter()

    def show_topic(self, topic: str) -> None:
        self.search.show_topic(topic)

    def activate_hit(self, hit) -> None:
        self.search.activate(hit)

    def settings_dialog(self) -> None:
        values = dict(self.prefs)
        values["download_dir"] = values.get("download_dir") or str(self.data_dir / "downloads")
        dlg = SettingsDialog(values, self)
        if dlg.exec() == SettingsDialog.Accepted:
            self.apply_settings(dlg.values())

    def apply_settings(self, values: dict) -> None:
        """Through the settings service (validated there); the window follows
        the `Changes` it returns."""
        values = {k: v for k, v in values.items() if k in PREFS and not (k == "download_dir" and not v)}
        self.write(lambda core: core.emit(core.settings.set(values)))  # Settings.set returns, the bus announces

    def show_shortcuts(self) -> None:
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = ShortcutsDialog(actions.shortcut_rows(), self)
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
        if not self._painted and self._loaded_once and event.type() == QEvent.Paint \
                and obj is self.episodes.view.viewport():
            self._loaded_once = False
            QTimer.singleShot(0, self._guard(self.after_first_paint))  # after this paint
        if event.type() != QEvent.KeyPress or self.closed:
            return False
        if not isinstance(obj, QWidget) or obj.window() is not self:
            return False  # dialogs and other windows keep their keys
        focus = QApplication.focusWidget() or obj
        if _is_text_input(focus) or _is_text_input(obj):
            return False  # typing in the search / filter box
        return self.handle_key(event.key(), event.modifiers())

    def handle_key(self, key, mods) -> bool:
        mods = mods & (Qt.ControlModifier | Qt.ShiftModifier | Qt.AltModifier | Qt.MetaModifier)
        name = self._keys.get((int(key), int(mods.value if hasattr(mods, "value") else mods)))
        if name is None:
            return False
        getattr(self, name)()
        return True

    # ================================================================ state

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self.library_notice:
            notice, self.library_notice = self.library_notice, None
            self.set_status(notice)
            box = QMessageBox(QMessageBox.Warning, "ibplayer", notice, QMessageBox.Ok, self)
            box.setModal(False)
            QTimer.singleShot(0, box.show)
        if not self._fitted:  # now that the frame is known
            self._fitted = True
            fit_to_screen(self)
            if self.ui_settings.value("splitter") is None:
                # first run: the episode list gets the larger share (titles stay readable)
                total = sum(self.splitter.sizes()) or self.width()
                self.splitter.setSizes([int(total * 0.44), int(total * 0.32), total - int(total * 0.44) - int(total * 0.32)])
        if not self.player.available and self._show_vlc_dialog and self.vlc_dialog is None:
            QTimer.singleShot(0, self._show_vlc_missing)

    def _backend_known(self) -> None:
        """The deferred libVLC backend exists now: say so if it is missing."""
        waiting, self._backend_waiters = self._backend_waiters, []
        for fn in waiting:
            fn()
        if not self.player.available:
            self.vlc_label.setText("No audio: VLC missing")
            if self._show_vlc_dialog and self.vlc_dialog is None and self.isVisible():
                QTimer.singleShot(0, self._show_vlc_missing)

    def _show_vlc_missing(self) -> None:
        if self.closed or self.vlc_dialog is not None:
            return
        from ibplayer.infra import vlcloader

        self.vlc_dialog = vlc_missing_dialog(self, vlcloader.install_hint(), getattr(self.player.backend, "reason", None))
        self.vlc_dialog.show()

    def _restore_state(self) -> None:
        """Geometry and layout from ui.ini; a value that is not what Qt saved
        (hand-edited, another version) is ignored, never fatal."""
        s = self.ui_settings

        def saved(name):
            v = s.value(name)
            return v if isinstance(v, (QByteArray, bytes, bytearray)) else None

        geo = saved("geometry")
        if geo is None or not self.restoreGeometry(geo):
            self.resize(1360, 840)
        fit_to_screen(self)
        for name, restore in (("window_state", self.restoreState),
                              ("splitter", self.splitter.restoreState),
                              ("left_splitter", self.left_splitter.restoreState),
                              # v2: six columns (a saved five-column header is not restored)
                              ("episode_header_v2", self.episodes.view.header().restoreState)):
            v = saved(name)
            if v is not None and not restore(v):
                log.warning("ui.ini: ignoring an unreadable %s", name)
        self.downloads.sync_visibility()

    def save_state(self) -> None:
        s = self.ui_settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("window_state", self.saveState())
        s.setValue("splitter", self.splitter.saveState())
        s.setValue("left_splitter", self.left_splitter.saveState())
        s.setValue("episode_header_v2", self.episodes.view.header().saveState())
        s.setValue("volume", self.bar.volume_slider.value())
        if self.shown_episode is not None:
            s.setValue("last_episode", self.shown_episode.id)
        s.sync()

    def closeEvent(self, event) -> None:  # noqa: N802
        if not self.closed:
            self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Save the resume position and the layout; stop worker processes,
        downloads and the writer."""
        if self.closed:
            return
        self.save_state()
        self.player.shutdown()
        self.closed = True
        QApplication.instance().removeEventFilter(self)
        if self.mpris is not None:
            self.mpris.close()
        workers.stop_processes()  # a refresh still running stops writing now
        self.downloads.shutdown()
        self.writer.flush()
        self.writer.close()
        workers.wait_idle(5000)
        if self.vlc_dialog is not None:
            self.vlc_dialog.close()


def fit_to_screen(w: QWidget) -> None:
    """Keep a window inside its screen's available area (at any scale
    factor; a saved geometry from a bigger screen is clamped)."""
    from PySide6.QtGui import QGuiApplication

    screen = w.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return
    avail = screen.availableGeometry()
    frame = w.frameGeometry()
    extra_w = max(0, frame.width() - w.width())
    extra_h = max(0, frame.height() - w.height())
    width = min(w.width(), avail.width() - extra_w)
    height = min(w.height(), avail.height() - extra_h)
    if (width, height) != (w.width(), w.height()):
        w.resize(max(200, width), max(150, height))
    frame = w.frameGeometry()
    x = min(max(frame.x(), avail.left()), avail.right() + 1 - frame.width())
    y = min(max(frame.y(), avail.top()), avail.bottom() + 1 - frame.height())
    if (x, y) != (frame.x(), frame.y()):
        w.move(max(avail.left(), x), max(avail.top(), y))


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
