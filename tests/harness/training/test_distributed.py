"""Training across processes (gloo on CPU) gives the update of one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

SCRIPT = Path(__file__).with_name("_dist_train.py")


def _run(args: list[str], tmp: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    env.pop("RANK", None), env.pop("WORLD_SIZE", None)
    r = subprocess.run(args, cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


def test_two_processes_match_one(tmp_path):
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    _run([sys.executable, str(SCRIPT), str(one)], tmp_path)
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
          str(SCRIPT), str(two)], tmp_path)
    a, b = torch.load(one), torch.load(two)
    assert a.shape == b.shape
    # Same update up to float summation order: far tighter than any training signal.
    assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), (a - b).abs().max()
    # And training did move the weights (the comparison is not vacuous).
    from tests.harness._tiny_models import tiny_vlm

    init = torch.cat([p.detach().flatten() for p in tiny_vlm("llava", seed=3).model.parameters()
                      if p.requires_grad])
    assert not torch.allclose(a, init[: a.numel()])
