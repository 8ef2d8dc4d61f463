"""kill -9 anywhere: the smoke study SIGKILLed at 10 seeded random moments resumes to the same bytes.

One uninterrupted run gives the reference `results.jsonl`. A second run directory is then
started, killed (SIGKILL to the whole process group: the study and its workers, as an OOM
killer or a container stop does) at a seeded random moment, rerun, killed again, ten times:
attempt i is killed once the study has published g_i stages (g_1 <= ... <= g_10 drawn from 1 to
the reference's stage count) plus a random fraction of a second, so the kills land
inside stages, between them and in the final reports, spread over the whole study whatever
the machine's speed. After every kill: every stage
directory that is not `.partial` has its manifest, and a `results.jsonl`, if any, is the
reference's bytes (it is written whole, once the study is done). Through $VIGC_AUDIT_READS
every stage records, as it starts, whether each input directory had its manifest: none may
lack it. A last rerun finishes; its `results.jsonl` must equal the reference byte for byte.
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


def _study(out: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """The smoke study into `out`, in its own process group (so a kill reaches its workers);
    its output goes to `log` (a pipe nobody reads would fill and stall it)."""
    cmd = [sys.executable, "-m", "harness.cli", "run", "--preset", "smoke", "--out", str(out), "--quiet"]
    with log.open("ab") as f:
        return subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)


def _finish(out: Path, env: dict[str, str], log: Path) -> float:
    """Run the study to the end; its wall time in seconds."""
    t0 = time.monotonic()
    p = _study(out, env, log)
    assert p.wait(timeout=1200) == 0, log.read_text()[-2000:]
    return time.monotonic() - t0


def _invariants(out: Path, reference: bytes) -> None:
    """What a kill may leave: unfinished work only in `.partial` folders, no half results."""
    stages = out / "stages"
    for d in stages.iterdir() if stages.is_dir() else []:
        if d.is_dir() and not d.name.startswith(".") and not d.name.endswith(".partial"):
            assert (d / "manifest.json").is_file(), f"{d.name}: a published stage without its manifest"
    if (out / "results.jsonl").exists():
        assert (out / "results.jsonl").read_bytes() == reference


def _published(out: Path) -> int:
    """How many stages have their manifest in `out`."""
    stages = out / "stages"
    return sum(1 for d in stages.iterdir() if (d / "manifest.json").is_file()) if stages.is_dir() else 0


@pytest.mark.slow
def test_sigkill_at_random_moments_resumes_to_identical_results(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    log = tmp_path / "study.log"
    ref_dir = tmp_path / "reference"
    _finish(ref_dir, env, log)
    reference = (ref_dir / "results.jsonl").read_bytes()
    assert _published(ref_dir) >= 20

    audit = tmp_path / "audit.jsonl"
    env["VIGC_AUDIT_READS"] = str(audit)
    out = tmp_path / "killed"
    rng = random.Random(SEED)
    # Attempt i is killed once the study has published goals[i] stages, plus a fraction of a
    # second: inside the stages that run then, between stages, or (after the last) in the reports.
    goals = sorted(rng.randint(1, _published(ref_dir)) for _ in range(KILLS))
    killed, seen = 0, []
    for goal in goals:
        after = rng.uniform(0.0, 1.5)
        p = _study(out, env, log)
        while p.poll() is None and _published(out) < goal:
            time.sleep(0.02)
        try:
            p.wait(timeout=after)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            killed += 1
        seen.append((goal, round(after, 2), _published(out), p.returncode))
        _invariants(out, reference)
    assert killed >= KILLS - 2, (f"only {killed} of {KILLS} attempts were still running when their moment came: "
                                 f"{seen} {log.read_text()[-1500:]}")
    print(f"kills: {killed} of {KILLS}; (goal, extra s, stages published, exit code) per attempt: {seen}")
    _finish(out, env, log)
    assert (out / "results.jsonl").read_bytes() == reference
    checks = [json.loads(line) for line in audit.read_text().splitlines()]
    assert checks and all(c["manifest"] for c in checks), [c for c in checks if not c["manifest"]][:3]
