"""The public API: what the `vigc-bench` commands do, as functions.

Each command of the CLI (`harness/cli/`) parses its options, calls one of these and prints
the result; scripts and notebooks call them directly (`from harness import api;
api.run_study(...)`). One module per command group: `study` (load, check, plan and run a
study), `world` (draw or export a world), `models` (finetune, train-vigc, predict),
`generation` (generate, merge shards, convert VIGC output) and `scoring` (score, quality,
report). Heavy imports (torch, transformers) happen inside the functions that need them, so
importing this package is cheap.

May import every layer below it (study, stages, reports, plugins, training, models, world,
core); never the CLI.
"""

from __future__ import annotations

from harness.api.generation import Converted, Generated, convert_vigc, generate, merge_shards
from harness.api.models import finetune, predict_files, train_vigc
from harness.api.scoring import (QualityReport, benchmark_judge, measure_quality, render_report, score_files,
                                 score_reviews)
from harness.api.study import check_world, export_foundation, launch_env, load_study_config, plan_study, run_study
from harness.api.world import WorldExport, export_world, write_world

__all__ = [
    "Converted", "Generated", "QualityReport", "WorldExport", "benchmark_judge", "check_world", "convert_vigc",
    "export_foundation", "export_world", "finetune", "generate", "launch_env", "load_study_config",
    "measure_quality", "merge_shards", "plan_study", "predict_files", "render_report", "run_study", "score_files",
    "score_reviews", "train_vigc", "write_world",
]
