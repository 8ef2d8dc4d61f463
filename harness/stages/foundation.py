"""Stages `foundation/vision-<arch>` and `foundation/lm`: the pretrained parts of every tiny model."""

from __future__ import annotations

from typing import Any, Literal

from harness.core.config import Section
from harness.stages.runner import StageContext, StageSpec
from harness.training.recipes import VisionPretrain
from harness.world.export import read_scenes
from harness.core.records import WorldLayout

VERSION = 2


class VisionStageConfig(Section):
    """The vision tower's size and pretraining schedule, its family and the seed."""

    vision: VisionPretrain
    arch: Literal["clip", "blip"]
    seed: int


class VisionResult(Section):
    """Per-head training accuracy at the end of pretraining, and the images trained on."""

    train_accuracy: dict[str, float]
    images: int


class AlignStageConfig(Section):
    """The connector's alignment budget (steps / batch / lr of its architecture), and its shape."""

    steps: int
    batch: int
    lr: float
    arch: Literal["llava", "instructblip"]
    num_query_tokens: int
    seed: int


class AlignResult(Section):
    """The last step's mean-squared error, and the relative error of the aligned slots."""

    mse: float
    relative_error: float
    relative_error_question: float


def run_vision(ctx: StageContext[VisionStageConfig]) -> VisionResult:
    """Pretrain a vision tower on per-patch attributes of the foundation images; save it."""
    import torch

    from harness.models.adapter import open_image
    from harness.training.pretrain import patch_centres, patch_labels, pretrain_vision
    from harness.models.tiny import VisionSpec, build_vision

    c = ctx.config
    v = c.vision
    spec = VisionSpec(**{k: getattr(v, k) for k in VisionSpec.model_fields})
    world = ctx.input_path("world")
    scenes = read_scenes(world, "foundation")
    # The processor is the one the assembled VLM will use, so features match at train time.
    ip = _image_processor(c.arch, spec.image_size)
    task = ctx.progress(f"foundation: vision ({c.arch}) pretraining", v.steps)
    pix = torch.cat([ip([open_image(WorldLayout(world).images / s.file_name) for s in scenes[i:i + 512]],
                        return_tensors="pt")["pixel_values"] for i in range(0, len(scenes), 512)])
    labels = torch.tensor([patch_labels(s) for s in scenes])
    centres = torch.tensor([patch_centres(s) for s in scenes])
    torch.manual_seed(c.seed)
    model = build_vision(c.arch, spec).to(ctx.device)  # built on the CPU: the same weights on any device
    acc = pretrain_vision(model, pix, labels, scenes[0].grid, v.steps, v.batch, v.lr, c.seed,
                          lambda s, t, m: task.advance(1, loss=m["loss"]), centres)
    task.close()
    model.save_pretrained(ctx.out_dir / "vision", safe_serialization=True)
    return VisionResult(train_accuracy={k: round(x, 4) for k, x in acc.items()}, images=len(scenes))


def _image_processor(arch: str, image_size: int) -> Any:
    """The PIL image processor of a tiny model family (no torchvision)."""
    mean, std = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]
    if arch == "clip":
        from transformers import CLIPImageProcessorPil

        return CLIPImageProcessorPil(size={"height": image_size, "width": image_size}, do_center_crop=False,
                                     image_mean=mean, image_std=std)
    from transformers import BlipImageProcessorPil

    return BlipImageProcessorPil(size={"height": image_size, "width": image_size}, image_mean=mean, image_std=std)


def connector_parameters(vlm: Any) -> dict[str, Any]:
    """The connector's parameters by model-level name: LLaVA's projector, or InstructBLIP's
    query tokens, Q-Former and language projection."""
    prefixes = ("model.multi_modal_projector.",) if vlm.arch == "llava" else (
        "query_tokens", "qformer.", "language_projection.")
    return {n: p for n, p in vlm.model.named_parameters() if n.startswith(prefixes)}


def init_queries_on_cells(vlm: Any, feats: Any, instruction: str, sharpness: float = 4.0) -> float:
    """Start each Q-Former query reading one grid cell: a data-dependent initialisation.

    With random weights every query attends to all patches alike, and learning which query
    reads which patch is a slow chicken-and-egg problem: in pilots the alignment loss stayed
    at the per-cell mean (relative error 0.85) for 1,000 steps. Real Q-Formers get past it
    with BLIP-2's large pretraining. Here, a linear probe of patch position on the frozen
    tower's features sets the first cross-attention's keys so that query i scores patch i
    highest; values, outputs and everything else still learn. Returns the share of
    (image, query) pairs whose highest-scoring patch is the right one.
    """
    import torch

    n = vlm.model.config.num_query_tokens
    patches = feats[:, -n:]  # the tower's patch tokens (after CLS), row-major like the cells
    B, _, D = patches.shape
    dev = patches.device
    x, y = patches.reshape(-1, D), torch.arange(n, device=dev).repeat(B)
    probe = torch.nn.Linear(D, n).to(dev)  # made on the CPU, then moved: the same start on any device
    opt = torch.optim.LBFGS(probe.parameters(), max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> Any:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(probe(x), y) + 1e-3 * probe.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    m = vlm.model
    layer = m.qformer.encoder.layer[0]
    with torch.no_grad():
        # The hidden state of each query where it enters the first cross-attention.
        qids = vlm.qformer_encode([instruction])[0].to(dev)  # one unpadded text: no mask needed
        out = layer.attention(m.qformer.embeddings(input_ids=qids, query_embeds=m.query_tokens))
        h = (out[0] if isinstance(out, tuple) else out)[0, :n]  # [n, D]
        attn = layer.crossattention.attention
        heads = attn.num_attention_heads
        dh = D // heads
        # Every head gets the whole match: query i is one-hot in each head's first n dims, and
        # key dim i of each head is the probe's score for cell i (softmax per head).
        code = torch.zeros(n, D, device=dev)
        wk = torch.zeros(D, D, device=dev)
        for k in range(heads):
            code[torch.arange(n), k * dh + torch.arange(n)] = 1.0
            wk[k * dh: k * dh + n] = probe.weight.detach() * sharpness * dh ** 0.5
        attn.query.weight.copy_((torch.linalg.pinv(h) @ code).T)
        attn.query.bias.zero_()
        attn.key.weight.copy_(wk)
        attn.key.bias.zero_()
        # Later cross-attentions start silent (zero output projection), so they do not blur
        # the first one's reading of its cell with an average over all patches.
        for later in m.qformer.encoder.layer[1:]:
            if getattr(later, "has_cross_attention", False):
                later.crossattention.output.dense.weight.zero_()
                later.crossattention.output.dense.bias.zero_()
        scores = patches @ probe.weight.detach().T  # [B, cells, n]
        return (scores.argmax(-1) == torch.arange(n, device=dev)).float().mean().item()


def run_align(ctx: StageContext[AlignStageConfig]) -> AlignResult:
    """Pretrain the connector: image tokens -> the LM's slot vectors (LLaVA's stage 1).

    Only the connector trains (vision tower and LM frozen), on the foundation images, with a
    mean-squared error to the slot vector of each cell. For InstructBLIP there is one query
    per cell, and the Q-Former reads a text drawn half from the VIG / VIC prompts and half
    from questions about scenes (open and lettered), so that it extracts the scene whatever it
    is asked (the relative error is the same on an instruction and on a question, measured).
    How close matters: the frozen LM reads slots exactly, and the InstructBLIP target (LM
    frozen, Q-Former tokens after the question) scored POPE ~61 at relative error 0.12 and ~82
    at 0.066 (see the tiny preset's `qformer_lr`).
    """
    import torch
    from safetensors.torch import save_file

    from generators.vigc import VIG_INSTRUCTIONS, VIC_INSTRUCTION
    from harness.models.slots import SlotCodebook, attrs_tensor
    from harness.models.features import feature_table
    from harness.models.assemble import CONNECTOR_FILE, assemble_tiny
    from harness.training import distributed

    env = distributed.init()
    c = ctx.config
    arch = c.arch
    world = ctx.input_path("world")
    scenes = read_scenes(world, "foundation")
    cells = scenes[0].grid ** 2
    vlm = assemble_tiny(arch, ctx.input_path("lm"), ctx.input_path("vision"), num_query_tokens=cells,
                        device=ctx.device)
    book = SlotCodebook.load(ctx.input_path("lm"), ctx.device)
    feats, rows = feature_table(vlm, [WorldLayout(world).images / s.file_name for s in scenes])
    feats = feats[rows]
    with torch.no_grad():
        target = book.vectors(attrs_tensor(scenes).to(ctx.device), vlm.model.get_input_embeddings().weight)
    params = connector_parameters(vlm)
    for p in vlm.model.parameters():
        p.requires_grad_(False)
    for p in params.values():
        p.requires_grad_(True)
    texts = [t.replace("{first_word}", "What") for ts in VIG_INSTRUCTIONS.values() for t in ts] + [VIC_INSTRUCTION]
    questions = _question_texts(scenes[:300], c.seed) if arch == "instructblip" else []
    torch.manual_seed(c.seed)
    if arch == "instructblip":
        init_queries_on_cells(vlm, feats[: min(len(feats), 1024)], texts[0])
    distributed.sync_parameters(list(params.values()))
    opt = torch.optim.AdamW(list(params.values()), lr=c.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(c.seed)
    task = ctx.progress(f"foundation: connector alignment ({arch})", c.steps)
    err = float("nan")
    vlm.model.train()
    for step in range(c.steps):
        idx = torch.randint(0, len(scenes), (c.batch,), generator=gen)
        qids = qmask = None
        if arch == "instructblip":
            pick = torch.randint(0, len(texts), (c.batch,), generator=gen).tolist()
            ask = torch.randint(0, len(questions), (c.batch,), generator=gen).tolist()
            half = torch.rand(c.batch, generator=gen) < 0.5
            # Every rank draws the whole batch (the generator stays in step), then takes its share.
            asked = distributed.shard([questions[a] if h else texts[i] for i, a, h in zip(pick, ask, half)], env)
            qids, qmask = vlm.qformer_encode(asked)
        idx = idx[env.rank::env.world_size]
        # Equal shares: the whole batch's mean is the mean of the ranks' means.
        loss = ((vlm._image_embeds(feats[idx], qids, qmask) - target[idx]) ** 2).mean() / env.world_size
        opt.zero_grad(set_to_none=True)
        loss.backward()
        distributed.sum_gradients(list(params.values()))
        opt.step()
        err = distributed.sum_values([loss.item()])[0]
        task.advance(1, mse=err)
    task.close()
    vlm.model.eval()
    rel = {}
    with torch.no_grad():
        n = min(512, len(scenes))
        # LLaVA's projector reads no text: one figure serves for both.
        probes = ((("instruction", texts[0]), ("question", questions[0])) if arch == "instructblip"
                  else (("instruction", None),))
        for name, text in probes:
            qids, qmask = vlm.qformer_encode([text] * n) if text is not None else (None, None)
            rel[name] = round((((vlm._image_embeds(feats[:n], qids, qmask) - target[:n]) ** 2).mean()
                               / target[:n].pow(2).mean()).item(), 4)
    save_file({k: v.detach().cpu().contiguous() for k, v in params.items()}, str(ctx.out_dir / CONNECTOR_FILE))
    return AlignResult(mse=round(err, 6), relative_error=rel["instruction"],
                       relative_error_question=rel.get("question", rel["instruction"]))


def _question_texts(scenes: Any, seed: int) -> list[str]:
    """Questions about `scenes` as targets are asked them: open, and with lettered options."""
    import random

    from generators.templates import object_qas
    from harness.world.qa import as_multiple_choice, known_from_scene

    rng = random.Random(f"align-questions/{seed}")
    out: set[str] = set()
    for s in scenes:
        for qa in object_qas(known_from_scene(s), rng):
            out.add(qa.question)
            mc = as_multiple_choice(qa, rng)
            if mc is not None:
                out.add(mc[0])
    return sorted(out)


VISION = StageSpec("foundation/vision", VERSION, run_vision, VisionStageConfig, VisionResult, inputs=("world",),
                  collective=True, cost=300)
ALIGN = StageSpec("foundation/align", VERSION, run_align, AlignStageConfig, AlignResult,
                  inputs=("world", "lm", "vision"), collective=True, cost=80)
