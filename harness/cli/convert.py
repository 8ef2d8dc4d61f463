"""`vigc-bench convert-vigc FILE --out DIR`: VIGC's released generation output -> our records and LLaVA JSON."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("convert-vigc")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for records.jsonl, llava.json (final answers) and llava_vig.json (VIG answers).")
@click.option("--data-type", default=None,
              help="Data type of records whose VIGC instruction does not name one "
                   "(conversation, detail, complex_reasoning, knowledge_vqa).")
def convert_vigc(file: str, out_dir: str, data_type: str | None) -> None:
    """Convert the output of the VIGC repository's generation (FILE, JSON) into generation records
    and LLaVA JSON, so that `quality`, `finetune` and a study's `data_files` read it.

    Reads the LLaVA-type VIG + VIC output (question, original_answer, answer_given_question,
    answer, image, image_id) and the OK-VQA / A-OKVQA-type question and answer outputs.
    """
    from harness import api

    if data_type is not None:
        from generators.base import DATA_TYPES

        if data_type not in DATA_TYPES:
            raise click.BadParameter(f"{data_type!r} is not one of {', '.join(DATA_TYPES)}",
                                     param_hint="--data-type")
    got = api.convert_vigc(Path(file), Path(out_dir), data_type)
    status = ", ".join(f"{k} {v}" for k, v in got.parse_status.items())
    click.echo(f"{got.records} records ({status}) -> {got.records_file}, {got.llava_file}, {got.vig_llava_file}")
