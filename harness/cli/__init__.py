"""The `vigc-bench` command line (DESIGN §5): the group, and one module per command.

Each command parses its options, calls one function of `harness.api` and prints what it
returns; no logic lives here. Exit codes: 0 success, 1 a check failed, 2 bad input (one line on
stderr, no traceback unless --debug). Heavy imports happen inside commands, so `--help` is instant.

The top layer: may import everything; nothing imports it.
"""

from __future__ import annotations

import sys

import click

from harness.core.errors import VigcError

_DEBUG = {"on": False}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="vigc-bench")
def cli(debug: bool) -> None:
    """vigc-bench: generate, correct, finetune on, score and compare multimodal instruction data.

    `vigc-bench run` runs the whole default study (embedded world, CPU-sized) into runs/.
    """
    _DEBUG["on"] = debug


def _attach() -> None:
    from harness.cli.finetune import finetune
    from harness.cli.foundation import export_foundation
    from harness.cli.generate import generate, merge
    from harness.cli.predict import lm_eval_tasks, predict
    from harness.cli.quality import quality
    from harness.cli.report import report
    from harness.cli.reports import check, compare
    from harness.cli.run import run
    from harness.cli.score import score
    from harness.cli.world import world

    for cmd in (run, world, score, report, quality, generate, merge, finetune, predict, lm_eval_tasks, compare, check,
                export_foundation):
        cli.add_command(cmd)


_attach()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn `VigcError` into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="vigc-bench", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    except VigcError as e:
        if _DEBUG["on"]:
            raise
        click.echo(f"vigc-bench: error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)

