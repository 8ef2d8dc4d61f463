"""`vigc-bench export-foundation RUN_DIR --out DIR`: ship a study's pretrained foundation.

Exposes the click command `export_foundation`; the main group attaches it with `cli.add_command`.
"""

from __future__ import annotations

from pathlib import Path

import click

from harness.stages.pretrained import CONNECTORS, PARTS


@click.command("export-foundation")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="folder to write (replaced if it exists); name it in foundation.pretrained")
@click.option("--part", "parts", multiple=True, type=click.Choice(PARTS + CONNECTORS),
              help="a part to export (repeatable) [default: the LM and both vision towers]")
@click.option("--add", is_flag=True, help="keep the other parts of the existing --out folder")
def export_foundation(run_dir: str, out_dir: str, parts: tuple[str, ...], add: bool) -> None:
    """Export the trained vision towers and LM of a finished study for `foundation.pretrained`.

    The folder holds each part's files with checksums and the exact recipe it was trained
    with, so a study loading it refuses a config whose recipe differs. Aligned connectors
    (`--part align-clip --part align-blip`) are optional parts: a study uses them only where
    they fit its recipe and the folder's LM and towers exactly, and trains them otherwise.
    The shipped `builtin:tiny` weights were made this way:

    \b
    vigc-bench run -o foundation.pretrained=null --out runs/foundation
    vigc-bench export-foundation runs/foundation --out harness/weights/tiny
    vigc-bench run --out runs/tiny
    vigc-bench export-foundation runs/tiny --out harness/weights/tiny --add \\
        --part align-clip --part align-blip
    """
    from harness import api

    index = api.export_foundation(Path(run_dir), Path(out_dir), parts, add)
    for part, entry in index["parts"].items():
        size = sum((Path(out_dir) / part / rel).stat().st_size for rel in entry["files"])
        click.echo(f"{part}: {len(entry['files'])} files, {size / 1e6:.1f} MB, trained in {entry['seconds']:.0f} s")
    click.echo(f"wrote {out_dir}")
