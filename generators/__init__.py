"""Data generators: one file each, a `generators.base.Generator` registered with `@register_generator`.

A generator turns images (and what is known of them) into instruction data records. Outside
packages add generators through the `vigc_bench.generators` entry point group.

May import the core, the world, the models and the quality metrics; never benchmarks, stages,
the study, the API or the CLI (import-linter contracts in pyproject.toml).
"""

from harness.core.registry import Registry

GENERATORS: Registry = Registry("generator", "generators", base="generators.base:Generator",
                                entry_points="vigc_bench.generators")
register_generator = GENERATORS.register
