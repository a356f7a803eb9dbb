"""MPRIS on a REAL, private D-Bus session bus.

A dbus-daemon is started for the test; the window (real libVLC,
``--aout=dummy``, the sample episode with ID3 chapters at 0/8/18/30 s as a
downloaded episode) runs in a subprocess -- this file run as a script --
with ``DBUS_SESSION_BUS_ADDRESS`` pointing at that bus, because QtDBus
connects to the session bus once per process.  The test talks to it from
outside with ``dbus-send`` / ``dbus-monitor``, and asks the driver for the
raw libVLC time over its stdin/stdout (one JSON line per command)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

BUS_NAME = "org.mpris.MediaPlayer2.ibplayer"
PATH = "/org/mpris/MediaPlayer2"
PLAYER = "org.mpris.MediaPlayer2.Player"
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample-episode.mp3"
CHAPTERS = [(0.0, "Cold open"), (8.0, "Introductions"), (18.0, "The main idea"), (30.0, "Wrap-up")]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="MPRIS is Linux-only")


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:  # a failure, not a skip: .ci/run installs dbus-daemon and dbus-bin
        pytest.fail(f"{tool} is not installed (apt-get install dbus-daemon dbus-bin)")
    return path


def _wait(pred, timeout: float, step: float = 0.05):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


# --------------------------------------------------------------------- fixtures


@pytest.fixture
def session_bus():
    daemon = _need("dbus-daemon")
    _need("dbus-send")
    proc = subprocess.Popen([daemon, "--session", "--nofork", "--print-address=1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("unix:"), f"dbus-daemon printed {address!r}: {proc.stderr.read()}"
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _driver_env(address: str) -> dict:
    env = dict(os.environ)
    env.pop("IBPLAYER_NO_MPRIS", None)
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Driver:
    def __init__(self, mode: str, data_dir: Path, address: str) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, mode, str(data_dir)], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=_driver_env(address))

    def read(self, timeout: float = 20) -> dict:
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if sel.select(max(0.0, end - time.monotonic())):
                line = self.proc.stdout.readline()
                if not line:
                    break
                if line.startswith("{"):
                    return json.loads(line)
        raise AssertionError(f"driver said nothing useful (exit {self.proc.poll()}): {self.stderr()}")

    def ask(self, cmd: str) -> dict:
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self.read(10)

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read()[-3000:]

    def close(self) -> int | None:
        if self.proc.poll() is None:
            try:
                self.ask("quit")
            except (AssertionError, BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def player_on_bus(session_bus, tmp_path):
    d = Driver("bus", tmp_path / "data", session_bus)
    try:
        ready = d.read(30)
        assert ready.get("ready"), ready
        yield d, session_bus, ready
    finally:
        rc = d.close()
        err = d.proc.stderr.read() if d.proc.stderr and not d.proc.stderr.closed else ""
        assert rc == 0, f"driver exit {rc}: {err[-3000:]}"
        assert "Traceback" not in err, err[-3000:]


def send(address: str, method: str, *args: str, dest: str = BUS_NAME, path: str = PATH) -> str:
    r = subprocess.run(["dbus-send", f"--bus={address}", "--print-reply", f"--dest={dest}", path, method, *args],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, f"{method} {args}: {r.stderr.strip()}"
    return r.stdout


def get(address: str, prop: str, iface: str = PLAYER) -> str:
    return send(address, "org.freedesktop.DBus.Properties.Get", f"string:{iface}", f"string:{prop}")


def metadata(address: str) -> dict:
    """xesam:title / mpris:length / ... of `dbus-send` output: {key: (dbus type, text)}."""
    out = get(address, "Metadata")
    return {k: (t, v.strip()) for k, t, v in
            re.findall(r'dict entry\(\s*string "([^"]+)"\s*variant\s+(\w+(?: path)?) ([^\n]*)', out)}


def string_value(text: str) -> str:
    m = re.search(r'"(.*)"', text)
    return m.group(1) if m else text


def wait_vlc_near(d: Driver, t: float, tol: float = 1.0, timeout: float = 8.0) -> dict:
    st = _wait(lambda: (lambda s: s if abs(s["vlc_time"] - t) <= tol else None)(d.ask("state")), timeout, 0.1)
    assert st, f"libVLC time {d.ask('state')}, wanted {t} ± {tol}"
    return st


# --------------------------------------------------------------------- tests


def test_mpris_on_a_real_session_bus(player_on_bus, tmp_path):
    d, bus, ready = player_on_bus
    assert ready["service"] == BUS_NAME
    names = send(bus, "org.freedesktop.DBus.ListNames", dest="org.freedesktop.DBus", path="/org/freedesktop/DBus")
    assert f'string "{BUS_NAME}"' in names
    owner = send(bus, "org.freedesktop.DBus.NameHasOwner", f"string:{BUS_NAME}",
                 dest="org.freedesktop.DBus", path="/org/freedesktop/DBus")
    assert "boolean true" in owner

    assert 'string "ibplayer"' in get(bus, "Identity", "org.mpris.MediaPlayer2")
    assert "boolean true" in get(bus, "CanGoNext")
    assert 'string "Playing"' in get(bus, "PlaybackStatus")

    md = metadata(bus)
    assert "Selftest sample episode" in string_value(md["xesam:title"][1])
    assert "Cold open" in string_value(md["xesam:title"][1]), md
    assert md["mpris:trackid"][0] == "object path"
    length_type, length = md["mpris:length"]
    assert length_type in ("int64", "int32"), md  # see mpris.metadata(): "x" wanted, PySide gives "i" here
    assert abs(int(length) - 40_070_000) < 500_000, md  # microseconds of the 40.07 s sample
    pos = re.search(r"int64 (\d+)", get(bus, "Position"))
    assert pos and 0 < int(pos.group(1)) < 8_000_000

    # a PropertiesChanged with the new chapter's title, as signals go out
    mon_log = tmp_path / "monitor.txt"
    with open(mon_log, "w") as fh:
        mon = subprocess.Popen(["dbus-monitor", "--address", bus,
                                f"type='signal',interface='org.freedesktop.DBus.Properties',path='{PATH}'"],
                               stdout=fh, stderr=subprocess.STDOUT)
    try:
        assert _wait(lambda: mon_log.stat().st_size > 0, 5), "dbus-monitor did not start"

        send(bus, f"{PLAYER}.Next")
        st = wait_vlc_near(d, 8.0)
        assert st["chapter"] == 1
        assert "Introductions" in string_value(metadata(bus)["xesam:title"][1])
        assert _wait(lambda: "Introductions" in mon_log.read_text(), 5), mon_log.read_text()[-2000:]
        text = mon_log.read_text()
        assert 'string "org.mpris.MediaPlayer2.Player"' in text and 'string "Metadata"' in text

        send(bus, f"{PLAYER}.Next")
        st = wait_vlc_near(d, 18.0)
        assert st["chapter"] == 2
        assert "The main idea" in string_value(metadata(bus)["xesam:title"][1])

        # within 3 s of a chapter start, Previous goes to the chapter before
        send(bus, f"{PLAYER}.Previous")
        st = wait_vlc_near(d, 8.0)
        assert st["chapter"] == 1
        assert "Introductions" in string_value(metadata(bus)["xesam:title"][1])

        send(bus, f"{PLAYER}.PlayPause")
        assert _wait(lambda: 'string "Paused"' in get(bus, "PlaybackStatus"), 5), get(bus, "PlaybackStatus")
        assert d.ask("state")["state"] == "paused"
        assert _wait(lambda: 'string "Paused"' in mon_log.read_text(), 5), "no PropertiesChanged for Paused"
        send(bus, f"{PLAYER}.PlayPause")
        assert _wait(lambda: 'string "Playing"' in get(bus, "PlaybackStatus"), 5)
    finally:
        mon.terminate()
        mon.wait(5)


def test_seeked_for_every_jump_and_the_desktop_entry(player_on_bus, tmp_path):
    """Issue 8, defect 6: MPRIS follows the player, not the window: every jump
    (a chapter click, the slider, a key, a notes link, D-Bus) sends Seeked
    with the new position, and DesktopEntry is the shipped desktop id."""
    d, bus, _ready = player_on_bus
    assert 'string "io.github.ibplayer.ibplayer"' in get(bus, "DesktopEntry", "org.mpris.MediaPlayer2")
    assert (ROOT / "resources" / "io.github.ibplayer.ibplayer.desktop").is_file()
    mon_log = tmp_path / "seeked.txt"
    with open(mon_log, "w") as fh:
        mon = subprocess.Popen(["dbus-monitor", "--address", bus,
                                f"type='signal',interface='{PLAYER}',member='Seeked'"],
                               stdout=fh, stderr=subprocess.STDOUT)
    try:
        assert _wait(lambda: mon_log.stat().st_size > 0, 5), "dbus-monitor did not start"

        def seeked() -> list[int]:
            return [int(x) for x in re.findall(r"member=Seeked\n\s*int64 (\d+)", mon_log.read_text())]

        jumps = [("chapter 2", 18.0), ("slider 25", 25.0), ("key N", 30.0), ("link 12", 12.0)]
        for i, (cmd, t) in enumerate(jumps):
            assert d.ask(cmd).get("ok"), cmd
            assert _wait(lambda i=i: len(seeked()) > i, 5), (cmd, mon_log.read_text()[-1500:])
            assert abs(seeked()[i] - t * 1e6) < 300_000, (cmd, seeked())
            wait_vlc_near(d, t, tol=1.5)
        send(bus, f"{PLAYER}.SetPosition", "objpath:/org/ibplayer/episode/1", "int64:5000000")
        assert _wait(lambda: len(seeked()) > len(jumps), 5), mon_log.read_text()[-1500:]
        assert len(seeked()) == len(jumps) + 1, seeked()  # one Seeked per jump, not two
        assert abs(seeked()[-1] - 5_000_000) < 300_000, seeked()
    finally:
        mon.terminate()
        mon.wait(5)


def test_no_session_bus_nothing_breaks(tmp_path):
    d = Driver("nobus", tmp_path / "data", f"unix:path={tmp_path / 'no-such-bus-socket'}")
    try:
        res = d.read(30)
    finally:
        rc = d.close()
    err = d.proc.stderr.read()
    assert res == {"mpris": None, "state": "playing", "start_mpris": None}, res
    assert rc == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]


# --------------------------------------------------------------------- the driver (a subprocess)


def _driver(mode: str, data_dir: Path) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ibplayer.infra.audiofile import read_audio_info
    from ibplayer.services.selftest import _prepare_library, _raw_vlc_time

    data_dir.mkdir(parents=True, exist_ok=True)
    info = read_audio_info(SAMPLE)
    assert [(c.start, c.title) for c in info.chapters] == CHAPTERS, info.chapters
    eid = _prepare_library(data_dir, SAMPLE, info.chapters)

    from PySide6.QtCore import QSocketNotifier
    from PySide6.QtWidgets import QApplication

    from ibplayer.ui.mainwindow import build_main_window
    from ibplayer.ui.mpris import start_mpris

    w = build_main_window(data_dir, backend_args=("--aout=dummy",), mpris=True, auto_refresh=False)
    app = QApplication.instance()

    def wait(pred, timeout):
        end = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > end:
                raise SystemExit(f"driver: timed out ({pred})")
            app.processEvents()
            time.sleep(0.01)

    def say(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def vlc_time():  # libVLC's own clock, not the player's seek-smoothed time
        raw = _raw_vlc_time(w.player.backend)
        return float(raw) if raw is not None else -1.0

    assert w.player.available, getattr(w.player.backend, "reason", "no libVLC")
    wait(lambda: w.episodes_model.rowCount() > 0, 10)
    assert w.select_episode(eid)
    wait(lambda: w.shown_episode is not None and w.shown_episode.id == eid and w.chapters_model.rowCount() == 4, 10)
    w.play_episode(w.shown_episode, start=1.0)
    wait(lambda: w.player.state() == "playing" and vlc_time() > 0.5, 10)
    wait(lambda: w.mpris_tried, 10)  # MPRIS starts after the first paint

    if mode == "nobus":
        say({"mpris": None if w.mpris is None else repr(w.mpris), "state": w.player.state(),
             "start_mpris": None if start_mpris(w) is None else "service"})
        w.close()
        return 0

    assert w.mpris is not None, "start_mpris returned None on a live session bus"
    say({"ready": True, "service": w.mpris.service_name})

    def command():
        line = sys.stdin.readline()
        cmd = line.strip()
        if cmd == "state":
            say({"vlc_time": vlc_time(), "time": w.player.time(), "state": w.player.state(),
                 "chapter": w.player.chapter()})
        elif cmd.startswith("chapter "):  # a click on a chapter row in the sidebar
            from PySide6.QtCore import Qt
            from PySide6.QtTest import QTest

            idx = w.chapters_model.index(int(cmd.split()[1]), 1)
            w.chapter_view.scrollTo(idx)
            QTest.mouseClick(w.chapter_view.viewport(), Qt.LeftButton, pos=w.chapter_view.visualRect(idx).center())
            say({"ok": True})
        elif cmd.startswith("slider "):
            w.slider.seekRequested.emit(float(cmd.split()[1]))
            say({"ok": True})
        elif cmd == "key N":
            from PySide6.QtCore import Qt
            from PySide6.QtTest import QTest

            w.episode_view.setFocus()
            QTest.keyClick(w.episode_view, Qt.Key_N)
            say({"ok": True})
        elif cmd.startswith("link "):
            from PySide6.QtCore import QUrl

            w.notes.anchorClicked.emit(QUrl("ibplayer-seek:" + cmd.split()[1]))
            say({"ok": True})
        elif cmd in ("quit", ""):
            notifier.setEnabled(False)
            w.close()
            say({"bye": True})
            app.quit()

    notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Read)
    notifier.activated.connect(command)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(_driver(sys.argv[1], Path(sys.argv[2])))
