"""Scenes written for the language model as object slots: one "compound word" per grid cell.

Before it sees images, the LM learns to answer questions about scenes given in this form: in
the positions where an image's tokens will later go, each cell of the scene is one vector, the
sum of the LM's own word embeddings for the object's colour, shape and size, of the words
naming its quadrant ("top"/"bottom", "left"/"right"), and a linear code of its position; an
empty cell is the word "background" (a zero vector before the LM's second phase, see
`SlotCodebook.empty_ids`): an object list as text would give it ("a big red star, top left").
That is the stand-in for an LLM's in-context skill with object lists. The connector is then
pretrained to map vision-tower patch features onto these vectors (LLaVA's stage 1: align
vision to the LM), so that instruction tuning starts from a model whose image tokens already
mean something to its LM.

Pilots (2 cores, 4-layer 192-wide Qwen3): learning attribute lookup directly from images
inside a VLM stayed near chance after 40k-200k instruction samples; on slots it crosses a
threshold after ~60k questions (colour, size, count, existence at ~100%) and position and
relations follow by ~150k.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from harness.core.records import Scene
from harness.world.spec import COLOURS, SHAPES, SIZES

SLOT_FILE = "slots.safetensors"
PLACES = ("top", "bottom", "left", "right")
EMPTY_WORD = "background"  # what an empty cell shows


def word_id(tokenizer: Any, word: str) -> int:
    """The id of `word` as it appears mid-sentence (last token of ' word')."""
    return int(tokenizer(" " + word, add_special_tokens=False)["input_ids"][-1])


def scene_attrs(scene: Scene) -> list[list[float]]:
    """Per cell: [colour, shape, size, x, y] (indices; x, y in [-1, 1]); colour -1 = empty."""
    g = scene.grid
    colours, shapes = list(COLOURS), list(SHAPES)
    out = [[-1.0, -1.0, -1.0, 0.0, 0.0] for _ in range(g * g)]
    for o in scene.objects:
        out[o.row * g + o.col] = [float(colours.index(o.colour)), float(shapes.index(o.shape)),
                                  float(SIZES.index(o.size)), 2 * o.cx / scene.width - 1, 2 * o.cy / scene.height - 1]
    return out


@dataclass
class SlotCodebook:
    """Word ids per attribute value and the two learned position directions."""

    colour_ids: Any  # long tensor [n_colours]
    shape_ids: Any
    size_ids: Any
    place_ids: Any  # long tensor [4]: "top", "bottom", "left", "right"
    position: Any  # float tensor [2, hidden]: x and y directions (a trainable parameter)
    # The word an empty cell is written as (long tensor [1]), or None: an empty cell is then a
    # zero vector. A zero is exact in text, but a connector only comes near it, and the LM's
    # first RMSNorm scales a near-zero input up to a full-size vector in a random direction:
    # with the aligned connector's empties (norm 0.02 against 2.5 for an object), lettered
    # counts on the world's MMBench fell from 0.79 to 0.47 against the same slots with exact
    # zeros for empty cells (crowded 0.99 -> 0.57). A real word is read from a noisy copy.
    empty_ids: Any = None

    @classmethod
    def create(cls, tokenizer: Any, hidden: int, seed: int, device: str = "cpu") -> "SlotCodebook":
        """A codebook for `tokenizer` with freshly initialised position directions, on `device`."""
        import torch

        # Drawn on the CPU, then moved: the same directions whatever the device.
        g = torch.Generator().manual_seed(seed)
        pos = torch.nn.Parameter((torch.randn(2, hidden, generator=g) * 0.02).to(device))
        ids = [torch.tensor([word_id(tokenizer, w) for w in words], device=device)
               for words in (COLOURS, SHAPES, SIZES, PLACES)]
        return cls(ids[0], ids[1], ids[2], ids[3], pos)

    def vectors(self, attrs: Any, embedding: Any) -> Any:
        """Slot vectors [B, cells, hidden] from attrs [B, cells, 5] and the LM's embedding matrix."""
        present = (attrs[..., 0] >= 0).unsqueeze(-1).to(embedding.dtype)
        a = attrs[..., :3].long().clamp(min=0)
        v = (embedding[self.colour_ids[a[..., 0]]] + embedding[self.shape_ids[a[..., 1]]]
             + embedding[self.size_ids[a[..., 2]]]
             + embedding[self.place_ids[(attrs[..., 4] >= 0).long()]]  # top / bottom
             + embedding[self.place_ids[2 + (attrs[..., 3] >= 0).long()]]  # left / right
             + attrs[..., 3:4] * self.position[0]
             + attrs[..., 4:5] * self.position[1])
        if self.empty_ids is None:
            return v * present
        return v * present + embedding[self.empty_ids[0]] * (1 - present)

    def with_empty_word(self, tokenizer: Any, word: str = EMPTY_WORD) -> "SlotCodebook":
        """This codebook with empty cells written as `word` (instead of zero vectors)."""
        import torch

        return replace(self, empty_ids=torch.tensor([word_id(tokenizer, word)], device=self.position.device))

    def save(self, out: Path) -> None:
        """Write the codebook (safetensors)."""
        from safetensors.torch import save_file

        t = {"colour_ids": self.colour_ids, "shape_ids": self.shape_ids, "size_ids": self.size_ids,
             "place_ids": self.place_ids, "position": self.position.detach(),
             **({} if self.empty_ids is None else {"empty_ids": self.empty_ids})}
        save_file({k: v.cpu().contiguous() for k, v in t.items()}, str(out / SLOT_FILE))

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> "SlotCodebook":
        """Read a codebook written by `save`, onto `device`."""
        from safetensors.torch import load_file

        t = load_file(str(directory / SLOT_FILE), device=device)
        return cls(t["colour_ids"], t["shape_ids"], t["size_ids"], t["place_ids"], t["position"], t.get("empty_ids"))


def attrs_tensor(scenes: Sequence[Scene]) -> Any:
    """[N, cells, 5] float tensor of `scene_attrs`."""
    import torch

    return torch.tensor([scene_attrs(s) for s in scenes])
