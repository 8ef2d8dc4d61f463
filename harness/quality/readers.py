"""Reading what `vigc-bench quality` measures: a dataset, the world's scenes, reference captions.

A dataset is either generation records (JSONL of `GenerationRecord`) or LLaVA conversations
(a JSON list, or JSONL with a `conversations` key): each human turn followed by a gpt turn
becomes one (question, answer) record of the given data type. Images are matched to scenes
and references by their path, or by file name when the paths differ only in their folders.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any, Generic, Iterable, Mapping, TypeVar

from harness.core.errors import BadInput, MissingResource
from harness.core.io import iter_jsonl_dicts, read_json, read_jsonl
from harness.core.records import GenerationRecord, Scene, WorldLayout

T = TypeVar("T")
_HUMAN = ("human", "user")
_GPT = ("gpt", "assistant")


def _first_char(path: Path) -> str:
    if not path.is_file():
        raise MissingResource(f"{path}: file not found")
    with path.open("rb") as f:
        head = f.read(4096).removeprefix(b"\xef\xbb\xbf").lstrip()  # a UTF-8 BOM, as read_json ignores it
    return head[:1].decode("ascii", "replace")


def load_dataset(path: str | Path, data_type: str = "conversation") -> list[GenerationRecord]:
    """The records of a dataset file (format detected); `data_type` applies to LLaVA files.

    Raises `BadInput` naming the file when it is neither format or holds no records.
    """
    path = Path(path)
    first = _first_char(path)
    if first == "[":
        recs = llava_records(read_json(path), data_type, path)
    elif first == "{":
        dicts = list(iter_jsonl_dicts(path))
        if dicts and "conversations" in dicts[0]:
            recs = llava_records(dicts, data_type, path)
        else:
            recs = read_jsonl(path, GenerationRecord)
    else:
        raise BadInput(f"{path}: expected a LLaVA JSON list or JSONL generation records")
    if not recs:
        raise BadInput(f"{path}: no records (a conversation without an image gives none)")
    return recs


def _turns(item: Any, where: str) -> list[tuple[str, str]]:
    convs = item.get("conversations") if isinstance(item, dict) else None
    if not isinstance(convs, list):
        raise BadInput(f"{where}: expected an object with a `conversations` list")
    out = []
    for t in convs:
        if not (isinstance(t, dict) and isinstance(t.get("from"), str) and isinstance(t.get("value"), str)):
            raise BadInput(f"{where}: every turn needs string `from` and `value`")
        out.append((t["from"], t["value"]))
    return out


def llava_records(items: Any, data_type: str, path: Path) -> list[GenerationRecord]:
    """LLaVA conversations as records: one per human turn followed by a gpt turn.

    A text-only conversation (no `image`, as LLaVA-1.5's ShareGPT share) says nothing about an
    image, so it gives no records: data quality, the study's and `vigc-bench quality`'s alike,
    is measured on image data.
    """
    if not isinstance(items, list):
        raise BadInput(f"{path}: expected a JSON list of LLaVA conversations")
    out: list[GenerationRecord] = []
    for i, item in enumerate(items):
        turns = _turns(item, f"{path}: item {i}")
        cid = str(item.get("id", i))
        image = item.get("image")
        if image is not None and not isinstance(image, str):
            raise BadInput(f"{path}: item {i}: `image` must be a string")
        if not image:
            continue
        pairs = [(q, a) for (who_q, q), (who_a, a) in zip(turns, turns[1:]) if who_q in _HUMAN and who_a in _GPT]
        for k, (q, a) in enumerate(pairs):
            q, a = q.replace("<image>", " ").strip(), a.strip()
            status = "ok" if q and a else "no_question" if not q else "no_answer"
            out.append(GenerationRecord(id=f"{cid}#{k}", image=image, generator="llava_json",
                                        data_type=data_type, prompt=q, raw_output=a, parse_status=status,
                                        question=q, answer=a))
    return out


class ImageIndex(Generic[T]):
    """Values looked up by image path: the exact path, else a unique file name."""

    def __init__(self, items: Mapping[str, T]):
        self._exact = dict(items)
        by_name: dict[str, list[str]] = {}
        for k in self._exact:
            by_name.setdefault(PurePosixPath(k).name, []).append(k)
        self._by_name = {n: ks[0] for n, ks in by_name.items() if len(ks) == 1}

    def get(self, image: str) -> T | None:
        """The value for `image`, or None."""
        if image in self._exact:
            return self._exact[image]
        key = self._by_name.get(PurePosixPath(image).name)
        return self._exact[key] if key is not None else None

    def __len__(self) -> int:
        return len(self._exact)


def scene_index(scenes: Iterable[Scene]) -> ImageIndex[Scene]:
    """Scenes by `file_name`."""
    return ImageIndex({s.file_name: s for s in scenes})


def load_scenes(world_dir: str | Path, split: str | None = None) -> list[Scene]:
    """The scenes of one split of a world directory, or of every split written there."""
    layout = WorldLayout(Path(world_dir))
    files = [layout.scenes(split)] if split else layout.all_scenes()
    if not files or not all(f.is_file() for f in files):
        raise MissingResource(f"{world_dir}: no scenes{f' for split {split!r}' if split else ''} "
                              f"(expected {layout.scenes('<split>')})")
    return [s for f in files for s in read_jsonl(f, Scene)]


def load_references(path: str | Path) -> dict[str, list[str]]:
    """Reference captions by image path: COCO captions JSON (`images` + `annotations`) or
    a JSON object mapping an image path to a list of captions."""
    path = Path(path)
    data = read_json(path)
    if isinstance(data, dict) and "annotations" in data and "images" in data:
        try:
            names = {im["id"]: im["file_name"] for im in data["images"]}
            out: dict[str, list[str]] = {}
            for a in data["annotations"]:
                out.setdefault(names[a["image_id"]], []).append(str(a["caption"]))
            return out
        except (KeyError, TypeError) as e:
            raise BadInput(f"{path}: not a COCO captions file (missing {e})") from None
    if isinstance(data, dict) and all(isinstance(v, list) and all(isinstance(c, str) for c in v)
                                      for v in data.values()):
        return {str(k): list(v) for k, v in data.items()}
    raise BadInput(f"{path}: expected COCO captions JSON or {{image: [captions]}}")


def world_references(world_dir: str | Path, split: str | None = None) -> dict[str, list[str]]:
    """The world's COCO captions for one split or all splits (empty when none are written)."""
    layout = WorldLayout(Path(world_dir))
    files = [layout.captions(split)] if split else layout.all_captions()
    out: dict[str, list[str]] = {}
    for f in files:
        if f.is_file():
            out.update(load_references(f))
    return out


def dumps_records(rows: Iterable[Any]) -> str:
    """A JSON list of records (for `--json`)."""
    return json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False)
