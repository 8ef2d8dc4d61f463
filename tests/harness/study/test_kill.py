"""kill -9 anywhere: the smoke study SIGKILLed at 10 seeded random moments resumes to the same bytes.

One uninterrupted run gives the reference `results.jsonl` and a timeline: when each stage was
published (its manifest's mtime). Ten moments are drawn from that timeline (seeded). A second
run directory is then started, killed (SIGKILL to the whole process group: the study and its
workers, as an OOM killer or a container stop does) at the first moment, rerun, killed at the
second, and so on: an attempt waits until the stages the reference had published by the moment
are published here too, then as long again as the moment lies past the last of them, and is
killed. So the kills land all over the study (inside long stages, between stages, in the final
reports) whatever the machine's speed. After every kill: every stage directory that is not
`.partial` has its manifest, and a `results.jsonl`, if any, is the reference's bytes. Through
$VIGC_AUDIT_READS every stage records, as it starts, whether each input directory had its
manifest: none may lack it. A last rerun finishes; its `results.jsonl` must equal the
reference byte for byte.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

KILLS = 10
SEED = 18


def _study(out: Path, env: dict[str, str]) -> subprocess.Popen:
    """The smoke study into `out`, in its own process group (so a kill reaches its workers)."""
    cmd = [sys.executable, "-m", "harness.cli", "run", "--preset", "smoke", "--out", str(out), "--quiet"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _finish(out: Path, env: dict[str, str]) -> float:
    """Run the study to the end; its wall time in seconds."""
    t0 = time.monotonic()
    p = _study(out, env)
    _, err = p.communicate(timeout=900)
    assert p.returncode == 0, err.decode()[-2000:]
    return time.monotonic() - t0


def _invariants(out: Path, reference: bytes) -> None:
    """What a kill may leave: unfinished work only in `.partial` folders, no half results."""
    stages = out / "stages"
    for d in stages.iterdir() if stages.is_dir() else []:
        if d.is_dir() and not d.name.startswith(".") and not d.name.endswith(".partial"):
            assert (d / "manifest.json").is_file(), f"{d.name}: a published stage without its manifest"
    if (out / "results.jsonl").exists():
        assert (out / "results.jsonl").read_bytes() == reference


def _timeline(run: Path, started: float) -> list[tuple[float, str]]:
    """(seconds after the start, stage folder) of every stage the reference published, in order."""
    out = []
    for d in (run / "stages").iterdir():
        if (d / "manifest.json").is_file():
            out.append(((d / "manifest.json").stat().st_mtime - started, d.name))
    return sorted(out)


def _published(out: Path, names: set[str]) -> bool:
    return all((out / "stages" / n / "manifest.json").is_file() for n in names)


@pytest.mark.slow
def test_sigkill_at_random_moments_resumes_to_identical_results(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    ref_dir = tmp_path / "reference"
    started = time.time()
    full = _finish(ref_dir, env)
    reference = (ref_dir / "results.jsonl").read_bytes()
    timeline = _timeline(ref_dir, started)
    assert len(timeline) >= 10

    audit = tmp_path / "audit.jsonl"
    env["VIGC_AUDIT_READS"] = str(audit)
    out = tmp_path / "killed"
    rng = random.Random(SEED)
    moments = sorted(rng.uniform(0.0, full) for _ in range(KILLS))
    killed = 0
    for moment in moments:
        before = {name for t, name in timeline if t <= moment}
        extra = moment - max([t for t, _ in timeline if t <= moment], default=0.0)
        p = _study(out, env)
        while p.poll() is None and not _published(out, before):
            time.sleep(0.05)
        try:
            p.wait(timeout=extra)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            killed += 1
        _invariants(out, reference)
    assert killed >= KILLS - 2, f"only {killed} of {KILLS} attempts were still running when their moment came"
    _finish(out, env)
    assert (out / "results.jsonl").read_bytes() == reference
    checks = [json.loads(line) for line in audit.read_text().splitlines()]
    assert checks and all(c["manifest"] for c in checks), [c for c in checks if not c["manifest"]][:3]
