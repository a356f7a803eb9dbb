"""`ibplayer selftest`: a headless end-to-end check, also the bundles' smoke test.

Steps (each prints PASS/FAIL with a one-line reason):

1. ``play``     - the shipped ``resources/sample-episode.mp3`` plays through the
   real libVLC (``--aout=dummy``) and its clock advances; mutagen reads its
   four ID3 chapters.
2. ``seek``     - a seek to each chapter start lands there: libVLC's own clock
   reads the chapter start (+/- 1 s) once playback has resumed.
3. ``window``   - the main window is built offscreen over a temporary library
   holding the sample as a downloaded episode; a real mouse click
   (QTest) on a chapter row in the sidebar puts the player at that chapter
   and highlights that row.  ``--no-gui`` skips it.

It prints which libVLC was loaded (version, path, plugin path, bundled or
not) and the Qt/PySide6 versions, and returns 0 only when every step passed.
It never touches the user's library: the window runs on a temporary data dir.
"""

from __future__ import annotations

import shutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

SAMPLE_NAME = "sample-episode.mp3"
EXPECTED_CHAPTERS = 4
TOLERANCE = 1.0  # seconds
VLC_ARGS = ("--aout=dummy",)


class StepFailed(Exception):
    """A check did not hold; the message is the one-line reason."""


def _say(line: str = "") -> None:
    print(line, flush=True)


def _wait(pred: Callable[[], bool], timeout: float, pump: Callable[[], None] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        if pump is not None:
            pump()
        else:
            time.sleep(0.02)


def _raw_vlc_time(backend: Any) -> float | None:
    """libVLC's own clock (seconds), not the backend's seek-smoothed value."""
    player = getattr(backend, "_player", None)
    if player is None:
        return None
    ms = player.get_time()
    return ms / 1000.0 if ms is not None and ms >= 0 else None


def _player_time(backend: Any) -> float:
    raw = _raw_vlc_time(backend)
    return raw if raw is not None else backend.time()


# --------------------------------------------------------------------------- steps


def _step_play(ctx: dict) -> str:
    from ibplayer.infra.audiofile import read_audio_info
    from ibplayer.infra.playback import VlcBackend
    from ibplayer.infra.vlcloader import load_error, load_vlc

    sample: Path = ctx["sample"]
    if not sample.is_file():
        raise StepFailed(f"sample episode missing: {sample}")
    info = read_audio_info(sample)
    ctx["chapters"] = info.chapters
    ctx["duration"] = info.duration
    if len(info.chapters) != EXPECTED_CHAPTERS:
        raise StepFailed(f"expected {EXPECTED_CHAPTERS} ID3 chapters in {sample.name}, mutagen read "
                         f"{len(info.chapters)} (source {info.source})")

    vlc = load_vlc()
    if vlc is None:
        raise StepFailed(f"libVLC not loaded: {load_error}")
    backend = VlcBackend(VLC_ARGS, vlc_module=vlc)
    ctx["backend"] = backend
    backend.load(str(sample))
    backend.play()
    if not backend.wait_until_playing(timeout=10):
        raise StepFailed(f"libVLC did not start playing {sample.name} within 10 s "
                         f"(state {backend.state()}, error {backend.last_error})")
    t0 = _player_time(backend)
    if not _wait(lambda: _player_time(backend) >= t0 + 0.4, timeout=5):
        raise StepFailed(f"the playback clock does not advance (stuck at {_player_time(backend):.2f} s)")
    length = backend.length()
    return (f"playing, clock advancing ({_player_time(backend):.2f} s), length "
            f"{length:.1f} s, {len(info.chapters)} ID3 chapters: "
            + ", ".join(f"{c.start:g}s {c.title!r}" for c in info.chapters))


def _step_seek(ctx: dict) -> str:
    backend = ctx.get("backend")
    chapters = ctx.get("chapters") or []
    if backend is None or not chapters:
        raise StepFailed("skipped: playback step failed")
    landed = []
    # visit them out of order so every seek is a real jump
    order = list(range(len(chapters)))[::-1] + [1] if len(chapters) > 1 else [0]
    for i in order:
        start = chapters[i].start
        backend.seek(start)
        if backend.state() != "playing" and not backend.wait_until_playing(timeout=5):
            raise StepFailed(f"chapter {i + 1} ({start:g} s): playback did not resume (state {backend.state()})")

        def there() -> bool:
            t = _raw_vlc_time(backend)
            return t is not None and start - 0.35 <= t <= start + TOLERANCE

        if not _wait(there, timeout=6):
            raise StepFailed(f"chapter {i + 1}: seek to {start:g} s, libVLC time is {_player_time(backend):.2f} s")
        # and playback really continues from there
        t1 = _player_time(backend)
        if not _wait(lambda: _player_time(backend) > t1 + 0.2, timeout=4):
            raise StepFailed(f"chapter {i + 1}: playback did not continue after the seek to {start:g} s")
        t = _player_time(backend)
        if abs(t - start) > TOLERANCE + 0.5:
            raise StepFailed(f"chapter {i + 1}: expected ~{start:g} s, player time {t:.2f} s")
        landed.append(f"{start:g}->{t:.2f}")
    return "seek landed at " + ", ".join(landed) + f" (tolerance {TOLERANCE:g} s)"


def _prepare_library(data_dir: Path, sample: Path, chapters: list) -> int:
    from ibplayer.domain.models import ParsedEpisode, ParsedFeed
    from ibplayer.infra.store import Library

    downloads = data_dir / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    local = downloads / sample.name
    shutil.copyfile(sample, local)
    ep = ParsedEpisode(
        guid="ibplayer-selftest-sample",
        title="Selftest sample episode",
        audio_url=local.as_uri(),
        audio_type="audio/mpeg",
        audio_length=local.stat().st_size,
        duration=40,
        summary="The sample episode shipped with ibplayer.",
        notes_html="<p>The sample episode shipped with ibplayer.</p>",
        notes_text="The sample episode shipped with ibplayer.",
    )
    lib = Library(data_dir)
    try:
        fid = lib.add_feed(local.parent.as_uri() + "/selftest.xml", "ibplayer selftest")
        lib.store_feed(fid, ParsedFeed(title="ibplayer selftest", episodes=[ep]))
        eps = lib.episodes(fid)
        if len(eps) != 1:
            raise StepFailed(f"the temporary library holds {len(eps)} episodes, expected 1")
        eid = eps[0].id
        lib.set_file(eid, str(local), size=local.stat().st_size, duration=40)
        lib.replace_chapters(eid, "id3", list(chapters))
        return eid
    finally:
        lib.close()


# --------------------------------------------------------------------------- driver


def run_selftest(args: Any = None, *, window_step: Callable[[dict], str] | None = None,
                 versions: Callable[[], list[str]] | None = None) -> int:
    """Run the core steps, and the window step the front-end passes in (the
    services know no Qt: `ibplayer.ui.selftest` provides it)."""
    no_gui = bool(getattr(args, "no_gui", False))
    debug = bool(getattr(args, "debug", False))

    from ibplayer import __version__
    from ibplayer.infra.paths import resource
    from ibplayer.infra.vlcloader import vlc_info

    frozen = bool(getattr(sys, "frozen", False))
    _say(f"ibplayer {__version__} selftest ({'frozen bundle' if frozen else 'from source'}, "
         f"Python {sys.version.split()[0]}, {sys.platform})")
    info = vlc_info()
    if info["path"]:
        _say(f"libVLC: {info['version']}")
        _say(f"libVLC path: {info['path']}")
        _say(f"libVLC plugins: {info['plugin_path']}")
        _say(f"libVLC bundled: {'yes' if info['bundled'] else 'no'}")
    else:
        _say(f"libVLC: NOT LOADED - {info['error']}")
    for line in (versions() if versions else []):
        _say(line)
    _say("")

    ctx: dict[str, Any] = {"sample": resource(SAMPLE_NAME), "tmpdirs": []}
    steps: list[tuple[str, Callable[[dict], str] | None]] = [
        ("play", _step_play),
        ("seek", _step_seek),
        ("window", None if no_gui else window_step),
    ]
    results: list[tuple[str, str, str]] = []
    try:
        for name, fn in steps:
            if fn is None:
                results.append((name, "SKIP", "--no-gui" if no_gui else "no window front-end"))
            else:
                t0 = time.monotonic()
                try:
                    detail = fn(ctx)
                    status = "PASS"
                except StepFailed as exc:
                    status, detail = "FAIL", str(exc)
                except Exception as exc:  # noqa: BLE001 - report, don't crash
                    status, detail = "FAIL", f"{type(exc).__name__}: {exc}"
                    if debug:
                        traceback.print_exc()
                detail += f" [{time.monotonic() - t0:.1f} s]"
                results.append((name, status, detail))
            _say(f"{results[-1][1]:4}  {name:7} {results[-1][2]}")
    finally:
        _cleanup(ctx)

    failed = [r for r in results if r[1] == "FAIL"]
    _say("")
    if failed:
        _say(f"selftest FAILED: {', '.join(n for n, _, _ in failed)} ({len(failed)} of {len(results)} steps)")
        return 1
    _say(f"selftest PASSED ({sum(r[1] == 'PASS' for r in results)} steps passed"
         + (", window skipped)" if no_gui else ")"))
    return 0


def _cleanup(ctx: dict) -> None:
    for fn in ctx.pop("cleanups", []):
        try:
            fn()
        except Exception:  # noqa: BLE001
            pass
    b = ctx.pop("backend", None)
    if b is not None:
        try:
            b.stop()
            b.release()
        except Exception:  # noqa: BLE001
            pass
    for d in ctx.get("tmpdirs", []):
        shutil.rmtree(d, ignore_errors=True)
