"""Models: adapters over tiny models built from configs and real checkpoints (by path or hub
id), assembly from foundation parts, vision features, chat encoding, and the client of
OpenAI-compatible chat endpoints.

May import the core and the world; never training, quality, plugins, stages or the study.
"""
