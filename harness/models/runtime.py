"""Process-wide settings of torch and transformers for a process that runs models."""

from __future__ import annotations

import os


def configure(threads: int | None = None) -> None:
    """Use `threads` torch threads (default: the CPU count, at most 8), and silence
    transformers' per-file progress bars and warnings: our own bars show progress."""
    import torch
    import transformers

    torch.set_num_threads(threads if threads is not None else max(1, min(os.cpu_count() or 1, 8)))
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
