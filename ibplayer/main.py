"""The `ibplayer` entry point: no arguments starts the window, subcommands are
the CLI. The only module outside `ui/` that may import `ui`: it picks the
front-end, both of which drive the same services."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["__worker__"]:  # a worker process started by the window (services.worker)
        from ibplayer.services import worker

        return worker.main(argv[1:])
    from ibplayer.cli.main import apply_global_options, build_parser, run

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    if args.command is None:
        apply_global_options(args)
        from ibplayer.ui.app import run_gui

        return run_gui(args)
    if args.command == "selftest" and not args.no_gui:
        from ibplayer.ui import selftest as window_selftest

        args.window_step = window_selftest.step_window
        args.versions = window_selftest.versions
    else:
        _no_collection_at_exit()
    return run(args)


def _no_collection_at_exit() -> None:
    """A command-line process ends as soon as its command is done, and the
    interpreter's last garbage collections then walk every object its imports
    made (the HTTP stack, typing's generics…) only to free memory the system
    takes back anyway: ~15 ms of a refresh answered 304.  Freezing them at
    exit, after the atexit handlers registered later (logging's flush), skips
    that walk.  Everything else happens as before: streams are flushed,
    objects without reference cycles are still released (files closed); an
    object in a cycle is not finalized at exit, which Python never promises.
    Not for the window (Qt's objects are torn down with the interpreter)."""
    import atexit
    import gc

    atexit.register(gc.freeze)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
