"""The download commands of the CLI: `download`, `delete`, `storage`,
`feed-settings`, and the download policies run after `refresh`.

Progress goes to stderr: a redrawn ``\\r`` line on a terminal, plain lines
(every 10 %) otherwise.  Results and the summary go to stdout; each failed
download gets one ``ibplayer: error:`` line on stderr naming the episode.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TYPE_CHECKING, TextIO

from ibplayer.cli.main import EXIT_ERROR, EXIT_USAGE, fmt_time

if TYPE_CHECKING:
    from ibplayer.infra.downloader import Progress  # loaded by the commands that download

__all__ = ["run_download", "run_delete", "run_storage", "run_feed_settings", "after_refresh", "ProgressDisplay"]


def fmt_bytes(n: int | float | None) -> str:
    if n is None:
        return "?"
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def _short(title: str, width: int) -> str:
    title = " ".join((title or "").split())
    return title if len(title) <= width else title[: max(1, width - 1)] + "…"


class ProgressDisplay:
    """Turns per-episode progress reports into terminal output."""

    REDRAW_INTERVAL = 0.1

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.active: dict[int, tuple[str, Progress]] = {}
        self.reported: dict[int, int] = {}  # last decile / 10 MB step printed (plain mode)
        self._drawn = 0
        self._last_draw = 0.0

    # -- events ---------------------------------------------------------

    def update(self, ep, p: Progress) -> None:
        self.active[ep.id] = (ep.title, p)
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw >= self.REDRAW_INTERVAL:
                self._last_draw = now
                self._draw()
            return
        frac = p.fraction
        step = int(frac * 10) if frac is not None else p.bytes_done // 10_000_000
        if step > self.reported.get(ep.id, -1) and (frac is None or frac < 1.0):
            self.reported[ep.id] = step
            self._write(f"{_short(ep.title, 60)}: {self._numbers(p)}\n")

    def result_line(self, text: str, stream: TextIO | None = None) -> None:
        """Print a finished line without garbling the progress line."""
        self.clear()
        print(text, file=stream or sys.stdout, flush=True)
        if self.tty and self.active:
            self._draw()

    def finished(self, episode_id: int) -> None:
        self.active.pop(episode_id, None)
        self.reported.pop(episode_id, None)

    def clear(self) -> None:
        if self.tty and self._drawn:
            self._write("\r" + " " * self._drawn + "\r")
            self._drawn = 0

    # -- rendering ------------------------------------------------------

    @staticmethod
    def _numbers(p: Progress) -> str:
        parts = []
        if p.fraction is not None:
            parts.append(f"{p.fraction * 100:3.0f}%")
            parts.append(f"{p.bytes_done / 1e6:.1f}/{p.total / 1e6:.1f} MB")
        else:
            parts.append(f"{p.bytes_done / 1e6:.1f} MB")
        if p.speed:
            parts.append(f"{fmt_bytes(p.speed)}/s")
        if p.eta is not None and p.fraction is not None and p.fraction < 1:
            parts.append(f"ETA {fmt_time(p.eta)}")
        return "  ".join(parts)

    def _bar(self, p: Progress, width: int = 20) -> str:
        if p.fraction is None:
            return ""
        full = int(p.fraction * width)
        return "[" + "#" * full + "-" * (width - full) + "] "

    def _draw(self) -> None:
        cols = shutil.get_terminal_size((100, 24)).columns - 1
        items = list(self.active.values())
        if not items:
            return
        if len(items) == 1:
            title, p = items[0]
            nums = self._bar(p) + self._numbers(p)
            line = f"{_short(title, max(10, cols - len(nums) - 2))}  {nums}"
        else:
            each = max(20, cols // len(items) - 3)
            chunks = []
            for title, p in items:
                nums = self._numbers(p)
                chunks.append(f"{_short(title, max(8, each - len(nums) - 1))} {nums}")
            line = " | ".join(chunks)
        line = line[:cols]
        pad = max(0, self._drawn - len(line))
        self._write("\r" + line + " " * pad)
        self._drawn = len(line)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed terminal must not stop downloads
            pass


# ---------------------------------------------------------------- commands


def _core(args):
    from ibplayer.services.core import Core

    return Core(args.data_dir)


def _describe(r) -> str:
    return f"“{r.title}” ({r.short_id})"


def report_results(display: ProgressDisplay):
    """An ``on_result`` callback printing one line per finished episode."""

    def on_result(r) -> None:
        display.finished(r.episode_id)
        if r.status == "done":
            extra = []
            if r.duration:
                extra.append(fmt_time(r.duration))
            if r.chapter_source:
                extra.append(f"{r.chapter_source} chapters")
            more = f", {', '.join(extra)}" if extra else ""
            display.result_line(f"downloaded {_describe(r)}: {fmt_bytes(r.size)}{more} → {r.path}")
            for line in r.dropped or []:
                display.result_line(f"  note: {line}")
        elif r.status == "skipped":
            display.result_line(f"already downloaded {_describe(r)}: {r.path}")
        elif r.status == "error":
            display.result_line(f"ibplayer: error: could not download {_describe(r)}: {r.error}", sys.stderr)
        else:
            display.result_line(f"{r.status}: {_describe(r)} (run the command again to resume)", sys.stderr)

    return on_result


def _summary(results) -> str:
    done = [r for r in results if r.status == "done"]
    skipped = [r for r in results if r.status == "skipped"]
    failed = [r for r in results if not r.ok]
    bits = [f"{len(done)} downloaded ({fmt_bytes(sum(r.size for r in done))})"]
    if skipped:
        bits.append(f"{len(skipped)} already downloaded")
    if failed:
        bits.append(f"{len(failed)} failed")
    return ", ".join(bits)


def _select(core, args) -> list[int]:
    lib = core.library
    if args.all:
        return [e.id for e in lib.episodes() if not e.file]
    if args.new is not None:
        if args.new < 1:
            raise ValueError("--new needs a number of episodes ≥ 1")
        ids = []
        for f in lib.feeds():
            ids += [e.id for e in lib.episodes(f.id) if not e.file][: args.new]
        return ids
    return [lib.resolve_episode(key).id for key in args.episodes]


def run_download(args) -> int:
    if not args.episodes and args.new is None and not args.all:
        print("ibplayer: error: name episodes to download (ids from `ibplayer episodes`), or use --new N or --all",
              file=sys.stderr)
        return EXIT_USAGE
    if args.episodes and (args.new is not None or args.all):
        print("ibplayer: error: give episode ids or --new/--all, not both", file=sys.stderr)
        return EXIT_USAGE
    with _core(args) as core:
        try:
            ids = _select(core, args)
        except ValueError as exc:
            print(f"ibplayer: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if not ids:
            print("nothing to download: every episode is already downloaded")
            return 0
        jobs = args.jobs or core.settings.get("max_downloads")
        display = ProgressDisplay()
        try:
            results = core.download(ids, jobs=max(1, jobs), progress=display.update,
                                    on_result=report_results(display), retries=max(0, args.retries))
        except KeyboardInterrupt:
            display.clear()
            print("ibplayer: interrupted; partial downloads are kept, run the command again to resume",
                  file=sys.stderr)
            return 130
        display.clear()
        print(_summary(results))
        return EXIT_ERROR if any(not r.ok for r in results) else 0


def run_delete(args) -> int:
    failed = 0
    with _core(args) as core:
        for key in args.episodes:
            try:
                ep = core.library.resolve_episode(key)
            except Exception as exc:
                print(f"ibplayer: error: {exc}", file=sys.stderr)
                failed += 1
                continue
            if not ep.file and not core.library.download_state(ep.id)[0]:
                print(f"not downloaded: “{ep.title}” ({ep.short_id})")
                continue
            freed = core.delete_download(ep)
            print(f"deleted “{ep.title}” ({ep.short_id}): freed {fmt_bytes(freed)}"
                  + (f"; position {fmt_time(ep.position)} kept" if ep.position else ""))
    return EXIT_ERROR if failed else 0


def run_storage(args) -> int:
    with _core(args) as core:
        rows = core.storage()
        if not rows:
            print("no subscriptions (try `ibplayer subscribe`)")
            return 0
        total = partial = 0
        width = max(len(r.title) for r in rows)
        for r in rows:
            total += r.bytes
            partial += r.partial_bytes
            extra = f"  (+{fmt_bytes(r.partial_bytes)} partial)" if r.partial_bytes else ""
            print(f"{r.title:<{width}}  {r.episodes:>3} episode{'s' if r.episodes != 1 else ' '}  "
                  f"{fmt_bytes(r.bytes):>10}  ({r.bytes} bytes){extra}")
        print(f"{'total':<{width}}  {sum(r.episodes for r in rows):>3} episodes  {fmt_bytes(total):>10}  "
              f"({total} bytes)" + (f"  (+{fmt_bytes(partial)} partial)" if partial else ""))
        print(f"folder: {core.downloads_dir}")
    return 0


def run_feed_settings(args) -> int:
    with _core(args) as core:
        lib = core.library
        f = lib.find_feed(args.feed)
        delete = None if args.auto_delete_played is None else args.auto_delete_played == "on"
        if args.auto_download is not None and args.auto_download < 0:
            print("ibplayer: error: --auto-download needs a number ≥ 0 (0 turns it off)", file=sys.stderr)
            return EXIT_USAGE
        skip_words = getattr(args, "skip_words", None)
        if skip_words is not None:
            try:
                core.listening.set_skip_words(f.id, skip_words)
            except ValueError as exc:
                print(f"ibplayer: error: --skip-words: {exc}", file=sys.stderr)
                return EXIT_USAGE
        if args.auto_download is not None or delete is not None:
            core.library_service.set_feed_settings(f.id, auto_download=args.auto_download, auto_delete_played=delete)
            f = lib.feed(f.id)
        print(f.title or f.url)
        print(f"  auto-download: {'keep the ' + str(f.auto_download) + ' newest' if f.auto_download else 'off'}")
        print(f"  auto-delete played: {'on' if f.auto_delete_played else 'off'}")
        _listening_settings(core, f.id, args)
        words = core.listening.skip_words(f.id)
        print(f"  skip chapters about: {', '.join(words) if words else 'nothing'}")
    return 0


def _listening_settings(core, feed_id: int, args) -> None:
    """--auto-queue and --speed (Up Next and the feed's own speed)."""
    if getattr(args, "auto_queue", None) is not None:
        core.queue.set_auto_add(feed_id, args.auto_queue == "on")
    speed = getattr(args, "speed", None)
    if speed is not None:
        core.set_feed_speed(feed_id, None if speed == "default" else speed)
    lib = core.library
    print(f"  add new episodes to Up Next: {'on' if feed_id in lib.auto_queue_feeds() else 'off'}")
    own = lib.feed_speed(feed_id)
    print(f"  speed: {f'{own:g}×' if own else 'default (' + format(core.speed_for(None), 'g') + '×)'}")


def after_refresh(core) -> int:
    """Apply the per-feed download settings after a refresh (the same plan
    the window applies); print what was done.  Returns an exit status
    (non-zero when an automatic download failed)."""
    display = ProgressDisplay()
    on_result = report_results(display)
    plan = core.plan_policies()
    if plan.queued:
        titles = {e.id: e for e in core.queue.list()}
        for eid in plan.queued:
            if eid in titles:
                print(f"added to Up Next: “{titles[eid].title}” ({titles[eid].short_id})")
    for ep, why, freed in plan.deleted:
        print(f"deleted download “{ep.title}” ({ep.short_id}, {why}): freed {fmt_bytes(freed)}")
    if not plan.download:
        return 0
    try:
        results = core.download(plan.download, progress=display.update, on_result=on_result, auto=True)
    except KeyboardInterrupt:
        display.clear()
        print("ibplayer: interrupted; partial downloads are kept", file=sys.stderr)
        return 130
    display.clear()
    return EXIT_ERROR if any(not r.ok for r in results) else 0
