#!/usr/bin/env python3
"""Build the one-folder bundle for the current OS: dist/ibplayer/ibplayer.

    python3 packaging/build.py [--reuse-venv] [--python PYTHON]

Steps: a clean virtual environment in build/venv (so PyInstaller sees only
the one Qt binding ibplayer depends on), ``pip install . pyinstaller``, then
``pyinstaller packaging/ibplayer.spec``.  Prints the bundle size and the time
taken.  libVLC comes from the system (Linux), VLC_DIR (Windows: the official
VLC zip, extracted) or VLC.app (macOS); see packaging/ibplayer.spec.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
VENV = BUILD / "venv"
DIST = ROOT / "dist"
BUNDLE = DIST / "ibplayer"


def venv_python(v: Path) -> Path:
    return v / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(cmd: list[str], **kw) -> None:
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def tree_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file() and not f.is_symlink())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reuse-venv", action="store_true", help="keep an existing build/venv (faster rebuilds)")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the venv (default: this one)")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    py = venv_python(VENV)
    if VENV.exists() and not (args.reuse_venv and py.exists()):
        shutil.rmtree(VENV)
    if not py.exists():
        print(f"+ {args.python} -m venv {VENV}", flush=True)
        if Path(args.python).resolve() == Path(sys.executable).resolve():
            venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        else:
            run([args.python, "-m", "venv", "--clear", VENV])
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], env=env)
    # a regular (non-editable) install: its dist-info is what copy_metadata bundles
    run([py, "-m", "pip", "install", "--quiet", str(ROOT), "pyinstaller>=6.6"], env=env)
    t_venv = time.monotonic() - t0

    # only one Qt binding may be visible to PyInstaller
    out = subprocess.run([py, "-c", "import importlib.util as u; print([m for m in ('PyQt5','PyQt6','PySide2') "
                                    "if u.find_spec(m)])"], capture_output=True, text=True, env=env, check=True)
    if out.stdout.strip() != "[]":
        raise SystemExit(f"build.py: other Qt bindings in the venv: {out.stdout.strip()}")

    if BUNDLE.exists():
        shutil.rmtree(BUNDLE)
    run([py, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", DIST, "--workpath", BUILD / "pyinstaller", ROOT / "packaging" / "ibplayer.spec"],
        env=env, cwd=ROOT)
    exe = BUNDLE / ("ibplayer.exe" if os.name == "nt" else "ibplayer")
    if not exe.exists():
        raise SystemExit(f"build.py: {exe} was not built")

    size = tree_size(BUNDLE)
    total = time.monotonic() - t0
    print(f"bundle: {exe}")
    print(f"bundle size: {size / 1e6:.1f} MB unpacked ({size} bytes)")
    print(f"build time: {total:.0f} s (venv + pip {t_venv:.0f} s, PyInstaller {total - t_venv:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
