"""Reports: pure functions from run records (results, data quality, samples, manifest) to
leaderboards, comparisons, the CI check, markdown and HTML.

May import the core and the benchmarks' declarations (primary metric, direction); never torch,
transformers, models, training, generators, stages, the study, the API or the CLI.
"""
