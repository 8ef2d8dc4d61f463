"""Study config: unknown keys, wrong types and impossible values fail in one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.study.config import StudyConfig, apply_override, config_dict, load_config, preset_path, validate
from harness.core.errors import BadConfig


def bad(data: dict) -> str:
    """The message of the `BadConfig` that validating `data` raises."""
    with pytest.raises(BadConfig) as e:
        validate(data, "study.yaml")
    msg = str(e.value)
    assert msg.startswith("study.yaml: ")
    assert "\n" not in msg  # one line, for the CLI
    return msg


def test_defaults_validate() -> None:
    cfg = StudyConfig()
    assert validate({}, "x") == cfg
    # What stage hashes are taken of survives a round trip.
    assert validate(config_dict(cfg), "x") == cfg


@pytest.mark.parametrize("data, key, suggestion", [
    ({"seeed": 1}, "seeed", "seed"),
    ({"foundation": {"vision": {"stpes": 10}}}, "foundation.vision.stpes", "steps"),
    ({"world": {"images": {"sed": 5}}}, "world.images.sed", "seed"),
    ({"targets": [{"name": "a", "finetune": {"lrr": 0.1}}]}, "targets.0.finetune.lrr", "lr"),
])
def test_unknown_key_names_path_and_suggests(data: dict, key: str, suggestion: str) -> None:
    msg = bad(data)
    assert f"unknown key {key!r}" in msg
    assert f"did you mean {suggestion!r}" in msg


def test_unknown_key_without_close_match_has_no_suggestion() -> None:
    msg = bad({"world": {"zzzzzz": 1}})
    assert "'world.zzzzzz'" in msg and "did you mean" not in msg


def test_misspelt_required_key_reports_the_typo() -> None:
    # `nam` makes `name` missing too; the typo is the error worth reporting.
    msg = bad({"targets": [{"nam": "x"}]})
    assert "unknown key 'targets.0.nam'" in msg and "did you mean 'name'" in msg


@pytest.mark.parametrize("data, key", [
    ({"foundation": {"vision": {"steps": "many"}}}, "foundation.vision.steps"),
    ({"targets": [{"name": "a", "finetune": {"steps": "many"}}]}, "targets.0.finetune.steps"),
    ({"seed": "zero"}, "seed"),
    ({"world": {"kind": "pixels"}}, "world.kind"),
    ({"finetune": 3}, "finetune"),  # unknown top-level key
])
def test_wrong_type_names_key(data: dict, key: str) -> None:
    msg = bad(data)
    assert f"{key}" in msg


def test_wrong_type_shows_value() -> None:
    msg = bad({"foundation": {"vision": {"steps": "many"}}})
    assert "foundation.vision.steps" in msg and "'many'" in msg


def test_world_constraints() -> None:
    assert "max_objects must be >= min_objects" in bad({"world": {"min_objects": 4, "max_objects": 3}})
    assert "world" in bad({"world": {"min_objects": 4, "max_objects": 3}})
    assert "exceeds the grid" in bad({"world": {"grid": 2, "max_objects": 5}})
    assert "multiple of grid" in bad({"world": {"image_size": 100, "grid": 3, "max_objects": 5}})
    assert "splits.seed" in bad({"world": {"kind": "files"}})
    assert "for kind=files" in bad({"world": {"benchmark_files": {"pope": {"random": ["x"]}}}})
    assert "world.captions_per_image" in bad({"world": {"captions_per_image": 11}})
    assert "world.images.seed" in bad({"world": {"images": {"seed": 0}}})


def test_config_is_frozen() -> None:
    cfg = StudyConfig()
    with pytest.raises(Exception):
        cfg.seed = 3  # type: ignore[misc]


# --- overrides ------------------------------------------------------------------------------


def test_override_nested_key_parses_yaml_value() -> None:
    data: dict = {"foundation": {"vision": {"steps": 10}}}
    apply_override(data, "foundation.vision.steps=50")
    apply_override(data, "foundation.lm.lr=0.5")  # a section the file leaves out is created
    apply_override(data, "benchmarks=[pope, mmbench]")
    apply_override(data, "world.kind=embedded")
    assert data == {"foundation": {"vision": {"steps": 50}, "lm": {"lr": 0.5}}, "benchmarks": ["pope", "mmbench"],
                    "world": {"kind": "embedded"}}
    cfg = validate(data, "x")
    assert cfg.foundation.vision.steps == 50 and cfg.foundation.lm.lr == 0.5


def test_override_list_index() -> None:
    data: dict = {"targets": [{"name": "a"}, {"name": "b", "arch": "instructblip"}]}
    apply_override(data, "targets.1.name=x")
    apply_override(data, "targets.0.finetune.steps=7")
    cfg = validate(data, "x")
    assert [t.name for t in cfg.targets] == ["a", "x", "a-untuned"]
    assert cfg.targets[0].finetune.steps == 7 and cfg.targets[1].arch == "instructblip"


def test_override_list_index_into_default_list() -> None:
    # A config that does not list `targets` gets the default list, then the override.
    data: dict = {}
    apply_override(data, "targets.0.finetune.steps=5")
    cfg = validate(data, "x")
    assert cfg.targets[0].name == StudyConfig().targets[0].name
    assert cfg.targets[0].finetune.steps == 5


@pytest.mark.parametrize("override, fragment", [
    ("targets.5.name=x", "targets.5 is not a valid list index"),
    ("targets.x.name=x", "targets.x is not a valid list index"),
    ("targets.3=x", "targets.3 is not a valid list index"),
    ("seed", "expected key=value"),
    ("=3", "empty key"),
    ("world..grid=3", "empty key"),
    ("seed.x=1", "seed is not a section"),
    ("seed.x.y=1", "seed is not a section"),
])
def test_override_errors(override: str, fragment: str) -> None:
    data: dict = {"seed": 1, "targets": [{"name": "a"}]}
    with pytest.raises(BadConfig) as e:
        apply_override(data, override)
    assert fragment in str(e.value)
    assert repr(override) in str(e.value)


def test_override_then_validate_names_key() -> None:
    data: dict = {}
    apply_override(data, "world.grdi=3")
    msg = bad(data)
    assert "world.grdi" in msg and "'grid'" in msg


# --- files ----------------------------------------------------------------------------------


def test_load_config_file_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "study.yaml"
    f.write_text("name: mine\nseed: 3\nworld:\n  grid: 4\n  max_objects: 4\n", encoding="utf-8")
    cfg = load_config(f)
    assert (cfg.name, cfg.seed, cfg.world.max_objects) == ("mine", 3, 4)
    cfg = load_config(f, overrides=["seed=9", "world.min_objects=3"])
    assert (cfg.seed, cfg.world.min_objects) == (9, 3)
    # The file on disk is not touched by overrides.
    assert load_config(f).seed == 3


def test_load_config_empty_file_is_defaults(tmp_path: Path) -> None:
    f = tmp_path / "empty.yaml"
    f.write_text("", encoding="utf-8")
    assert load_config(f) == StudyConfig()


def test_load_config_errors_name_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(BadConfig, match="nope.yaml: config file not found"):
        load_config(missing)

    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: 1\nworld: [unclosed\n", encoding="utf-8")
    with pytest.raises(BadConfig) as e:
        load_config(broken)
    assert str(broken) in str(e.value) and "not valid YAML" in str(e.value)

    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(BadConfig) as e:
        load_config(listy)
    assert str(listy) in str(e.value) and "mapping" in str(e.value)

    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(BadConfig) as e:
        load_config(binary)
    assert str(binary) in str(e.value)

    typo = tmp_path / "typo.yaml"
    typo.write_text("foundation:\n  vision:\n    stpes: 3\n", encoding="utf-8")
    with pytest.raises(BadConfig) as e:
        load_config(typo, overrides=["seed=2"])
    assert str(typo) in str(e.value) and "foundation.vision.stpes" in str(e.value)


def test_config_and_preset_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(BadConfig, match="not both"):
        load_config(tmp_path / "x.yaml", preset="tiny")


def test_unknown_preset_suggests() -> None:
    with pytest.raises(BadConfig, match="did you mean 'tiny'"):
        preset_path("tiyn")
    assert preset_path("smoke").name == "smoke.yaml"


def test_target_sources_must_be_study_sources() -> None:
    """A target's own source list is a subset of the study's, checked before any work."""
    from harness.study.config import load_config
    from harness.core.errors import BadConfig

    cfg = load_config(preset="smoke", overrides=["sources=[seed]", "targets=[{name: a, sources: [seed]}]"])
    assert cfg.targets[0].sources == ("seed",)
    with pytest.raises(BadConfig, match="seed\\+gold"):
        load_config(preset="smoke", overrides=["sources=[seed]", "targets=[{name: a, sources: [seed+gold]}]"])


@pytest.mark.parametrize("data, fragment", [
    ({"benchmarks": ["pope", "pop"]}, "benchmarks: unknown benchmark 'pop'; did you mean pope?"),
    ({"sources": ["seed", "seed+vigx"]}, "sources: unknown data source 'seed+vigx'; did you mean seed+vig"),
    ({"seed_data": {"generator": "lang_only"}}, "seed_data.generator: unknown generator 'lang_only'; did you mean "
                                                "language_only?"),
    ({"seed_data": {"data_types": ["detial"]}}, "seed_data.data_types: unknown data type 'detial'; did you mean "
                                                "detail?"),
    ({"extra_data_types": ["conversaton"]}, "extra_data_types: unknown data type 'conversaton'"),
    ({"vigc": {"train_data_types": ["knowledge"]}}, "vigc.train_data_types: unknown data type 'knowledge'"),
    ({"sources": ["seed", "seed+vigc"]}, "sources: 'seed+vigc' needs data part(s) vigc, which this study cannot make"),
    ({"sources": ["seed", "seed+lang"], "world": {"images": {"extra": 0}}}, "'seed+lang' needs data part(s) lang"),
    ({"benchmarks": ["pope"], "predict": {"rank": ["aokvqa"]}}, "predict.rank: aokvqa not among the study's benchmarks"),
    ({"benchmarks": ["pope"], "predict": {"rank": ["pope"]}}, "predict.rank: pope has no multiple-choice items to rank "
                                                              "(multiple choice: aokvqa, mmbench, scienceqa, scienceqa_img)"),
])
def test_names_resolve_against_the_registries(data: dict, fragment: str) -> None:
    assert fragment in bad(data)


def test_data_parts_follow_the_config() -> None:
    assert StudyConfig().data_parts() == ("seed", "lang", "gold", "noisy50", "noisy100")
    on = validate({"vigc": {"enabled": True}}, "x")
    assert on.data_parts() == ("seed", "lang", "gold", "noisy50", "noisy100", "vig", "vigc")
    assert validate({"world": {"images": {"extra": 0}}}, "x").data_parts() == ("seed",)


def test_a_study_of_tiny_targets_always_has_an_untuned_control() -> None:
    cfg = validate({"targets": [{"name": "llava"}, {"name": "blind", "blind": True, "sources": ["seed"]}]}, "x")
    untuned = [t for t in cfg.targets if t.untuned]
    assert [t.name for t in untuned] == ["llava-untuned"] and untuned[0].arch == "llava"
    # Named explicitly, it is not added twice; and validation is idempotent (stage hashes depend on it).
    again = validate(config_dict(cfg), "x")
    assert again == cfg and sum(t.untuned for t in again.targets) == 1
    # A study of real checkpoints gets none.
    real = validate({"targets": [{"name": "l", "checkpoint": "llava-hf/llava-1.5-7b-hf"}]}, "x")
    assert not any(t.untuned for t in real.targets)


def test_an_untuned_control_takes_no_data() -> None:
    assert "untuned control has no sources" in bad({"targets": [{"name": "u", "untuned": True, "sources": ["seed"]}]})


def test_calibration_sources_need_the_embedded_worlds_extra_images() -> None:
    cfg = validate({"world": {"images": {"extra": 10}}, "sources": ["seed", "seed+noisy50", "seed+noisy100"]}, "x")
    assert {"noisy50", "noisy100"} <= set(cfg.data_parts())
    assert "cannot make" in bad({"world": {"images": {"extra": 0}}, "sources": ["seed", "seed+noisy50"]})


def test_finetune_epochs_size_the_steps() -> None:
    from harness.training.finetune import planned_steps

    assert planned_steps(600, None, 10_000, 64) == 600
    assert planned_steps(600, 1.0, 10_000, 64) == 157 and planned_steps(600, 2.5, 100, 64) == 4
    assert planned_steps(600, 0.001, 10, 64) == 1
    assert "epochs" in bad({"targets": [{"name": "l", "finetune": {"epochs": 0}}]})


def test_a_targets_training_seed_moves_only_its_finetunes(tmp_path: Path) -> None:
    from harness import api

    base = load_config(preset="smoke")
    seeded = load_config(preset="smoke", overrides=["targets.0.seed=7"])
    assert seeded.targets[0].seed == 7 and base.targets[0].seed is None
    a = {s.name: s for s in api.plan_study(base, tmp_path / "run")}
    b = {s.name: s for s in api.plan_study(seeded, tmp_path / "run")}
    name = seeded.targets[0].name
    moved = {n for n in a if a[n].key != b[n].key}
    assert moved and all(n.split("/")[1] == name for n in moved)  # its finetunes, predictions, scores
    assert all(b[n].config["seed"] == 7 for n in moved if n.startswith("finetune/"))
    assert all(a[n].config["seed"] == base.seed for n in moved if n.startswith("finetune/"))
    assert any(n.startswith("finetune/") for n in moved)


def test_the_vigc_models_training_seed_moves_only_it_and_what_it_feeds(tmp_path: Path) -> None:
    from harness import api

    base = load_config(preset="smoke")
    seeded = load_config(preset="smoke", overrides=["vigc.seed=7"])
    assert seeded.vigc.seed == 7 and base.vigc.seed is None
    a = {s.name: s for s in api.plan_study(base, tmp_path / "run")}
    b = {s.name: s for s in api.plan_study(seeded, tmp_path / "run")}
    moved = {n for n in a if a[n].key != b[n].key}
    assert b["vigc/train"].config["seed"] == 7 and a["vigc/train"].config["seed"] == base.seed
    assert "vigc/train" in moved and not any(n.startswith(("world", "foundation", "data/seed")) for n in moved)
    assert all(a[n].key == b[n].key for n in a if "seed+vigc" not in n and "seed+vig/" not in n
               and not n.startswith(("vigc/", "data/vig", "quality/vig")) and n in b)


def test_the_vigc_model_can_start_from_a_finetuned_instructblip_target(tmp_path: Path) -> None:
    """`vigc.start_from`: the VIGC model loads that target's seed finetune (submitted once) in place
    of the foundation; nothing else moves."""
    from harness import api

    blip = "targets=[{name: llava}, {name: blip, arch: instructblip, finetune: {steps: 3, batch: 4}}]"
    base = load_config(preset="smoke", overrides=[blip])
    started = load_config(preset="smoke", overrides=[blip, "vigc.start_from=blip"])
    a = {s.name: s for s in api.plan_study(base, tmp_path / "run")}
    planned = api.plan_study(started, tmp_path / "run")
    b = {s.name: s for s in planned}
    assert [s.name for s in planned].count("finetune/blip/seed") == 1
    assert b["vigc/train"].inputs["init"] == "finetune/blip/seed" and "init" not in a["vigc/train"].inputs
    assert {"lm", "vision", "align"} <= set(a["vigc/train"].inputs)
    assert not {"lm", "vision", "align"} & set(b["vigc/train"].inputs)
    moved = {n for n in a if a[n].key != b[n].key}
    assert "vigc/train" in moved and all(n.startswith(("vigc/", "data/vig", "quality/vig")) or "+vig" in n
                                         for n in moved)


@pytest.mark.parametrize("overrides, fragment", [
    (["vigc.start_from=blip"], "vigc.start_from: no target named 'blip' (targets: llava"),
    (["vigc.start_from=llava"], "target llava must be a seeing, finetuned instructblip target"),
    (["targets=[{name: b, arch: instructblip, blind: true, sources: [seed]}]", "vigc.start_from=b"],
     "target b must be a seeing"),
    (["sources=[seed, seed+lang]", "targets=[{name: b, arch: instructblip, sources: [seed+lang]}]",
      "vigc.start_from=b"], "target b is not finetuned on 'seed'"),
    (["targets=[{name: b, arch: instructblip}]", "vigc.start_from=b", "vigc.checkpoint=x"],
     "give start_from or checkpoint, not both"),
])
def test_vigc_start_from_is_checked_before_any_work(overrides: list[str], fragment: str) -> None:
    with pytest.raises(BadConfig) as e:
        load_config(preset="smoke", overrides=overrides)
    assert fragment in str(e.value)


def test_vigc_start_from_is_not_checked_without_a_vigc_model() -> None:
    cfg = load_config(preset="tiny", overrides=["vigc.enabled=false", "targets=[{name: llava}]",
                                                "sources=[seed, seed+lang]"])
    assert cfg.vigc.start_from == "instructblip" and not cfg.vigc.enabled


def test_targets_are_found_by_exact_name_and_models_train_with_their_own_seed_or_the_studys():
    cfg = StudyConfig.model_validate({"seed": 7, "targets": [{"name": "llava", "arch": "llava", "seed": 3},
                                                            {"name": "llava-2", "arch": "llava"}]})
    assert cfg.target("llava").seed == 3 and cfg.target("llava-2").seed is None
    assert cfg.target("llav") is None
    assert [cfg.training_seed(cfg.target(n).seed) for n in ("llava", "llava-2")] == [3, 7]


def test_ranking_a_benchmark_moves_only_its_predictions_and_scores(tmp_path: Path) -> None:
    from harness import api

    a = {s.name: s for s in api.plan_study(load_config(preset="smoke"), tmp_path / "run")}
    b = {s.name: s for s in api.plan_study(load_config(preset="smoke", overrides=["predict.rank=[mmbench]"]),
                                          tmp_path / "run")}
    moved = {n for n in a if a[n].key != b[n].key}
    assert moved and all(n.startswith(("predict/", "score/")) and n.endswith("/mmbench") for n in moved)
    assert all(b[n].config["rank"] for n in moved if n.startswith("predict/"))
    assert not any(b[n].config["rank"] for n in b if n.startswith("predict/") and n.endswith("/pope"))
