"""`vigc-bench export-foundation RUN_DIR --out DIR`: ship a study's pretrained foundation.

Exposes the click command `export_foundation`; the main group attaches it with `cli.add_command`.
"""

from __future__ import annotations

from pathlib import Path

import click

from harness.core.errors import BadInput


@click.command("export-foundation")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="folder to write (replaced if it exists); name it in foundation.pretrained")
def export_foundation(run_dir: str, out_dir: str) -> None:
    """Export the trained vision towers and LM of a finished study for `foundation.pretrained`.

    The folder holds each part's files with checksums and the exact recipe it was trained
    with, so a study loading it refuses a config whose recipe differs. The shipped
    `builtin:tiny` weights were made this way:

    \b
    vigc-bench run -o foundation.pretrained=null --out runs/foundation
    vigc-bench export-foundation runs/foundation --out harness/weights/tiny
    """
    from harness.core.records import MANIFEST
    from harness.stages.pretrained import export

    run = Path(run_dir)
    if not (run / MANIFEST).is_file():
        raise BadInput(f"{run / MANIFEST}: not found (is {run} a finished run directory?)")
    index = export(run, Path(out_dir))
    for part, entry in index["parts"].items():
        size = sum((Path(out_dir) / part / rel).stat().st_size for rel in entry["files"])
        click.echo(f"{part}: {len(entry['files'])} files, {size / 1e6:.1f} MB, trained in {entry['seconds']:.0f} s")
    click.echo(f"wrote {out_dir}")
