"""Per-stage wall times of a study, and the cached rerun, measured in one process.

Usage: python bench/stage_times.py [--preset smoke|tiny] [--out DIR]

Prints one line per stage (seconds, from the run manifest), the total, the time of an
immediate rerun (everything cached) and the ratio rerun / first run. Absolute times drift
between machines; the ratio and the relative stage costs are what to compare.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(preset: str, out: Path) -> float:
    """Run `vigc-bench run` once; return wall seconds."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness.cli", "run", "--preset", preset, "--out", str(out), "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    """Run the study twice and print stage times."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="smoke")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="vigc-bench-times-")) / args.preset
    first = run(args.preset, out)
    manifest = json.loads((out / "manifest.json").read_text())
    print(f"preset {args.preset}: first run {first:.1f} s wall")
    for name, st in manifest["stages"].items():
        print(f"  {name:45s} {st['seconds']:8.1f} s{'  (cached)' if st['cached'] else ''}")
    second = run(args.preset, out)
    cached = all(st["cached"] for st in json.loads((out / "manifest.json").read_text())["stages"].values())
    print(f"rerun {second:.1f} s wall, all stages cached: {cached}, rerun/first = {second / first:.3f}")


if __name__ == "__main__":
    main()
