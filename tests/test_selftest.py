"""`ibplayer selftest` run as users (and the bundle CI) run it: a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_selftest(*extra: str, env_extra: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.pop("IBPLAYER_NO_VLC", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "ibplayer", "selftest", *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def reported(out: str, key: str) -> str | None:
    for line in out.splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    return None


def test_selftest_passes_with_real_libvlc():
    r = run_selftest()
    assert r.returncode == 0, r.stdout + r.stderr
    path = reported(r.stdout, "libVLC path")
    assert path, r.stdout
    assert Path(path).exists(), f"reported libVLC path does not exist: {path}"
    assert "libvlc" in Path(path).name.lower()
    assert reported(r.stdout, "libVLC bundled") == "no"  # from source: the system's VLC
    for step in ("play", "seek", "window"):
        assert any(line.startswith("PASS") and line.split()[1] == step for line in r.stdout.splitlines()), r.stdout
    assert "selftest PASSED" in r.stdout
    assert "PySide6" in r.stdout


def test_selftest_no_gui_skips_window():
    r = run_selftest("--no-gui")
    assert r.returncode == 0, r.stdout + r.stderr
    assert any(line.startswith("SKIP") and "window" in line for line in r.stdout.splitlines()), r.stdout


def test_selftest_fails_clearly_without_libvlc():
    r = run_selftest(env_extra={"IBPLAYER_NO_VLC": "1"})
    assert r.returncode != 0, r.stdout
    assert "libVLC: NOT LOADED" in r.stdout
    assert "IBPLAYER_NO_VLC" in r.stdout
    assert "selftest FAILED" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr
