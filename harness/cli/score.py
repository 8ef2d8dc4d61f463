"""`vigc-bench score`: a prediction file scored by a benchmark's official protocol."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("benchmark")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="Official benchmark file(s).")
@click.option("--predictions", required=True, type=click.Path(dir_okay=False), help="Prediction file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (0-100 scale).")
@click.option("--split", default=None, help="Benchmark split where the files hold several (ScienceQA: a key of "
              "pid_splits.json; default test).")
@click.option("--judge-url", default=None, metavar="URL",
              help="MMBench: OpenAI-compatible base URL (e.g. https://api.openai.com/v1) of an LLM judge for passes "
              "the heuristics cannot read (VLMEvalKit's matching prompt; protocol official+judge). Off by default.")
@click.option("--judge-model", default=None, metavar="NAME", help="MMBench: the judge model's name (with --judge-url).")
@click.option("--judge-key-env", default=None, metavar="VAR",
              help="Environment variable holding the judge's API key [default: OPENAI_API_KEY; unset: no key].")
@click.option("--judge-cache", default=None, type=click.Path(file_okay=False),
              help="Cache judge replies in this folder.")
@click.option("--judge-rpm", default=None, type=float, help="Judge requests per minute [default: 60; 0: no limit].")
def score(benchmark: str, data: tuple[str, ...], predictions: str, as_json: bool, split: str | None,
          judge_url: str | None, judge_model: str | None, judge_key_env: str | None, judge_cache: str | None,
          judge_rpm: float | None) -> None:
    """Score a prediction file against official benchmark files by the official protocol."""
    from harness import api

    judge = None
    if any(v is not None for v in (judge_url, judge_model, judge_key_env, judge_cache, judge_rpm)):
        judge = api.benchmark_judge(benchmark, judge_url, judge_model, judge_key_env, judge_cache, judge_rpm)
    res = api.score_files(benchmark, [Path(p) for p in data], Path(predictions), split, judge)
    if as_json:
        click.echo(json.dumps({**res.metrics, "n": res.n, "protocol": res.protocol}))
        return
    click.echo(f"{benchmark} (n={res.n}, protocol: {res.protocol})")
    for k, v in res.metrics.items():
        click.echo(f"  {k:40s} {v:6.2f}")
