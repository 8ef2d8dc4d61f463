"""Session fixtures: tiny checkpoints of the real classes in hub layout (see
`tests/harness/models/_hub_checkpoints.py`), built once per test session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class HubCheckpoints:
    """Folders of the tiny hub-layout checkpoints, by architecture."""

    llava: Path
    instructblip: Path

    def of(self, arch: str) -> Path:
        """The folder of `arch` ('llava' or 'instructblip')."""
        return {"llava": self.llava, "instructblip": self.instructblip}[arch]


@pytest.fixture(scope="session")
def hub_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> HubCheckpoints:
    """Tiny LLaVA (CLIP + Llama, LlavaProcessor, chat template) and InstructBLIP (Llama LM,
    BERT Q-Former tokenizer, no image token of its own) checkpoints, saved as on the hub."""
    pytest.importorskip("torch")
    from tests.harness.models._hub_checkpoints import save_instructblip, save_llava

    root = tmp_path_factory.mktemp("hub")
    return HubCheckpoints(save_llava(root / "tiny-llava"), save_instructblip(root / "tiny-instructblip"))
