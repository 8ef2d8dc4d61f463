"""Shipped foundation weights: export from a run, recipe checks, checksummed loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.study.config import config_dict, load_config
from harness.core.errors import BadConfig, BadInput
from harness.stages import pretrained
from harness.study.graph import check_pretrained, foundation_parts
from harness.stages.runner import StageContext


def _fake_run(tmp: Path, lm_steps: int = 7, lm_version: int | None = None) -> Path:
    """A run directory whose manifest points at three finished foundation stages (of the
    current stage code versions unless `lm_version` says otherwise)."""
    versions = dict(pretrained.code_versions())
    if lm_version is not None:
        versions["lm"] = lm_version
    cfg = load_config(preset="smoke")
    f, world = config_dict(cfg.foundation), config_dict(cfg.world)
    lm = dict(f["lm"], steps=lm_steps)
    run = tmp / "run"
    stages = {}
    for part, config in (("lm", {"lm": lm, "seed": 0}),
                         ("vision-clip", {"vision": f["vision"], "arch": "clip", "seed": 0}),
                         ("vision-blip", {"vision": f["vision"], "arch": "blip", "seed": 0})):
        d = run / "stages" / part
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "weights.bin").write_bytes(part.encode() * 10)
        (d / "manifest.json").write_text(json.dumps({"config": config, "meta": {"final_loss": 0.5}, "seconds": 3.0,
                                                     "version": versions[part], "harness": "0"}))
        stages[f"foundation/{part}"] = {"path": str(d)}
    (run / "manifest.json").write_text(json.dumps({"config": {"world": world}, "stages": stages}))
    return run


def test_export_then_check_and_load(tmp_path: Path) -> None:
    run = _fake_run(tmp_path, lm_steps=load_config(preset="smoke").foundation.lm.steps)
    out = tmp_path / "weights"
    index = pretrained.export(run, out)
    assert set(index["parts"]) == set(pretrained.PARTS)
    assert (out / "lm" / "sub" / "weights.bin").read_bytes() == b"lm" * 10
    cfg = load_config(preset="smoke", overrides=[f"foundation.pretrained={out}"])
    check_pretrained(cfg)  # same recipe: accepted
    ctx = StageContext("foundation/lm", "k", pretrained.LoadConfig(folder=str(out), part="lm", digest=""), {},
                       tmp_path / "stage",
                       lambda n, t: None)  # type: ignore[arg-type,return-value]
    (tmp_path / "stage").mkdir()
    meta = pretrained.run_load(ctx)
    assert (tmp_path / "stage" / "sub" / "weights.bin").read_bytes() == b"lm" * 10
    assert meta.trained == {"final_loss": 0.5}


def test_the_same_weights_in_another_folder_have_the_same_key(tmp_path: Path) -> None:
    """A stage cache shared by two checkouts reuses the load stages (and all after them): the
    key follows the files' digest, not the folder they are read from."""
    run = _fake_run(tmp_path, lm_steps=load_config(preset="smoke").foundation.lm.steps)
    a, b = tmp_path / "a" / "weights", tmp_path / "b" / "weights"
    pretrained.export(run, a)
    pretrained.export(run, b)

    def key(folder: Path, part: str = "lm") -> str:
        cfg = pretrained.LoadConfig(folder=str(folder), part=part, digest=pretrained.digest(folder, part))
        return pretrained.LOAD("foundation/lm", cfg).key()

    assert key(a) == key(b)
    assert key(a) != key(a, "vision-clip")  # other files, other key


def test_other_recipe_is_refused_naming_the_key(tmp_path: Path) -> None:
    out = tmp_path / "weights"
    pretrained.export(_fake_run(tmp_path, lm_steps=12345), out)
    cfg = load_config(preset="smoke", overrides=[f"foundation.pretrained={out}"])
    with pytest.raises(BadConfig, match=r"foundation\.lm\.steps=12345"):
        check_pretrained(cfg)
    cfg = load_config(preset="smoke", overrides=[f"foundation.pretrained={out}", "world.max_objects=3"])
    with pytest.raises(BadConfig, match="world.max_objects"):
        pretrained.check(out, config_dict(cfg.foundation), config_dict(cfg.world), ("vision-clip",))


def test_weights_of_another_stage_code_version_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "weights"
    smoke_steps = load_config(preset="smoke").foundation.lm.steps
    pretrained.export(_fake_run(tmp_path, lm_steps=smoke_steps, lm_version=pretrained.code_versions()["lm"] - 1), out)
    cfg = load_config(preset="smoke", overrides=[f"foundation.pretrained={out}"])
    with pytest.raises(BadConfig, match=r"'lm' was trained by version \d+ of its stage"):
        check_pretrained(cfg)


def test_corrupt_file_and_missing_folder(tmp_path: Path) -> None:
    run = _fake_run(tmp_path)
    out = tmp_path / "weights"
    pretrained.export(run, out)
    (out / "lm" / "sub" / "weights.bin").write_bytes(b"tampered")
    (tmp_path / "stage").mkdir()
    ctx = StageContext("foundation/lm", "k", pretrained.LoadConfig(folder=str(out), part="lm", digest=""), {},
                       tmp_path / "stage",
                       lambda n, t: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(BadInput, match="corrupt"):
        pretrained.run_load(ctx)
    with pytest.raises(BadConfig, match="not found"):
        pretrained.resolve(str(tmp_path / "nowhere"))


def test_parts_follow_the_targets() -> None:
    cfg = load_config(preset="smoke")
    parts = foundation_parts(cfg)
    assert parts[0] == "lm" and "vision-clip" in parts
    assert ("vision-blip" in parts) == (cfg.vigc.enabled and cfg.world.images.extra > 0)


def test_shipped_weights_match_the_tiny_recipe() -> None:
    """The tiny preset's recipe is the one the shipped weights were trained with, and every
    shipped file has the checksum its index records (a preset edit must retrain or export)."""
    cfg = load_config(preset="tiny")
    assert cfg.foundation.pretrained == "builtin:tiny"
    check_pretrained(cfg)
    folder = pretrained.resolve("builtin:tiny")
    index = pretrained.read_index(folder)
    for part in foundation_parts(cfg):
        for rel, sha in index["parts"][part]["files"].items():
            assert pretrained._sha256(folder / part / rel) == sha, f"{part}/{rel}"


def _align_plan(overrides: list[str]) -> dict[str, dict]:
    from harness.study.graph import plan

    cfg = load_config(preset="tiny", overrides=overrides)
    return {s.name: s.config for s in plan(cfg, Path("/nonexistent-cache")) if s.name.startswith("foundation/align")}


def test_shipped_connectors_are_loaded_only_where_they_fit() -> None:
    """The tiny preset loads both shipped connectors (their files checksummed like the other
    parts); another alignment recipe, or another LM, trains them instead."""
    folder = pretrained.resolve("builtin:tiny")
    index = pretrained.read_index(folder)
    for part in pretrained.CONNECTORS:
        for rel, sha in index["parts"][part]["files"].items():
            assert pretrained._sha256(folder / part / rel) == sha, f"{part}/{rel}"
    plan = _align_plan([])
    assert {n: c.get("part") for n, c in plan.items()} == {"foundation/align-clip": "align-clip",
                                                          "foundation/align-blip": "align-blip"}
    plan = _align_plan(["foundation.align.steps=10"])
    assert plan["foundation/align-clip"]["steps"] == 10  # trained: its recipe differs
    assert plan["foundation/align-blip"]["part"] == "align-blip"  # the Q-Former's recipe is its own


def test_a_connector_aligned_on_other_lm_files_is_not_used(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "w"
    shutil.copytree(pretrained.resolve("builtin:tiny"), folder)
    cfg = load_config(preset="tiny")
    world = {**config_dict(cfg.world), "kind": "embedded"}
    align = pretrained.read_index(folder)["parts"]["align-clip"]["config"]
    assert pretrained.connector_fits(folder, "align-clip", dict(align, seed=0), world)
    assert not pretrained.connector_fits(folder, "align-clip", dict(align, lr=0.1, seed=0), world)
    assert not pretrained.connector_fits(folder, "align-clip", dict(align, seed=0), dict(world, grid=5))
    index = json.loads((folder / pretrained.INDEX).read_text())
    index["parts"]["lm"]["files"]["lm/model.safetensors"] = "0" * 64  # as if the LM were re-exported
    (folder / pretrained.INDEX).write_text(json.dumps(index))
    assert not pretrained.connector_fits(folder, "align-clip", dict(align, seed=0), world)
    assert not pretrained.connector_fits(folder, "align-nothing", dict(align, seed=0), world)


def test_export_add_keeps_the_folder_and_records_what_a_connector_was_aligned_on(tmp_path: Path) -> None:
    """`export --add` of a run that loaded its LM and tower from a folder and aligned a
    connector on them: the folder keeps its parts, gains the connector, and the connector fits."""
    run = _fake_run(tmp_path, lm_steps=load_config(preset="smoke").foundation.lm.steps)
    out = tmp_path / "weights"
    pretrained.export(run, out)
    index = pretrained.read_index(out)
    # A second run: LM and tower loaded from `out` (their files copied), the connector aligned.
    run2 = tmp_path / "run2"
    stages = {}
    for part, sub in (("lm", "lm"), ("vision-clip", "vision-clip")):
        d = run2 / "stages" / sub
        for rel in index["parts"][part]["files"]:
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            (d / rel).write_bytes((out / part / rel).read_bytes())
        (d / "manifest.json").write_text(json.dumps({"config": {}, "meta": {"pretrained": str(out)}}))
        stages[f"foundation/{part}"] = {"path": str(d), "key": f"k-{part}"}
    align = {"steps": 5, "batch": 4, "lr": 0.01, "arch": "llava", "num_query_tokens": 16, "seed": 0}
    d = run2 / "stages" / "align-clip"
    d.mkdir(parents=True)
    (d / "connector.safetensors").write_bytes(b"projector")
    (d / "manifest.json").write_text(json.dumps({
        "config": align, "inputs": {"lm": "k-lm", "vision": "k-vision-clip", "world": "k-world"}, "meta": {},
        "seconds": 1.0, "version": pretrained.code_versions()["vision-clip"], "harness": "0"}))
    stages["foundation/align-clip"] = {"path": str(d), "key": "k-align"}
    world = json.loads((run / "manifest.json").read_text())["config"]["world"]
    (run2 / "manifest.json").write_text(json.dumps({"config": {"world": world}, "stages": stages}))

    index2 = pretrained.export(run2, out, ("align-clip",), add=True)
    assert set(index2["parts"]) == set(pretrained.PARTS) | {"align-clip"}
    assert index2["parts"]["lm"] == index["parts"]["lm"]
    assert (out / "lm" / "sub" / "weights.bin").read_bytes() == b"lm" * 10  # kept
    assert (out / "align-clip" / "connector.safetensors").read_bytes() == b"projector"
    assert index2["parts"]["align-clip"]["aligned_on"] == {"lm": index["parts"]["lm"]["files"],
                                                           "vision": index["parts"]["vision-clip"]["files"]}
    w = dict(world, kind="embedded")
    assert pretrained.connector_fits(out, "align-clip", align, w)
    assert not pretrained.connector_fits(out, "align-clip", dict(align, steps=6), w)
