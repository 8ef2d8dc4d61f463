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


DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str, option: str = "--device") -> str:
    """'cpu' or 'cuda' for a `--device` value: `auto` is CUDA where there is one, else the CPU.

    Asking for CUDA on a machine without it is a `BadInput` naming the option, raised before
    any model loads or any file is written.
    """
    from harness.core.errors import BadInput

    if device not in DEVICES:
        raise BadInput(f"{option} {device!r}: expected one of {', '.join(DEVICES)}")
    if device == "cpu":  # without importing torch: a cached rerun of a study never needs it
        return device
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise BadInput(f"{option} cuda: CUDA is not available on this machine (use --device cpu or auto)")
    return device


def bf16_supported(device: str) -> bool:
    """Whether `device` computes in bfloat16 natively (CUDA from Ampere on; CPUs emulate it,
    so the recipes' own `bf16` setting decides there)."""
    import torch

    return device == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
