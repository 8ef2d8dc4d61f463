"""The study's stage graph: which stages exist for a config, and what each one reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.study.config import StudyConfig, config_dict
from harness.core.io import read_json
from harness.stages import bench as bench_stage, data as data_stage, finetune as finetune_stage
from harness.stages import foundation as foundation_stage, lm as lm_stage, pretrained
from harness.stages import quality as quality_stage, vigc as vigc_stage, world as world_stage
from harness.core.records import VIC_EFFECT_FILE, QualityRecord, ResultRecord
from harness.stages.runner import Pending, Runner, Stage
from harness.study.sources import SOURCES

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
    split: str
    answer: str = "final"  # which answer of the records the file holds ("vig" for VIG-only)


class _Graph:
    def __init__(self, cfg: StudyConfig, runner: Runner) -> None:
        self.cfg, self.runner, self.seed = cfg, runner, cfg.seed
        self.world = runner.submit(Stage("world", world_stage.VERSION, world_stage.run_world,
                                         {"world": config_dict(cfg.world), "seed": cfg.seed}))
        self._lm: Pending | None = None
        self._vision: dict[str, Pending] = {}
        self._align: dict[str, Pending] = {}
        spec = cfg.foundation.pretrained
        self.pretrained = pretrained.resolve(spec) if spec else None

    def _load(self, part: str) -> Pending:
        assert self.pretrained is not None
        return self.runner.submit(Stage(f"foundation/{part}", pretrained.VERSION, pretrained.run_load,
                                        {"part": part, "folder": str(self.pretrained),
                                         "digest": pretrained.digest(self.pretrained, part)}))

    def lm(self) -> Pending:
        if self._lm is None and self.pretrained is not None:
            self._lm = self._load("lm")
        if self._lm is None:
            self._lm = self.runner.submit(Stage("foundation/lm", lm_stage.VERSION, lm_stage.run_lm,
                                                {"lm": config_dict(self.cfg.foundation.lm), "seed": self.seed},
                                                {"world": self.world}))
        return self._lm

    def vision(self, arch: str) -> Pending:
        v = VISION_ARCH[arch]
        if v not in self._vision and self.pretrained is not None:
            self._vision[v] = self._load(f"vision-{v}")
        if v not in self._vision:
            self._vision[v] = self.runner.submit(Stage(
                f"foundation/vision-{v}", foundation_stage.VERSION, foundation_stage.run_vision,
                {"vision": config_dict(self.cfg.foundation.vision), "arch": v, "seed": self.seed},
                {"world": self.world}))
        return self._vision[v]

    def align(self, arch: str, num_query_tokens: int) -> Pending:
        if arch not in self._align:
            self._align[arch] = self.runner.submit(Stage(
                f"foundation/align-{VISION_ARCH[arch]}", foundation_stage.VERSION, foundation_stage.run_align,
                {**_align_budget(config_dict(self.cfg.foundation.align), arch), "arch": arch,
                 "num_query_tokens": num_query_tokens,
                 "seed": self.seed},
                {"world": self.world, "lm": self.lm(), "vision": self.vision(arch)}))
        return self._align[arch]

    def generate(self, name: str, generator: str, split: str, data_types: tuple[str, ...]) -> Pending:
        g = self.cfg.seed_data
        return self.runner.submit(Stage(f"data/{name}", data_stage.VERSION, data_stage.run_generate,
                                        {"generator": generator, "backend": g.backend if generator == "language_only"
                                         else "template", "data_types": list(data_types), "per_image": g.per_image,
                                         "split": split, "seed": self.seed}, {"world": self.world}))


def foundation_parts(cfg: StudyConfig) -> tuple[str, ...]:
    """The foundation parts (`lm`, `vision-clip`, `vision-blip`) the study's models are built from."""
    archs = {t.arch for t in cfg.targets if t.checkpoint is None}
    if cfg.vigc.enabled and cfg.world.images.extra > 0:
        archs.add("instructblip")
    if not archs:
        return ()
    return ("lm",) + tuple(f"vision-{VISION_ARCH[a]}" for a in sorted(archs, key=lambda a: VISION_ARCH[a]))


def check_pretrained(cfg: StudyConfig) -> None:
    """With `foundation.pretrained`, refuse weights whose recipe differs from the config's, before any work."""
    if cfg.foundation.pretrained:
        f = config_dict(cfg.foundation)
        pretrained.check(pretrained.resolve(cfg.foundation.pretrained), f, config_dict(cfg.world),
                         foundation_parts(cfg))


def _align_budget(a: dict[str, Any], arch: str) -> dict[str, Any]:
    """steps / batch / lr of the connector's alignment for `arch` (the Q-Former has its own)."""
    q = arch == "instructblip"
    return {k: a[f"qformer_{k}" if q else k] for k in ("steps", "batch", "lr")}


def execute(cfg: StudyConfig, runner: Runner) -> GraphOutput:
    """Run every stage the config asks for, in dependency order; collect the records."""
    out = GraphOutput()
    check_pretrained(cfg)
    g = _Graph(cfg, runner)
    seed_stage = g.generate("seed", cfg.seed_data.generator, "seed", cfg.seed_data.data_types)
    parts: dict[str, Part] = {"seed": Part(seed_stage, data_stage.LLAVA_FILE, "seed")}
    if cfg.world.images.extra > 0:
        parts["lang"] = Part(g.generate("lang", "language_only", "extra", cfg.extra_data_types),
                             data_stage.LLAVA_FILE, "extra")
        if cfg.world.kind == "embedded":
            parts["gold"] = Part(g.generate("gold", "gold", "extra", cfg.extra_data_types), data_stage.LLAVA_FILE,
                                 "extra")
        if cfg.vigc.enabled:
            vigc_data = _vigc(cfg, g, seed_stage)
            parts["vig"] = Part(vigc_data, vigc_stage.VIG_LLAVA_FILE, "extra", "vig")
            parts["vigc"] = Part(vigc_data, vigc_stage.VIGC_LLAVA_FILE, "extra")
    assert set(parts) == set(cfg.data_parts()), (sorted(parts), cfg.data_parts())
    quality: list[Pending] = []
    scores: list[Pending] = []
    if cfg.quality.enabled:
        for name, part in parts.items():
            q = runner.submit(Stage(f"quality/{name}", quality_stage.VERSION, quality_stage.run_quality,
                                    {"part": name, "split": part.split, "answer": part.answer,
                                     "ground_truth": cfg.world.kind == "embedded", "meteor": cfg.quality.meteor,
                                     "bootstrap": cfg.bootstrap, "seed": cfg.seed},
                                    {"data": part.stage, "world": g.world}))
            quality.append(q)
    bench = runner.submit(Stage("bench-files", bench_stage.VERSION, bench_stage.run_bench_files,
                                {"benchmarks": list(cfg.benchmarks), "seed": cfg.seed}, {"world": g.world}))
    for t in cfg.targets:
        for source in t.sources or cfg.sources:
            inputs: dict[str, Pending] = {"world": g.world}
            if t.checkpoint is None:
                inputs["lm"], inputs["vision"] = g.lm(), g.vision(t.arch)
                inputs["align"] = g.align(t.arch, cfg.vigc.num_query_tokens)
            files = {}
            for p in SOURCES.get(source).parts:
                inputs[f"data:{p}"] = parts[p].stage
                files[f"data:{p}"] = parts[p].llava_file
            ft = runner.submit(Stage(f"finetune/{t.name}/{source}", finetune_stage.VERSION, finetune_stage.run_finetune,
                                     {"arch": t.arch, "checkpoint": t.checkpoint, "blind": t.blind, "files": files,
                                      "num_query_tokens": cfg.vigc.num_query_tokens,
                                      "finetune": config_dict(t.finetune), "seed": cfg.seed,
                                      "label": f"{t.name}/{source}"}, inputs))
            for b in cfg.benchmarks:
                pred = runner.submit(Stage(f"predict/{t.name}/{source}/{b}", bench_stage.VERSION, bench_stage.run_predict,
                                           {"benchmark": b, "blind": t.blind, **config_dict(cfg.predict),
                                            "label": f"{t.name}/{source}"},
                                           {"model": ft, "bench": bench, "world": g.world}))
                score = runner.submit(Stage(f"score/{t.name}/{source}/{b}", bench_stage.VERSION, bench_stage.run_score,
                                            {"benchmark": b, "target": t.name, "source": source,
                                             "bootstrap": cfg.bootstrap, "seed": cfg.seed},
                                            {"pred": pred, "bench": bench}))
                scores.append(score)
    # Stages were submitted in dependency order; a parallel runner is still running them.
    # Records are read in submission order, so the files do not depend on which finished first.
    for q in quality:
        done = q.result()
        out.quality.extend(quality_stage.read_quality(done))
        if done.meta.get("vic_effect"):
            out.notes["vic_effect"] = read_json(done.path / VIC_EFFECT_FILE)
    for score in scores:
        out.results.extend(bench_stage.read_results(score.result()))
    return out


def _vigc(cfg: StudyConfig, g: _Graph, seed_stage: Pending) -> Pending:
    """Train the VIGC model on the seed data (plus knowledge VQA on the seed images) and run
    VIG + VIC on the extra images."""
    v = cfg.vigc
    inputs: dict[str, Pending] = {"world": g.world, "lm": g.lm(), "vision": g.vision("instructblip"),
                                      "align": g.align("instructblip", v.num_query_tokens), "data:seed": seed_stage}
    extra_types = tuple(dt for dt in v.train_data_types if dt not in cfg.seed_data.data_types)
    if extra_types:
        inputs["data:seed-extra-types"] = g.generate("seed-extra-types", "language_only", "seed", extra_types)
    model = g.runner.submit(Stage("vigc/train", vigc_stage.VERSION, vigc_stage.run_vigc_train,
                                  {"finetune": config_dict(v.finetune), "num_query_tokens": v.num_query_tokens,
                                   "data_types": list(v.train_data_types), "seed": cfg.seed}, inputs))
    gen = v.generate
    return g.runner.submit(Stage("data/vigc", vigc_stage.VERSION, vigc_stage.run_vigc_generate,
                                 {"split": "extra", "data_types": list(gen.data_types), "per_image": gen.per_image,
                                  "vic_max_sentences": gen.max_sentences, "vic_at_eos": gen.at_eos,
                                  "batch_size": gen.batch_size, "seed": cfg.seed},
                                 {"model": model, "world": g.world}))
