"""Data parallelism across processes started by `torchrun` or `accelerate launch`.

Both launchers describe the job in the same environment variables (RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT), so this module reads those and nothing else: one
code path for one machine, several machines, and no launcher at all (world size 1, where
every helper here is a no-op and nothing imports `torch.distributed`).

How the training loops use it: every rank draws the *whole* global batch of a step (the
data order is a pure function of seed and step), takes its `shard`, and scales its loss so
that the gradients summed over ranks (`sum_gradients`) are those of one process on the
whole batch. So N ranks take the same optimizer steps as one process, up to float order.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence, TypeVar

from harness.core.errors import BadConfig

if TYPE_CHECKING:
    from harness.core.sharding import BatchSplit

T = TypeVar("T")

# Ranks other than 0 wait at collectives while rank 0 runs a stage alone (a long one on a
# real model takes hours); a rank that dies is noticed by the launcher, which ends the others.
DEFAULT_TIMEOUT_S = 24 * 3600
_ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistEnv:
    """This process's place in a data-parallel job."""

    rank: int
    """0 .. world_size - 1; rank 0 owns the run directory and the cache."""
    world_size: int
    """How many processes share every global batch (1: not distributed)."""
    local_rank: int
    """The rank on this machine: which GPU the process uses, where there are GPUs."""

    @property
    def enabled(self) -> bool:
        """True when there is more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes files."""
        return self.rank == 0


def _int_var(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadConfig(f"${name}={value!r} is not an integer (set by torchrun / accelerate launch)") from None


def dist_env() -> DistEnv:
    """The job described by the launcher's environment; world size 1 when there is none.

    Raises `BadConfig` (one line) for an environment a process group cannot be built from,
    e.g. WORLD_SIZE without MASTER_ADDR, or a rank outside the world.
    """
    env = {k: os.environ.get(k) for k in _ENV_KEYS}
    if env["WORLD_SIZE"] in (None, ""):
        if env["RANK"] not in (None, "", "0"):
            raise BadConfig(f"$RANK={env['RANK']} is set without $WORLD_SIZE; launch with torchrun or accelerate")
        return DistEnv(0, 1, 0)
    world = _int_var("WORLD_SIZE", env["WORLD_SIZE"])
    if world < 1:
        raise BadConfig(f"$WORLD_SIZE={world} must be at least 1")
    if world == 1:
        return DistEnv(0, 1, 0)
    missing = [k for k in _ENV_KEYS if k != "LOCAL_RANK" and not env[k]]
    if missing:
        raise BadConfig(f"$WORLD_SIZE={world} but {', '.join('$' + k for k in missing)} not set; "
                        "launch with torchrun or accelerate launch, which set them")
    rank = _int_var("RANK", env["RANK"] or "")
    if not 0 <= rank < world:
        raise BadConfig(f"$RANK={rank} is outside the world of {world} processes")
    _int_var("MASTER_PORT", env["MASTER_PORT"] or "")
    local = _int_var("LOCAL_RANK", env["LOCAL_RANK"]) if env["LOCAL_RANK"] else rank
    return DistEnv(rank, world, local)


def check_divides(batches: Sequence[tuple[str, int]], world: int) -> None:
    """Every named global batch splits evenly over `world` ranks, else one `BadConfig` line.

    Equal shares keep each rank's loss scale exact and every rank in step at every collective.
    """
    bad = [f"{name}={b}" for name, b in batches if b % world]
    if bad:
        raise BadConfig(f"batch sizes {', '.join(bad)} do not divide over {world} processes; "
                        f"make each a multiple of {world} (the global batch is split, not multiplied)")


def init(env: DistEnv | None = None, timeout_s: int = DEFAULT_TIMEOUT_S) -> DistEnv:
    """Join the process group (once per process) and return this process's place in it.

    Backend "cpu:gloo,cuda:nccl": gloo for CPU tensors (the tiny models train on CPUs), NCCL
    for CUDA tensors where there are GPUs, chosen per tensor.
    """
    env = env or dist_env()
    if not env.enabled:
        return env
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(env.local_rank % torch.cuda.device_count())
            backend = "cpu:gloo,cuda:nccl"
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return env


def rank_device(device: str, env: DistEnv | None = None) -> str:
    """The torch device string this rank's models run on: for `cuda` in a job of several
    processes, `cuda:<local rank>` (modulo this machine's GPU count, as `init` makes it the
    current one), so the ranks of one machine use one GPU each; otherwise `device` itself."""
    env = env or dist_env()
    if device != "cuda" or not env.enabled:
        return device
    import torch

    return f"cuda:{env.local_rank % max(1, torch.cuda.device_count())}"


def active() -> DistEnv:
    """This process's place in the job if a process group is up; else rank 0 of 1."""
    if dist_env().enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            return DistEnv(dist.get_rank(), dist.get_world_size(), dist_env().local_rank)
    return DistEnv(0, 1, 0)


def shutdown() -> None:
    """Leave the process group (after a last barrier, so no rank exits while others still talk)."""
    if active().enabled:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every rank gets here (no-op in one process)."""
    if active().enabled:
        import torch.distributed as dist

        dist.barrier()


def broadcast(obj: T, src: int = 0) -> T:
    """Rank `src`'s `obj` on every rank (pickled; for small things: flags, states, messages)."""
    if not active().enabled:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def gather(obj: T) -> list[T]:
    """Every rank's `obj` (pickled), in rank order, on every rank; `[obj]` in one process."""
    if not active().enabled:
        return [obj]
    import torch.distributed as dist

    got: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(got, obj)
    return got


def batch_split(env: DistEnv | None = None) -> BatchSplit:
    """This process's share of a loop's batches (generation, prediction): every world_size-th
    batch from its rank on, the results exchanged so that every rank ends with all of them;
    one process computes every batch. Every rank of the job must run the loop."""
    from harness.core.sharding import BatchSplit

    env = env or active()
    return BatchSplit(env.rank, env.world_size, gather if env.enabled else None)


def shard(items: Sequence[T], env: DistEnv | None = None) -> list[T]:
    """This rank's share of a global batch: every world_size-th item from its rank on."""
    env = env or active()
    return list(items[env.rank::env.world_size])


def sync_parameters(params: Sequence[Any]) -> None:
    """Copy rank 0's values of `params` to every rank (as DDP does at the start of training),
    so that ranks start from the same weights even where building them was not reproducible."""
    if not active().enabled or not params:
        return
    import torch
    import torch.distributed as dist

    flat = torch.cat([p.detach().reshape(-1).float() for p in params])
    dist.broadcast(flat, src=0)
    _unflatten_into(flat, [p.data for p in params])


def sum_gradients(params: Sequence[Any]) -> None:
    """Sum `params`' gradients over ranks, in place, in one collective (missing ones count as 0).

    Each rank's loss is scaled so that this sum is the whole batch's gradient (see the module note).
    """
    if not active().enabled:
        return
    import torch
    import torch.distributed as dist

    for p in params:
        if p.grad is None:  # a rank whose share of the batch did not reach p
            p.grad = torch.zeros_like(p)
    # One flat tensor: gloo pays per call, and the models have hundreds of small tensors.
    flat = torch.cat([p.grad.reshape(-1).float() for p in params])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    _unflatten_into(flat, [p.grad for p in params])


def sum_values(values: Sequence[float]) -> list[float]:
    """`values` summed over ranks (logged losses and accuracies)."""
    if not active().enabled:
        return list(values)
    import torch
    import torch.distributed as dist

    t = torch.tensor(list(values), dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def check_same(what: str, data: bytes) -> None:
    """Raise if `data` differs between ranks: each must have built the same thing (a tokenizer,
    a batch) from the same inputs, or the summed gradients would mean nothing."""
    if not active().enabled:
        return
    import torch.distributed as dist

    digest = hashlib.sha256(data).hexdigest()
    got: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(got, digest)
    if len(set(got)) > 1:
        raise RuntimeError(f"{what} differs between ranks ({', '.join(g[:8] for g in got)}): "
                           "a stage's inputs are not the same on every rank")


def load_checkpoint(path: Path | None) -> Any:
    """The training state saved at `path` (None if absent), read by rank 0 and sent to all.

    Only rank 0 saves checkpoints (into the stage's directory); the other ranks resume from the
    same state, so that every rank starts at the same step.
    """
    import torch

    state = None
    if active().is_main and path is not None and path.is_file():
        # Onto the CPU: the state is pickled to the other ranks, and the loops copy each tensor
        # into their own (possibly GPU) parameters, so where it was saved from does not matter.
        state = torch.load(path, weights_only=False, map_location="cpu")
    return broadcast(state)


def _unflatten_into(flat: Any, tensors: Sequence[Any]) -> None:
    i = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[i:i + n].view_as(t).to(t.dtype))
        i += n
