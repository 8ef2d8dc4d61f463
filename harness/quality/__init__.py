"""Data-quality metrics of instruction datasets: against the embedded world's ground truth
(claims, hallucination, coverage) and reference captions, and VIC's paired effect on VIG answers.

May import the core and the world; never models, training, plugins, stages or the study.
"""
