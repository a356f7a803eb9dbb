"""What the window reads before its first paint, started before its modules
are imported: the settings (the one library read on the GUI thread: it opens,
migrates or recovers the library first), then the feed list and the episode
list in ONE worker read (`EarlyRead`), which runs while this thread imports
and builds the widgets.  Light on purpose: Qt Core only (`workers`), no
widget module, so the read starts ~0.1 s sooner than the window could start it."""

from __future__ import annotations

from . import workers

NEW_VIEW = -1  # the feed list's "New" entry (episodes that arrived since the listener last looked)

START_QUERY = (None, "", False, False, None)  # what the list shows at start: every episode, no filter

PREFS = ("skip_back", "skip_forward", "max_downloads", "default_speed", "download_dir",
         "refresh_every", "notify_new", "theme", "start_timeout")


def prefs_from(lib) -> dict:
    """The services' typed settings (bad stored values fall back to defaults)."""
    from ibplayer.services.settings import Settings

    values = Settings(lib).all()
    return {k: values[k] for k in PREFS}


def load_prefs(data_dir) -> tuple[dict, str | None]:
    """The settings, and a notice about the library worth a dialog (it was
    damaged and set aside, or it is read-only)."""
    from ibplayer.infra.store import Library

    with Library(data_dir) as lib:
        notice = str(lib.recovered) if lib.recovered else (lib.read_only_message if lib.read_only else None)
        return prefs_from(lib), notice


def episode_fetch(query):
    """``fetch(lib)``: the rows of an episode list query
    (feed id or the New view, filter text, unplayed, downloaded, guest)."""
    feed_id, text, unplayed, downloaded, guest = query

    def fetch(lib):
        from ibplayer.services.views import episode_list

        if feed_id == NEW_VIEW:
            return episode_list(lib, text=text, unplayed=unplayed, downloaded=downloaded, new=True)
        return episode_list(lib, feed_id, text=text, unplayed=unplayed, downloaded=downloaded,
                            person_id=guest[0] if guest is not None else None)

    return fetch


def first_read(query):
    """The start-up read: (feeds, new counts, the query's rows), or None
    when there are no feeds."""
    fetch = episode_fetch(query)
    every = query == START_QUERY  # the rows are every episode: the feeds' counts come from them

    def read(lib):
        feeds = lib.feeds(counts=not every)
        if not feeds:
            return None
        rows = fetch(lib)
        if every:
            lib.count_episodes(feeds, rows)
        return feeds, lib.new_counts(), rows

    return read


class EarlyRead:
    """The start-up read in a worker, started before the window's modules
    are imported and its widgets built; ``then(fn, failed)`` hands its result
    to ``fn`` (or its exception to ``failed``) on the GUI thread, now or when
    it comes."""

    def __init__(self, data_dir, query=START_QUERY) -> None:
        self.query = query
        self._fn = None
        self._failed = None
        self._done = False
        self._result = None
        self._error: BaseException | None = None
        workers.run_task(workers.library_task(data_dir, first_read(query)), self._arrived, self._failure)

    def _arrived(self, result) -> None:
        self._done, self._result = True, result
        if self._fn is not None:
            fn, self._fn = self._fn, None
            fn(result)

    def _failure(self, exc: BaseException) -> None:
        self._done, self._error = True, exc
        if self._failed is not None:
            failed, self._failed = self._failed, None
            failed(exc)

    def then(self, fn, failed=None) -> None:
        if not self._done:
            self._fn, self._failed = fn, failed
        elif self._error is None:
            fn(self._result)
        elif failed is not None:
            failed(self._error)


class Prepared:
    """The settings read and the list read started (`prepare`)."""

    def __init__(self, data_dir) -> None:
        self.data_dir = data_dir
        self.prefs, self.notice = load_prefs(data_dir)
        self.early: EarlyRead | None = EarlyRead(data_dir)


def prepare(data_dir) -> Prepared:
    """Read the settings here, start the list read in a worker (raises
    `LibraryError` when the library cannot be opened).  Needs the
    QApplication (the worker's result comes back through its event loop)."""
    from ibplayer.infra.paths import data_dir as resolve_data_dir

    workers.init()
    return Prepared(resolve_data_dir(data_dir))
