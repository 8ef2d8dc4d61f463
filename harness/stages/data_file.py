"""Stage `data/file-<name>`: a LLaVA-format JSON file from outside the study, taken in as a data part.

The file is read, checked (every conversation parses; every image is found under the world's
image folder, where the finetune stage will look for it) and written into the stage directory
as `llava.json`, with `records.jsonl` (one record per question-answer turn) for the quality
stage. The cache key holds the file's SHA-256, so an edited file is taken in again and an
unchanged one is not, wherever it lies.
"""

from __future__ import annotations

from pathlib import Path

from harness.core.config import Section
from harness.core.errors import BadInput, MissingResource, excerpt
from harness.core.io import read_json, sha256_file, write_json, write_jsonl
from harness.core.records import LLAVA_FILE, RECORDS_FILE, Conversation, WorldLayout
from harness.stages.runner import StageContext, StageSpec

VERSION = 1


class DataFileConfig(Section):
    """One named file: its path (as the config gives it, resolved), its content hash, and the data
    type its turns are measured as."""

    name: str
    path: str
    sha256: str
    data_type: str = "conversation"


class DataFileResult(Section):
    """Conversations and question-answer records taken in."""

    conversations: int
    records: int


def file_config(name: str, path: str, origin: str = "data_files") -> DataFileConfig:
    """The stage config of a named file: a missing file is one `MissingResource` line naming the key."""
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise MissingResource(f"{origin}.{name}: {path}: file not found")
    return DataFileConfig(name=name, path=str(p), sha256=sha256_file(p))


def run_data_file(ctx: StageContext[DataFileConfig]) -> DataFileResult:
    """Check the file against the world's images and write it (and its records) into the stage."""
    from pydantic import ValidationError

    from harness.quality.readers import llava_records

    c = ctx.config
    path = Path(c.path)
    items = read_json(path)
    if sha256_file(path) != c.sha256:  # edited between planning and running: the key would lie
        raise BadInput(f"{path}: changed while the study ran; run it again")
    if not isinstance(items, list):
        raise BadInput(f"{path}: expected a JSON list of LLaVA conversations")
    convs = []
    for i, d in enumerate(items):
        try:
            convs.append(Conversation.model_validate(d))
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(x) for x in err["loc"]) or "(item)"
            raise BadInput(f"{path}: item {i}: {loc}: {err['msg']}") from None
    if not convs:
        raise BadInput(f"{path}: no conversations")
    root = WorldLayout(ctx.input_path("world")).images
    for cv in convs:
        # Finetuning reads `root / image`; an image that is not there would fail there, much later.
        if not cv.image or not (root / cv.image).is_file():
            raise BadInput(f"{path}: conversation {excerpt(cv.id)}: image {excerpt(cv.image)} not found under "
                           "the study's image folder (paths are relative to it, or absolute)")
    records = llava_records(items, c.data_type, path)
    write_json(ctx.out_dir / LLAVA_FILE, [cv.model_dump(mode="json", by_alias=True) for cv in convs], indent=None)
    write_jsonl(ctx.out_dir / RECORDS_FILE, records)
    return DataFileResult(conversations=len(convs), records=len(records))


DATA_FILE = StageSpec("data/file", VERSION, run_data_file, DataFileConfig, DataFileResult, inputs=("world",))
