"""The model commands: finetune a saved model, train a VIGC model, answer a benchmark's files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from harness.api.study import launch_env
from harness.core.errors import BadInput, MissingResource
from harness.core.progress import ProgressFactory, silent_progress

if TYPE_CHECKING:
    from harness.training.recipes import FinetuneConfig


def predict_files(model: str, benchmark: str, data: Sequence[Path], out: Path, image_root: Path | None = None,
                  split: str | None = None, batch_size: int = 16, num_beams: int = 1, blind: bool = False,
                  progress: ProgressFactory = silent_progress, device: str = "cpu", rank: bool = False) -> int:
    """Answer every item of a benchmark's official files with a saved model and write the
    official prediction file `out` (what `score_files` reads); returns the number of items.
    `device`: cpu, cuda or auto (bf16 weights on a GPU that supports it). `rank`: multiple-choice
    items by ranking their choices (`harness.stages.predict.predict_items`)."""
    from harness.models.runtime import resolve_device
    from harness.stages.predict import load_items, open_benchmark, predict_items

    if batch_size < 1 or num_beams < 1:
        raise BadInput(f"batch size and beams must be at least 1, got {batch_size} and {num_beams}")
    dev = resolve_device(device)
    # Cheap checks first: a bad benchmark name or data file fails before the model loads.
    bench = open_benchmark(benchmark, split)
    if rank and not bench.multiple_choice:
        raise BadInput(f"--rank: {benchmark} has no multiple-choice items to rank")
    items = load_items(bench, [Path(p) for p in data], Path(image_root) if image_root else None)
    vlm = load_model(model, dev, inference=True)
    answers = predict_items(vlm, items, batch_size, num_beams, blind=blind, progress=progress,
                            description=f"predict {benchmark}", rank=rank)
    # write_predictions writes atomically: a failure leaves no half-written prediction file.
    bench.write_predictions(items, answers, Path(out))
    return len(items)


def load_model(model: str, device: str = "cpu", inference: bool = False) -> Any:
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
    check_train_images(Path(images), [] if blind else [cv.image for cv in convs if cv.image is not None])
    vlm = load_model(model, dev)
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
    vlm = load_model(model, dev)
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
