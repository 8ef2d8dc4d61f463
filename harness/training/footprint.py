"""How much memory a checkpoint's model takes to hold and to finetune, estimated from its files
without loading it (`vigc-bench run --dry-run` prints it per stage).

The weights are counted from the safetensors headers (each tensor's dtype and shape; the data
is not read), so the estimate is exact for what `from_pretrained` loads: the models load in the
dtype they were saved in (`harness.models.adapter.load_vlm`). Training adds, for each trainable
tensor, its gradient and AdamW's two moment buffers, each in the tensor's dtype (the finetune
loop's `torch.optim.AdamW` over `trainable_parameters`); activations, which depend on batch and
sequence length, are not counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# Bytes per element of each safetensors dtype.
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4, "I16": 2,
               "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}
# A safetensors header larger than this is not one (the format caps it at 100 MB).
MAX_HEADER = 100_000_000
# Which tensors the finetune trains besides the LM, by architecture: the connector, as
# `harness.training.finetune.trainable_parameters` picks it (projector; Q-Former, its query
# tokens and the projection).
CONNECTOR = {"llava": ("multi_modal_projector",), "instructblip": ("qformer", "query_tokens", "language_projection")}


@dataclass(frozen=True)
class Footprint:
    """A model's memory estimate (bytes). `trainable_params` is None for a stage that does not
    train; `unknown` says why there is no estimate (then the numbers are 0)."""

    params: int = 0
    weight_bytes: int = 0
    dtypes: tuple[str, ...] = ()  # the safetensors dtypes of the weights, e.g. ("BF16",)
    trainable_params: int | None = None
    trainable_bytes: int = 0
    unknown: str = ""

    @property
    def training_bytes(self) -> int:
        """Weights, plus gradient and two AdamW moments per trainable element (bytes)."""
        return self.weight_bytes + 3 * self.trainable_bytes

    def inference(self) -> "Footprint":
        """The same model, held to run it: its weights only."""
        return Footprint(self.params, self.weight_bytes, self.dtypes, unknown=self.unknown)


def checkpoint_folder(checkpoint: str) -> Path | None:
    """The folder holding `checkpoint`'s files: a local directory, or a hub id's snapshot in the
    local Hugging Face cache; None when neither is on disk (nothing is downloaded)."""
    local = Path(checkpoint)
    if local.is_dir():
        return local
    if checkpoint.startswith((".", "/")) or checkpoint.count("/") != 1:
        return None
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(checkpoint, "config.json")
    except ValueError:  # not a valid repo id
        return None
    return Path(found).parent if isinstance(found, str) else None


def read_tensors(folder: Path) -> dict[str, tuple[str, int]]:
    """Each weight tensor's dtype and element count, from the safetensors headers in `folder`
    (`model.safetensors`, or the shards `model.safetensors.index.json` names). Raises
    ValueError naming what is missing or malformed."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    elif (folder / "model.safetensors").is_file():
        shards = ["model.safetensors"]
    else:
        raise ValueError("no safetensors weights")
    out: dict[str, tuple[str, int]] = {}
    for shard in shards:
        path = folder / shard
        if not path.is_file():
            raise ValueError(f"{shard} not on disk")
        with path.open("rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if not 0 < size <= MAX_HEADER:
                raise ValueError(f"{shard}: not a safetensors file")
            header = json.loads(f.read(size))
        for name, t in header.items():
            if name != "__metadata__":
                n = 1
                for d in t["shape"]:
                    n *= d
                out[name] = (t["dtype"], n)
    return out


def is_trainable(name: str, arch: str, train_lm: bool) -> bool:
    """Whether the finetune trains tensor `name` of an `arch` checkpoint: the connector always,
    the language model (its head included) when `train_lm`; the vision tower never."""
    if any(part in name for part in CONNECTOR[arch]):
        return True
    return train_lm and ("language_model" in name or name.startswith("lm_head"))


def footprint(checkpoint: str, train_lm: bool | None = None) -> Footprint:
    """The memory `checkpoint`'s model takes: its weights, and with `train_lm` given (a
    training stage), what training it takes (the LM trained in full or frozen)."""
    folder = checkpoint_folder(checkpoint)
    if folder is None:
        return Footprint(unknown="checkpoint not local")
    try:
        arch = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_type")
        if arch not in CONNECTOR:
            return Footprint(unknown=f"model type {arch!r} is not llava or instructblip")
        tensors = read_tensors(folder)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:  # missing or malformed files
        return Footprint(unknown=str(e).splitlines()[0][:120] if str(e) else type(e).__name__)
    unsized = sorted({dtype for dtype, _ in tensors.values() if dtype not in DTYPE_BYTES})
    if unsized:
        return Footprint(unknown=f"unknown dtype {unsized[0]}")
    params = sum(n for _, n in tensors.values())
    weights = sum(n * DTYPE_BYTES[dtype] for dtype, n in tensors.values())
    dtypes = tuple(sorted({dtype for dtype, _ in tensors.values()}))
    if train_lm is None:
        return Footprint(params, weights, dtypes)
    trained = [(dtype, n) for name, (dtype, n) in tensors.items() if is_trainable(name, arch, train_lm)]
    return Footprint(params, weights, dtypes, sum(n for _, n in trained),
                     sum(n * DTYPE_BYTES[dtype] for dtype, n in trained))
