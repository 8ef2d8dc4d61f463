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
    from harness.cli.convert import convert_vigc
    from harness.cli.finetune import finetune
    from harness.cli.foundation import export_foundation
    from harness.cli.generate import generate, merge
    from harness.cli.predict import lm_eval_tasks, predict
    from harness.cli.quality import quality
    from harness.cli.report import report
    from harness.cli.reports import check, compare
    from harness.cli.run import run
    from harness.cli.score import score
    from harness.cli.train_vigc import train_vigc
    from harness.cli.world import world

    for cmd in (run, world, score, report, quality, generate, merge, finetune, train_vigc, predict, lm_eval_tasks,
                compare, check, export_foundation, convert_vigc):
        cli.add_command(cmd)


_attach()


def _error_line(message: str) -> str:
    """One bounded line of an error message: newlines folded, at most 400 characters."""
    line = " ".join(str(message).split())
    return line if len(line) <= 400 else line[:400] + "..."


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every error the user can cause into one line and an exit code.

    `VigcError`s exit with their code (2, or 1 for a failed check); click's usage errors (three
    lines in click's own format) and operating-system errors on a path the user named (an
    output file under /dev/null, a folder that is a file, no permission) exit 2, also on one line.
    """
    try:
        cli.main(args=argv, prog_name="vigc-bench", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as e:
        cmd = e.ctx.command_path if e.ctx is not None else "vigc-bench"
        click.echo(f"vigc-bench: error: {_error_line(e.format_message())} (see '{cmd} --help')", err=True)
        sys.exit(2)
    except click.ClickException as e:
        click.echo(f"vigc-bench: error: {_error_line(e.format_message())}", err=True)
        sys.exit(2)
    except VigcError as e:
        if _DEBUG["on"]:
            raise
        click.echo(f"vigc-bench: error: {_error_line(str(e))}", err=True)
        sys.exit(e.exit_code)
    except OSError as e:
        if _DEBUG["on"] or e.filename is None:  # not about a path: a bug, keep the traceback
            raise
        where = e.filename if e.filename2 is None else f"{e.filename} -> {e.filename2}"
        click.echo(f"vigc-bench: error: {_error_line(f'{where}: {e.strerror or e}')}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)

