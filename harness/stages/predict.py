"""Batched answers of a VLM to benchmark items: the one prediction loop.

Used by the study's `predict` stage, by `vigc-bench predict` and by the lm-eval model wrapper,
so the three give the same answer to the same item (same batches, same padding).
"""

from __future__ import annotations

import os
import string
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from harness.core.errors import BadInput, MissingResource, VigcError
from harness.core.progress import ProgressFactory, silent_progress
from harness.core.sharding import BatchSplit

if TYPE_CHECKING:
    from benchmarks.base import BenchItem


def open_benchmark(name: str, split: str | None = None) -> Any:
    """The registered benchmark `name`, built with `split` where it takes one (ScienceQA).

    An unknown name is a `MissingResource` listing the close matches; a split given to a
    benchmark without splits is a `BadInput`.
    """
    import inspect

    from benchmarks import BENCHMARKS

    cls = BENCHMARKS.get(name)
    if split is None:
        return cls()
    if "split" not in inspect.signature(cls).parameters:
        raise BadInput(f"--split is not an option of {name}")
    return cls(split=split)


def load_items(bench: Any, files: Sequence[Path], image_root: Path | None = None) -> list["BenchItem"]:
    """The items of a benchmark's official files (in file order); errors name the files.

    Loaders raise `BadInput` for the malformations they check; anything else they trip over
    (a JSON list where an object belongs, a missing key) is still the file's fault, so it is
    reported as `BadInput` too, with the original error chained for `--debug`.
    """
    files = [Path(f) for f in files]
    for f in files:
        if not f.is_file():
            raise MissingResource(f"{f}: file not found")
    if image_root is not None and not Path(image_root).is_dir():
        raise MissingResource(f"{image_root}: image folder not found")
    try:
        items = bench.load(files, image_root=image_root)
    except VigcError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        names = ", ".join(map(str, files))
        raise BadInput(f"{names}: not {bench.name} data files ({type(e).__name__}: {e})") from e
    if not items:
        raise BadInput(f"{', '.join(map(str, files))}: no {bench.name} items in the data")
    check_item_images(items, files, image_root)
    return items


def _inside(path: Path, root: Path) -> bool:
    """Whether `path` is `root` or below it (both absolute and normalised)."""
    return path == root or root in path.parents


def check_item_images(items: Sequence["BenchItem"], files: Sequence[Path], image_root: Path | None) -> None:
    """Every image an item names lies inside the image folder and is a readable image of sane size.

    The folders are `image_root` and the data files' folders (ScienceQA falls back to images
    beside problems.json). A path that leaves them (`../..`, an
    absolute path) or an image file that is a symbolic link to outside it is refused, so a data
    file cannot make `predict` read /etc/passwd; a linked image *folder* is allowed (a common
    way to lay out COCO). Unreadable images and decompression bombs are refused before the
    model loads. All as one-line `BadInput` / `MissingResource` naming the data file.
    """
    from harness.core.errors import excerpt
    from harness.models.adapter import check_image

    names = ", ".join(map(str, files))
    roots = ([Path(os.path.abspath(image_root))] if image_root is not None else []) + \
        sorted({Path(os.path.abspath(f)).parent for f in files})
    for it in items:
        if isinstance(it.image, (bytes, bytearray)):
            check_image(it.image)
            continue
        if not isinstance(it.image, str):
            continue
        path = Path(os.path.normpath(os.path.abspath(it.image)))
        if not any(_inside(path, r) for r in roots):
            raise BadInput(f"{names}: item {excerpt(it.id)}: image path {excerpt(it.image)} leaves the image folder "
                           f"{roots[0]}")
        if path.is_symlink():
            target = Path(os.path.realpath(path))
            if not any(_inside(target, Path(os.path.realpath(r))) for r in roots):
                raise BadInput(f"{names}: item {excerpt(it.id)}: image {excerpt(it.image)} links outside the image "
                               "folder")
        if not path.is_file():
            raise MissingResource(f"{it.image}: image of item {excerpt(it.id)} not found (or a broken link; give the "
                                  "image folder with --images)")
        check_image(path)


def _check_images(items: Sequence["BenchItem"]) -> None:
    """Every image path exists: a wrong image root fails before the model runs, naming the file."""
    for it in items:
        if isinstance(it.image, str) and not Path(it.image).is_file():
            raise MissingResource(f"{it.image}: image of item {it.id} not found (give the image folder with --images)")


def predict_items(vlm: Any, items: Sequence["BenchItem"], batch_size: int = 16, num_beams: int = 1,
                  blind: bool = False, progress: ProgressFactory = silent_progress,
                  description: str = "predict", split: BatchSplit = BatchSplit(), rank: bool = False) -> list[str]:
    """The model's raw answer to each item, in item order (one string per item).

    Items with the same image, prompt and token budget are asked once and share the answer.
    Items are batched by prompt length (similar lengths share a batch, which cuts padding);
    each batch generates up to the largest `max_new_tokens` among its items. `blind` shows
    every item a blank image (the text-only control); `description` labels the progress bar
    (which counts this process's items). With a `split` over the ranks of a job, each rank
    answers its share of the batches and every rank returns all the answers: the same batches
    as one process, so the same answers.

    `rank`: the rank protocol for multiple-choice items (those with `choices`), InstructBLIP's
    for ScienceQA and A-OKVQA: the model is not asked to write a letter; each choice is scored
    as the whole reply to the item's `rank_prompt` (`VLM.choice_logprobs`) and the answer is the
    letter of the likeliest (the first on a tie), which the benchmark reads as it reads a
    written letter. Items without choices are answered by generation as always.
    """
    if batch_size < 1:
        raise BadInput(f"batch size must be at least 1, got {batch_size}")
    if num_beams < 1:
        raise BadInput(f"number of beams must be at least 1, got {num_beams}")
    if not items:
        return []
    if not blind:
        _check_images(items)
    from harness.models.features import feature_table

    # Every rank takes every item's features: the frozen tower's forward is a small part of the
    # work, and a row computed in the same tower batch as one process's is the same row. An item
    # without an image (a text-only ScienceQA problem) is shown the blank image, as the blind
    # control is.
    feats, rows = feature_table(vlm, [it.image for it in items], blind=blind)
    ranked = [rank and bool(it.choices) for it in items]
    asked = [it.rank_prompt or it.prompt if r else it.prompt for it, r in zip(items, ranked)]  # what each is asked

    def request(i: int) -> tuple[Any, ...]:
        it = items[i]
        return (rows[i], asked[i], it.choices) if ranked[i] else (rows[i], asked[i], it.max_new_tokens)

    # Greedy and beam decoding answer the same input the same way (and a ranking is a function
    # of its input), so each distinct request is asked once and its answer shared: POPE's three
    # splits repeat every positive question (4,272 items, 1,939 distinct in the default study).
    first: dict[tuple[Any, ...], int] = {}
    same = [first.setdefault(request(i), i) for i in range(len(items))]
    askers = list(first.values())
    covered = Counter(same)  # items each asker answers for
    # A stable sort: items of equal prompt length keep their file order, so the batches (and
    # with them the answers) are a function of the item list alone.
    order = sorted((i for i in askers if not ranked[i]), key=lambda i: len(items[i].prompt))
    batches = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    # Ranked items by the length of their question, in the same stable way.
    rorder = sorted((i for i in askers if ranked[i]), key=lambda i: len(asked[i]))
    rbatches = [rorder[s:s + batch_size] for s in range(0, len(rorder), batch_size)]
    mine = sum(covered[i] for bs in (batches, rbatches) for b in split.mine(len(bs)) for i in bs[b])
    task = progress(description, mine)

    def answer(idx: list[int]) -> list[str]:
        texts = vlm.generate(feats[[rows[i] for i in idx]], [items[i].prompt for i in idx],
                             max_new_tokens=max(items[i].max_new_tokens for i in idx), num_beams=num_beams)
        task.advance(sum(covered[i] for i in idx))
        return texts

    def pick(idx: list[int]) -> list[str]:
        logps = vlm.choice_logprobs(feats[[rows[i] for i in idx]], [asked[i] for i in idx],
                                    [items[i].choices for i in idx])
        task.advance(sum(covered[i] for i in idx))
        # The likeliest choice, the first of equals.
        return [string.ascii_uppercase[max(range(len(lp)), key=lambda j: (lp[j], -j))] for lp in logps]

    answered = split.map(batches, answer)
    picked = split.map(rbatches, pick)
    task.close()
    out = {i: text for bs, texts in ((batches, answered), (rbatches, picked))
           for idx, batch_texts in zip(bs, texts) for i, text in zip(idx, batch_texts)}
    return [out[same[i]] for i in range(len(items))]
