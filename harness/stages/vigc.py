"""Stages `vigc/train` (the VIGC model) and `data/vigc` (VIG + VIC data on the extra images)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Sequence

from harness.core.config import Section
from harness.core.io import read_jsonl, write_json, write_jsonl
from harness.core.progress import ProgressFactory
from harness.core.records import RECORDS_FILE, TRAIN_LOG, GenerationRecord, WorldLayout
from harness.stages.data import parse_counts
from harness.stages.runner import StageContext, StageSpec, resume_dir
from harness.training.finetune import TrainLog, TrainOptions
from harness.training.recipes import FinetuneConfig

VERSION = 1
# The data/vigc stage's two LLaVA files: VIG answers only (the seed+vig ablation), and corrected.
VIG_LLAVA_FILE = "llava_vig.json"
VIGC_LLAVA_FILE = "llava_vigc.json"


def vigc_examples(vlm: Any, records: Sequence[GenerationRecord], image_rows: dict[str, int], seed: int,
                  max_length: int, first_words: dict[str, float]) -> list[Any]:
    """One VIG and one VIC training sample per seed record; shuffled together later, so every
    batch mixes both. VIC samples start after a random number of accepted sentences, as the
    iterative correction will ask of the model."""
    from harness.core.text import sentences
    from generators.vigc import vic_prompt, vig_instruction, vig_target
    from harness.models.encode import IGNORE, encode_chat
    from harness.training.finetune import Example

    rng = random.Random(f"vigc-examples/{seed}")
    tok = vlm.tokenizer
    out: list[Example] = []

    def user(text: str) -> dict[str, Any]:
        return {"role": "user", "content": vlm.user_content(text)}

    for r in records:
        if r.parse_status != "ok" or r.image not in image_rows:
            continue
        row = image_rows[r.image]
        instr = vig_instruction(r.data_type, rng, first_words)
        e = encode_chat(tok, [user(instr), {"role": "assistant", "content": vig_target(r.question, r.answer)}],
                        vlm.n_image_tokens, vlm.image_prefix, max_length, vlm.image_token)
        out.append(Example(row, e.input_ids, e.labels, instr))
        sents = sentences(r.answer)
        k = rng.randrange(len(sents)) if sents else 0
        prefix, rest = " ".join(sents[:k]), " ".join(sents[k:])
        prompt = vic_prompt(r.question)
        e = encode_chat(tok, [user(prompt), {"role": "assistant", "content": (prefix + " " + rest).strip()}],
                        vlm.n_image_tokens, vlm.image_prefix, max_length, vlm.image_token)
        labels = list(e.labels)
        n_prefix = len(tok(prefix, add_special_tokens=False)["input_ids"]) if prefix else 0
        first = next((i for i, x in enumerate(labels) if x != IGNORE), len(labels))
        for i in range(first, min(first + n_prefix, len(labels))):
            labels[i] = IGNORE  # the accepted sentences are given, not predicted
        out.append(Example(row, e.input_ids, labels, f"{prompt} {prefix}".strip()))
    return out


class VIGCTrainConfig(Section):
    """The VIGC model's finetuning recipe, its query tokens, and the data types it learns from."""

    checkpoint: str | None = None  # an InstructBLIP checkpoint to start from; None assembles the tiny model
    finetune: FinetuneConfig
    num_query_tokens: int
    data_types: tuple[str, ...]
    seed: int


class VIGCTrainResult(Section):
    """Training examples, the final loss, and the first-word distribution of knowledge questions
    (VIGC's OK-VQA generation seeds each question with a first word drawn from it)."""

    examples: int
    final_loss: float | None
    first_words: dict[str, float]


class VIGCGenerateConfig(Section):
    """VIG + VIC over one world split: data types, samples per image, when VIC stops, batch size."""

    split: str
    data_types: tuple[str, ...]
    per_image: int
    vic_max_sentences: int | None
    vic_at_eos: bool
    batch_size: int
    seed: int


class VIGCGenerateResult(Section):
    """Records made, per parse status."""

    records: int
    parse_status: dict[str, int]


def train_vigc_model(vlm: Any, records: Sequence[GenerationRecord], image_root: Path, recipe: FinetuneConfig,
                     seed: int, resume: Path | None, progress: ProgressFactory,
                     options: TrainOptions = TrainOptions()) -> tuple[TrainLog, dict[str, float]]:
    """Train `vlm` in place as a VIGC model on VIG + VIC samples made from `records` (images
    under `image_root`); returns the log and the knowledge questions' first-word distribution.
    The study's `vigc/train` stage and `vigc-bench train-vigc` both train through here."""
    from generators.vigc import first_word_distribution
    from harness.models.features import feature_table
    from harness.training.finetune import finetune, planned_steps

    images = sorted({r.image for r in records})
    feats, rows = feature_table(vlm, [image_root / im for im in images])
    fw = first_word_distribution([r.question for r in records if r.data_type == "knowledge_vqa"])
    examples = vigc_examples(vlm, records, dict(zip(images, rows)), seed, recipe.max_length, fw)
    steps = planned_steps(recipe.steps, recipe.epochs, len(examples), recipe.batch)
    task = progress("VIGC model training", steps)
    log = finetune(vlm, feats, examples, steps=steps, batch=recipe.batch, lr=recipe.lr, warmup=recipe.warmup,
                   train_lm=recipe.train_lm, bf16=recipe.bf16, seed=seed, resume=resume,
                   checkpoint_every=recipe.checkpoint_every, advance=lambda s, loss: task.advance(1, loss=loss),
                   options=options)
    task.close()
    return log, fw


def llava_pairs(path: Path) -> list[GenerationRecord]:
    """A LLaVA JSON file's question-answer pairs with an image, as records typed by the file's
    name (`detail`, `complex`, `knowledge` / `okvqa`, else conversation: LLaVA-Instruct's names)."""
    from harness.core.io import read_json
    from harness.quality.readers import llava_records

    name = path.name.lower()
    dtype = next((t for key, t in (("detail", "detail"), ("complex", "complex_reasoning"),
                                   ("knowledge", "knowledge_vqa"), ("okvqa", "knowledge_vqa"))
                  if key in name), "conversation")
    return [r for r in llava_records(read_json(path), dtype, path) if r.parse_status == "ok"]


def run_vigc_train(ctx: StageContext[VIGCTrainConfig]) -> VIGCTrainResult:
    """Train the InstructBLIP-style VIGC model on VIG + VIC samples from the seed data, starting from
    a finetuned target of the study (`init`), a checkpoint, or the tiny model assembled from the
    foundation."""
    from harness.models.adapter import load_vlm
    from harness.models.assemble import assemble_tiny

    c = ctx.config
    ft = c.finetune
    if "init" in ctx.inputs:  # a target of the study, finetuned on the seed (vigc.start_from)
        vlm = load_vlm(ctx.input_path("init") / "model", ctx.device)
    elif c.checkpoint:
        vlm = load_vlm(c.checkpoint, ctx.device)
    else:
        vlm = assemble_tiny("instructblip", ctx.input_path("lm"), ctx.input_path("vision"),
                            num_query_tokens=c.num_query_tokens,
                            align_dir=ctx.input_path("align") if "align" in ctx.inputs else None, device=ctx.device)
    records: list[GenerationRecord] = []
    for role in sorted(r for r in ctx.inputs if r.startswith("data:")):
        records += [r for r in read_jsonl(ctx.input_path(role) / RECORDS_FILE, GenerationRecord)
                    if r.data_type in c.data_types]
    root = WorldLayout(ctx.input_path("world")).images
    log, fw = train_vigc_model(vlm, records, root, ft, c.seed, resume_dir(ctx), ctx.progress)
    vlm.save(ctx.out_dir / "model")
    write_json(ctx.out_dir / TRAIN_LOG, {"losses": log.losses, "seconds": round(log.seconds, 2),
                                                "examples": log.examples, "first_words": fw})
    return VIGCTrainResult(examples=log.examples, final_loss=log.losses[-1][1] if log.losses else None,
                           first_words=fw)


def run_vigc_generate(ctx: StageContext[VIGCGenerateConfig]) -> VIGCGenerateResult:
    """VIG + VIC on a world split; writes the records and the vig / vigc LLaVA files."""
    from generators import GENERATORS
    from generators.base import GenerationContext, to_llava
    from harness.models.adapter import load_vlm
    from harness.stages.world import image_infos
    from harness.training import distributed

    c = ctx.config
    # float32 on every device (no bf16 for inference, unlike `vigc-bench generate`): the device
    # is not in the key, so what a GPU computes must match a CPU's up to float rounding.
    vlm = load_vlm(ctx.input_path("model") / "model", ctx.device)
    infos = image_infos(ctx.input_path("world"), c.split, with_scenes=False)
    fw = VIGC_TRAIN.read(ctx.inputs["model"]).first_words
    gctx = GenerationContext(images=infos, data_types=c.data_types, seed=c.seed, per_image=c.per_image,
                             progress=ctx.progress, model=vlm, split=distributed.batch_split(),
                             options={"vic": True, "vic_max_sentences": c.vic_max_sentences,
                                      "vic_at_eos": c.vic_at_eos, "batch_size": c.batch_size,
                                      "first_words": fw})
    records = GENERATORS.get("vigc")().generate(gctx)
    write_jsonl(ctx.out_dir / RECORDS_FILE, records)
    vig = [r.model_copy(update={"answer": r.vig_answer, "correction_steps": ()}) for r in records]
    for name, recs in ((VIG_LLAVA_FILE, vig), (VIGC_LLAVA_FILE, records)):
        write_json(ctx.out_dir / name, [cv.model_dump(mode="json", by_alias=True) for cv in to_llava(recs)],
                   indent=None)
    return VIGCGenerateResult(records=len(records), parse_status=parse_counts(records))


VIGC_TRAIN = StageSpec("vigc/train", VERSION, run_vigc_train, VIGCTrainConfig, VIGCTrainResult,
                       inputs=("world", "data:"), optional=("lm", "vision", "align", "init"), collective=True,
                       cost=200)
# Collective: under torchrun the ranks share VIG's batches and each VIC step's; rank 0 writes.
VIGC_GENERATE = StageSpec("data/vigc", VERSION, run_vigc_generate, VIGCGenerateConfig, VIGCGenerateResult,
                          inputs=("model", "world"), collective=True, cost=160)
