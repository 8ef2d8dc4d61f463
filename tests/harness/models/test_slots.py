"""Scene slots (`harness.models.slots`): the LM's stand-in for image tokens."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from harness.models.slots import SlotCodebook  # noqa: E402


class _Tok:
    """Word -> id: just enough tokenizer for `word_id`."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": [self.ids.setdefault(text.strip(), len(self.ids))]}


def _attrs() -> torch.Tensor:
    # One scene, two cells: an object (colour 1, shape 2, big, top left) and an empty cell.
    return torch.tensor([[[1.0, 2.0, 1.0, -0.5, -0.5], [-1.0, -1.0, -1.0, 0.0, 0.0]]])


def test_empty_cells_are_zero_until_given_a_word(tmp_path) -> None:
    tok = _Tok()
    book = SlotCodebook.create(tok, 8, seed=0)
    emb = torch.randn(64, 8)
    v = book.vectors(_attrs(), emb)
    assert torch.count_nonzero(v[0, 1]) == 0 and torch.count_nonzero(v[0, 0]) > 0

    worded = book.with_empty_word(tok)
    w = worded.vectors(_attrs(), emb)
    assert torch.equal(w[0, 0], v[0, 0])  # objects unchanged
    assert torch.equal(w[0, 1], emb[tok.ids["background"]])

    worded.save(tmp_path)
    back = SlotCodebook.load(tmp_path)
    assert torch.equal(back.vectors(_attrs(), emb), w)
    book.save(tmp_path)  # a codebook without the word loads as one
    assert SlotCodebook.load(tmp_path).empty_ids is None
