"""The study: its config, the graph of stages a config asks for, the run directory, the
manifest, and the parallel runner.

May import every layer below it (core, world, models, training, quality, generators,
benchmarks, stages) and reports; never the API or the CLI.
"""
