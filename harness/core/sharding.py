"""Sharded generation: shard i of n takes every n-th image; a merge checks that all are there.

Each shard writes its records and then, last, a sidecar `<out>.shard.json` naming the shard,
the run's fingerprint (generator, options, image list) and the number of records, so a shard
without its sidecar is incomplete by construction, and shards of different runs never mix.

`BatchSplit` is the same idea inside one run: the processes of a data-parallel job take turns
at a loop's batches and exchange their results (the study's generation and prediction under
torchrun).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from harness.core.errors import BadInput, MissingResource
from harness.core.io import hash_obj, read_json, read_jsonl, write_json, write_jsonl
from harness.core.records import GenerationRecord

T = TypeVar("T")
B = TypeVar("B")
_SHARD = re.compile(r"^(\d+)/(\d+)$")


def parse_shard(text: str) -> tuple[int, int]:
    """'i/n' -> (i, n) with 0 <= i < n; anything else is a BadInput."""
    m = _SHARD.match(text.strip())
    if not m or int(m.group(2)) < 1 or int(m.group(1)) >= int(m.group(2)):
        raise BadInput(f"--shard {text!r}: expected i/n with 0 <= i < n (e.g. 0/4)")
    return int(m.group(1)), int(m.group(2))


def take_shard(items: Sequence[T], shard: tuple[int, int]) -> list[T]:
    """The items of shard i of n (every n-th, starting at i)."""
    i, n = shard
    return list(items[i::n])


@dataclass(frozen=True)
class BatchSplit:
    """How the processes of a job share a loop's batches: this one (`rank` of `world`) computes
    every `world`-th batch from `rank` on, and `merge` puts every process's results back in
    batch order, on every process. The default is one process that computes them all.

    Whole batches are split, never items: each batch is what one process would have run, so
    the merged results are one process's (the same padding, the same float order).
    """

    rank: int = 0
    world: int = 1
    # Every process's object, in rank order, on every process (an all-gather); needed when world > 1.
    exchange: Callable[[Any], list[Any]] | None = None

    def mine(self, n: int) -> range:
        """The indices of the batches (of `n`) this process computes."""
        return range(self.rank, n, self.world)

    def map(self, batches: Sequence[B], fn: Callable[[B], T]) -> list[T]:
        """`fn` of each batch this process computes (in order), then every batch's result in
        batch order, on every process (see `merge`)."""
        return self.merge({b: fn(batches[b]) for b in self.mine(len(batches))}, len(batches))

    def merge(self, results: dict[int, T], n: int) -> list[T]:
        """All `n` batches' results in batch order, from each process's `{batch index: result}`
        (every process must call this, with the batches `mine` gave it)."""
        parts = [results] if self.world == 1 or self.exchange is None else self.exchange(results)
        merged: dict[int, T] = {}
        for part in parts:
            merged.update(part)
        if sorted(merged) != list(range(n)):
            raise RuntimeError(f"batch split: {len(merged)} of {n} batches came back (rank {self.rank} of {self.world})")
        return [merged[i] for i in range(n)]


def sidecar(out: Path) -> Path:
    """Where a shard's completion record lives."""
    return out.with_name(out.name + ".shard.json")


def write_shard(out: Path, records: Sequence[GenerationRecord], shard: tuple[int, int], fingerprint: dict[str, Any]) -> None:
    """Write a shard's records, then its sidecar (last: its presence means the shard is complete)."""
    write_jsonl(out, records)
    write_json(sidecar(out), {"shard": shard[0], "of": shard[1], "fingerprint": hash_obj(fingerprint),
                              "records": len(records)}, fsync=True)


def merge_shards(files: Sequence[Path]) -> list[GenerationRecord]:
    """Records of every shard, in shard order, after checking the set is whole and consistent."""
    metas = []
    for f in files:
        sc = sidecar(f)
        if not f.is_file():
            raise MissingResource(f"{f}: shard file not found")
        if not sc.is_file():
            raise MissingResource(f"{f}: shard is incomplete (no {sc.name}); rerun that shard")
        metas.append((read_json(sc), f))
    ns = {m["of"] for m, _ in metas}
    fps = {m["fingerprint"] for m, _ in metas}
    if len(ns) != 1 or len(fps) != 1:
        raise BadInput(f"{files[0]}: shards come from different runs (shard counts {sorted(ns)}, "
                       f"{len(fps)} different settings)")
    n = ns.pop()
    have = sorted(m["shard"] for m, _ in metas)
    missing = sorted(set(range(n)) - set(have))
    if missing:
        raise MissingResource(f"shard(s) {', '.join(f'{i}/{n}' for i in missing)} missing "
                              f"(have {', '.join(f'{i}/{n}' for i in have)})")
    if len(have) != len(set(have)):
        raise BadInput(f"shards given twice: {sorted(i for i in have if have.count(i) > 1)}")
    out: list[GenerationRecord] = []
    for m, f in sorted(metas, key=lambda x: x[0]["shard"]):
        recs = read_jsonl(f, GenerationRecord)
        if len(recs) != m["records"]:
            raise BadInput(f"{f}: {len(recs)} records but its sidecar says {m['records']} (file changed?)")
        out.extend(recs)
    return out
