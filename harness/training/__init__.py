"""Training: the finetuning loop (LLaVA-format data to tensors), the pretraining loops of the
foundation (vision tower, LM on world text), and their recipes.

May import the core, the world and the models; never quality, plugins, stages or the study.
"""
