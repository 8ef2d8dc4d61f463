"""lm-evaluation-harness (lm-eval 0.4.x) integration: our benchmarks as lm-eval tasks, our VLMs as its model.

- `tasks.write_tasks` writes a folder of task YAML, item JSONL and a generated helper module
  (`vigc-bench lm-eval-tasks`), loaded with `TaskManager(include_path=folder)`;
- `runtime` holds what that helper calls: images, per-item results, and the aggregation,
  which is the benchmark's own official scorer, so lm-eval prints what `vigc-bench score`
  prints for the same answers;
- `model.register_vigc_model` registers the `vigc` lm-eval model (`--model_args path=DIR`),
  which answers through `harness.stages.predict.predict_items`, the loop `vigc-bench predict` uses;
- `python -m harness.lm_eval_bridge ...` is the `lm_eval` command with that model registered.

Nothing here imports lm_eval at import time.
"""
