"""The episode pane: title and facts, Play / Download / Mark played, the guest
card, topic chips and the show notes with clickable timestamps."""

from __future__ import annotations

import html

from PySide6.QtCore import QObject, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QProgressBar, QPushButton, QStyle, QVBoxLayout, QWidget

from ..artwork import ArtLoader
from ..models import fmt_date, fmt_duration, fmt_time
from ..widgets import SEEK_SCHEME, FlowLayout, NotesBrowser, linkify_timestamps, plain_to_html

ART_BOX = 96
GUEST_BOX = 56  # a guest's picture on the card


class EpisodePaneController(QObject):
    def __init__(self, w) -> None:
        super().__init__(w)
        self.w = w
        self._gen = 0
        self.details_id: int | None = None  # the episode whose details the pane shows
        self.hold = True  # until the list's first paint: the details read (and its imports) waits
        self._held = None
        self._shown_parts: tuple = ()  # (episode id, guests, topics, notes) as laid out: unchanged parts stay
        st = w.style()
        self.widget = centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(8, 8, 8, 0)
        self.title_label = QLabel("Select an episode")
        self.title_label.setTextFormat(Qt.PlainText)  # feed text is never markup
        tf = QFont(w.font())
        tf.setPointSizeF(tf.pointSizeF() * 1.35)
        tf.setBold(True)
        self.title_label.setFont(tf)
        self.title_label.setWordWrap(True)
        self.title_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.meta_label = QLabel()
        self.meta_label.setTextFormat(Qt.PlainText)
        self.meta_label.setWordWrap(True)
        # artwork (issue 10 §6): the episode's image, else the feed's, beside the title
        self.art_label = QLabel()
        self.art_label.setFixedSize(ART_BOX, ART_BOX)
        self.art_label.setAlignment(Qt.AlignCenter)
        self.art_label.hide()
        self.art_paths: tuple[str | None, str | None] = (None, None)  # (episode, feed) of details_id
        self.art_path: str | None = None  # the file shown
        self.art = ArtLoader(self)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        texts = QVBoxLayout()
        texts.setContentsMargins(0, 0, 0, 0)
        texts.addWidget(self.title_label)
        texts.addWidget(self.meta_label)
        head.addWidget(self.art_label, 0, Qt.AlignTop)
        head.addLayout(texts, 1)
        cl.addLayout(head)
        # the buttons wrap onto a second line in a narrow pane (at 1024 px the
        # chapter sidebar needs the room more than one row of buttons does)
        actions_box = QWidget()
        actions = FlowLayout(actions_box)
        actions.setContentsMargins(0, 0, 0, 0)
        self.play_button = QPushButton(st.standardIcon(QStyle.SP_MediaPlay), "Play")
        self.play_button.clicked.connect(self._play_clicked)
        self.download_button = QPushButton(st.standardIcon(QStyle.SP_ArrowDown), "Download")
        self.download_button.clicked.connect(lambda: w.downloads.button_clicked())
        self.played_button = QPushButton("Mark played")
        self.played_button.clicked.connect(self._toggle_played)
        self.queue_button = QPushButton("Up Next")
        self.queue_button.setToolTip("Play this episode next, or after everything queued")
        queue_menu = QMenu(self.queue_button)
        queue_menu.addAction("Play Next", lambda: self._queue(front=True))
        queue_menu.addAction("Play Last", lambda: self._queue(front=False))
        self.unqueue_action = queue_menu.addAction("Remove from Up Next", self._unqueue)
        queue_menu.aboutToShow.connect(self._queue_menu_shown)
        self.queue_button.setMenu(queue_menu)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        # showing / hiding it and relabelling the button must not relayout the
        # pane (re-wrapping the notes and chips: ~25 ms at each download start)
        sp = self.progress.sizePolicy()
        sp.setRetainSizeWhenHidden(True)
        self.progress.setSizePolicy(sp)
        self.progress.setMinimumWidth(40)  # the pane may still be narrow
        self.progress.hide()
        bfm = self.download_button.fontMetrics()
        self.download_button.setFixedWidth(
            max(bfm.horizontalAdvance(t) for t in ("Download", "Cancel download", "Delete download"))
            + self.download_button.iconSize().width() + 24)
        for b in (self.play_button, self.download_button, self.progress, self.played_button, self.queue_button):
            actions.addWidget(b)
        cl.addWidget(actions_box)
        # a playback error of the shown episode, in the pane (not only the status bar), with Retry
        self.error_box = QFrame()
        self.error_box.setObjectName("playbackError")
        self.error_box.setFrameShape(QFrame.StyledPanel)
        self.error_box.setStyleSheet("QFrame#playbackError { border: 1px solid #c0392b; border-radius: 4px; }")
        el = QHBoxLayout(self.error_box)
        el.setContentsMargins(8, 4, 4, 4)
        self.error_icon = QLabel()
        self.error_icon.setPixmap(st.standardIcon(QStyle.SP_MessageBoxWarning).pixmap(20, 20))
        self.error_label = QLabel()
        self.error_label.setTextFormat(Qt.PlainText)
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.retry_button = QPushButton("Retry")
        self.retry_button.setToolTip("Try to play this episode again")
        self.retry_button.clicked.connect(self.retry)
        el.addWidget(self.error_icon, 0, Qt.AlignTop)
        el.addWidget(self.error_label, 1)
        el.addWidget(self.retry_button, 0, Qt.AlignTop)
        self.error_box.hide()
        cl.addWidget(self.error_box)
        self._request: tuple | None = None  # (episode, start) of the last start asked for
        self._error: tuple | None = None  # (episode id, message, start) of the current playback error
        w.player.errorChanged.connect(self._on_error)
        # the guest card (issue 9): per guest a picture (cached, decoded off
        # this thread), the name (lists their episodes), affiliations and
        # their page (opens in the browser)
        self.guest_card = QFrame()
        self.guest_card.setFrameShape(QFrame.StyledPanel)
        self.guest_layout = QVBoxLayout(self.guest_card)
        self.guest_layout.setContentsMargins(8, 6, 8, 6)
        self.guest_layout.setSpacing(6)
        self.guest_rows: list[tuple[QLabel, QLabel]] = []  # (picture, text) per guest shown
        self.guest_pictures: dict[int, str] = {}  # row -> the picture file shown there
        self._guest_art_asked: set[int] = set()  # episodes whose guest pictures were fetched on demand
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

    # ------------------------------------------------------------ playback errors

    def requested(self, ep, start: float | None) -> None:
        """The window is about to load ``ep`` (Retry plays it again)."""
        self._request = (ep, start)

    def _on_error(self, message: str) -> None:
        if not message:
            self._error = None
        else:
            ep = self._request[0] if self._request else self.w.player.episode
            start = self._request[1] if self._request else None
            loaded = self.w.player.episode
            if loaded is not None and (ep is None or loaded.id == ep.id):
                ep, start = loaded, None  # failed while playing: resume where it stopped
            self._error = (ep.id, message, start, ep) if ep is not None else None
        self.update_error()

    def update_error(self) -> None:
        """Show the current playback error when the pane shows its episode."""
        ep = self.w.shown_episode
        err = self._error
        if err is None or ep is None or ep.id != err[0]:
            self.error_box.hide()
            return
        self.error_label.setText(err[1])
        self.error_box.show()

    def error_text(self) -> str:
        return self.error_label.text() if self.error_box.isVisible() else ""

    def retry(self) -> None:
        err = self._error
        if err is None:
            return
        eid, _msg, start, ep = err
        self.error_box.hide()
        self.w.set_status("Retrying…")
        w = self.w
        if w.player.episode is not None and w.player.episode.id == eid:
            w.player.play()
        else:
            w.play_episode(ep, start)

    # ------------------------------------------------------------ showing

    def show_episode(self, ep) -> None:
        """Show ``ep`` (an EpisodeRow, or None): its row's facts at once, the
        rest (guests, topics, notes, chapters) read in a worker."""
        w = self.w
        self._gen += 1
        gen = self._gen
        pe = w.player.episode
        if ep is not None and pe is not None and pe.id == ep.id:
            ep = pe  # the playing episode's in-memory state is the freshest
        w.shown_episode = ep
        has = ep is not None
        for b in (self.play_button, self.download_button, self.played_button, self.queue_button):
            b.setVisible(has)
        if not has or self._shown_parts[:1] != (ep.id,):
            self.guest_card.setVisible(False)
            self.topics_box.setVisible(False)
            self._shown_parts = ()
        self.update_error()
        if self.details_id != (ep.id if ep is not None else None):
            self.show_art(None, None)
        if not has:
            self.title_label.setText("Select an episode")
            self.meta_label.setText("")
            self.notes.setHtml("")
            w.sidebar.show_chapters(None)
            self.progress.hide()
            self.details_id = None
            return
        w.ui_settings.setValue("last_episode", ep.id)
        self.details_id = None
        self.title_label.setText(ep.title)
        self.update_meta()
        self.update_play_button()
        w.downloads.update_pane()
        eid = ep.id

        def shown(details):
            if gen == self._gen and details is not None:
                self._show_details(details)

        if self.hold:
            self._held = (eid, shown)
            return
        w.read(lambda lib: _details(lib, eid), shown)

    def release_hold(self) -> None:
        """The list has painted: read the held episode's details now."""
        self.hold = False
        if self._held is not None:
            eid, shown = self._held
            self._held = None
            self.w.read(lambda lib: _details(lib, eid), shown)

    def reload(self) -> None:
        """Read the shown episode again (its data changed)."""
        ep = self.w.shown_episode
        if ep is not None:
            self._gen += 1
            gen, eid = self._gen, ep.id

            def shown(details):
                if gen == self._gen and details is not None:
                    self._refresh_row(details.episode)
                    self._show_details(details)

            self.w.read(lambda lib: _details(lib, eid), shown)

    def _refresh_row(self, fresh) -> None:
        w = self.w
        shown = w.shown_episode
        if shown is None or shown.id != fresh.id:
            return
        names = ["file", "duration", "title", "chapters_url", "chapter_source"]
        if w.player.episode is not shown:  # the player's own object keeps its live position
            names += ["played", "position"]
        fields = {n: getattr(fresh, n) for n in names}
        for n, v in fields.items():
            setattr(shown, n, v)
        w.episodes.model.update_episode(fresh.id, **fields)  # the list shows the same facts
        self.title_label.setText(shown.title)
        self.update_meta()
        w.downloads.update_pane()

    def _show_details(self, d) -> None:
        ep = self.w.shown_episode
        if ep is None or ep.id != d.episode.id:
            return
        guests = [(p.name, tuple(p.affiliations), p.page, p.picture) for p in d.guests]
        parts = (ep.id, guests, list(d.topics), d.notes_html)
        old = self._shown_parts
        same = old[:1] == parts[:1]
        # a changed episode (a download, a refresh) keeps what did not change:
        # laying out notes and chips again costs tens of ms on this thread
        if not (same and old[1] == guests):
            self._show_guests(d.guests)
        self._fetch_guest_pictures(ep, d.guests)
        if not (same and old[2] == parts[2]):
            self._show_topics(d.topics)
        if not (same and old[3] == d.notes_html):
            self.notes.setHtml(_notes_shown(d, ep))
        self._shown_parts = parts
        self.show_art(d.episode_art, d.feed_art)
        self.w.sidebar.set_feed_marks(ep.feed_id, d.skip_words, d.heard)
        self.w.sidebar.show_chapters(d.chapters)
        self.details_id = ep.id

    def _show_guests(self, guests) -> None:
        for pic, _text in self.guest_rows:
            box = pic.parentWidget()
            self.guest_layout.removeWidget(box)
            box.hide()
            box.deleteLater()
        self.guest_rows = []
        self.guest_pictures = {}
        gen = self._gen
        for i, p in enumerate(guests):
            box = QWidget()
            row = QHBoxLayout(box)
            row.setContentsMargins(0, 0, 0, 0)
            pic = QLabel()
            pic.setFixedSize(GUEST_BOX, GUEST_BOX)
            pic.setAlignment(Qt.AlignCenter)
            pic.hide()
            text = QLabel()
            text.setWordWrap(True)
            text.setTextFormat(Qt.RichText)
            text.setTextInteractionFlags(Qt.LinksAccessibleByMouse | Qt.LinksAccessibleByKeyboard)  # Tab reaches the links
            text.linkActivated.connect(self._guest_link)
            name = f'<a href="guest:{html.escape(p.name, quote=True)}"><b>{html.escape(p.name)}</b></a>'
            label = "Guest: " + name
            if p.affiliations:
                label += " — " + html.escape(", ".join(p.affiliations))
            tip = f"Click {p.name} to list every episode with them"
            if p.page:
                label += f'<br><a href="{html.escape(p.page, quote=True)}">{html.escape(_page_label(p.page))}</a>'
                tip += f"; the link opens {p.page} in your browser"
            text.setText(label)
            text.setToolTip(tip)
            row.addWidget(pic, 0, Qt.AlignTop)
            row.addWidget(text, 1)
            self.guest_layout.addWidget(box)
            self.guest_rows.append((pic, text))
            if p.picture:
                self.art.load(p.picture, GUEST_BOX, self.w._guard(
                    lambda pm, i=i, pic=pic, path=p.picture: self._guest_picture(gen, i, pic, path, pm)))
        self.guest_card.setVisible(bool(guests))

    def _guest_picture(self, gen: int, i: int, pic: QLabel, path: str, pm) -> None:
        if gen != self._gen or i >= len(self.guest_rows) or self.guest_rows[i][0] is not pic:
            return
        if pm is None:  # a broken picture: the row shows the name alone
            return
        pic.setPixmap(pm)
        pic.show()
        self.guest_pictures[i] = path

    def _fetch_guest_pictures(self, ep, guests) -> None:
        """A guest's picture not cached yet (an older episode than a refresh
        caches art for): fetch it once, through the artwork cache."""
        if ep.id in self._guest_art_asked or not any(p.image_url and not p.picture for p in guests):
            return
        self._guest_art_asked.add(ep.id)
        fid, eid = ep.feed_id, ep.id
        self.w.run(lambda core: core.emit(core.enrichment.cache_artwork(fid, episode_ids=[eid])))

    def _show_topics(self, topics) -> None:
        for b in self.topic_buttons:
            self.topics_layout.removeWidget(b)
            b.deleteLater()
        self.topic_buttons = []
        for t in topics[:12]:
            b = QPushButton(t)
            b.setCursor(Qt.PointingHandCursor)
            b.setToolTip(f"Every chapter about “{t}” in the library")
            b.setObjectName("chip")
            b.clicked.connect(lambda _=False, t=t: self.w.search.show_topic(t))
            self.topics_layout.addWidget(b)
            self.topic_buttons.append(b)
        self.topics_box.setVisible(bool(topics))

    def show_art(self, episode_art: str | None, feed_art: str | None) -> None:
        """The episode's image, else the feed's (cached files; a broken one is skipped)."""
        self.art_paths = (episode_art, feed_art)
        gen = self._gen
        order = [p for p in (episode_art, feed_art) if p]

        def shown(pm, path):
            if gen != self._gen:
                return
            self.art_path = path
            if pm is None:
                self.art_label.clear()
                self.art_label.hide()
            else:
                self.art_label.setPixmap(pm)
                self.art_label.show()

        self.art.load_first(order, ART_BOX, shown, self.w._guard)

    def update_meta(self) -> None:
        ep = self.w.shown_episode
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

    def update_play_button(self) -> None:
        """"Pause" only on the episode that is playing."""
        playing = self.w.shown_is_loaded() and self.w.player.state() == "playing"
        self.play_button.setText("Pause" if playing else "Play")
        self.play_button.setIcon(self.w.style().standardIcon(QStyle.SP_MediaPause if playing else QStyle.SP_MediaPlay))

    def _play_clicked(self) -> None:
        w = self.w
        if w.shown_is_loaded():
            w.player.toggle()
        else:
            w.play_episode(w.shown_episode)

    def _queue(self, *, front: bool) -> None:
        ep = self.w.shown_episode
        if ep is not None:
            (self.w.upnext.play_next if front else self.w.upnext.play_last)([ep.id])

    def _queue_menu_shown(self) -> None:
        ep = self.w.shown_episode
        self.unqueue_action.setVisible(ep is not None and ep.id in self.w.upnext.view.ids())

    def _unqueue(self) -> None:
        ep = self.w.shown_episode
        if ep is not None:
            self.w.upnext.remove([ep.id])

    def _toggle_played(self) -> None:
        ep = self.w.shown_episode
        if ep is not None:
            self.w.set_played(ep, not ep.played)

    def _guest_link(self, link: str) -> None:
        if link.startswith("guest:"):
            self.w.episodes.show_guest(html.unescape(link[6:]))
            return
        url = QUrl(link)
        if url.scheme().lower() in ("http", "https") and url.host():  # a guest's page; nothing else opens
            QDesktopServices.openUrl(url)

    def _notes_link(self, url: QUrl) -> None:
        scheme = url.scheme().lower()
        if scheme == SEEK_SCHEME:
            try:
                t = float(url.path() or url.toString().split(":", 1)[1])
            except (ValueError, IndexError):
                return
            self.w.play_at(t)
        elif scheme in ("http", "https"):
            QDesktopServices.openUrl(url)
        # anything else (mailto:, javascript:, file:...) is ignored


def _page_label(url: str) -> str:
    """A guest's page as the card shows it: host and path, no scheme."""
    u = QUrl(url)
    path = u.path().rstrip("/")
    text = u.host().removeprefix("www.") + path
    return (text if len(text) <= 48 else text[:47] + "…") + " ↗"


def _notes_html(notes_html: str, summary: str, duration) -> str:
    notes = notes_html or (plain_to_html(summary) if summary else "")
    return linkify_timestamps(notes, duration) if notes else "<p><i>No show notes.</i></p>"


def _notes_shown(d, ep) -> str:
    """The notes as shown: prepared in the worker (finding timestamps is
    string work, and loads the chapter parser), unless the shown episode's
    summary or length differ from what the worker read."""
    key, shown = getattr(d, "notes_prepared", (None, None))
    if key == (ep.summary, ep.duration):
        return shown
    return _notes_html(d.notes_html, ep.summary, ep.duration)


def _details(lib, episode_id: int):
    """The pane's data, read in a worker (not before the first paint), with
    its notes' timestamps linked there too."""
    from ibplayer.services.views import episode_details

    d = episode_details(lib, episode_id)
    if d is not None:
        ep = d.episode
        d.notes_prepared = ((ep.summary, ep.duration), _notes_html(d.notes_html, ep.summary, ep.duration))
    return d
