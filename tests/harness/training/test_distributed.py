"""Training across processes (gloo on CPU) gives the update of one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.errors import BadConfig
from harness.training.distributed import check_divides, dist_env

torch = pytest.importorskip("torch")

SCRIPT = Path(__file__).with_name("_dist_train.py")
LAUNCH = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def _run(args: list[str], tmp: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    for k in LAUNCH:
        env.pop(k, None)
    r = subprocess.run(args, cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


def test_two_processes_match_one(tmp_path):
    """Finetune, vision pretraining and LM pretraining: 2 gloo ranks = 1 process, same global batch."""
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    _run([sys.executable, str(SCRIPT), str(one)], tmp_path)
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
          str(SCRIPT), str(two)], tmp_path)
    a, b = torch.load(one), torch.load(two)
    # fp32 loops (finetune, vision): the same update up to float summation order. The LM
    # pretraining runs under bf16 autocast, whose rounding depends on each share's padding.
    tol = {"finetune": 1e-4, "vision": 1e-4, "lm": 2e-3}
    for name, t in tol.items():
        assert a[name].shape == b[name].shape, name
        assert torch.allclose(a[name], b[name], atol=t, rtol=t), (name, (a[name] - b[name]).abs().max())
        assert torch.allclose(a[name + "_losses"], b[name + "_losses"], atol=t, rtol=t), name
    # And training did move the weights (the comparison is not vacuous).
    from tests.harness._tiny_models import tiny_vlm

    init = torch.cat([p.detach().flatten() for p in tiny_vlm("llava", seed=3).model.parameters()
                      if p.requires_grad])
    assert not torch.allclose(a["finetune"], init[: a["finetune"].numel()])


def test_environment_without_a_launcher_is_one_process(monkeypatch):
    for k in LAUNCH:
        monkeypatch.delenv(k, raising=False)
    env = dist_env()
    assert (env.rank, env.world_size, env.enabled, env.is_main) == (0, 1, False, True)


@pytest.mark.parametrize("values, words", [
    ({"WORLD_SIZE": "2"}, "MASTER_ADDR"),
    ({"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1"}, "MASTER_PORT"),
    ({"WORLD_SIZE": "2", "RANK": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}, "outside"),
    ({"WORLD_SIZE": "two"}, "not an integer"),
    ({"RANK": "1"}, "without $WORLD_SIZE"),
])
def test_bad_launch_environment_is_one_bad_config(monkeypatch, values, words):
    for k in LAUNCH:
        monkeypatch.delenv(k, raising=False)
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(BadConfig, match=words.replace("$", r"\$")):
        dist_env()


def test_batches_must_divide_over_the_ranks():
    check_divides([("a", 8), ("b", 16)], 4)
    with pytest.raises(BadConfig, match="b=6"):
        check_divides([("a", 8), ("b", 6)], 4)


def test_each_rank_takes_the_gpu_of_its_local_rank(monkeypatch) -> None:
    from harness.training.distributed import DistEnv, rank_device

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert rank_device("cuda", DistEnv(3, 8, 3)) == "cuda:3"
    assert rank_device("cuda", DistEnv(5, 8, 1)) == "cuda:1"  # the second machine's second rank
    assert rank_device("cuda", DistEnv(6, 8, 6)) == "cuda:2"  # more ranks than GPUs: shared, as `init` sets it
    assert rank_device("cuda", DistEnv(0, 1, 0)) == "cuda"  # one process: the current GPU
    assert rank_device("cpu", DistEnv(3, 8, 3)) == "cpu"
