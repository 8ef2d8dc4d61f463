"""The study's stage graph: which stages exist for a config, and what each one reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.config import StudyConfig, config_dict
from harness.pipeline import bench_stage, data_stage, finetune_stage, foundation_stage, lm_stage, world_stage
from harness.records import QualityRecord, ResultRecord
from harness.stages import Runner, Stage, StageOutput

VISION_ARCH = {"llava": "clip", "instructblip": "blip"}


@dataclass
class GraphOutput:
    """Records collected from the finished stages."""

    results: list[ResultRecord] = field(default_factory=list)
    quality: list[QualityRecord] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, StageOutput] = field(default_factory=dict)


def execute(cfg: StudyConfig, runner: Runner) -> GraphOutput:
    """Run every stage the config asks for, in dependency order; collect the records."""
    from harness.study import SOURCE_PARTS, check_sources

    out = GraphOutput()
    seed = cfg.seed
    check_sources(cfg, {"seed"})
    world = runner.run(Stage("world", world_stage.VERSION, world_stage.run_world,
                             {"world": config_dict(cfg.world), "seed": seed}))
    tiny = [t for t in cfg.targets if t.checkpoint is None]
    lm = vision = None
    if tiny:
        lm = runner.run(Stage("foundation/lm", lm_stage.VERSION, lm_stage.run_lm,
                              {"lm": config_dict(cfg.foundation.lm), "seed": seed}, {"world": world}))
    vision_out: dict[str, StageOutput] = {}
    for arch in sorted({VISION_ARCH[t.arch] for t in tiny}):
        vision_out[arch] = runner.run(Stage(f"foundation/vision-{arch}", foundation_stage.VERSION,
                                            foundation_stage.run_vision,
                                            {"vision": config_dict(cfg.foundation.vision), "arch": arch,
                                             "seed": seed}, {"world": world}))
    align_out: dict[str, StageOutput] = {}
    if "clip" in vision_out:
        assert lm is not None
        align_out["clip"] = runner.run(Stage("foundation/align-clip", foundation_stage.VERSION,
                                             foundation_stage.run_align,
                                             {**config_dict(cfg.foundation.align), "seed": seed},
                                             {"world": world, "lm": lm, "vision": vision_out["clip"]}))
    parts = {"seed": runner.run(Stage("data/seed", data_stage.VERSION, data_stage.run_generate,
                                      {**config_dict(cfg.seed_data), "split": "seed", "seed": seed},
                                      {"world": world}))}
    bench = runner.run(Stage("bench-files", bench_stage.VERSION, bench_stage.run_bench_files,
                             {"benchmarks": list(cfg.benchmarks), "seed": seed}, {"world": world}))
    for t in cfg.targets:
        label = t.name
        for source in cfg.sources:
            inputs: dict[str, StageOutput] = {"world": world}
            if t.checkpoint is None:
                assert lm is not None
                inputs["lm"] = lm
                inputs["vision"] = vision_out[VISION_ARCH[t.arch]]
                if VISION_ARCH[t.arch] in align_out:
                    inputs["align"] = align_out[VISION_ARCH[t.arch]]
            for p in SOURCE_PARTS[source]:
                inputs[f"data:{p}"] = parts[p]
            ft = runner.run(Stage(f"finetune/{label}/{source}", finetune_stage.VERSION, finetune_stage.run_finetune,
                                  {"arch": t.arch, "checkpoint": t.checkpoint, "blind": t.blind,
                                   "finetune": config_dict(t.finetune), "seed": seed, "label": f"{label}/{source}"},
                                  inputs))
            for b in cfg.benchmarks:
                pred = runner.run(Stage(f"predict/{label}/{source}/{b}", bench_stage.VERSION, bench_stage.run_predict,
                                        {"benchmark": b, "blind": t.blind, **config_dict(cfg.predict),
                                         "label": f"{label}/{source}"},
                                        {"model": ft, "bench": bench, "world": world}))
                score = runner.run(Stage(f"score/{label}/{source}/{b}", bench_stage.VERSION, bench_stage.run_score,
                                         {"benchmark": b, "target": label, "source": source,
                                          "bootstrap": cfg.bootstrap, "seed": seed},
                                         {"pred": pred, "bench": bench}))
                out.results.extend(bench_stage.read_results(score))
    return out
