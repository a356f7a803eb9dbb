"""Playback backends against real libVLC (``--aout=dummy``) and the fake clock.

Contract tests run over both VlcBackend and NullBackend.  A missing libVLC
fails the VLC tests (the CI installs it): they never skip.  All fixtures
live in this file on purpose (no conftest).
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

try:
    from tests.httpfixtures import wait_for
except ImportError:  # tests/ not importable as a package
    from httpfixtures import wait_for

from ibplayer.infra import vlcloader
from ibplayer.infra.playback import (
    MAX_RATE,
    MIN_RATE,
    NullBackend,
    PlayerBackend,
    VlcBackend,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample-episode.mp3"
SAMPLE_LENGTH = 40.07
VLC_ARGS = ("--aout=dummy",)

HAVE_VLC = vlcloader.load_vlc() is not None


def _need_vlc() -> None:
    if not HAVE_VLC:  # a failure, not a skip: the CI installs libVLC
        pytest.fail(f"libVLC required but not loadable: {vlcloader.load_error}")


# --------------------------------------------------------------------------
# listener helpers
# --------------------------------------------------------------------------

class Recorder:
    """Thread-safe record of everything a backend reported."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.states: list[str] = []
        self.times: list[float] = []
        self.stamped: list[tuple[float, float]] = []  # (monotonic, seconds)
        self.lengths: list[float] = []
        self.errors: list[str] = []
        self.threads: set[str] = set()

    def _note(self) -> None:
        self.threads.add(threading.current_thread().name)

    def on_state(self, state: str) -> None:
        assert isinstance(state, str)
        with self.lock:
            self._note()
            self.states.append(state)

    def on_time(self, seconds: float) -> None:
        assert isinstance(seconds, float)
        with self.lock:
            self._note()
            self.times.append(seconds)
            self.stamped.append((time.monotonic(), seconds))

    def on_length(self, seconds: float) -> None:
        assert isinstance(seconds, float)
        with self.lock:
            self._note()
            self.lengths.append(seconds)

    def on_error(self, message: str) -> None:
        assert isinstance(message, str) and message
        with self.lock:
            self._note()
            self.errors.append(message)

    def last_state(self) -> str | None:
        with self.lock:
            return self.states[-1] if self.states else None

    def saw(self, state: str) -> bool:
        with self.lock:
            return state in self.states

    def clear(self) -> None:
        with self.lock:
            self.states.clear()
            self.times.clear()
            self.stamped.clear()
            self.lengths.clear()
            self.errors.clear()


class Guarded:
    """Wraps a listener; records (and re-raises) any exception raised inside a
    callback, whichever thread it runs on, so tests can assert none happened
    even where the backend only logs it."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.exceptions: list[tuple[str, str, BaseException]] = []

    def __getattr__(self, name):
        fn = getattr(self.inner, name)

        def call(*args):
            try:
                return fn(*args)
            except BaseException as exc:
                self.exceptions.append((name, threading.current_thread().name, exc))
                raise

        return call


def make_backend(kind: str) -> PlayerBackend:
    if kind == "vlc":
        _need_vlc()
        return VlcBackend(VLC_ARGS)
    return NullBackend(tick=0.1)


@pytest.fixture(params=["vlc", "null"])
def kind(request) -> str:
    return request.param


@pytest.fixture
def rig(kind):
    """(backend, recorder) with a guarded listener; checks at teardown that no
    listener callback raised, on any thread."""
    backend = make_backend(kind)
    rec = Recorder()
    guard = Guarded(rec)
    backend.set_listener(guard)
    try:
        yield backend, rec
    finally:
        backend.release()
    assert guard.exceptions == [], f"listener raised: {guard.exceptions!r}"
    assert backend.listener_errors == []


def start(backend: PlayerBackend, rec: Recorder, mrl: str = str(SAMPLE), at: float | None = None) -> None:
    backend.load(mrl)
    if at is not None:
        backend.seek(at)
    backend.play()
    assert backend.wait_until_playing(5.0) or wait_for(lambda: rec.saw("playing"), 5.0), rec.states
    assert wait_for(lambda: rec.saw("playing"), 2.0), rec.states


def vlc_time(backend: PlayerBackend) -> float | None:
    """libVLC's own clock (not our seek-target smoothing), or None."""
    if isinstance(backend, VlcBackend):
        ms = backend._player.get_time()
        return ms / 1000.0 if ms >= 0 else None
    return None


# --------------------------------------------------------------------------
# HTTP server with Range support (what podcast CDNs do)
# --------------------------------------------------------------------------

class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(SAMPLE.parent), **kwargs)

    def log_message(self, *args) -> None:  # quiet
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404, "Not found")
            return None
        size = os.path.getsize(path)
        start, end = 0, size - 1
        rng = self.headers.get("Range", "")
        partial = rng.startswith("bytes=")
        if partial:
            first, _, last = rng[6:].split(",")[0].strip().partition("-")
            if first:
                start = int(first)
                end = int(last) if last else size - 1
            else:  # suffix range
                start = max(0, size - int(last))
            end = min(end, size - 1)
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
        f = open(path, "rb")  # noqa: SIM115 - closed by the base class
        f.seek(start)
        self._remaining = end - start + 1
        self.send_response(206 if partial else 200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(self._remaining))
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        return f

    def copyfile(self, source, outputfile) -> None:
        left = self._remaining
        try:
            while left > 0:
                chunk = source.read(min(64 * 1024, left))
                if not chunk:
                    break
                outputfile.write(chunk)
                left -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # VLC drops connections when it seeks


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass


@pytest.fixture(scope="module")
def http_base():
    server = _QuietServer(("127.0.0.1", 0), _RangeHandler)
    t = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------
# the shared contract (both backends)
# --------------------------------------------------------------------------

def test_sample_exists():
    assert SAMPLE.is_file()
    assert SAMPLE.stat().st_size <= 150 * 1024


def test_load_play_reaches_playing_with_length(rig):
    backend, rec = rig
    assert backend.state() == "stopped"
    start(backend, rec)
    assert backend.is_playing()
    assert backend.state() == "playing"
    assert wait_for(lambda: backend.length() is not None, 3.0)
    assert backend.length() == pytest.approx(SAMPLE_LENGTH, abs=1.0)
    assert wait_for(lambda: bool(rec.lengths), 2.0)
    assert rec.lengths[-1] == pytest.approx(SAMPLE_LENGTH, abs=1.0)
    assert wait_for(lambda: backend.time() > 0.2, 3.0)


def test_seek_before_playing_lands_once_playing(rig):
    backend, rec = rig
    backend.load(str(SAMPLE))
    backend.seek(20.0)
    if isinstance(backend, VlcBackend):
        assert backend.pending_seek == 20.0
    assert backend.time() == pytest.approx(20.0)  # reported at once, before playing
    assert rec.times[-1] == pytest.approx(20.0)
    backend.play()
    assert backend.wait_until_playing(5.0)
    assert backend.pending_seek is None
    time.sleep(0.4)
    t = backend.time()
    assert 19.0 <= t <= 21.5, t
    raw = vlc_time(backend)
    if raw is not None:  # VLC's own clock really moved there
        assert wait_for(lambda: 19.0 <= (vlc_time(backend) or 0) <= 21.5, 2.0), raw
    # the UI never saw the clock jump back to 0 in between
    with rec.lock:
        after = list(rec.times)
    assert min(after) >= 19.0, after


def test_load_with_start_position(rig):
    backend, rec = rig
    backend.load(str(SAMPLE), start=12.0)
    assert backend.time() == pytest.approx(12.0)
    backend.play()
    assert backend.wait_until_playing(5.0)
    assert wait_for(lambda: backend.time() > 12.1, 2.0)
    assert 11.5 <= backend.time() <= 13.5


def test_seek_while_paused_reports_new_time_at_once(rig):
    backend, rec = rig
    start(backend, rec)
    backend.pause()
    assert wait_for(lambda: rec.last_state() == "paused", 3.0), rec.states
    assert not backend.is_playing()
    backend.seek(25.0)
    # synchronously, before any VLC event could arrive
    assert rec.times[-1] == pytest.approx(25.0)
    assert backend.time() == pytest.approx(25.0)
    time.sleep(0.3)
    assert backend.time() == pytest.approx(25.0)  # still paused there
    backend.play()
    assert wait_for(lambda: rec.last_state() == "playing", 3.0), rec.states
    assert wait_for(lambda: backend.time() > 25.1, 3.0)
    assert 24.5 <= backend.time() <= 27.0


def test_seek_while_playing(rig):
    backend, rec = rig
    start(backend, rec)
    backend.seek(30.0)
    assert rec.times[-1] == pytest.approx(30.0)
    assert wait_for(lambda: backend.time() > 30.1, 3.0)
    assert 29.0 <= backend.time() <= 32.0
    raw = vlc_time(backend)
    if raw is not None:
        assert 29.0 <= raw <= 32.0


def test_rate(rig):
    backend, rec = rig
    backend.set_rate(1.5)
    assert backend.rate() == 1.5
    start(backend, rec, at=5.0)
    if isinstance(backend, VlcBackend):
        assert backend._player.get_rate() == pytest.approx(1.5)
    assert wait_for(lambda: backend.time() > 5.1, 3.0)
    # VLC updates its clock in steps of a few hundred ms: measure the slope
    # between time events (stamped on arrival) rather than polling time().
    rec.clear()
    time.sleep(1.6)
    with rec.lock:
        pts = list(rec.stamped)
    assert len(pts) >= 2, pts
    (w0, t0), (w1, t1) = pts[0], pts[-1]
    speed = (t1 - t0) / (w1 - w0)
    assert 1.2 <= speed <= 1.8, speed
    backend.set_rate(10)
    assert backend.rate() == MAX_RATE
    backend.set_rate(0.1)
    assert backend.rate() == MIN_RATE


def test_volume_and_mute(rig):
    backend, rec = rig
    backend.set_volume(40)  # before playing: kept and applied later
    backend.set_mute(True)
    start(backend, rec)
    backend.apply_pending()
    assert backend.volume() == 40
    assert backend.is_muted()
    backend.set_mute(False)
    assert not backend.is_muted()
    backend.set_volume(150)
    assert backend.volume() == 100
    backend.set_volume(-3)
    assert backend.volume() == 0
    assert backend.is_playing()  # none of this disturbed playback


def test_end_of_media_gives_ended_and_replays(rig):
    backend, rec = rig
    start(backend, rec)
    assert wait_for(lambda: backend.length() is not None, 3.0)
    length = backend.length()
    backend.seek(length - 1.0)
    assert wait_for(lambda: rec.saw("ended"), 5.0), rec.states
    assert backend.state() == "ended"
    assert not backend.is_playing()
    assert backend.time() == pytest.approx(length, abs=0.5)
    # play() after the end starts over
    rec.clear()
    backend.play()
    assert wait_for(lambda: rec.saw("playing"), 5.0), rec.states
    assert backend.time() < 3.0


def test_missing_file_gives_error_not_hang(rig, tmp_path):
    backend, rec = rig
    backend.load(str(tmp_path / "no-such-episode.mp3"))
    backend.play()
    assert wait_for(lambda: rec.saw("error"), 5.0), rec.states
    assert backend.state() == "error"
    assert rec.errors and "not found" in rec.errors[0].lower()
    assert not backend.is_playing()
    assert backend.wait_until_playing(0.5) is False


def test_toggle_and_stop(rig):
    backend, rec = rig
    start(backend, rec)
    backend.toggle()
    assert wait_for(lambda: rec.last_state() == "paused", 3.0), rec.states
    backend.toggle()
    assert wait_for(lambda: rec.last_state() == "playing", 3.0), rec.states
    backend.stop()
    assert wait_for(lambda: rec.last_state() == "stopped", 3.0), rec.states
    assert backend.state() == "stopped"
    assert not backend.is_playing()
    assert backend.time() == 0.0


def test_play_without_media_reports_error(rig):
    backend, rec = rig
    backend.play()
    assert rec.errors and not backend.is_playing()


def test_release_is_idempotent_and_safe(kind):
    backend = make_backend(kind)
    backend.load(str(SAMPLE))
    backend.release()
    backend.release()
    backend.pause()  # no crash after release
    backend.set_volume(10)


# --------------------------------------------------------------------------
# VLC specifics
# --------------------------------------------------------------------------

@pytest.fixture
def vlc_rig():
    _need_vlc()
    backend = VlcBackend(VLC_ARGS)
    rec = Recorder()
    guard = Guarded(rec)
    backend.set_listener(guard)
    try:
        yield backend, rec
    finally:
        backend.release()
    assert guard.exceptions == [], f"listener raised: {guard.exceptions!r}"
    assert backend.listener_errors == []


def test_vlc_http_stream_plays_and_seeks(vlc_rig, http_base):
    backend, rec = vlc_rig
    url = f"{http_base}/{SAMPLE.name}"
    backend.load(url)
    backend.seek(10.0)  # pending until the stream plays
    backend.play()
    assert backend.wait_until_playing(8.0), rec.states
    assert wait_for(lambda: backend.length() is not None, 3.0)
    assert backend.length() == pytest.approx(SAMPLE_LENGTH, abs=1.5)
    assert wait_for(lambda: 9.0 <= (vlc_time(backend) or 0) <= 12.0, 3.0), vlc_time(backend)
    backend.seek(30.0)
    assert wait_for(lambda: 29.0 <= (vlc_time(backend) or 0) <= 32.0, 3.0), vlc_time(backend)
    assert 29.0 <= backend.time() <= 32.0


def test_vlc_http_404_gives_error(vlc_rig, http_base):
    backend, rec = vlc_rig
    backend.load(f"{http_base}/missing.mp3")
    backend.play()
    assert wait_for(lambda: rec.saw("error"), 8.0), rec.states
    assert rec.errors and "missing.mp3" in rec.errors[0]


def test_vlc_callbacks_come_from_libvlc_threads(vlc_rig):
    backend, rec = vlc_rig
    start(backend, rec)
    assert wait_for(lambda: len(rec.times) >= 2, 3.0)
    # the Qt layer must marshal these: they are not on the main thread
    assert rec.threads - {threading.main_thread().name}, rec.threads


def test_vlc_listener_exception_is_logged_not_swallowed(caplog):
    _need_vlc()

    class Boom(Recorder):
        def on_time(self, seconds: float) -> None:
            super().on_time(seconds)
            if threading.current_thread() is not threading.main_thread():
                raise ValueError("listener bug")

    backend = VlcBackend(VLC_ARGS)
    rec = Boom()
    backend.set_listener(rec)
    try:
        with caplog.at_level(logging.ERROR, logger="ibplayer.infra.playback"):
            start(backend, rec)
            assert wait_for(lambda: backend.listener_errors, 3.0)
            # the backend keeps working after a listener bug
            assert backend.is_playing()
    finally:
        backend.release()
    assert isinstance(backend.listener_errors[0], ValueError)
    assert any("listener" in r.getMessage() and r.exc_info for r in caplog.records)


def test_vlc_instance_keeps_pitch_correction():
    # scaletempo (pitch kept at rate != 1) is VLC's default; never disable it
    assert "--no-audio-time-stretch" not in VlcBackend.BASE_ARGS
    assert "--audio-time-stretch" in VlcBackend.BASE_ARGS


def test_vlc_info():
    _need_vlc()
    info = vlcloader.vlc_info()
    assert info["version"].startswith("3.")
    assert info["path"] and os.path.isfile(info["path"])
    assert "libvlc" in os.path.basename(info["path"])
    assert info["plugin_path"] and os.path.isdir(info["plugin_path"])
    assert info["error"] is None
    assert vlcloader.install_hint()


# --------------------------------------------------------------------------
# NullBackend specifics
# --------------------------------------------------------------------------

def test_null_backend_length_from_file_and_threads():
    b = NullBackend(tick=0.05)
    rec = Recorder()
    b.set_listener(rec)
    try:
        b.load(str(SAMPLE))
        assert b.length() == pytest.approx(SAMPLE_LENGTH, abs=0.5)
        assert b.available is False
        b.play()
        assert wait_for(lambda: len(rec.times) >= 2, 2.0)
        assert rec.threads - {threading.main_thread().name}  # like libVLC
        b.load("http://127.0.0.1:9/stream.mp3")
        assert b.length() is None
        assert NullBackend(length=90.0).length() is None  # until loaded
    finally:
        b.release()


def test_null_backend_fixed_length_and_stream():
    b = NullBackend(length=3.0, tick=0.05)
    rec = Recorder()
    b.set_listener(rec)
    try:
        b.load("https://example.invalid/ep.mp3")
        assert b.length() == 3.0
        b.play()
        b.seek(2.8)
        assert wait_for(lambda: rec.saw("ended"), 2.0)
    finally:
        b.release()


# --------------------------------------------------------------------------
# loader / degraded mode (in subprocesses: the import of vlc is process-wide)
# --------------------------------------------------------------------------

def _run_py(code: str, env_extra: dict[str, str] | None = None, pythonpath: list[str] | None = None) -> dict:
    env = dict(os.environ)
    env.update(env_extra or {})
    env["PYTHONPATH"] = os.pathsep.join([*(pythonpath or []), str(ROOT)])
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env, capture_output=True, text=True, timeout=20, cwd=str(ROOT),
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


_PROBE = """
    import json
    from ibplayer.infra import vlcloader
    from ibplayer.infra.playback import create_backend
    vlc = vlcloader.load_vlc()
    b = create_backend(["--aout=dummy"])
    print(json.dumps({"vlc": vlc is not None, "error": vlcloader.load_error,
                      "backend": type(b).__name__, "available": b.available,
                      "info": vlcloader.vlc_info()}))
"""


def test_no_vlc_env_gives_null_backend():
    r = _run_py(_PROBE, {"IBPLAYER_NO_VLC": "1"})
    assert r["vlc"] is False
    assert r["error"] and "IBPLAYER_NO_VLC" in r["error"]
    assert r["backend"] == "NullBackend" and r["available"] is False
    assert r["info"]["version"] is None and r["info"]["error"]


@pytest.mark.parametrize(
    "fake_vlc",
    [
        'raise OSError("libvlc.so.5: cannot open shared object file")',
        'raise NotImplementedError("Cannot find libvlc lib")',
        "import sys; sys.exit(1)",  # python-vlc does this on a bad PYTHON_VLC_LIB_PATH
        "dll = None",  # imports, but there is no usable library behind it
    ],
)
def test_broken_vlc_import_degrades(tmp_path, fake_vlc):
    (tmp_path / "vlc.py").write_text(fake_vlc + "\n")
    r = _run_py(_PROBE, pythonpath=[str(tmp_path)])
    assert r["vlc"] is False
    assert r["error"] and vlcloader.install_hint() in r["error"]
    assert r["backend"] == "NullBackend" and r["available"] is False


def test_bad_lib_path_env_falls_back_to_system():
    _need_vlc()
    r = _run_py(_PROBE, {"PYTHON_VLC_LIB_PATH": "/nonexistent/libvlc.so.5",
                         "PYTHON_VLC_MODULE_PATH": "/nonexistent/plugins"})
    assert r["vlc"] is True and r["backend"] == "VlcBackend"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="bundle layout test for Linux")
def test_frozen_bundle_uses_bundled_libvlc(tmp_path):
    _need_vlc()
    info = vlcloader.vlc_info()
    sys_lib = Path(info["path"])
    core = next(iter(sorted(sys_lib.parent.glob("libvlccore.so.9*"))), None)
    assert core is not None, f"libvlccore.so.9 not found next to {sys_lib}"
    bundle = tmp_path / "bundle"
    (bundle / "vlc").mkdir(parents=True)
    shutil.copy2(sys_lib, bundle / "vlc" / "libvlc.so.5")
    shutil.copy2(core, bundle / "vlc" / "libvlccore.so.9")
    (bundle / "vlc" / "plugins").symlink_to(info["plugin_path"])
    code = (
        "import sys\n"
        "sys.frozen = True\n"
        f"sys._MEIPASS = {str(bundle)!r}\n"
    ) + textwrap.dedent(_PROBE)
    r = _run_py(code)
    assert r["vlc"] is True and r["backend"] == "VlcBackend", r
    assert r["info"]["path"] == str(bundle / "vlc" / "libvlc.so.5")
    assert r["info"]["plugin_path"] == str(bundle / "vlc" / "plugins")
    assert r["info"]["bundled"] is True


def test_vlc_gc_on_foreign_thread_never_calls_libvlc():
    """__del__ on a libVLC-like (non-Python) thread must not call libVLC
    (deadlock risk): the backend is kept alive instead."""
    _need_vlc()
    import _thread

    from ibplayer.infra import playback as player_mod

    b = VlcBackend(VLC_ARGS)
    done = threading.Event()

    def gc_like():
        b.__del__()  # runs on a _DummyThread, like a libVLC callback thread
        done.set()

    _thread.start_new_thread(gc_like, ())
    assert done.wait(5.0)
    assert b in player_mod._KEEP_ALIVE and not b._released
    player_mod._KEEP_ALIVE.remove(b)
    b.release()
    assert b._released


def test_quitting_while_libvlc_warms_up_neither_crashes_nor_hangs(tmp_path):
    """The window warms libVLC up on a pool thread after start-up (a small
    file parsed with a media object of its own); quitting at that moment
    releases the backend on the GUI thread.  Forty quits at random moments
    of the shipped sample's parse (before the fix about half the runs
    crashed in libvlc_media_release), then a long file of zeros (sparse: no
    disk used) that keeps libVLC's parse looking for an MPEG frame for
    seconds (quitting then waited ~4.5 s for it).  In a child process, so
    a crash is this test's failure, not pytest's."""
    _need_vlc()
    zeros = tmp_path / "zeros.mp3"
    with open(zeros, "wb") as f:
        f.truncate(100_000_000)
    code = textwrap.dedent(f"""
        import random, threading, time
        from ibplayer.infra.playback import VlcBackend
        random.seed(7)
        for _ in range(40):  # the shipped sample: quit at any moment of its short parse
            b = VlcBackend({VLC_ARGS!r})
            t = threading.Thread(target=b.warm_up)
            t.start()
            time.sleep(random.uniform(0, 0.03))
            b.release()
            t.join(10)
            assert not t.is_alive()
        b = VlcBackend({VLC_ARGS!r})
        out = []
        t = threading.Thread(target=lambda: out.append(b.warm_up({str(zeros)!r}, timeout=5.0)))
        t.start()
        time.sleep(0.5)  # the parse is still looking for a frame
        t0 = time.monotonic()
        b.release()
        t.join(10)
        print("released", round(time.monotonic() - t0, 2), "warmed", out, "alive", t.is_alive(), flush=True)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    words = r.stdout.split()
    assert words[0] == "released" and float(words[1]) < 2.0, r.stdout  # quitting is not held up by the parse
    assert "alive False" in r.stdout and "warmed [False]" in r.stdout, r.stdout
