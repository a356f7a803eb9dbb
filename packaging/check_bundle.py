#!/usr/bin/env python3
"""Smoke-test a built bundle: run its `selftest` and prove it is self-contained.

    python3 packaging/check_bundle.py [dist/ibplayer]

* runs ``<bundle>/ibplayer selftest`` (offscreen) and requires exit 0;
* parses the ``libVLC path:`` line and requires that file to lie inside the
  bundle (not the system's libVLC), and ``libVLC bundled: yes``;
* Linux: runs ``ldd`` on the bundled libvlc/libvlccore and every VLC plugin
  with the bundle's library folders on the search path, and fails on any
  "not found" (a plugin whose dependency was not collected);
* runs the bundle's refresh worker (``<bundle>/ibplayer __worker__ refresh
  DIR``, what the window starts for a refresh) on a library holding the
  bundled default-feed snapshot and requires one refresh result back, so a
  bundle refreshes in a separate process as the app from source does;
* prints the bundle size (unpacked) and warns above the 150 MB aim.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AIM_MB = 150


def tree_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file() and not f.is_symlink())


def fail(msg: str) -> int:
    print(f"check_bundle: FAIL: {msg}", flush=True)
    return 1


def check_ldd(internal: Path) -> list[str]:
    vlc = internal / "vlc"
    files = [vlc / "libvlc.so.5", vlc / "libvlccore.so.9", *sorted((vlc / "plugins").rglob("*.so"))]
    env = dict(os.environ, LD_LIBRARY_PATH=os.pathsep.join([str(vlc), str(internal)]))
    problems = []
    outside: dict[str, int] = {}
    for f in files:
        out = subprocess.run(["ldd", str(f)], capture_output=True, text=True, env=env).stdout
        for line in out.splitlines():
            if "not found" in line:
                problems.append(f"{f.relative_to(internal)}: {line.strip()}")
            elif "=>" in line:
                target = line.split("=>", 1)[1].split("(")[0].strip()
                if target and not Path(target).resolve().is_relative_to(internal.resolve()):
                    name = Path(target).name
                    outside[name] = outside.get(name, 0) + 1
    print(f"check_bundle: ldd checked {len(files)} libVLC files; "
          f"resolved from the system (PyInstaller's exclude list): {', '.join(sorted(outside)) or 'none'}")
    return problems


class _Any:
    """Stands in for the app's classes when reading the worker's pickle (this
    script runs without the app's dependencies)."""

    def __init__(self, *a, **kw) -> None:
        pass

    def __setstate__(self, state) -> None:
        if isinstance(state, tuple):  # slots dataclasses: (None, {slot: value})
            state = {k: v for part in state if isinstance(part, dict) for k, v in part.items()}
        self.__dict__.update(state or {})


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.startswith("ibplayer"):
            return _Any
        return super().find_class(module, name)


def check_worker(exe: Path, env: dict) -> str | None:
    """The refresh worker inside the bundle answers; None when it does."""
    with tempfile.TemporaryDirectory(prefix="ibplayer-bundle-") as d:
        env = dict(env, IBPLAYER_DEFAULT_FEED_URL="http://127.0.0.1:9/feed")  # offline: the snapshot
        r = subprocess.run([str(exe), "--data-dir", d, "subscribe"], capture_output=True, text=True, env=env,
                           timeout=120)
        if r.returncode != 0:
            return f"the bundle's subscribe (snapshot) exited {r.returncode}: {r.stderr[-1000:]}"
        print(f"+ {exe} __worker__ refresh {d}", flush=True)
        # stdin stays open while it works: the worker exits when it closes
        with tempfile.TemporaryFile() as err:
            p = subprocess.Popen([str(exe), "__worker__", "refresh", d], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=err, env=env)
            out = p.stdout.read()
            p.wait(120)
            p.stdin.close()
            err.seek(0)
            stderr = err.read().decode(errors="replace")
        try:
            status, value = _Unpickler(io.BytesIO(out)).load()
        except Exception as exc:  # noqa: BLE001
            return f"the bundle's refresh worker gave no result (exit {p.returncode}: {exc}): {stderr[-1000:]}"
        if status != "ok" or len(value) != 1:
            return f"the bundle's refresh worker answered {status}: {value!r}"
        print(f"check_bundle: the refresh worker ran in its own process: {value[0].status} "
              f"({getattr(value[0], 'error', '') or ''})")
    return None


def main(argv: list[str]) -> int:
    bundle = Path(argv[1] if len(argv) > 1 else ROOT / "dist" / "ibplayer").resolve()
    exe = bundle / ("ibplayer.exe" if os.name == "nt" else "ibplayer")
    if not exe.exists():
        return fail(f"{exe} does not exist (build it with packaging/build.py)")
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    for var in ("PYTHON_VLC_LIB_PATH", "PYTHON_VLC_MODULE_PATH", "VLC_PLUGIN_PATH", "IBPLAYER_NO_VLC"):
        env.pop(var, None)
    print(f"+ {exe} selftest", flush=True)
    r = subprocess.run([str(exe), "selftest"], capture_output=True, text=True, env=env, timeout=300)
    print(r.stdout, end="")
    if r.returncode != 0:
        print(r.stderr[-4000:], file=sys.stderr)
        return fail(f"the bundle's selftest exited {r.returncode}")
    fields = {}
    for line in r.stdout.splitlines():
        if line.startswith("libVLC ") and ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    path = fields.get("libVLC path")
    if not path:
        return fail("the selftest did not report a libVLC path")
    real = Path(path).resolve()
    if not real.is_relative_to(bundle):
        return fail(f"the selftest loaded libVLC from {real}, outside the bundle {bundle}")
    if fields.get("libVLC bundled") != "yes":
        return fail(f"the selftest says libVLC bundled: {fields.get('libVLC bundled')}")
    plugins = fields.get("libVLC plugins", "")
    if not plugins or not Path(plugins).resolve().is_relative_to(bundle):
        return fail(f"libVLC plugins are not the bundle's: {plugins}")
    print(f"check_bundle: libVLC loaded from inside the bundle: {real}")

    problem = check_worker(exe, env)
    if problem:
        return fail(problem)

    if sys.platform.startswith("linux"):
        internal = bundle / "_internal"
        problems = check_ldd(internal)
        if problems:
            print("\n".join(problems))
            return fail(f"{len(problems)} unresolved libraries in the bundle's libVLC")

    size_mb = tree_size(bundle) / 1e6
    print(f"check_bundle: bundle size {size_mb:.1f} MB unpacked ({bundle})"
          + ("" if size_mb < AIM_MB else f"  [above the {AIM_MB} MB aim]"))
    print("check_bundle: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
