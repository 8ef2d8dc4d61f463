"""Run the `vigc-bench` command line in-process (so monkeypatches and capsys apply)."""

from __future__ import annotations

from harness.cli import main


def run_cli(*args: str) -> int:
    """The exit code of `vigc-bench ARGS` (0 when the command returned normally)."""
    try:
        main(list(args))
    except SystemExit as e:
        return int(e.code or 0)
    return 0
