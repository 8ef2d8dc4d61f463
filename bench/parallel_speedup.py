"""Wall time of a study with stages run one at a time against two at a time, in one session.

Usage: python bench/parallel_speedup.py [--preset smoke|tiny] [--jobs N]

Runs the study from scratch with `--jobs 1`, then again into a fresh directory with
`--jobs N` (default 2), and prints both wall times and their ratio. The outputs of the two
runs are compared too: every result record should agree (float rounding aside, they do).
Absolute times drift between machines and hours; the ratio is what to compare.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(preset: str, out: Path, jobs: int) -> float:
    """Run `vigc-bench run` once from scratch; return wall seconds."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness.cli", "run", "--preset", preset, "--out", str(out), "--quiet",
                    "--jobs", str(jobs)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def results(out: Path) -> dict[tuple, float]:
    """The run's result values by (target, source, benchmark, split, metric)."""
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    return {(r["target"], r["source"], r["benchmark"], r["split"], r["metric"]): r["value"] for r in rows}


def main() -> None:
    """Time the study at jobs 1 and jobs N."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="smoke")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vigc-bench-parallel-"))
    one = run(args.preset, root / "jobs1", 1)
    many = run(args.preset, root / f"jobs{args.jobs}", args.jobs)
    a, b = results(root / "jobs1"), results(root / f"jobs{args.jobs}")
    same = sum(a[k] == b.get(k) for k in a)
    print(f"preset {args.preset}: jobs 1 {one:.1f} s, jobs {args.jobs} {many:.1f} s, "
          f"speed-up {one / many:.2f}x; {same} of {len(a)} result values identical")


if __name__ == "__main__":
    main()
