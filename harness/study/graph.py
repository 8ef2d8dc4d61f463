"""The study's stage graph: which stages exist for a config, their typed configs, and what each
one reads. `submit` hands every stage to a runner in dependency order; `collect` reads the
records of the finished ones; `plan` lists the stages without running any (`run --dry-run`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from harness.core.config import config_dict
from harness.core.io import read_json
from harness.core.records import BASELINE_SOURCE, LLAVA_FILE, VIC_EFFECT_FILE, QualityRecord, ResultRecord
from harness.stages import bench as bench_stage, data as data_stage, finetune as finetune_stage
from harness.stages import foundation as foundation_stage, lm as lm_stage, pretrained
from harness.stages import data_file as data_file_stage
from harness.stages import quality as quality_stage, vigc as vigc_stage, world as world_stage
from harness.stages.runner import Pending, Runner, Stage, finished
from harness.study.config import StudyConfig, TargetConfig
from harness.study.sources import NOISY_PARTS, UNTUNED_SOURCE, resolve_source
from harness.training.footprint import Footprint, footprint

VISION_ARCH = {"llava": "clip", "instructblip": "blip"}


@dataclass
class GraphOutput:
    """Records collected from the finished stages."""

    results: list[ResultRecord] = field(default_factory=list)
    quality: list[QualityRecord] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Part:
    """A piece of instruction data: the stage that made it and its LLaVA file there."""

    stage: Pending
    llava_file: str
    split: str | None  # the world split of its images; None for a data file (any split)
    answer: str = "final"  # which answer of the records the file holds ("vig" for VIG-only)


@dataclass(frozen=True)
class Submitted:
    """The stages whose records make the run's files, in the order they are read."""

    quality: list[Pending]
    scores: list[Pending]


class _Graph:
    def __init__(self, cfg: StudyConfig, runner: Runner) -> None:
        self.cfg, self.runner, self.seed = cfg, runner, cfg.seed
        self.world = runner.submit(world_stage.WORLD("world", world_stage.WorldStageConfig(
            world=cfg.world, seed=cfg.seed, files=world_files(cfg))))
        self._lm: Pending | None = None
        self._vision: dict[str, Pending] = {}
        self._align: dict[str, Pending] = {}
        self._finetunes: dict[str, Pending] = {}
        spec = cfg.foundation.pretrained
        self.pretrained = pretrained.resolve(spec) if spec else None

    def _load(self, part: str) -> Pending:
        assert self.pretrained is not None
        return self.runner.submit(pretrained.LOAD(f"foundation/{part}", pretrained.LoadConfig(
            part=part, folder=str(self.pretrained), digest=pretrained.digest(self.pretrained, part))))

    def lm(self) -> Pending:
        if self._lm is None and self.pretrained is not None:
            self._lm = self._load("lm")
        if self._lm is None:
            self._lm = self.runner.submit(lm_stage.LM("foundation/lm", lm_stage.LMStageConfig(
                lm=self.cfg.foundation.lm, seed=self.seed), {"world": self.world}))
        return self._lm

    def vision(self, arch: str) -> Pending:
        v = VISION_ARCH[arch]
        if v not in self._vision and self.pretrained is not None:
            self._vision[v] = self._load(f"vision-{v}")
        if v not in self._vision:
            self._vision[v] = self.runner.submit(foundation_stage.VISION(
                f"foundation/vision-{v}", foundation_stage.VisionStageConfig(
                    vision=self.cfg.foundation.vision, arch=v, seed=self.seed), {"world": self.world}))
        return self._vision[v]

    def align(self, arch: str) -> Pending:
        if arch not in self._align:
            a = self.cfg.foundation.align
            q = arch == "instructblip"  # the Q-Former has its own budget
            config = foundation_stage.AlignStageConfig(
                steps=a.qformer_steps if q else a.steps, batch=a.qformer_batch if q else a.batch,
                lr=a.qformer_lr if q else a.lr, arch=arch, num_query_tokens=self.cfg.vigc.num_query_tokens,
                seed=self.seed)
            part = f"align-{VISION_ARCH[arch]}"
            if self.pretrained is not None and pretrained.connector_fits(
                    self.pretrained, part, config.model_dump(mode="json"), pretrained_world(self.cfg)):
                self._align[arch] = self._load(part)
            else:
                self._align[arch] = self.runner.submit(foundation_stage.ALIGN(
                    f"foundation/{part}", config, {"world": self.world, "lm": self.lm(), "vision": self.vision(arch)}))
        return self._align[arch]

    def finetune(self, t: TargetConfig, source: str, parts: Mapping[str, Part]) -> Pending:
        """Target `t` finetuned on `source`, submitted once (the VIGC model may start from it)."""
        label = f"{t.name}/{source}"
        if label not in self._finetunes:
            inputs: dict[str, Pending] = {"world": self.world}
            if t.checkpoint is None:
                inputs["lm"], inputs["vision"], inputs["align"] = self.lm(), self.vision(t.arch), self.align(t.arch)
            files = {}
            for p in () if t.untuned else resolve_source(source, self.cfg.data_files).parts:
                inputs[f"data:{p}"] = parts[p].stage
                files[f"data:{p}"] = parts[p].llava_file
            self._finetunes[label] = self.runner.submit(finetune_stage.FINETUNE(
                f"finetune/{label}", finetune_stage.FinetuneStageConfig(
                    arch=t.arch, checkpoint=t.checkpoint, blind=t.blind, untuned=t.untuned, files=files,
                    num_query_tokens=self.cfg.vigc.num_query_tokens, finetune=t.finetune,
                    seed=self.cfg.training_seed(t.seed), label=label), inputs))
        return self._finetunes[label]

    def generate(self, name: str, generator: str, split: str, data_types: tuple[str, ...],
                 noise: float | None = None) -> Pending:
        g = self.cfg.seed_data
        return self.runner.submit(data_stage.GENERATE(f"data/{name}", data_stage.GenerateConfig(
            generator=generator, backend=g.backend if generator == "language_only" else "template",
            data_types=data_types, per_image=g.per_image, split=split, seed=self.seed, noise=noise),
            {"world": self.world}))


def world_files(cfg: StudyConfig) -> dict[str, str]:
    """The sha256 of every file a files world names (empty for the embedded world): part of the
    world stage's key. A missing or malformed file fails here, before any stage runs."""
    if cfg.world.kind != "files":
        return {}
    from harness.world.files import file_digests

    return file_digests(cfg.world)


def foundation_parts(cfg: StudyConfig) -> tuple[str, ...]:
    """The foundation parts (`lm`, `vision-clip`, `vision-blip`) the study's models are built from."""
    archs = {t.arch for t in cfg.targets if t.checkpoint is None}
    if cfg.vigc.enabled and cfg.world.has_split("extra") and cfg.vigc.checkpoint is None:
        archs.add("instructblip")
    if not archs:
        return ()
    return ("lm",) + tuple(f"vision-{VISION_ARCH[a]}" for a in sorted(archs, key=lambda a: VISION_ARCH[a]))


def check_pretrained(cfg: StudyConfig) -> None:
    """With `foundation.pretrained`, refuse weights whose recipe differs from the config's, before any work."""
    if cfg.foundation.pretrained:
        f = config_dict(cfg.foundation)
        pretrained.check(pretrained.resolve(cfg.foundation.pretrained), f, pretrained_world(cfg), foundation_parts(cfg))


def pretrained_world(cfg: StudyConfig) -> dict[str, Any]:
    """The world settings pretrained weights are checked against. A files world exported from
    the embedded world keeps its geometry (image size, grid, objects per scene), which is all
    the weights depend on; its kind does not count."""
    return {**config_dict(cfg.world), "kind": "embedded"}


def submit(cfg: StudyConfig, runner: Runner) -> Submitted:
    """Hand every stage the config asks for to `runner`, in dependency order."""
    check_pretrained(cfg)
    g = _Graph(cfg, runner)
    if cfg.seed_data.files:  # the seed data as given (the paper: LLaVA-Instruct-150K), not generated
        seed_stage = runner.submit(data_file_stage.DATA_FILE(f"data/{BASELINE_SOURCE}", data_file_stage.files_config(
            BASELINE_SOURCE, cfg.seed_data.files, "seed_data.files"), {"world": g.world}))
    else:
        seed_stage = g.generate(BASELINE_SOURCE, cfg.seed_data.generator, "seed", cfg.seed_data.data_types)
    parts: dict[str, Part] = {BASELINE_SOURCE: Part(seed_stage, LLAVA_FILE, "seed")}
    if cfg.world.has_split("extra"):
        parts["lang"] = Part(g.generate("lang", "language_only", "extra", cfg.extra_data_types), LLAVA_FILE, "extra")
        if cfg.world.has_scenes():  # gold data is the ground truth: skipped without it (StudyConfig.world_note)
            parts["gold"] = Part(g.generate("gold", "gold", "extra", cfg.extra_data_types), LLAVA_FILE, "extra")
            for name, noise in NOISY_PARTS.items():
                parts[name] = Part(g.generate(name, "noisy", "extra", cfg.extra_data_types, noise), LLAVA_FILE, "extra")
        if cfg.vigc.enabled:
            vigc_data = _vigc(cfg, g, parts)
            parts["vig"] = Part(vigc_data, vigc_stage.VIG_LLAVA_FILE, "extra", "vig")
            parts["vigc"] = Part(vigc_data, vigc_stage.VIGC_LLAVA_FILE, "extra")
    for name, path in cfg.data_files.items():
        parts[name] = Part(runner.submit(data_file_stage.DATA_FILE(f"data/file-{name}", data_file_stage.files_config(
            name, {"conversation": (path,)}, f"data_files.{name}"), {"world": g.world})), LLAVA_FILE, None)
    assert set(parts) == set(cfg.data_parts()), (sorted(parts), cfg.data_parts())
    quality: list[Pending] = []
    scores: list[Pending] = []
    if cfg.quality.enabled:
        for name, part in parts.items():
            quality.append(runner.submit(quality_stage.QUALITY(f"quality/{name}", quality_stage.QualityStageConfig(
                part=name, split=part.split, answer=part.answer, ground_truth=cfg.world.has_scenes(),
                meteor=cfg.quality.meteor, bootstrap=cfg.bootstrap, seed=cfg.seed),
                {"data": part.stage, "world": g.world})))
    bench = runner.submit(bench_stage.BENCH_FILES("bench-files", bench_stage.BenchFilesConfig(
        benchmarks=cfg.benchmarks, seed=cfg.seed), {"world": g.world}))
    for t in cfg.targets:
        for source in (UNTUNED_SOURCE,) if t.untuned else cfg.sources_for(t):
            label = f"{t.name}/{source}"
            ft = g.finetune(t, source, parts)
            for b in cfg.benchmarks:
                pred = runner.submit(bench_stage.PREDICT(f"predict/{label}/{b}", bench_stage.PredictStageConfig(
                    benchmark=b, blind=t.blind, batch_size=cfg.predict.batch_size, num_beams=cfg.predict.num_beams,
                    label=label, rank=b in cfg.predict.rank), {"model": ft, "bench": bench, "world": g.world}))
                scores.append(runner.submit(bench_stage.SCORE(f"score/{label}/{b}", bench_stage.ScoreStageConfig(
                    benchmark=b, target=t.name, source=source, bootstrap=cfg.bootstrap, seed=cfg.seed),
                    {"pred": pred, "bench": bench})))
    return Submitted(quality, scores)


def collect(submitted: Submitted) -> GraphOutput:
    """The records of the submitted stages, waiting for each.

    Read in submission order, so the run's files do not depend on which stage finished first.
    """
    out = GraphOutput()
    for q in submitted.quality:
        done = q.result()
        out.quality.extend(quality_stage.read_quality(done))
        if quality_stage.QUALITY.read(done).vic_effect:
            out.notes["vic_effect"] = read_json(done.path / VIC_EFFECT_FILE)
    for score in submitted.scores:
        out.results.extend(bench_stage.read_results(score.result()))
    return out


def execute(cfg: StudyConfig, runner: Runner) -> GraphOutput:
    """Run every stage the config asks for, in dependency order; collect the records."""
    return collect(submit(cfg, runner))


@dataclass(frozen=True)
class PlannedStage:
    """One stage of a plan: its name, cache key, whether a finished copy is in the cache, the
    stages it reads (by role), its config, and for a stage that loads a real checkpoint (or a
    model finetuned from one) the memory that model takes; None for the tiny models."""

    name: str
    key: str
    cached: bool
    inputs: dict[str, str]
    config: dict[str, Any]
    memory: Footprint | None = None


class _PlanRunner(Runner):
    """Records what would be submitted; runs nothing."""

    def __init__(self, cache_dir: Path) -> None:
        super().__init__(cache_dir)
        self.planned: list[PlannedStage] = []
        self._memory: dict[str, Footprint] = {}  # by stage name, for the stages that read its model

    def submit(self, stage: Stage) -> Pending:
        p = Pending(stage.name, stage.key())
        memory = self._footprint(stage)
        if memory is not None:
            self._memory[stage.name] = memory
        self.planned.append(PlannedStage(stage.name, p.key, finished(self.cache_dir, stage) is not None,
                                         {role: i.name for role, i in stage.inputs.items()}, stage.config_json(),
                                         memory))
        return p

    def _footprint(self, stage: Stage) -> Footprint | None:
        """A training stage that starts from a checkpoint: the checkpoint's training footprint;
        a stage that runs a model made by one (predict, VIGC generation): that model's weights
        (a finetune saves a model of the checkpoint's size)."""
        c = stage.config
        if isinstance(c, (finetune_stage.FinetuneStageConfig, vigc_stage.VIGCTrainConfig)) and c.checkpoint:
            untuned = isinstance(c, finetune_stage.FinetuneStageConfig) and c.untuned
            return footprint(c.checkpoint, None if untuned else c.finetune.train_lm)
        model = stage.inputs.get("model")
        upstream = self._memory.get(model.name) if model is not None else None
        return upstream.inference() if upstream is not None else None


def plan(cfg: StudyConfig, cache_dir: Path) -> list[PlannedStage]:
    """Every stage the config asks for, in dependency order, without running any."""
    runner = _PlanRunner(cache_dir)
    submit(cfg, runner)
    return runner.planned


def _vigc(cfg: StudyConfig, g: _Graph, parts: Mapping[str, Part]) -> Pending:
    """Train the VIGC model on the seed data (plus knowledge VQA on the seed images) and run
    VIG + VIC on the extra images."""
    v = cfg.vigc
    inputs: dict[str, Pending] = {"world": g.world, "data:seed": parts[BASELINE_SOURCE].stage}
    if v.start_from is not None:
        start = cfg.target(v.start_from)
        assert start is not None, "StudyConfig checks that vigc.start_from names a target"
        inputs["init"] = g.finetune(start, BASELINE_SOURCE, parts)
    elif v.checkpoint is None:
        inputs.update(lm=g.lm(), vision=g.vision("instructblip"), align=g.align("instructblip"))
    if v.train_files:
        inputs["data:vigc-train-files"] = g.runner.submit(data_file_stage.DATA_FILE(
            "data/vigc-train-files", data_file_stage.files_config("vigc-train-files", v.train_files,
                                                                  "vigc.train_files"), {"world": g.world}))
    seed_types = tuple(cfg.seed_data.files) if cfg.seed_data.files else cfg.seed_data.data_types
    extra_types = tuple(dt for dt in v.train_data_types if dt not in seed_types and dt not in v.train_files)
    if extra_types:
        inputs["data:seed-extra-types"] = g.generate("seed-extra-types", "language_only", "seed", extra_types)
    model = g.runner.submit(vigc_stage.VIGC_TRAIN("vigc/train", vigc_stage.VIGCTrainConfig(
        checkpoint=v.checkpoint, finetune=v.finetune, num_query_tokens=v.num_query_tokens, data_types=v.train_data_types,
        seed=cfg.training_seed(v.seed)),
        inputs))
    gen = v.generate
    return g.runner.submit(vigc_stage.VIGC_GENERATE("data/vigc", vigc_stage.VIGCGenerateConfig(
        split="extra", data_types=gen.data_types, per_image=gen.per_image, vic_max_sentences=gen.max_sentences,
        vic_at_eos=gen.at_eos, batch_size=gen.batch_size, seed=cfg.seed), {"model": model, "world": g.world}))
