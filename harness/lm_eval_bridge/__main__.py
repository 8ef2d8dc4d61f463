"""`python -m harness.lm_eval_bridge ARGS`: the `lm_eval` command with the `vigc` model registered.

lm-eval builds the model before it loads any task, so a task folder's helper module cannot
register it; this entry point does, then hands the arguments to lm-eval's own CLI, e.g.

    python -m harness.lm_eval_bridge --include_path DIR --tasks vigc_pope --model vigc --model_args path=CKPT
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Run lm-eval's CLI on `argv` (default: this process's arguments), offline by default."""
    # Task data are local JSON files and checkpoints local folders: nothing should reach a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from harness.lm_eval_bridge.model import register_vigc_model

    register_vigc_model()
    from lm_eval.__main__ import cli_evaluate

    sys.argv = ["lm_eval", *(sys.argv[1:] if argv is None else argv)]
    cli_evaluate()


if __name__ == "__main__":  # pragma: no cover
    main()
