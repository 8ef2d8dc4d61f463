"""The `vigc` lm-eval model: a saved vigc-bench VLM answering `generate_until` requests on images.

lm-eval's own `hf-multimodal` cannot run these checkpoints (image tokens after the question,
cached vision features) nor multiple choice on images; this wrapper answers through
`harness.stages.predict.predict_items`, the loop `vigc-bench predict` uses, so both give the same
answer to the same item. Model arguments: `path` (checkpoint directory, required),
`num_beams` (default 1), `blind` (default false: the blank-image control), plus lm-eval's
`--batch_size` (an integer; "auto" means the default, 16).
"""

from __future__ import annotations

import functools
from typing import Any

from harness.core.errors import BadInput

MODEL_NAME = "vigc"
DEFAULT_BATCH_SIZE = 16


def _batch_size(value: Any) -> int:
    """lm-eval passes --batch_size as given ('8', 8, 'auto', 'auto:4')."""
    if value is None or str(value).startswith("auto"):
        return DEFAULT_BATCH_SIZE
    try:
        return int(value)
    except ValueError:
        raise BadInput(f"batch size must be an integer or 'auto', got {value!r}") from None


def _single_image(visual: Any, task: str | None, doc_id: int | None) -> Any:
    """The one image of a request (a path, bytes or PIL image), or None for a text-only one."""
    if isinstance(visual, (list, tuple)):
        if len(visual) > 1:
            raise BadInput(f"task {task}, doc {doc_id}: {len(visual)} images; vigc models take one image per item")
        return visual[0] if visual else None
    return visual


@functools.lru_cache(maxsize=1)
def vigc_lm_class() -> type:
    """The lm-eval `LM` subclass (built on first use, so importing this module stays cheap)."""
    from lm_eval.api.model import LM

    class VigcLM(LM):
        """A vigc-bench VLM as an lm-eval model (generate_until only)."""

        MULTIMODAL = True  # lm-eval refuses image tasks for models without this flag

        def __init__(self, path: str, num_beams: int = 1, blind: bool = False, batch_size: Any = None,
                     max_batch_size: Any = None, device: Any = None, **_: Any) -> None:
            """Load the checkpoint at `path` (no network: a local directory)."""
            super().__init__()
            from harness.models.adapter import load_vlm

            self.vlm = load_vlm(path)
            self.num_beams = int(num_beams)
            self.blind = bool(blind)
            self.batch_size = _batch_size(batch_size)

        def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
            """Answers in request order; each task's requests are batched as `vigc-bench predict`
            batches that task's items (by prompt length, in doc order), so answers match."""
            from rich.console import Console

            from harness.stages.predict import predict_items
            from harness.core.rich_progress import RichProgress

            by_task: dict[Any, list[int]] = {}
            for i, req in enumerate(requests):
                by_task.setdefault(req.task_name, []).append(i)
            out: list[str] = [""] * len(requests)
            with RichProgress(Console(stderr=True, quiet=disable_tqdm)) as progress:
                for task, idx in by_task.items():
                    idx = sorted(idx, key=lambda i: (requests[i].doc_id is None, requests[i].doc_id, i))
                    items = [_item(requests[i], task) for i in idx]
                    answers = predict_items(self.vlm, items, self.batch_size, self.num_beams, blind=self.blind,
                                            progress=progress, description=f"lm-eval {task}")
                    for i, answer in zip(idx, answers):
                        out[i] = _cut_at(answer, requests[i].args[1].get("until") or [])
            return out

        def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
            """Not offered: vigc tasks are generate_until (multiple choice is answered as text)."""
            raise BadInput("the vigc model answers generate_until tasks only (no loglikelihood requests)")

        def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
            """Not offered: vigc tasks are generate_until."""
            raise BadInput("the vigc model answers generate_until tasks only (no loglikelihood requests)")

    return VigcLM


def _item(req: Any, task: str | None) -> Any:
    """The `BenchItem` of one lm-eval request: the rendered context is the prompt."""
    from benchmarks.base import BenchItem

    context, gen_kwargs = req.args[0], req.args[1]
    visual = req.args[2].get("visual") if len(req.args) > 2 else None
    doc = req.doc if isinstance(req.doc, dict) else {}
    return BenchItem(id=str(doc.get("id", req.doc_id)), prompt=context, image=_single_image(visual, task, req.doc_id),
                     max_new_tokens=int(gen_kwargs.get("max_gen_toks", 32)))


def _cut_at(text: str, until: Any) -> str:
    """`text` up to the first stop sequence, as lm-eval's models apply `until` (none in vigc tasks)."""
    stops = [until] if isinstance(until, str) else list(until)
    for s in stops:
        if s and s in text:
            text = text.split(s, 1)[0]
    return text


def register_vigc_model() -> type:
    """Register the `vigc` model with lm-eval (idempotent); returns the class."""
    # lm-eval fills its registry with the built-in models only while the registry is empty,
    # so they must be registered before ours or `--model hf` would stop resolving.
    import lm_eval.models  # noqa: F401
    from lm_eval.api.registry import model_registry, register_model

    cls = vigc_lm_class()
    if MODEL_NAME not in model_registry:
        register_model(MODEL_NAME)(cls)
    return cls
