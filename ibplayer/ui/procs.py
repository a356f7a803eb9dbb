"""Work for the GUI's helper process (no Qt imports here).

Parsing a big feed runs long C calls that hold the GIL (the HTML sanitizer,
pydantic-core validation, regular expressions over whole documents: 50-130 ms
each on a slow machine); in a thread of the GUI process each one freezes the
window for that long.  So the GUI runs a refresh as
``python -m ibplayer.ui.procs refresh DATA_DIR [FEED_IDS_JSON]``: a fresh
process (never a fork of the Qt process, and no re-run of the caller's main
module as multiprocessing's "spawn" would do) that writes to the library
database itself and prints its pickled results on stdout.
"""

from __future__ import annotations

import json
import os
import pickle
import sys


def refresh(data_dir: str, feed_ids: list[int] | None = None) -> list:
    from ibplayer.services.core import Core

    core = Core(data_dir)
    try:
        return core.refresh(feed_ids)
    finally:
        core.close()


COMMANDS = {"refresh": lambda a: refresh(a[0], json.loads(a[1]) if len(a) > 1 else None)}


def main(argv: list[str]) -> int:
    try:
        os.nice(5)  # background work: the window's process gets the CPU first
    except (AttributeError, OSError):
        pass
    out = sys.stdout.buffer
    try:
        result = ("ok", COMMANDS[argv[0]](argv[1:]))
    except Exception as exc:  # noqa: BLE001 - handed back to the window
        try:
            pickle.dumps(exc)
            result = ("error", exc)
        except Exception:  # noqa: BLE001
            result = ("error", RuntimeError(f"{type(exc).__name__}: {exc}"))
    out.write(pickle.dumps(result))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
