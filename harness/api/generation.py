"""The data commands: generate instruction data (sharded), merge shards, convert VIGC's output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from harness.api.models import load_model
from harness.core.errors import BadInput, MissingResource, excerpt
from harness.core.progress import ProgressFactory, silent_progress

if TYPE_CHECKING:
    from harness.core.records import GenerationRecord


@dataclass(frozen=True)
class Generated:
    """What `generate` wrote: records, images and the shard they came from."""

    records: int
    images: int
    shard: str


def generate(generator: str, world_dir: Path, out: Path, split: str = "extra", model: str | None = None,
             data_types: Sequence[str] = (), shard: str = "0/1", seed: int = 0,
             options: dict[str, Any] | None = None, progress: ProgressFactory = silent_progress,
             device: str = "cpu", annotations: Sequence[Path] = ()) -> Generated:
    """Generate instruction data for a folder's images (every n-th with shard i/n): a world
    directory's split, or any plain folder of images (recursively; `annotations`: optional COCO
    instances / captions files). Generation records go into `out` (a shard file), LLaVA JSON
    beside it (`<out>.llava.json`). A VIGC model's `train_log.json` gives its first words."""
    from generators import GENERATORS
    from generators.base import GenerationContext
    from harness.core.records import WorldLayout
    from harness.core.sharding import parse_shard, take_shard, write_shard
    from harness.models.runtime import resolve_device
    from harness.stages.images import folder_image_infos
    from harness.stages.world import image_infos

    gen = GENERATORS.get(generator)()
    unknown = [t for t in data_types if t not in gen.data_types]
    if unknown:  # before any work: a typo costs a second, not a generation run
        raise BadInput(f"--data-type {excerpt(unknown[0])}: {generator} generates {', '.join(gen.data_types)}")
    sh = parse_shard(shard)
    dev = resolve_device(device)
    wd = Path(world_dir)
    layout = WorldLayout(wd)
    if layout.instances(split).is_file():
        infos = image_infos(wd, split, with_scenes=layout.scenes(split).is_file())
    elif gen.needs_ground_truth:
        raise MissingResource(f"{wd}: no {layout.instances(split).relative_to(wd)}: {generator} needs a world "
                              "directory with ground truth")
    else:
        infos = folder_image_infos(wd, annotations)
    infos = take_shard(infos, sh)
    vlm = None
    opts = dict(options or {})
    if gen.reads_pixels:
        if model is None:
            raise BadInput(f"generator {generator!r} reads pixels: give --model")
        log = Path(model) / "train_log.json"
        if "first_words" not in opts and log.is_file():
            from harness.core.io import read_json

            doc = read_json(log)
            fw = doc.get("first_words") if isinstance(doc, dict) else None
            if isinstance(fw, dict) and fw:
                opts["first_words"] = fw
        vlm = load_model(model, dev, inference=True)
    types = tuple(data_types) or gen.data_types
    records = gen.generate(GenerationContext(images=infos, data_types=types, seed=seed, model=vlm, options=opts,
                                             progress=progress))
    out = Path(out)
    fingerprint = {"generator": generator, "world": str(wd.resolve()), "split": split, "model": model,
                   "types": list(types), "seed": seed, "options": opts, "n": sh[1]}
    write_shard(out, records, sh, fingerprint)
    _write_llava(out, records)
    return Generated(len(records), len(infos), shard)


def merge_shards(shards: Sequence[Path], out: Path) -> int:
    """Merge the shard files of one `generate` run into `out` (and its LLaVA JSON); fails if any
    shard is missing or incomplete. Returns the number of records."""
    from harness.core.io import write_jsonl
    from harness.core.sharding import merge_shards as merge

    records = merge([Path(s) for s in shards])
    write_jsonl(Path(out), records)
    _write_llava(Path(out), records)
    return len(records)


def _write_llava(out: Path, records: Sequence[GenerationRecord]) -> None:
    from generators.base import to_llava
    from harness.core.io import write_json

    write_json(out.with_name(out.name + ".llava.json"),
               [c.model_dump(mode="json", by_alias=True) for c in to_llava(records)], indent=None)


@dataclass(frozen=True)
class Converted:
    """What `convert_vigc` wrote: the records file, the LLaVA files, and records per parse status."""

    records_file: Path
    llava_file: Path  # the corrected (VIC) answers, or the only answers of records without a correction
    vig_llava_file: Path  # the VIG answers of the same questions (seed+vig's data)
    records: int
    parse_status: dict[str, int]


def convert_vigc(file: Path, out_dir: Path, data_type: str | None = None) -> Converted:
    """Read VIGC's released / generated output (LLaVA-type VIG + VIC, or OK-VQA / A-OKVQA-type)
    into `OUT_DIR/records.jsonl`, `llava.json` (final answers) and `llava_vig.json` (VIG answers).

    Everything is read and checked before anything is written, and each file is written to a
    temporary name and renamed, so bad input leaves no file behind.
    """
    from generators.base import to_llava
    from generators.vigc_release import read_vigc_output
    from harness.core.io import write_json, write_jsonl
    from harness.core.records import LLAVA_FILE, RECORDS_FILE
    from harness.stages.data import parse_counts
    from harness.stages.vigc import VIG_LLAVA_FILE

    records = read_vigc_output(file, data_type)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BadInput(f"{out}: exists and is not a directory")
    final = [c.model_dump(mode="json", by_alias=True) for c in to_llava(records)]
    vig = [c.model_dump(mode="json", by_alias=True) for c in to_llava(
        [r.model_copy(update={"answer": r.vig_answer, "correction_steps": ()}) for r in records if r.vig_answer])]
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / RECORDS_FILE, records)
    write_json(out / LLAVA_FILE, final, indent=None)
    write_json(out / VIG_LLAVA_FILE, vig, indent=None)
    return Converted(out / RECORDS_FILE, out / LLAVA_FILE, out / VIG_LLAVA_FILE, len(records), parse_counts(records))
