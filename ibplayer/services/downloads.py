"""The download service: one path for the CLI and the window — reserve a
file name, move the bytes (`infra.downloader`), record the result (file,
size, the file's real duration and chapters, the chapter file and images
cached for offline), delete, and report storage.

Bytes move on `DownloadQueue` worker threads; everything that touches the
library happens in the calling thread, one transaction per episode.
"""

from __future__ import annotations

import json
import logging
import os
import queue
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ibplayer.domain.timefmt import fmt_clock
from ibplayer.infra import downloader
from ibplayer.infra.store import FEED_CHAPTER_SOURCES, EpisodeRow, LibraryError
from ibplayer.services.changes import Changes

if TYPE_CHECKING:
    from ibplayer.infra.audiofile import AudioInfo  # mutagen loads only where a download is recorded
    from ibplayer.services.core import Core

log = logging.getLogger(__name__)


@dataclass
class DownloadResult:
    episode_id: int
    short_id: str
    title: str
    status: str  # "done" | "skipped" (already downloaded) | "error" | "paused" | "cancelled"
    path: Path | None = None
    size: int = 0
    error: str | None = None
    duration: float | None = None
    chapter_source: str | None = None
    dropped: list[str] | None = None  # chapters past the file's real end, one line per source

    @property
    def ok(self) -> bool:
        return self.status in ("done", "skipped")


@dataclass
class StorageRow:
    feed_id: int
    title: str
    episodes: int
    bytes: int
    partial_bytes: int = 0


class DownloadService:
    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def library(self):
        return self.core.library

    @property
    def folder(self) -> Path:
        custom = self.core.settings.get("download_dir")
        return Path(custom) if custom else self.core.data_dir / "downloads"

    def episode(self, episode: EpisodeRow | int) -> EpisodeRow:
        if isinstance(episode, EpisodeRow):
            return episode
        ep = self.library.episode(int(episode))
        if ep is None:
            raise LibraryError(f"no episode {episode}")
        return ep

    # ------------------------------------------------------------ where

    def path(self, episode: EpisodeRow | int, *, reserve: bool = False) -> Path:
        """Where ``episode`` is (or will be) downloaded:
        ``<downloads>/<feed>/<episode file>``.  A name chosen before (stored
        when its download started) is kept, so a killed download resumes into
        the same ``.part``.  ``reserve`` stores the chosen name."""
        ep = self.episode(episode)
        if reserve:  # choose and store in one write transaction: no other process picks the same name
            with self.library.transaction():
                return self._path(ep, reserve)
        return self._path(ep, reserve)

    def _path(self, ep: EpisodeRow, reserve: bool) -> Path:
        reserved, _file, _size, _auto = self.library.download_state(ep.id)
        if reserved and _inside(Path(reserved), self.folder):
            return Path(reserved)
        folder = self.folder / downloader.feed_dirname(ep.feed_title or "podcast")
        taken = {Path(p).name for p in self.library.reserved_download_paths(folder)}
        # A .part for this very URL under the plain name (e.g. left by the app).
        plain = folder / downloader.safe_filename(ep.title, ep.audio_url, mime=ep.audio_type)
        part, sidecar = downloader.part_paths(plain)
        if plain.name not in taken and part.exists() and _sidecar_url(sidecar) == ep.audio_url:
            chosen = plain
        else:
            existing = set(taken)
            if folder.is_dir():
                for p in folder.iterdir():
                    name = p.name
                    for suffix in (downloader.SIDECAR_SUFFIX, downloader.PART_SUFFIX):
                        if name.endswith(suffix):
                            name = name[: -len(suffix)]
                            break
                    existing.add(name)
            chosen = folder / downloader.safe_filename(ep.title, ep.audio_url, existing, mime=ep.audio_type)
        if reserve:
            self.library.set_download_path(ep.id, str(chosen))
        return chosen

    def chapter_cache_dir(self, dest: Path) -> Path:
        return Path(dest).parent / ".chapters"

    def prepare(self, episode_ids: list[int]) -> tuple[list[tuple[EpisodeRow, Path]], list[DownloadResult]]:
        """Reserve a file for each episode to fetch.  Returns the jobs and the
        results known at once (already downloaded, not an http(s) enclosure)."""
        jobs: list[tuple[EpisodeRow, Path]] = []
        known: list[DownloadResult] = []
        for eid in dict.fromkeys(episode_ids):
            ep = self.episode(eid)
            if ep.file:
                if Path(ep.file).is_file():
                    known.append(DownloadResult(ep.id, ep.short_id, ep.title, "skipped", Path(ep.file),
                                                Path(ep.file).stat().st_size))
                    continue
                self.library.set_file(ep.id, None)  # the file went away: fetch it again
            if urlsplit(ep.audio_url).scheme.lower() not in ("http", "https"):
                known.append(DownloadResult(ep.id, ep.short_id, ep.title, "error",
                                            error=f"not an http(s) enclosure: {ep.audio_url[:200]!r}"))
                continue
            jobs.append((ep, self.path(ep, reserve=True)))
        return jobs, known

    # ------------------------------------------------------------ fetching

    def download(
        self,
        episode_ids: list[int],
        *,
        jobs: int = 2,
        progress: Callable[[EpisodeRow, downloader.Progress], None] | None = None,
        on_result: Callable[[DownloadResult], None] | None = None,
        retries: int = 4,
        backoff: float = 0.5,
        timeout: float = 30,
        auto: bool = False,
    ) -> list[DownloadResult]:
        """Download episodes (``jobs`` at a time) and record each one as it
        completes.  ``progress`` and ``on_result`` are called in the calling
        thread.  Already downloaded episodes are skipped.  Ctrl-C pauses the
        running downloads (their ``.part`` files stay for the next run) and
        re-raises."""
        results: list[DownloadResult] = []

        def finish(r: DownloadResult) -> None:
            results.append(r)
            if on_result:
                on_result(r)

        prepared, known = self.prepare(episode_ids)
        for r in known:
            finish(r)
        todo = {str(ep.id): (ep, dest) for ep, dest in prepared}
        if not todo:
            return results

        events: queue.Queue = queue.Queue()
        q = downloader.DownloadQueue(
            max_concurrent=jobs,
            on_progress=lambda j, p: events.put(("progress", j, p)),
            on_done=lambda j, path: events.put(("done", j, Path(path))),
            on_error=lambda j, msg: events.put(("error", j, msg)),
            on_paused=lambda j: events.put(("paused", j)),
            on_cancelled=lambda j: events.put(("cancelled", j)),
            retries=retries, backoff=backoff, timeout=timeout,
        )
        pending = set()
        try:
            for job_id, (ep, dest) in todo.items():
                if dest.is_file() and not downloader.part_paths(dest)[0].exists():
                    # Completed by an earlier run killed before it was recorded: a
                    # file only gets its final (reserved) name once complete and verified.
                    events.put(("done", job_id, dest))
                else:
                    q.add(job_id, ep.audio_url, dest, ep.audio_length)
                pending.add(job_id)
            while pending:
                try:
                    kind, job_id, *rest = events.get(timeout=0.5)  # a timeout keeps Ctrl-C responsive
                except queue.Empty:
                    continue
                ep, dest = todo[job_id]
                if kind == "progress":
                    if progress:
                        try:
                            progress(ep, rest[0])
                        except Exception:
                            log.exception("progress callback failed")
                    continue
                pending.discard(job_id)
                if kind == "done":
                    try:
                        rec, _changes = self.record(ep, rest[0], auto=auto)
                    except (OSError, LibraryError) as exc:
                        log.exception("recording %s", rest[0])
                        finish(DownloadResult(ep.id, ep.short_id, ep.title, "error", error=f"could not record: {exc}"))
                        continue
                    finish(DownloadResult(ep.id, ep.short_id, ep.title, "done", rest[0], rec.size,
                                          duration=rec.info.duration, chapter_source=rec.info.source,
                                          dropped=rec.dropped))
                elif kind == "error":
                    finish(DownloadResult(ep.id, ep.short_id, ep.title, "error", error=rest[0]))
                else:
                    finish(DownloadResult(ep.id, ep.short_id, ep.title, kind, error=f"download {kind}"))
        finally:
            q.shutdown(timeout=5)  # pauses anything still running: .part files stay
        return results

    # ------------------------------------------------------------ recording

    def record(self, episode: EpisodeRow | int, path: str | os.PathLike[str], *,
               auto: bool = False) -> tuple[_Recorded, Changes]:
        """Record a completed download (from the CLI's loop or the window's
        queue): the file's duration and embedded chapters, the feed's chapters
        re-checked against that duration, and the chapter file and images
        cached for offline.  Blocking (reads the file, may fetch): call it
        from a worker in a front-end."""
        from ibplayer.domain import chapters
        from ibplayer.infra.audiofile import read_audio_info

        ep = self.episode(episode)
        path = Path(path)
        info = read_audio_info(path)
        lib = self.library
        size = path.stat().st_size
        with lib.transaction():
            lib.set_file(ep.id, str(path), size=size, duration=info.duration)
            lib.set_download_path(ep.id, str(path))
            lib.set_auto_downloaded(ep.id, auto)
            if info.chapters and info.source:
                lib.replace_chapters(ep.id, info.source, chapters.finalize(info.chapters, info.duration))
            dropped = self.recheck_chapters(ep.id, info.duration) if info.duration else []
        changes = Changes(episodes={ep.id}, chapters={ep.id})
        try:
            changes |= self.core.enrichment.sync_episode(
                ep.id, ep.chapters_url, info.duration, self.chapter_cache_dir(path), title=ep.title,
                allow_private=self.core.enrichment.allow_private(ep.feed_id))
        except (OSError, LibraryError, ValueError) as exc:  # never lose a finished download over chapters
            log.warning("chapters for %r: %s", ep.title, exc)
        for line in dropped:
            log.warning("%s: %s", ep.title, line)
        return _Recorded(size, info, dropped), self.core.emit(changes)

    def recheck_chapters(self, episode_id: int, duration: float) -> list[str]:
        """Chapters from the feed, checked against the file's real duration:
        the show notes are read again with it (chapters the feed's stated
        duration held back come back), starts past the end are dropped and
        the last chapter ends at the end.  Returns a line per source that
        lost chapters, so the front-end can say so."""
        from ibplayer.domain import chapters
        from ibplayer.domain.chapters import chapters_from_notes

        sets = self.library.chapter_sets(episode_id)
        notes = self.library.notes_html(episode_id)
        if notes:
            sets["notes"] = chapters_from_notes(notes, duration)
        dropped = []
        for source, chs in sets.items():
            if source not in FEED_CHAPTER_SOURCES:
                continue
            fixed = chapters.finalize(chs, duration)
            if len(fixed) < len(chs):
                gone = sorted({(c.start, c.title) for c in chs} - {(c.start, c.title) for c in fixed})
                dropped.append(f"{len(gone)} {source} chapter{'s' if len(gone) != 1 else ''} past the file's end "
                               f"({fmt_clock(duration, pad=True)}) dropped: " + ", ".join(f"{fmt_clock(s, pad=True)} {t}" for s, t in gone[:3]))
            current = self.library.chapter_sets(episode_id).get(source, [])
            if [(c.start, c.end, c.title) for c in fixed] != [(c.start, c.end, c.title) for c in current]:
                self.library.replace_chapters(episode_id, source, fixed)
        return dropped

    def delete(self, episode: EpisodeRow | int) -> tuple[int, Changes]:
        """Remove the downloaded file (and any .part and sidecar); keep the
        metadata, chapters and play position.  Returns the bytes freed."""
        ep = self.episode(episode)
        reserved, file, _size, _auto = self.library.download_state(ep.id)
        freed = 0
        for p in {p for p in (file, reserved) if p}:
            path = Path(p)
            for q in (path, *downloader.part_paths(path)):
                try:
                    freed += q.stat().st_size
                    q.unlink()
                except FileNotFoundError:
                    pass
        with self.library.transaction():
            self.library.set_file(ep.id, None)
            self.library.set_auto_downloaded(ep.id, False)
        return freed, self.core.emit(Changes(episodes={ep.id}))

    def storage(self) -> list[StorageRow]:
        """Space used by downloads, per feed (sizes on disk; partial downloads
        counted separately)."""
        rows = []
        for feed_id, title, _count, _recorded in self.library.storage_by_feed():
            n = used = 0
            partial = 0
            for ep in self.library.episodes(feed_id, downloaded=True):
                try:
                    used += Path(ep.file).stat().st_size
                    n += 1
                except (OSError, TypeError):
                    pass
            folder = self.folder / downloader.feed_dirname(title or "podcast")
            if folder.is_dir():
                partial = sum(p.stat().st_size for p in folder.glob("*" + downloader.PART_SUFFIX) if p.is_file())
            rows.append(StorageRow(feed_id, title, n, used, partial))
        return rows


@dataclass
class _Recorded:
    size: int
    info: AudioInfo
    dropped: list[str]  # chapters the file's real duration dropped, one line per source


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(Path(folder).resolve())
    except (OSError, ValueError):
        return False


def _sidecar_url(sidecar: Path) -> str | None:
    try:
        return json.loads(sidecar.read_text("utf-8")).get("url")
    except (OSError, ValueError, AttributeError):
        return None
