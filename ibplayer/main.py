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
    return run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
