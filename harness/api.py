"""The public API: what the `vigc-bench` commands do, as functions.

Each command of the CLI (`harness/cli/`) parses its options, calls one of these and prints
the result; scripts and notebooks call them directly. Heavy imports (torch, transformers)
happen inside the functions that need them, so importing this module is cheap.

May import every layer below it (study, stages, reports, plugins, training, models, world,
core); never the CLI.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from harness.core.errors import BadConfig, BadInput, MissingResource, excerpt
from harness.core.progress import ProgressFactory, silent_progress

if TYPE_CHECKING:
    from benchmarks.base import ScoreResult
    from harness.core.records import GenerationRecord, QualityRecord
    from harness.stages.runner import StageOutput
    from harness.study.config import StudyConfig
    from harness.study.graph import PlannedStage
    from harness.study.run import StudyResult
    from harness.training.distributed import DistEnv
    from harness.training.recipes import FinetuneConfig


def load_study_config(config_file: str | Path | None = None, preset: str | None = None,
                      overrides: Sequence[str] = ()) -> StudyConfig:
    """A study config from a YAML file or a preset (default `tiny`) with `key=value` overrides;
    every name in it resolved against its registry. A bad config is one `BadConfig` line."""
    from harness.study.config import load_config

    return load_config(config_file, preset, tuple(overrides))


def check_world(cfg: StudyConfig) -> None:
    """Check every file a files world names: the first missing or malformed one is a `VigcError`
    naming it (the embedded world has none to check)."""
    from harness.study.graph import world_files

    world_files(cfg)


def plan_study(cfg: StudyConfig, run_dir: Path, cache_dir: Path | None = None) -> list[PlannedStage]:
    """The stages a study would run, in dependency order, with their cache keys and whether a
    finished copy is already cached; nothing runs."""
    from harness.study.graph import plan

    return plan(cfg, Path(cache_dir) if cache_dir else Path(run_dir) / "stages")


def run_study(cfg: StudyConfig, run_dir: Path, progress: ProgressFactory = silent_progress,
              cache_dir: Path | None = None, jobs: int | None = None,
              on_stage: Callable[[StageOutput], None] | None = None) -> StudyResult:
    """Run (or reuse) every stage of a study and write the run directory (results, data quality,
    reports, manifest). `jobs` defaults to 2 worker processes for tiny models on 2+ cores, else 1."""
    from harness.study.parallel import default_jobs
    from harness.study.run import run_study as run

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub unless the user named one
    env = launch_env()
    if env.enabled:  # one stage at a time per rank; the ranks share each training step instead
        from harness.study.distributed import check_job

        check_job(cfg, env, jobs)
        jobs = 1
    # Parallel stages pay off for the tiny models, whatever world they run on; the count must not
    # depend on the world's kind, or the same study on its exported files would round differently.
    jobs = jobs or default_jobs(all(t.checkpoint is None for t in cfg.targets))
    if jobs == 1:
        from harness.models.runtime import configure

        configure()  # stages run in this process (workers set up their own threads)
    return run(cfg, Path(run_dir), progress, on_stage, cache_dir=cache_dir, jobs=jobs)


def launch_env() -> DistEnv:
    """This process's place in a torchrun / accelerate job (rank 0 of 1 without a launcher);
    a `BadConfig` line for an environment no process group can be built from."""
    from harness.training.distributed import dist_env

    return dist_env()


def write_world(out_dir: Path, images: int, seed: int = 0) -> dict[str, int]:
    """Draw the embedded world into `out_dir` (`images` per split); images written per split."""
    from harness.world.export import SPLITS, write_world as write

    if images < 1:
        raise BadInput(f"images per split must be at least 1, got {images}")
    return write(Path(out_dir), seed, {s: images for s in SPLITS})


@dataclass(frozen=True)
class WorldExport:
    """What `export_world` wrote into a world folder."""

    images: dict[str, int]  # images per split
    benchmark_files: dict[str, dict[str, list[str]]]  # per benchmark and split, relative to the folder
    config: Path  # the study config that runs on the folder: `vigc-bench run --config <config>`


def export_world(out_dir: Path, preset: str = "tiny", images: int | None = None, seed: int | None = None
                 ) -> WorldExport:
    """Write a preset's embedded world into `out_dir` as plain files (DESIGN §2 "A world is
    files"): images, COCO instances and captions, ground-truth scenes and the benchmark files in
    their official formats, then `study.yaml`, the preset with `world.kind: files` pointing at
    them (written last, so its presence says the folder is complete). `images` overrides every
    split's count, `seed` the preset's seed."""
    import yaml

    from harness.core.io import atomic_write_text
    from harness.stages.bench import write_bench_files
    from harness.study.config import files_world_study
    from harness.world.export import SPLITS, write_world as write
    from harness.world.files import files_world_section

    if images is not None and images < 1:
        raise BadInput(f"images per split must be at least 1, got {images}")
    cfg = load_study_config(preset=preset)
    w = cfg.world
    if w.kind != "embedded":
        raise BadConfig(f"preset {preset!r}: its world is files already; `world` writes an embedded world")
    counts = w.images.model_dump() if images is None else {s: images for s in SPLITS}
    seed = cfg.seed if seed is None else seed
    out = Path(out_dir)
    written = write(out, seed, counts, w.image_size, w.grid, w.min_objects, w.max_objects, w.captions_per_image)
    bench = write_bench_files(out, cfg.benchmarks, seed, out / "bench")
    rel = {b: {s: [Path(p).resolve().relative_to(out.resolve()).as_posix() for p in ps] for s, ps in per.items()}
           for b, per in bench.items()}
    section = files_world_section(w, [s for s in SPLITS if written.get(s, 0) > 0], rel)
    doc = files_world_study(preset, seed, section)
    path = out / "study.yaml"
    header = (f"# The {preset} study on a world of files, written by `vigc-bench world --preset {preset}`.\n"
              f"# Paths are relative to this file's folder. Run with:  vigc-bench run --config {path}\n")
    atomic_write_text(path, header + yaml.safe_dump(doc, sort_keys=False))
    return WorldExport(written, rel, path)


def benchmark_judge(benchmark: str, url: str | None, model: str | None, key_env: str | None = None,
                    cache: str | None = None, rpm: float | None = None) -> Any:
    """An LLM judge (OpenAI-compatible endpoint) built by the benchmark itself: MMBench's for the
    answers its heuristics cannot read, LLaVA-Bench's reviewer. Other benchmarks take none."""
    from benchmarks import BENCHMARKS

    cls = BENCHMARKS.get(benchmark)
    if not hasattr(cls, "build_judge"):
        raise BadInput(f"--judge-* options: {benchmark} has no LLM judge (mmbench and llava_bench have)")
    return cls.build_judge(url, model, key_env, cache, rpm)


def score_reviews(benchmark: str, reviews: Path, judge_model: str | None = None,
                  protocol: str | None = None) -> ScoreResult[Any]:
    """Summarize a review file judged elsewhere (LLaVA-Bench's `question_id, category, content,
    tuple` lines) by the benchmark's protocol."""
    from benchmarks import BENCHMARKS

    cls = BENCHMARKS.get(benchmark)
    if not hasattr(cls, "score_reviews"):
        raise BadInput(f"--reviews: {benchmark} has no review files (llava_bench has)")
    if not Path(reviews).is_file():
        raise MissingResource(f"{reviews}: file not found")
    return cls(**({} if protocol is None else {"protocol": protocol})).score_reviews(Path(reviews), judge=judge_model)


def score_files(benchmark: str, data: Sequence[Path], predictions: Path, split: str | None = None,
                judge: Any = None, protocol: str | None = None, reviews_out: Path | None = None) -> ScoreResult[Any]:
    """Score a prediction file against a benchmark's official files by the official protocol
    (metrics 0-100, per-item outcomes, n, protocol). `protocol` names an alternative where the
    benchmark offers one; `reviews_out` (LLaVA-Bench) also writes the judge's reviews."""
    import inspect

    from benchmarks import BENCHMARKS

    cls = BENCHMARKS.get(benchmark)
    params = inspect.signature(cls).parameters
    for option, value, param in (("--split", split, "split"), ("--protocol", protocol, "protocol")):
        if value is not None and param not in params:
            raise BadInput(f"{option} is not an option of {benchmark}")
    if judge is not None and "judge" not in params:
        raise BadInput(f"--judge-* options: {benchmark} has no LLM judge (mmbench and llava_bench have)")
    kwargs: dict[str, Any] = {k: v for k, v in (("split", split), ("protocol", protocol), ("judge", judge))
                              if v is not None}
    bench = cls(**kwargs)
    if reviews_out is not None and not hasattr(bench, "write_reviews"):
        raise BadInput(f"--reviews-out: {benchmark} writes no reviews (llava_bench does)")
    for p in (*data, predictions):
        if not Path(p).is_file():
            raise MissingResource(f"{p}: file not found")
    res = bench.score([Path(p) for p in data], Path(predictions))
    if reviews_out is not None:
        bench.write_reviews(res, Path(reviews_out))
    return res


def predict_files(model: str, benchmark: str, data: Sequence[Path], out: Path, image_root: Path | None = None,
                  split: str | None = None, batch_size: int = 16, num_beams: int = 1, blind: bool = False,
                  progress: ProgressFactory = silent_progress, device: str = "cpu") -> int:
    """Answer every item of a benchmark's official files with a saved model and write the
    official prediction file `out` (what `score_files` reads); returns the number of items.
    `device`: cpu, cuda or auto (bf16 weights on a GPU that supports it)."""
    from harness.models.runtime import resolve_device
    from harness.stages.predict import load_items, open_benchmark, predict_items

    if batch_size < 1 or num_beams < 1:
        raise BadInput(f"batch size and beams must be at least 1, got {batch_size} and {num_beams}")
    dev = resolve_device(device)
    # Cheap checks first: a bad benchmark name or data file fails before the model loads.
    bench = open_benchmark(benchmark, split)
    items = load_items(bench, [Path(p) for p in data], Path(image_root) if image_root else None)
    vlm = _load_model(model, dev, inference=True)
    answers = predict_items(vlm, items, batch_size, num_beams, blind=blind, progress=progress,
                            description=f"predict {benchmark}")
    # write_predictions writes atomically: a failure leaves no half-written prediction file.
    bench.write_predictions(items, answers, Path(out))
    return len(items)


def _load_model(model: str, device: str = "cpu", inference: bool = False) -> Any:
    """Load a checkpoint onto a resolved device; for inference on a GPU with bf16, in bf16
    (training keeps float32 weights and autocasts)."""
    if Path(model).exists():  # a local checkpoint: make sure nothing reaches for a hub
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from harness.models.adapter import load_vlm
    from harness.models.runtime import bf16_supported, configure

    configure()
    dtype = None
    if inference and bf16_supported(device):
        import torch

        dtype = torch.bfloat16
    return load_vlm(model, device, dtype)


def finetune(model: str, data: Sequence[Path], images: Path, out: Path, recipe: FinetuneConfig | None = None,
             seed: int = 0, blind: bool = False, progress: ProgressFactory = silent_progress, device: str = "cpu",
             lora: bool = False, gradient_checkpointing: bool = False) -> dict[str, Any]:
    """Finetune a saved model (a model directory or hub id) on LLaVA JSON files whose images lie
    under `images`; save it into `out` with `train_log.json`. Resumable: a killed run continues
    from its last checkpoint in `out/.resume`. `lora`: LoRA adapters on the LM (merged before
    saving); `device`: cpu, cuda or auto. Returns the training log."""
    from harness.training.finetune import check_train_images, load_conversations, train_on_conversations

    dev, options = _train_setup(device, lora, gradient_checkpointing, recipe)
    convs = [cv for f in data for cv in load_conversations(Path(f))]  # a bad file fails before the model loads
    if not convs:
        raise BadInput(f"{', '.join(map(str, data))}: no conversations")
    # The blind control never reads its images (every one is shown blank): only the folder must exist.
    check_train_images(Path(images), [] if blind else [cv.image for cv in convs])
    vlm = _load_model(model, dev)
    return _train_and_save(vlm, Path(out), seed, len(convs), lambda resume: (train_on_conversations(
        vlm, convs, Path(images), recipe or _recipe(), seed, resume, progress, Path(model).name, blind=blind,
        options=options), {}))


def train_vigc(model: str, data: Sequence[Path], images: Path, out: Path, recipe: FinetuneConfig | None = None,
               seed: int = 0, progress: ProgressFactory = silent_progress, device: str = "cpu",
               lora: bool = False, gradient_checkpointing: bool = False) -> dict[str, Any]:
    """Train a saved model (directory or hub id) as a VIGC model on LLaVA-format data: per
    question-answer pair one VIG sample (instruction -> question + answer) and one VIC sample
    (question + the answer's first sentences -> the rest), as the study's `vigc/train` stage
    makes them. A file's data type comes from its name (`detail`, `complex`, `knowledge` /
    `okvqa`, else conversation, as LLaVA-Instruct's files are named). Saves the model and
    `train_log.json` (with the first-word distribution `generate vigc` seeds knowledge questions
    with) into `out`; returns the log."""
    from harness.stages.vigc import llava_pairs, train_vigc_model
    from harness.training.finetune import check_train_images

    dev, options = _train_setup(device, lora, gradient_checkpointing, recipe)
    records = [r for f in data for r in llava_pairs(Path(f))]
    if not records:
        raise BadInput(f"{', '.join(map(str, data))}: no question-answer pairs with an image")
    check_train_images(Path(images), [r.image for r in records])
    vlm = _load_model(model, dev)
    return _train_and_save(vlm, Path(out), seed, len(records), lambda resume: train_vigc_model(
        vlm, records, Path(images), recipe or _recipe(), seed, resume, progress, options))


def _recipe() -> FinetuneConfig:
    from harness.training.recipes import FinetuneConfig as Recipe

    return Recipe()


def _train_setup(device: str, lora: bool, gradient_checkpointing: bool,
                 recipe: FinetuneConfig | None) -> tuple[str, Any]:
    """The resolved device and training options; a missing LoRA extra, or LoRA on a frozen LM,
    fails here, before any work."""
    import importlib.util

    from harness.models.runtime import resolve_device
    from harness.training.finetune import TrainOptions
    from harness.training.lora import LoraSpec

    dev = resolve_device(device)
    env = launch_env()
    if env.enabled:  # under torchrun every rank takes an equal share of each global batch
        from harness.training.distributed import check_divides

        check_divides([("finetune.batch", (recipe or _recipe()).batch)], env.world_size)
    if lora and recipe is not None and not recipe.train_lm:
        raise BadInput("--lora with --freeze-lm: the LM is frozen, so LoRA would have nothing to train")
    if lora and importlib.util.find_spec("peft") is None:
        raise MissingResource("--lora needs peft: pip install 'vigc-bench[lora]'")
    return dev, TrainOptions(lora=LoraSpec() if lora else None, gradient_checkpointing=gradient_checkpointing)


def _train_and_save(vlm: Any, out: Path, seed: int, n_data: int,
                    train: Callable[[Path], tuple[Any, dict[str, float]]]) -> dict[str, Any]:
    """Run `train(resume_dir)` on `vlm`, save it and its log into `out`; the resume folder goes."""
    import torch

    from harness.core.io import write_json
    from harness.core.records import TRAIN_LOG
    from harness.training.finetune import train_log

    env = launch_env()  # under torchrun: data-parallel, and rank 0 alone writes `out`
    torch.manual_seed(seed)
    resume = out / ".resume"
    if env.is_main:
        resume.mkdir(parents=True, exist_ok=True)
    log, first_words = train(resume)
    doc = train_log(log, n_data) | ({"first_words": first_words} if first_words else {})
    if env.is_main:
        vlm.save(out)
        write_json(out / TRAIN_LOG, doc)
        shutil.rmtree(resume)  # checkpoints are for resuming a killed run only
    return doc


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
        vlm = _load_model(model, dev, inference=True)
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


@dataclass(frozen=True)
class QualityReport:
    """Data-quality rows of a dataset, with the notes the metrics raised and the records read."""

    rows: list[QualityRecord]
    notes: list[str]
    records: int


def measure_quality(file: Path, world: Path | None = None, split: str | None = None,
                    references: Path | None = None, data_type: str = "conversation", source: str | None = None,
                    n_boot: int = 1000, seed: int = 0, meteor: bool = True, instances: Sequence[Path] = (),
                    captions: Sequence[Path] = ()) -> QualityReport:
    """Data-quality metrics of a dataset (generation records or LLaVA JSON), with 95% CIs; with
    `world`, against its ground truth; with references (or the world's captions), caption metrics;
    with COCO `instances` (and `captions`), CHAIR-style hallucination and coverage against them."""
    import warnings

    from harness.quality.metrics import quality_metrics
    from harness.quality.readers import load_dataset, load_references, load_scenes, scene_index, world_references
    from harness.quality.text import QualityNote

    if captions and not instances:
        raise BadInput("--captions needs --instances (the COCO instances file they go with)")
    records = load_dataset(file, data_type)
    scenes = load_scenes(world, split) if world else None
    if scenes is not None:
        index = scene_index(scenes)
        if not any(index.get(r.image) is not None for r in records):
            where = f"split {split!r} of {world}" if split else world
            raise BadInput(f"{file}: none of its images is in the scenes of {where}")
    refs = load_references(references) if references else (world_references(world, split) or None) if world else None
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", QualityNote)
        rows = quality_metrics(records, scenes, refs, source=source or Path(file).stem, n_boot=n_boot, seed=seed,
                               meteor=meteor)
    for w in caught:
        if issubclass(w.category, QualityNote):
            notes.append(str(w.message))
        else:  # not ours to swallow
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if instances:
        rows = _coco_quality(records, Path(file), instances, captions, rows, source or Path(file).stem, n_boot, seed)
    return QualityReport(rows, notes, len(records))


def _coco_quality(records: Sequence[GenerationRecord], file: Path, instances: Sequence[Path],
                  captions: Sequence[Path], rows: list[QualityRecord], source: str, n_boot: int,
                  seed: int) -> list[QualityRecord]:
    """`rows` with the COCO object metrics of each data type added to its group."""
    from benchmarks.chair import mentions, read_coco_objects
    from harness.quality.coco import ImageObjects, coco_object_metrics, image_ids, merge_rows

    coco = read_coco_objects([Path(p) for p in instances], [Path(p) for p in captions])
    ids = image_ids(records, coco.images, file, Path(instances[0]))
    objects = {image: ImageObjects(frozenset(coco.segment_objects.get(i, ())), frozenset(coco.truth(i)))
               for image, i in ids.items()}
    coco_rows = coco_object_metrics(records, objects, lambda text: [c for _, c in mentions(text, coco.vocab)],
                                    source, n_boot, seed)
    return merge_rows(rows, coco_rows)


def render_report(run_dir: Path, fmt: str = "md") -> str:
    """A run directory's report as markdown or one self-contained HTML page."""
    from reports.run_data import load_run

    run = load_run(run_dir)
    title = f"vigc-bench report: {run.name}"
    if fmt == "html":
        from reports.html import render_html

        return render_html(run, title)
    from reports.markdown import render_run_markdown

    return render_run_markdown(run, title)


def export_foundation(run_dir: Path, out_dir: Path, parts: Sequence[str] = (), add: bool = False) -> dict[str, Any]:
    """Export a finished study's foundation parts (with checksums and recipes) for
    `foundation.pretrained`; returns the folder's index. `parts`: default the vision towers and
    the LM; `add`: keep the other parts of an existing `out_dir`."""
    from harness.core.records import MANIFEST
    from harness.stages.pretrained import PARTS, export, read_index

    run, out = Path(run_dir), Path(out_dir)
    if not (run / MANIFEST).is_file():
        raise BadInput(f"{run / MANIFEST}: not found (is {run} a finished run directory?)")
    if add:
        read_index(out)  # one line if it is not a foundation folder
    return export(run, out, tuple(parts) or PARTS, add=add)
