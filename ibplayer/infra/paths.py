"""Where ibplayer keeps its data: one SQLite file and the downloads folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "ibplayer"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``--data-dir``, else ``IBPLAYER_DATA_DIR``, else the
    platform's user data dir (e.g. ``~/.local/share/ibplayer``)."""
    chosen = override or os.environ.get("IBPLAYER_DATA_DIR")
    if chosen:
        path = Path(chosen).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def resources_dir() -> Path:
    """The shipped ``resources/`` folder, from a source tree, an installed
    package or a PyInstaller bundle."""
    frozen = getattr(sys, "_MEIPASS", None)
    candidates = []
    if frozen:
        candidates.append(Path(frozen) / "resources")
    package = Path(__file__).resolve().parents[1]  # ibplayer/
    candidates += [package / "resources", package.parent / "resources"]
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[-1]


def resource(name: str) -> Path:
    return resources_dir() / name


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a whole file or nothing: a temp file beside it, fsync, rename.
    On failure (a full disk…) the temp file is removed and the old file, if
    any, is left as it was."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
