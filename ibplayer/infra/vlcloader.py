"""Find and import libVLC (through python-vlc) without ever crashing the app.

No Qt here.  Use::

    vlc = load_vlc()          # the python-vlc module, or None
    if vlc is None:
        print(load_error, install_hint())
    print(vlc_info())         # {"version", "path", "plugin_path", ...}

When frozen by PyInstaller (``sys.frozen`` / ``sys._MEIPASS``) the libVLC
shipped inside the bundle is used: libraries in ``<_MEIPASS>/vlc/`` and
plugins in ``<_MEIPASS>/vlc/plugins``.  From a source checkout python-vlc's
own discovery finds the system VLC.

``IBPLAYER_NO_VLC=1`` makes :func:`load_vlc` behave as if libVLC were missing
(degraded mode, used by tests).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

NO_VLC_ENV = "IBPLAYER_NO_VLC"

load_error: str | None = None
"""Why the last :func:`load_vlc` call returned None (None after a success)."""

_vlc: ModuleType | None = None
_bundle: dict[str, str] | None = None  # what _prepare_frozen() set up
_dll_dir_handles: list[Any] = []  # os.add_dll_directory handles must stay alive
_preloaded: list[ctypes.CDLL] = []  # keep ctypes handles alive


# --------------------------------------------------------------------------
# platform names
# --------------------------------------------------------------------------

def _lib_names() -> tuple[str, str]:
    """(libvlc, libvlccore) file names for this OS."""
    if sys.platform.startswith("win"):
        return "libvlc.dll", "libvlccore.dll"
    if sys.platform == "darwin":
        return "libvlc.dylib", "libvlccore.dylib"
    return "libvlc.so.5", "libvlccore.so.9"


def _is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def _find_in(dirs: list[Path], name: str) -> Path | None:
    for d in dirs:
        p = d / name
        if p.is_file():
            return p
    # e.g. libvlccore.so.9.0.1 only, or libvlc.so only
    stem = name.split(".so")[0] if ".so" in name else None
    if stem:
        for d in dirs:
            if d.is_dir():
                for p in sorted(d.glob(stem + ".so*")):
                    if p.is_file():
                        return p
    return None


def _prepare_frozen() -> dict[str, str] | None:
    """Point python-vlc at the libVLC inside a PyInstaller bundle.

    Sets PYTHON_VLC_LIB_PATH, PYTHON_VLC_MODULE_PATH and VLC_PLUGIN_PATH,
    pre-loads libvlccore (needed on macOS, harmless elsewhere) and adds the
    DLL directory on Windows.  Returns what it set, or None when the bundle
    carries no libVLC (then python-vlc falls back to a system VLC).
    """
    base = Path(sys._MEIPASS)
    vlc_dir = base / "vlc"
    dirs = [vlc_dir, vlc_dir / "lib", base]
    libname, corename = _lib_names()
    lib = _find_in(dirs, libname)
    if lib is None:
        return None
    plugins = None
    for cand in (vlc_dir / "plugins", vlc_dir / "lib" / "vlc" / "plugins", vlc_dir / "modules"):
        if cand.is_dir():
            plugins = cand
            break

    if sys.platform.startswith("win") and hasattr(os, "add_dll_directory"):
        _dll_dir_handles.append(os.add_dll_directory(str(lib.parent)))
        # python-vlc's loader may call SetDllDirectoryW(None) under PyInstaller;
        # PATH is the belt-and-braces fallback.
        os.environ["PATH"] = str(lib.parent) + os.pathsep + os.environ.get("PATH", "")

    core = _find_in([lib.parent] + dirs, corename)
    if core is not None:
        # libvlc depends on libvlccore; the bundle directory is not on the
        # loader's search path (macOS needs this, Linux benefits too).
        mode = getattr(ctypes, "RTLD_GLOBAL", 0)
        _preloaded.append(ctypes.CDLL(str(core), mode=mode))

    os.environ["PYTHON_VLC_LIB_PATH"] = str(lib)
    info = {"lib": str(lib)}
    if plugins is not None:
        os.environ["PYTHON_VLC_MODULE_PATH"] = str(plugins)
        os.environ["VLC_PLUGIN_PATH"] = str(plugins)
        info["plugins"] = str(plugins)
    else:
        # a stale value would make python-vlc sys.exit(1)
        os.environ.pop("PYTHON_VLC_MODULE_PATH", None)
    return info


def _sanitize_env() -> None:
    """python-vlc calls sys.exit(1) on a bad PYTHON_VLC_LIB_PATH / MODULE_PATH;
    drop values that cannot work so we fall back to normal discovery."""
    lib = os.environ.get("PYTHON_VLC_LIB_PATH")
    if lib and not Path(lib).is_file():
        os.environ.pop("PYTHON_VLC_LIB_PATH")
    mod = os.environ.get("PYTHON_VLC_MODULE_PATH")
    if mod and not Path(mod).is_dir():
        os.environ.pop("PYTHON_VLC_MODULE_PATH")


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------

def load_vlc() -> ModuleType | None:
    """Import python-vlc with a working libVLC; None (and ``load_error``) if not.

    Never raises.  The result is cached after the first success; a failure is
    retried on the next call (e.g. after the user installed VLC... though a
    failed import of python-vlc usually needs an app restart to recover).
    """
    global _vlc, load_error, _bundle

    if os.environ.get(NO_VLC_ENV, "").strip() not in ("", "0"):
        load_error = f"libVLC disabled by {NO_VLC_ENV}={os.environ[NO_VLC_ENV]}"
        return None
    if _vlc is not None:
        load_error = None  # an earlier disabled or failed call's reason no longer holds
        return _vlc

    try:
        if _is_frozen() and _bundle is None:
            _bundle = _prepare_frozen()
        _sanitize_env()
        sys.modules.pop("vlc", None)  # a half-imported module from a failed try
        import vlc  # noqa: PLC0415 (import on purpose inside the try)

        # Touch the library: a broken or foreign libvlc fails here, not later.
        version = vlc.libvlc_get_version()
        if not version:
            raise OSError("libvlc_get_version() returned nothing")
    except BaseException as exc:  # noqa: BLE001 - python-vlc may even sys.exit(1)
        if isinstance(exc, KeyboardInterrupt):
            raise
        sys.modules.pop("vlc", None)
        kind = type(exc).__name__
        detail = str(exc) or repr(exc)
        if isinstance(exc, ModuleNotFoundError) and exc.name == "vlc":
            why = "the python-vlc package is not installed (pip install python-vlc)"
        elif _bundle is not None:
            why = f"the bundled libVLC ({_bundle.get('lib')}) could not be loaded: {kind}: {detail}"
        else:
            why = f"libVLC (the VLC media player library) was not found or failed to load: {kind}: {detail}"
        load_error = f"{why}. {install_hint()}"
        return None

    _vlc = vlc
    load_error = None
    return vlc


def _loaded_lib_path(vlc: ModuleType) -> str | None:
    """The real file of the libvlc shared library that python-vlc loaded."""
    dll = getattr(vlc, "dll", None)
    name = getattr(dll, "_name", None)

    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    parts = line.split(None, 5)
                    if len(parts) == 6:
                        path = parts[5].strip()
                        base = os.path.basename(path)
                        if base.startswith("libvlc.so"):
                            return path
        except OSError:
            pass

    if sys.platform.startswith("win") and dll is not None:
        try:
            buf = ctypes.create_unicode_buffer(32768)
            n = ctypes.windll.kernel32.GetModuleFileNameW(  # type: ignore[attr-defined]
                ctypes.c_void_p(dll._handle), buf, len(buf)
            )
            if n:
                return buf.value
        except Exception:  # noqa: BLE001
            pass
    elif dll is not None:
        # POSIX: ask the dynamic linker which file holds libvlc_new.
        try:
            class _DlInfo(ctypes.Structure):
                _fields_ = [
                    ("dli_fname", ctypes.c_char_p),
                    ("dli_fbase", ctypes.c_void_p),
                    ("dli_sname", ctypes.c_char_p),
                    ("dli_saddr", ctypes.c_void_p),
                ]

            libdl = ctypes.CDLL(None)
            dladdr = libdl.dladdr
            dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
            dladdr.restype = ctypes.c_int
            sym = ctypes.cast(dll.libvlc_new, ctypes.c_void_p)
            info = _DlInfo()
            if dladdr(sym, ctypes.byref(info)) and info.dli_fname:
                return os.path.realpath(info.dli_fname.decode(errors="replace"))
        except Exception:  # noqa: BLE001
            pass

    if name:
        if os.path.isabs(name):
            return os.path.realpath(name)
        found = ctypes.util.find_library("vlc")
        return found or name
    return None


def _plugin_path(vlc: ModuleType, lib_path: str | None) -> str | None:
    for cand in (
        os.environ.get("VLC_PLUGIN_PATH"),
        getattr(vlc, "plugin_path", None),
        os.environ.get("PYTHON_VLC_MODULE_PATH"),
    ):
        if cand and os.path.isdir(cand):
            return cand
    if lib_path:
        d = Path(lib_path).resolve().parent
        for cand in (
            d / "vlc" / "plugins",  # Debian/Ubuntu/Fedora: <libdir>/vlc/plugins
            d / "plugins",  # Windows / bundles
            d.parent / "plugins",  # macOS VLC.app: Contents/MacOS/lib -> ../plugins
        ):
            if cand.is_dir():
                return str(cand)
    return None


def vlc_info() -> dict[str, Any]:
    """What libVLC is in use: version, path (the loaded shared library),
    plugin_path, plus python_vlc (binding version), bundled (bool) and error.
    Values are None when libVLC is not available."""
    vlc = load_vlc()
    info: dict[str, Any] = {
        "version": None,
        "path": None,
        "plugin_path": None,
        "python_vlc": None,
        "bundled": _bundle is not None,
        "error": load_error,
    }
    if vlc is None:
        return info
    try:
        v = vlc.libvlc_get_version()
        info["version"] = v.decode(errors="replace") if isinstance(v, bytes) else str(v)
    except Exception as exc:  # noqa: BLE001
        info["error"] = f"libvlc_get_version failed: {exc}"
    info["python_vlc"] = getattr(vlc, "__version__", None)
    info["path"] = _loaded_lib_path(vlc)
    info["plugin_path"] = _plugin_path(vlc, info["path"])
    if info["path"] and _bundle is not None:
        info["bundled"] = os.path.realpath(info["path"]) == os.path.realpath(_bundle["lib"])
    return info


def install_hint() -> str:
    """One line telling the user how to get VLC on this OS."""
    if sys.platform.startswith("win"):
        return (
            "Install VLC media player (64-bit) from https://www.videolan.org/vlc/ "
            "and restart ibplayer."
        )
    if sys.platform == "darwin":
        return (
            "Install VLC.app from https://www.videolan.org/vlc/ (into /Applications) "
            "or run `brew install --cask vlc`, then restart ibplayer."
        )
    return (
        "Install VLC: `sudo apt install vlc` (Debian/Ubuntu) or `sudo dnf install vlc` "
        "(Fedora, from RPM Fusion), then restart ibplayer."
    )
