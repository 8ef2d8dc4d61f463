"""The stage runner: a finished stage is reused, a changed input reruns only what depends on it,
and a killed stage resumes from its checkpoint without leaving a half-finished output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytest

from harness.core.io import read_json, write_json
from harness.stages.runner import LOCKS, MANIFEST, Runner, Stage, StageContext, StageOutput, resume_dir

REPO = Path(__file__).resolve().parents[3]
TOY = Path(__file__).with_name("_toy_stage.py")


def counting(calls: Counter, name: str, files: dict[str, str] | None = None) -> Callable[[StageContext], dict]:
    """A stage function that counts its calls and writes `files` (plus one naming its inputs)."""

    def fn(ctx: StageContext) -> dict[str, Any]:
        calls[name] += 1
        for rel, text in (files or {}).items():
            (ctx.out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (ctx.out_dir / rel).write_text(text, encoding="utf-8")
        inputs = {role: json.loads((ctx.input_path(role) / "out.txt").read_text(encoding="utf-8"))
                  for role in ctx.inputs}
        (ctx.out_dir / "out.txt").write_text(json.dumps({"name": name, "config": ctx.config, "inputs": inputs}),
                                             encoding="utf-8")
        return {"calls": calls[name]}

    return fn


def test_cache_miss_then_hit(tmp_path: Path) -> None:
    calls: Counter = Counter()
    stage = Stage("a", 1, counting(calls, "a"), {"x": 1})
    first = Runner(tmp_path).run(stage)
    assert not first.cached and calls["a"] == 1
    assert (first.path / MANIFEST).is_file() and (first.path / "out.txt").is_file()
    runner = Runner(tmp_path)
    second = runner.run(stage)
    assert second.cached and calls["a"] == 1
    assert (second.key, second.path, second.meta) == (first.key, first.path, first.meta)
    assert runner.history == [second]
    # Only the finished directory is left in the cache (and the stage's lock file).
    assert sorted(p.name for p in tmp_path.iterdir()) == [".locks", first.path.name]
    assert [p.name for p in (tmp_path / ".locks").iterdir()] == [first.path.name + ".lock"]


def test_manifest_contents(tmp_path: Path) -> None:
    calls: Counter = Counter()
    out = Runner(tmp_path).run(Stage("a", 3, counting(calls, "a", {"sub/x.txt": "x"}), {"x": [1, 2]}))
    m = json.loads((out.path / MANIFEST).read_text(encoding="utf-8"))
    assert (m["stage"], m["key"], m["version"], m["config"]) == ("a", out.key, 3, {"x": [1, 2]})
    assert m["files"] == ["out.txt", "sub/x.txt"]
    assert m["meta"] == {"calls": 1}


def test_fresh_and_cached_meta_agree(tmp_path: Path) -> None:
    stage = Stage("a", 1, lambda ctx: {"pair": (1, 2), "nested": {"t": ("x",)}})
    fresh = Runner(tmp_path).run(stage)
    cached = Runner(tmp_path).run(stage)
    assert cached.cached and fresh.meta == cached.meta == {"pair": [1, 2], "nested": {"t": ["x"]}}


def test_key_depends_on_name_version_config_and_inputs() -> None:
    fn = lambda ctx: None  # noqa: E731
    base = Stage("a", 1, fn, {"x": 1})
    assert base.key() == Stage("a", 1, lambda ctx: None, {"x": 1}).key()  # not on the function object
    keys = {
        base.key(),
        Stage("b", 1, fn, {"x": 1}).key(),
        Stage("a", 2, fn, {"x": 1}).key(),
        Stage("a", 1, fn, {"x": 2}).key(),
        Stage("a", 1, fn, {"x": 1, "y": None}).key(),
    }
    assert len(keys) == 5
    up1 = StageOutput("up", "k1", Path("."), {}, False, 0.0)
    up2 = StageOutput("up", "k2", Path("."), {}, False, 0.0)
    assert Stage("a", 1, fn, {"x": 1}, {"in": up1}).key() != Stage("a", 1, fn, {"x": 1}, {"in": up2}).key()
    assert Stage("a", 1, fn, {"x": 1}, {"in": up1}).key() != Stage("a", 1, fn, {"x": 1}, {"other": up1}).key()
    # Key order in a config does not matter.
    assert Stage("a", 1, fn, {"x": 1, "y": 2}).key() == Stage("a", 1, fn, {"y": 2, "x": 1}).key()


def run_chain(runner: Runner, calls: Counter, a_cfg: dict, b_cfg: dict) -> list[StageOutput]:
    a = runner.run(Stage("a", 1, counting(calls, "a"), a_cfg))
    b = runner.run(Stage("b", 1, counting(calls, "b"), b_cfg, {"a": a}))
    c = runner.run(Stage("c", 1, counting(calls, "c"), {}, {"b": b}))
    return [a, b, c]


def test_changed_config_reruns_only_downstream(tmp_path: Path) -> None:
    calls: Counter = Counter()
    a1, b1, c1 = run_chain(Runner(tmp_path), calls, {"n": 1}, {"m": 1})
    assert calls == Counter(a=1, b=1, c=1)

    a2, b2, c2 = run_chain(Runner(tmp_path), calls, {"n": 1}, {"m": 1})
    assert calls == Counter(a=1, b=1, c=1)
    assert [o.cached for o in (a2, b2, c2)] == [True, True, True]
    assert [o.key for o in (a2, b2, c2)] == [a1.key, b1.key, c1.key]

    # b's config changes: a is reused, b and c are recomputed under new keys.
    a3, b3, c3 = run_chain(Runner(tmp_path), calls, {"n": 1}, {"m": 2})
    assert calls == Counter(a=1, b=2, c=2)
    assert [o.cached for o in (a3, b3, c3)] == [True, False, False]
    assert a3.key == a1.key and b3.key != b1.key and c3.key != c1.key
    c_out = json.loads((c3.path / "out.txt").read_text(encoding="utf-8"))
    assert c_out["inputs"]["b"]["config"] == {"m": 2} and c_out["inputs"]["b"]["inputs"]["a"]["config"] == {"n": 1}
    # The old outputs are still there (switching back is free).
    run_chain(Runner(tmp_path), calls, {"n": 1}, {"m": 1})
    assert calls == Counter(a=1, b=2, c=2)

    # An upstream change reaches everything below it through the input keys.
    a4, b4, c4 = run_chain(Runner(tmp_path), calls, {"n": 2}, {"m": 1})
    assert calls == Counter(a=2, b=3, c=3)
    assert len({b1.key, b3.key, b4.key}) == 3


def test_directory_without_manifest_is_recomputed(tmp_path: Path) -> None:
    calls: Counter = Counter()
    stage = Stage("a", 1, counting(calls, "a"), {})
    out = Runner(tmp_path).run(stage)
    (out.path / MANIFEST).unlink()
    (out.path / "stale.txt").write_text("left by someone", encoding="utf-8")
    again = Runner(tmp_path).run(stage)
    assert not again.cached and calls["a"] == 2 and again.path == out.path
    assert (again.path / MANIFEST).is_file()
    assert not (again.path / "stale.txt").exists()


def test_resume_dir_and_killed_write_leftovers_not_in_output(tmp_path: Path) -> None:
    def fn(ctx: StageContext) -> dict:
        ck = resume_dir(ctx)
        assert ck == ctx.out_dir / ".resume" and ck.is_dir()
        write_json(ck / "ckpt.json", {"step": 3})
        (ctx.out_dir / "result.txt").write_text("done", encoding="utf-8")
        return {}

    runner = Runner(tmp_path)
    stage = Stage("r", 1, fn, {})
    # Leftovers of an earlier, killed attempt: the temp file of an interrupted atomic write.
    work = runner.path_for(stage).with_name(runner.path_for(stage).name + ".partial")
    (work / "images").mkdir(parents=True)
    (work / "images" / ".0000001.png.abc123.tmp").write_bytes(b"half")
    out = runner.run(stage)
    assert not (out.path / ".resume").exists()
    assert not work.exists()
    m = json.loads((out.path / MANIFEST).read_text(encoding="utf-8"))
    assert m["files"] == ["result.txt"]
    assert sorted(str(p.relative_to(out.path)) for p in out.path.rglob("*") if p.is_file()) == [MANIFEST, "result.txt"]


def test_killed_after_manifest_before_rename_is_complete(tmp_path: Path) -> None:
    calls: Counter = Counter()
    stage = Stage("a", 1, counting(calls, "a"), {})
    out = Runner(tmp_path).run(stage)
    os.replace(out.path, out.path.with_name(out.path.name + ".partial"))
    again = Runner(tmp_path).run(stage)
    assert again.cached and calls["a"] == 1 and (again.path / MANIFEST).is_file()


def test_stage_cannot_change_the_config_it_was_keyed_by(tmp_path: Path) -> None:
    def fn(ctx: StageContext) -> None:
        ctx.config["nested"]["x"] = 99

    cfg = {"nested": {"x": 1}}
    stage = Stage("a", 1, fn, cfg)
    key = stage.key()
    out = Runner(tmp_path).run(stage)
    assert stage.key() == key == out.key and cfg == {"nested": {"x": 1}}
    assert json.loads((out.path / MANIFEST).read_text(encoding="utf-8"))["config"] == cfg


def test_failing_stage_leaves_no_final_output(tmp_path: Path) -> None:
    def fn(ctx: StageContext) -> None:
        (ctx.out_dir / "half.txt").write_text("x", encoding="utf-8")
        raise RuntimeError("boom")

    runner = Runner(tmp_path)
    stage = Stage("a", 1, fn, {})
    with pytest.raises(RuntimeError):
        runner.run(stage)
    assert not runner.path_for(stage).exists()
    assert not list(tmp_path.rglob(MANIFEST))


def test_harness_core_imports_no_torch() -> None:
    # No import-time work: the core must import without torch or transformers.
    code = ("import sys, harness.study.config, harness.stages.runner, harness.core.io, harness.core.registry, harness.core.records, "
            "harness.world.export, harness.world.qa; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --- resume after kill -9 ---------------------------------------------------------------------


def toy(cache: Path, units: int, sleep: float, jobs: int = 1, **kw: Any) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, str(TOY), str(cache), str(units), str(sleep), str(jobs)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def toy_result(cache: Path, units: int, jobs: int = 1) -> dict:
    p = toy(cache, units, 0.0, jobs)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    return json.loads(out)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("jobs", [1, 2])
def test_resume_after_kill_9(tmp_path: Path, jobs: int) -> None:
    """With jobs=2 the stage runs in a worker process and only the parent is killed: the
    worker must notice and stop, and the rerun must not collide with it (stage lock)."""
    units = 200  # far more than the kill needs, so a slow machine cannot finish first
    cache = tmp_path / "killed"
    p = toy(cache, units, 0.05, jobs)
    try:
        deadline = time.monotonic() + 60
        step = 0
        while time.monotonic() < deadline:
            cks = list(cache.glob("*.partial/.resume/ckpt.json"))
            if cks:
                step = json.loads(cks[0].read_text(encoding="utf-8"))["next"]
                if step >= 3:
                    break
            assert p.poll() is None, p.communicate()[1]
            time.sleep(0.02)
        assert 3 <= step < units, f"no progress seen (step {step})"
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == -signal.SIGKILL
    # No orphan goes on working: the checkpoint stops moving (a worker exits with its parent).
    ck = next(cache.glob("*.partial/.resume/ckpt.json"))
    time.sleep(1.5)
    before = ck.read_text(encoding="utf-8")
    time.sleep(1.0)
    assert ck.read_text(encoding="utf-8") == before

    # Nothing that a later stage would take for a finished output.
    assert not list(cache.rglob(MANIFEST))
    assert [d.name.endswith(".partial") for d in cache.iterdir() if d.name != LOCKS] == [True]

    resumed = toy_result(cache, units, jobs)
    fresh = toy_result(tmp_path / "fresh", units)
    assert not resumed["cached"] and resumed["key"] == fresh["key"]
    assert resumed["result"] == fresh["result"]
    assert fresh["meta"]["started_from"] == 0
    assert resumed["meta"]["started_from"] >= step > 0
    # Units finished before the kill were not done again: only the ones after the checkpoint.
    assert resumed["meta"]["units_done"] == units - resumed["meta"]["started_from"]
    final = Path(resumed["path"])
    assert final.is_dir() and not final.with_name(final.name + ".partial").exists()
    assert not (final / ".resume").exists()

    # And now it is cached.
    again = toy_result(cache, units)
    assert again["cached"] and again["result"] == fresh["result"]


# --- typed stage specs ----------------------------------------------------------------------

def test_stage_spec_checks_config_type_and_input_roles(tmp_path: Path) -> None:
    from harness.core.config import Section
    from harness.stages.runner import StageSpec

    class Cfg(Section):
        units: int

    class Res(Section):
        total: int

    def fn(ctx: StageContext[Cfg]) -> Res:
        return Res(total=ctx.config.units * 2)

    spec = StageSpec("toy", 3, fn, Cfg, Res, inputs=("world", "data:"), optional=("align",))
    world = Runner(tmp_path).run(Stage("world", 1, lambda ctx: {}, {}))
    out = Runner(tmp_path).run(spec("toy/a", Cfg(units=2), {"world": world, "data:seed": world}))
    assert spec.read(out) == Res(total=4) and out.meta == {"total": 4}
    assert read_json(out.path / MANIFEST)["config"] == {"units": 2}
    with pytest.raises(TypeError, match="not a Cfg"):
        spec("toy/b", {"units": 2}, {"world": world, "data:seed": world})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="roles"):
        spec("toy/c", Cfg(units=1), {"world": world})  # no data: input
    with pytest.raises(TypeError, match="roles"):
        spec("toy/d", Cfg(units=1), {"world": world, "data:x": world, "model": world})  # undeclared role


def test_every_study_stage_declares_typed_config_and_result() -> None:
    from pydantic import BaseModel

    from harness.stages import bench, data, finetune, foundation, lm, pretrained, quality, vigc, world
    from harness.stages.runner import StageSpec

    specs = [v for m in (bench, data, finetune, foundation, lm, pretrained, quality, vigc, world)
             for v in vars(m).values() if isinstance(v, StageSpec)]
    assert len(specs) == len({id(s) for s in specs}) == 13
    for s in specs:
        assert issubclass(s.config, BaseModel) and s.config.model_config.get("frozen"), s.kind
        assert issubclass(s.result, BaseModel), s.kind


def test_stage_gets_the_runners_device_which_is_not_in_the_key(tmp_path: Path) -> None:
    """The device is how a stage runs, not what it computes: it reaches the stage function in its
    context, and a rerun on another device reuses the finished output."""
    seen: list[str] = []

    def fn(ctx: StageContext) -> dict[str, Any]:
        seen.append(ctx.device)
        return {}

    stage = Stage("toy/device", 1, fn, {"x": 1})
    gpu = Runner(tmp_path / "a", device="cuda:0").run(stage)
    cpu = Runner(tmp_path / "b").run(stage)
    assert seen == ["cuda:0", "cpu"]  # no model here: any device string will do
    assert gpu.key == cpu.key == stage.key()
    assert Runner(tmp_path / "a").run(stage).cached and seen == ["cuda:0", "cpu"]
