"""Benchmarks: one file each, registered with `@register_benchmark`.

Each loads the official files, synthesizes them from the embedded world, builds the prompts a
model answers, and scores predictions by the official protocol.
"""

from harness.core.registry import Registry

BENCHMARKS: Registry = Registry("benchmark", "benchmarks")
register_benchmark = BENCHMARKS.register
