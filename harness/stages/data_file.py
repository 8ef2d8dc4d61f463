"""Stage `data/file-<name>` (and `data/seed`, `data/vigc-train-files` from files): LLaVA-format
JSON files from outside the study, taken in as one data part.

Uses: a `data_files` source (one file), seed data given as files instead of generated
(`seed_data.files`: LLaVA-Instruct-150K's three files in the paper's study), and the VIGC
model's extra training data (`vigc.train_files`: OK-VQA / A-OKVQA train as knowledge VQA).
Each file is read, checked (every conversation parses; every image is found under the world's
image folder, where the finetune stage will look for it) and written into the stage directory
as `llava.json`, with `records.jsonl` (one record per question-answer turn) for the quality
stage, its turns typed with the data type the config gives the file. The cache key holds each
file's SHA-256, so an edited file is taken in again and an unchanged one is not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from harness.core.config import Section
from harness.core.errors import BadInput, MissingResource, excerpt
from harness.core.io import read_json, sha256_file, write_json, write_jsonl
from harness.core.records import LLAVA_FILE, RECORDS_FILE, Conversation, GenerationRecord, WorldLayout
from harness.stages.runner import StageContext, StageSpec

VERSION = 1


class DataFileEntry(Section):
    """One file: its path (resolved), its content hash, and the data type of its turns."""

    path: str
    sha256: str
    data_type: str


class DataFileConfig(Section):
    """A named data part made of LLaVA files, each with its data type."""

    name: str
    files: tuple[DataFileEntry, ...]


class DataFileResult(Section):
    """Conversations and question-answer records taken in."""

    conversations: int
    records: int


def files_config(name: str, files: Mapping[str, Sequence[str]], origin: str) -> DataFileConfig:
    """The stage config of a data part from files (data type -> paths); a missing file is one
    `MissingResource` line naming the config key (`origin`) and the path."""
    entries = []
    for data_type, paths in files.items():
        for path in paths:
            p = Path(path).expanduser().resolve()
            if not p.is_file():
                raise MissingResource(f"{origin}: {path}: file not found")
            entries.append(DataFileEntry(path=str(p), sha256=sha256_file(p), data_type=data_type))
    return DataFileConfig(name=name, files=tuple(entries))


def _conversations(path: Path, items: Any) -> list[Conversation]:
    from harness.core.io import validate_items

    convs = validate_items(path, items, Conversation, "LLaVA conversations")
    if not convs:
        raise BadInput(f"{path}: no conversations")
    return convs


def run_data_file(ctx: StageContext[DataFileConfig]) -> DataFileResult:
    """Check the files against the world's images and write them (and their records) into the stage."""
    from harness.quality.readers import llava_records

    root = WorldLayout(ctx.input_path("world")).images
    convs: list[Conversation] = []
    records: list[GenerationRecord] = []
    for j, f in enumerate(ctx.config.files):
        path = Path(f.path)
        items = read_json(path)
        if sha256_file(path) != f.sha256:  # edited between planning and running: the key would lie
            raise BadInput(f"{path}: changed while the study ran; run it again")
        got = _conversations(path, items)
        for cv in got:
            # Finetuning reads `root / image`; an image that is not there would fail there, much later.
            if cv.image is not None and not (cv.image and (root / cv.image).is_file()):
                raise BadInput(f"{path}: conversation {excerpt(cv.id)}: image {excerpt(cv.image)} not found under "
                               "the study's image folder (paths are relative to it, or absolute)")
        convs += got
        # Files of one part may reuse conversation ids (LLaVA-Instruct's files share image ids).
        records += [r.model_copy(update={"id": f"{j}:{r.id}"}) for r in llava_records(items, f.data_type, path)]
    # exclude_none: a text-only conversation has no `image` key, as in LLaVA-1.5's mix.
    write_json(ctx.out_dir / LLAVA_FILE, [cv.model_dump(mode="json", by_alias=True, exclude_none=True) for cv in convs],
               indent=None)
    write_jsonl(ctx.out_dir / RECORDS_FILE, records)
    return DataFileResult(conversations=len(convs), records=len(records))


DATA_FILE = StageSpec("data/file", VERSION, run_data_file, DataFileConfig, DataFileResult, inputs=("world",), cost=2)
