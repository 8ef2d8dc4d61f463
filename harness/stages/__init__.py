"""The study's stages, one module per kind (world, lm, foundation, pretrained, data, vigc,
finetune, bench, quality): each declares a `StageSpec` with a typed config and result; `runner`
caches their outputs by key; `predict` is the one prediction loop. `harness.study.graph` wires
them together.

May import every layer below (plugins, training, models, quality, world, core); never the
study, reports, the API or the CLI.
"""
