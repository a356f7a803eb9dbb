"""The command-line front-end: parses arguments and calls the services.

`ibplayer.main` is the entry point that also starts the window."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

from ibplayer import __version__
from ibplayer.domain.timefmt import fmt_clock

EXIT_ERROR = 1
EXIT_USAGE = 2


def fmt_time(seconds: float | None) -> str:
    return fmt_clock(seconds, pad=True, rounded=True, none="--:--")


def _known_errors() -> tuple[type[BaseException], ...]:
    from ibplayer.infra.feeds import FeedError
    from ibplayer.infra.opml import OpmlError
    from ibplayer.infra.store import LibraryError

    errs: list[type[BaseException]] = [FeedError, LibraryError, OpmlError, OSError]
    try:
        from ibplayer.infra.downloader import DownloadError

        errs.append(DownloadError)
    except ImportError:  # pragma: no cover - downloads module not present
        pass
    return tuple(errs)


class _Skipped:
    """Stands in for the parser of a command that is not on the command line."""

    def __getattr__(self, name):
        return lambda *a, **k: self


class _OnlyCommand:
    """Adds only the named command's parser (each parser costs argparse
    gettext look-ups: ~20 ms for all of them, at every start)."""

    def __init__(self, sub, only: str):
        self._sub, self._only = sub, only

    def add_parser(self, name: str, **kw):
        return self._sub.add_parser(name, **kw) if name == self._only else _Skipped()


def _command_in(argv: list[str]) -> str | None:
    """The command named in ``argv``; "" when there is none (the window
    starts: no command's parser is needed); None for help, or a word that is
    not a command (the full parser says what the commands are)."""
    it = iter(argv)
    for a in it:
        if a == "--data-dir":
            next(it, None)
        elif a in ("-h", "--help", "--version", "--"):
            return None
        elif not a.startswith("-"):
            return a if a in COMMANDS else None
    return ""


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given the ``argv`` it will parse, it holds only the
    command found there (the full one for help, errors or no command)."""
    p = argparse.ArgumentParser(
        prog="ibplayer",
        description="A podcast player for long interview shows. Without a command, starts the desktop app.",
    )
    p.add_argument("--data-dir", metavar="DIR", help="library and downloads folder (default: $IBPLAYER_DATA_DIR or the user data dir)")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    p.add_argument("--version", action="version", version=f"ibplayer {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    only = _command_in(argv) if argv is not None else None
    if only is not None:  # a command, or none at all (the window: ~10 ms of parsers it never uses)
        sub = _OnlyCommand(sub, only)

    s = sub.add_parser("subscribe", help="subscribe to a feed (default: The Information Bottleneck)")
    s.add_argument("url", nargs="?", help="feed URL (http or https)")
    s = sub.add_parser("unsubscribe", help="remove a feed and its episodes")
    s.add_argument("feed", help="feed id, URL or title")
    s.add_argument("--yes", action="store_true", help="also when episodes were played or downloaded (their history goes)")
    sub.add_parser("refresh", help="check every feed for new episodes")
    sub.add_parser("feeds", help="list subscriptions")
    s = sub.add_parser("episodes", help="list episodes (with the ids other commands take)")
    s.add_argument("feed", nargs="?", help="feed id, URL or title")
    s.add_argument("--chapters", action="store_true", help="also list each episode's chapters")
    s.add_argument("--unplayed", action="store_true")
    s.add_argument("--downloaded", action="store_true")
    s = sub.add_parser("show", help="an episode's guest, topics and chapters")
    s.add_argument("episode", help="episode id (from `episodes`) or guid")
    s.add_argument("--source", help="show the chapters from this source (notes, podcast-chapters, psc, id3, …)")
    s = sub.add_parser("search", help="search chapters, episodes and guests across the library")
    s.add_argument("query", nargs="+")
    s.add_argument("--json", action="store_true", help="machine-readable hits, best first")
    s.add_argument("--limit", type=int, default=20)
    s = sub.add_parser("export", help="export the library (backup and interop format)")
    s.add_argument("--json", action="store_true", required=True, help="JSON (the only format)")
    s.add_argument("--pretty", action="store_true", help="indented JSON (default: compact, one line)")
    s = sub.add_parser("opml", help="import or export subscriptions as OPML")
    osub = s.add_subparsers(dest="opml_command", metavar="import|export", required=True)
    o = osub.add_parser("import", help="subscribe to every feed in an OPML file")
    o.add_argument("file")
    o = osub.add_parser("export", help="write subscriptions to an OPML file")
    o.add_argument("file")
    _add_download_commands(sub)
    _add_mark_commands(sub)
    s = sub.add_parser("selftest", help="headless end-to-end check of playback, chapters and the window")
    s.add_argument("--no-gui", action="store_true", help="skip the window part")
    return p


def _add_download_commands(sub) -> None:
    s = sub.add_parser("download", help="download episodes for offline listening")
    s.add_argument("episodes", nargs="*", help="episode ids (from `episodes`) or guids")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--new", type=int, metavar="N", help="the N newest not yet downloaded episodes of each feed")
    g.add_argument("--all", action="store_true", help="every episode")
    s.add_argument("--jobs", type=int, default=None, help="concurrent downloads (default 2)")
    s.add_argument("--retries", type=int, default=4, help="retries after network or server errors (default 4)")
    s = sub.add_parser("delete", help="delete downloaded files (keeps metadata and position)")
    s.add_argument("episodes", nargs="+")
    sub.add_parser("storage", help="space used by downloads, per feed")
    s = sub.add_parser("feed-settings", help="show or change a feed's download and chapter-skip settings")
    s.add_argument("feed", help="feed id, URL or title")
    s.add_argument("--auto-download", type=int, metavar="N",
                   help="on refresh, keep the N newest episodes downloaded (0 = off)")
    s.add_argument("--auto-delete-played", choices=("on", "off"), help="delete downloads once played")
    s.add_argument("--auto-queue", choices=("on", "off"), help="add new episodes to Up Next after each refresh")
    s.add_argument("--skip-words", metavar="WORDS",
                   help='skip chapters whose titles contain one of these (comma separated, e.g. "sponsor,ad break"; '
                        '"" = none)')
    s.add_argument("--speed", metavar="X|default", type=_speed_arg,
                   help="this feed's playback speed (0.5 to 3), or 'default' for the global one")
    s = sub.add_parser("queue", help="Up Next: list, add, put next, remove or clear queued episodes")
    qsub = s.add_subparsers(dest="queue_command", metavar="list|add|next|remove|clear")
    qsub.add_parser("list", help="the queue, in play order (the default)")
    q = qsub.add_parser("add", help="add episodes at the end")
    q.add_argument("episodes", nargs="+", help="episode ids (from `episodes`) or guids")
    q = qsub.add_parser("next", help="put episodes at the front (played next)")
    q.add_argument("episodes", nargs="+")
    q = qsub.add_parser("remove", help="take episodes out of the queue")
    q.add_argument("episodes", nargs="+")
    qsub.add_parser("clear", help="empty the queue")


def _speed_arg(text: str):
    if text.strip().lower() == "default":
        return "default"
    from ibplayer.services.settings import SETTINGS

    try:
        return SETTINGS["default_speed"].parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc} (or 'default')") from None


def _add_mark_commands(sub) -> None:
    s = sub.add_parser("new", help="episodes that arrived since you last looked")
    s.add_argument("feed", nargs="?", help="feed id, URL or title")
    s = sub.add_parser("mark-seen", help="clear the \"new\" mark (of a feed, or of everything)")
    s.add_argument("--feed", help="feed id, URL or title")
    s = sub.add_parser("mark-played", help="mark an episode played (--older: and every older one of its feed)")
    s.add_argument("episode", help="episode id (from `episodes`) or guid")
    s.add_argument("--older", action="store_true", help="also every older episode of its feed")
    s = sub.add_parser("mark-all-played", help="mark every unplayed episode played (of a feed)")
    s.add_argument("feed", nargs="?", help="feed id, URL or title")


# ---------------------------------------------------------------- commands


def _core(args, *, write: bool = False):
    """The core, after saying in one line if a damaged library was set aside;
    ``write``: fail at once (one line) if the library is read-only."""
    from ibplayer.services.core import Core

    core = Core(args.data_dir)
    if core.library.recovered is not None:
        print(f"ibplayer: warning: {core.library.recovered}", file=sys.stderr)
    if write:
        try:
            core.library.check_writable()
        except Exception:
            core.close()
            raise
    return core


def _library(args):
    """The library alone, for commands that only read it: no network stack,
    no feed parser, no audio-file reader loaded."""
    from ibplayer.infra.paths import data_dir
    from ibplayer.infra.store import Library

    lib = Library(data_dir(args.data_dir))
    if lib.recovered is not None:
        print(f"ibplayer: warning: {lib.recovered}", file=sys.stderr)
    return lib


def cmd_subscribe(args) -> int:
    with _core(args, write=True) as core:
        r = core.subscribe(args.url)
        print(f"subscribed: {r.line()}" if r.status != "snapshot" else f"subscribed: {r.line()}")
        print(f"feed id {r.feed_id}: {r.url}")
    return 0


def cmd_unsubscribe(args) -> int:
    with _core(args, write=True) as core:
        feed = core.library.find_feed(args.feed)
        if not args.yes and core.library.feed_has_user_data(feed.id):
            print(f"ibplayer: error: {feed.title or feed.url!r} has played, started or downloaded episodes: "
                  f"run `ibplayer unsubscribe {feed.id} --yes` to remove it and that history", file=sys.stderr)
            return EXIT_ERROR
        print(f"unsubscribed: {core.unsubscribe(str(feed.id))}")
    return 0


def cmd_refresh(args) -> int:
    with _core(args, write=True) as core:
        if not core.library.feeds(counts=False):
            print("no subscriptions (try `ibplayer subscribe`)")
            return 0
        results = core.refresh(on_result=lambda r: print(r.line(), flush=True))
        if results and all(r.status == "offline" for r in results):
            print("offline: nothing changed", file=sys.stderr)
            return EXIT_ERROR
        from ibplayer.cli.downloads import after_refresh

        policy_status = after_refresh(core)  # per-feed auto-download / auto-delete
        return EXIT_ERROR if any(r.status == "error" for r in results) or policy_status else 0


def cmd_feeds(args) -> int:
    with _library(args) as lib:
        fs = lib.feeds()
        if not fs:
            print("no subscriptions (try `ibplayer subscribe`)")
        for f in fs:
            flag = " [snapshot]" if f.snapshot else ""
            print(f"{f.id:>3}  {f.title}{flag}  ({f.episode_count} episodes, {f.unplayed_count} unplayed)")
            print(f"     {f.url}")
            if f.last_error:
                print(f"     last check: {f.last_error}")
    return 0


def _guest_line(ep) -> str:
    return "; ".join(p.name + (f" ({', '.join(p.affiliations)})" if p.affiliations else "") for p in ep.guests)


def cmd_episodes(args) -> int:
    with _library(args) as lib:
        feed_id = lib.find_feed(args.feed).id if args.feed else None
        eps = lib.listing(feed_id, unplayed=args.unplayed, downloaded=args.downloaded)
        if not eps:
            print("no episodes" + ("" if lib.feeds() else " (try `ibplayer subscribe`)"))
        out: list[str] = []  # written in blocks: a print per line is a write per line when unbuffered
        write = sys.stdout.write
        for ep in eps:
            date = ep.published.date().isoformat() if ep.published_ts is not None else "----------"
            state = ("D" if ep.file else " ") + ("✓" if ep.played else " ")
            out.append(f"{ep.short_id}  {date}  {fmt_time(ep.duration):>8}  {state} {ep.title}")
            if ep.guests:
                out.append(f"{'':9}guest: {_guest_line(ep)}")
            if args.chapters:
                _source, chs = lib.chapters(ep.id)
                out.extend(f"{'':9}{fmt_time(c.start):>8}  {c.title}" for c in chs if not c.hidden)
            if len(out) >= 4096:
                write("\n".join(out) + "\n")
                out.clear()
        if out:
            write("\n".join(out) + "\n")
        sys.stdout.flush()
    return 0


def cmd_show(args) -> int:
    from ibplayer.domain.models import SOURCE_LABELS

    with _library(args) as lib:
        ep = lib.resolve_episode(args.episode)
        print(ep.title)
        date = ep.published.strftime("%Y-%m-%d") if ep.published else "unknown date"
        print(f"{ep.feed_title} · {date} · {fmt_time(ep.duration) if ep.duration else 'duration unknown'}"
              + (f" · episode {ep.episode_number}" if ep.episode_number else ""))
        print(f"id {ep.short_id} · guid {ep.guid}")
        if ep.downloaded:
            size, file_duration = lib.file_size(ep.id), lib.file_duration(ep.id)
            details = [f"{size / 1e6:.1f} MB"] if size else []
            if file_duration:
                details.append(f"{fmt_time(file_duration)} long")
            print(f"downloaded: {ep.file}" + (f" ({', '.join(details)})" if details else ""))
        if ep.position and not ep.played:
            print(f"resume at {fmt_time(ep.position)}")
        if ep.played:
            print("played")
        print()
        from ibplayer.services.views import guest_cards

        cards = guest_cards(lib, ep)
        for p in cards:
            print("Guest: " + p.name + (f" ({', '.join(p.affiliations)})" if p.affiliations else ""))
            if p.page:
                print(f"       page: {p.page}")
            if p.image_url:
                print(f"       picture: {p.image_url}")
        if not cards:
            print("Guest: none named")
        tps = lib.topics(ep.id)
        print("Topics: " + (", ".join(tps) if tps else "none"))
        sets = lib.chapter_sets(ep.id)
        source, chs = lib.chapters(ep.id, args.source)
        print()
        if args.source and args.source not in sets:
            print(f"no chapters from {args.source!r}; available: {', '.join(sets) or 'none'}", file=sys.stderr)
            return EXIT_ERROR
        if not chs:
            print("No chapters.")
            return 0
        others = [s for s in sets if s != source]
        extra = f"; also: {', '.join(others)}" if others else ""
        disagree = " (sources disagree)" if others and lib.chapters_disagree(ep.id) else ""
        print(f"Chapters ({SOURCE_LABELS.get(source, source)}{extra}){disagree}:")
        for c in chs:
            if c.hidden:
                continue
            length = f"  [{fmt_time(c.end - c.start)}]" if c.end is not None else ""
            print(f"  {fmt_time(c.start):>8}  {c.title}{length}")
    return 0


def cmd_search(args) -> int:
    query = " ".join(args.query)
    with _library(args) as lib:
        hits = lib.search(query, limit=args.limit)
        if args.json:
            print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2))
            return 0
        if not hits:
            print(f"nothing found for {query!r}")
        for h in hits:
            if h.kind == "chapter":
                print(f"chapter  {fmt_time(h.start):>8}  {h.title}")
                print(f"{'':19}in {h.episode_title} · {h.feed_title}")
            elif h.kind == "episode":
                print(f"episode  {'':8}  {h.title} · {h.feed_title}")
                if h.snippet:
                    print(f"{'':19}{h.snippet}")
            else:
                print(f"guest    {'':8}  {h.title} — {h.episode_title} · {h.feed_title}")
    return 0


def cmd_export(args) -> int:
    with _library(args) as lib:
        lib.write_export_json(sys.stdout, pretty=args.pretty, end="\n")
    return 0


def cmd_opml(args) -> int:
    with _core(args, write=args.opml_command == "import") as core:
        if args.opml_command == "import":
            failed = 0
            for r in core.opml_import(args.file):
                if isinstance(r, str):
                    failed += 1
                    print(r, file=sys.stderr)
                else:
                    print(f"subscribed: {r.line()}")
            return EXIT_ERROR if failed else 0
        n = core.opml_export(args.file)
        print(f"wrote {n} feeds to {args.file}")
    return 0


def cmd_download(args) -> int:
    from ibplayer.cli.downloads import run_download

    return run_download(args)


def cmd_delete(args) -> int:
    from ibplayer.cli.downloads import run_delete

    return run_delete(args)


def cmd_storage(args) -> int:
    from ibplayer.cli.downloads import run_storage

    return run_storage(args)


def cmd_feed_settings(args) -> int:
    from ibplayer.cli.downloads import run_feed_settings

    return run_feed_settings(args)


def cmd_queue(args) -> int:
    sub = args.queue_command or "list"
    with _core(args, write=sub != "list") as core:
        if sub == "add":
            core.queue.play_last(args.episodes)
        elif sub == "next":
            core.queue.play_next(args.episodes)
        elif sub == "remove":
            queued = set(core.queue.ids())
            for key in args.episodes:
                if core.library.resolve_episode(key).id not in queued:
                    print(f"ibplayer: note: {key} is not in Up Next", file=sys.stderr)
            core.queue.remove(args.episodes)
        elif sub == "clear":
            core.queue.clear()
        eps = core.queue.list()
        if not eps:
            print("Up Next is empty")
        for i, ep in enumerate(eps, 1):
            resume = f"  (resume at {fmt_time(ep.position)})" if ep.position and not ep.played else ""
            print(f"{i:>3}. {ep.short_id}  {fmt_time(ep.duration):>8}  {ep.title} · {ep.feed_title}{resume}")
    return 0


def cmd_selftest(args) -> int:
    from ibplayer.services.selftest import run_selftest

    return run_selftest(args, window_step=getattr(args, "window_step", None),
                        versions=getattr(args, "versions", None))


def cmd_new(args) -> int:
    with _core(args) as core:
        feed_id = core.library.find_feed(args.feed).id if args.feed else None
        eps = core.marks.new_episodes(feed_id)
        if not eps:
            print("no new episodes")
        for ep in eps:
            date = ep.published.date().isoformat() if ep.published else "----------"
            print(f"{ep.short_id}  {date}  {ep.feed_title}: {ep.title}")
    return 0


def cmd_mark_seen(args) -> int:
    with _core(args, write=True) as core:
        feed_id = core.library.find_feed(args.feed).id if args.feed else None
        n = len(core.marks.mark_all_seen(feed_id).episodes)
        print(f"{n} episode{'s' if n != 1 else ''} no longer new")
    return 0


def cmd_mark_played(args) -> int:
    with _core(args, write=True) as core:
        ep = core.library.resolve_episode(args.episode)
        if args.older:
            n = len(core.marks.mark_older_played(ep.id).episodes)
            print(f"marked {n} episode{'s' if n != 1 else ''} played (“{ep.title}” and older)")
        else:
            core.set_played(ep.id, True)
            print(f"marked played: {ep.title}")
    return 0


def cmd_mark_all_played(args) -> int:
    with _core(args, write=True) as core:
        feed_id = core.library.find_feed(args.feed).id if args.feed else None
        n = len(core.marks.mark_all_played(feed_id).episodes)
        print(f"marked {n} episode{'s' if n != 1 else ''} played")
    return 0


COMMANDS: dict[str, Callable] = {
    "new": cmd_new,
    "mark-seen": cmd_mark_seen,
    "mark-played": cmd_mark_played,
    "mark-all-played": cmd_mark_all_played,
    "subscribe": cmd_subscribe,
    "unsubscribe": cmd_unsubscribe,
    "refresh": cmd_refresh,
    "feeds": cmd_feeds,
    "episodes": cmd_episodes,
    "show": cmd_show,
    "search": cmd_search,
    "export": cmd_export,
    "opml": cmd_opml,
    "download": cmd_download,
    "delete": cmd_delete,
    "storage": cmd_storage,
    "feed-settings": cmd_feed_settings,
    "queue": cmd_queue,
    "selftest": cmd_selftest,
}


def main(argv: list[str] | None = None) -> int:
    """The CLI alone (no window): `ibplayer.main.main` is the full entry point."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return EXIT_USAGE
    return run(args)


# Commands that only read the library log nothing: they skip loading logging.
_QUIET_COMMANDS = frozenset({"feeds", "episodes", "show", "search", "export"})


def apply_global_options(args: argparse.Namespace) -> None:
    """--debug and --data-dir, for either front-end."""
    if args.debug or getattr(args, "command", None) not in _QUIET_COMMANDS:
        import logging

        logging.basicConfig(
            level=logging.DEBUG if args.debug else logging.WARNING,
            format="ibplayer: %(levelname)s: %(message)s",
        )
    if args.data_dir:
        os.environ["IBPLAYER_DATA_DIR"] = args.data_dir


def run(args: argparse.Namespace) -> int:
    apply_global_options(args)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("ibplayer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # one clear line, no traceback unless --debug
        damaged = _damage_found_while_reading(exc)
        if damaged and not args.debug:
            print(f"ibplayer: error: {damaged}", file=sys.stderr)
            return EXIT_ERROR
        if args.debug or not isinstance(exc, _known_errors()):
            if args.debug:
                raise
            print(f"ibplayer: error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
            return EXIT_ERROR
        print(f"ibplayer: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _damage_found_while_reading(exc: BaseException) -> str | None:
    """A damaged page met by a read (the check at open only looks at the
    header and size): say so with the path, and have the next session check
    the whole file before it writes (and set it aside)."""
    import sqlite3

    if not isinstance(exc, sqlite3.DatabaseError) or getattr(exc, "sqlite_errorcode", 0) & 0xFF not in (11, 26):
        return None
    from ibplayer.infra.paths import data_dir
    from ibplayer.infra.store import DB_NAME, forget_check

    path = data_dir() / DB_NAME
    forget_check(path)
    return (f"the library {path} is damaged ({exc}): nothing was changed; the next command that writes "
            "sets it aside and starts a new, empty library")
