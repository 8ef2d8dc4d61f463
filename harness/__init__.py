"""vigc-bench harness, in layers (each imports only those below it; pyproject.toml's
import-linter contracts hold this): cli > lm_eval_bridge > api > study > stages (beside
reports/) > plugins (generators/, benchmarks/) > training > models, quality > world > core.

Importing this package is cheap on purpose: torch and transformers are imported inside the
functions that need them, so `vigc-bench --help` starts fast.
"""

__version__ = "0.1.0"
