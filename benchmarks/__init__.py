"""Benchmarks: one file each, a `benchmarks.base.Benchmark` registered with `@register_benchmark`.

Each loads the official files, synthesizes them from the embedded world, builds the prompts a
model answers, and scores predictions (as a whole and per item) by the official protocol.
Outside packages add benchmarks through the `vigc_bench.benchmarks` entry point group.

May import the core, the world and the models (the MMBench judge's chat client); never
generators, stages, the study, the API or the CLI (import-linter contracts in pyproject.toml).
"""

from harness.core.registry import Registry

BENCHMARKS: Registry = Registry("benchmark", "benchmarks", base="benchmarks.base:Benchmark",
                                entry_points="vigc_bench.benchmarks")
register_benchmark = BENCHMARKS.register
