"""`vigc-bench score`: a prediction file scored by a benchmark's official protocol."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("benchmark")
@click.option("--data", "data", multiple=True, type=click.Path(dir_okay=False), help="Official benchmark file(s).")
@click.option("--predictions", type=click.Path(dir_okay=False), help="Prediction file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (0-100 scale).")
@click.option("--split", default=None, help="Benchmark split where the files hold several (ScienceQA: a key of "
              "pid_splits.json; default test).")
@click.option("--judge-url", default=None, metavar="URL",
              help="mmbench, llava_bench: OpenAI-compatible base URL (e.g. https://api.openai.com/v1) of an LLM judge "
              "(mmbench: for passes the heuristics cannot read, VLMEvalKit's matching prompt, protocol official+judge; "
              "llava_bench: LLaVA's review prompt). Off by default.")
@click.option("--judge-model", default=None, metavar="NAME", help="The judge model's name (with --judge-url; with "
              "--reviews: the model that wrote the review file, for the record).")
@click.option("--judge-key-env", default=None, metavar="VAR",
              help="Environment variable holding the judge's API key [default: OPENAI_API_KEY; unset: no key].")
@click.option("--judge-cache", default=None, type=click.Path(file_okay=False),
              help="Cache judge replies in this folder.")
@click.option("--judge-rpm", default=None, type=float, help="Judge requests per minute [default: 60; 0: no limit].")
@click.option("--reviews", default=None, type=click.Path(dir_okay=False),
              help="llava_bench: summarize this LLaVA review file (question_id, category, content, tuple) instead of "
              "judging (replaces --data and --predictions).")
@click.option("--reviews-out", default=None, type=click.Path(dir_okay=False),
              help="llava_bench: also write the reviews as a LLaVA review file.")
@click.option("--protocol", default=None, help="llava_bench: 'official' (default: unparsed reviews averaged in as "
              "[-1, -1]) or 'drop-unparsed'.")
def score(benchmark: str, data: tuple[str, ...], predictions: str | None, as_json: bool, split: str | None,
          judge_url: str | None, judge_model: str | None, judge_key_env: str | None, judge_cache: str | None,
          judge_rpm: float | None, reviews: str | None, reviews_out: str | None, protocol: str | None) -> None:
    """Score a prediction file against official benchmark files by the official protocol."""
    from harness import api
    from harness.core.errors import BadInput

    if reviews is not None:
        if data or predictions or any(v is not None for v in (judge_url, judge_key_env, judge_cache, judge_rpm)):
            raise BadInput("--reviews replaces --data, --predictions and the judge's options (but --judge-model)")
        res = api.score_reviews(benchmark, Path(reviews), judge_model, protocol)
    else:
        if not data or predictions is None:
            raise BadInput("score needs --data and --predictions (llava_bench: or --reviews)")
        judge = None
        if any(v is not None for v in (judge_url, judge_model, judge_key_env, judge_cache, judge_rpm)):
            judge = api.benchmark_judge(benchmark, judge_url, judge_model, judge_key_env, judge_cache, judge_rpm)
        res = api.score_files(benchmark, [Path(p) for p in data], Path(predictions), split, judge, protocol,
                              Path(reviews_out) if reviews_out else None)
    for warning in res.notes.get("warnings", ()):
        click.echo(f"vigc-bench: warning: {warning}", err=True)
    if as_json:
        judge_name = res.notes.get("judge")
        extra = {"judge": judge_name} if isinstance(judge_name, str) else {}
        notes = {k: v for k, v in res.notes.items() if k != "summary_lines"}
        click.echo(json.dumps({**res.metrics, "n": res.n, "protocol": res.protocol, **extra, "notes": notes}))
        return
    click.echo(f"{benchmark} (n={res.n}, protocol: {res.protocol})")
    for k, v in res.metrics.items():
        click.echo(f"  {k:40s} {v:6.2f}")
    # Counts the official protocol keeps quiet about: missing, unknown, unread ...
    counts = {k: v for k, v in res.notes.items() if k not in ("summary_lines", "judge") and isinstance(v, (int, str))}
    if counts:
        click.echo("  " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    for line in res.notes.get("summary_lines", ()):  # the official script's own summary, last
        click.echo(line)
