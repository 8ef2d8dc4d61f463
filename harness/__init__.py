"""vigc-bench harness: config, records, stage runner, models, training and the embedded world.

Importing this package is cheap on purpose: torch and transformers are imported inside the
functions that need them, so `vigc-bench --help` starts fast.
"""

__version__ = "0.1.0"
