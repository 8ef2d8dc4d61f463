"""Data from outside the study: `data_files` sources (`seed+NAME`), seed data and VIGC training
data given as files, and the paper preset that uses them (validates anywhere, names the first
missing file when planned)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import BENCHMARKS
from harness import api
from harness.core.errors import BadConfig, MissingResource
from harness.study.config import load_config
from harness.study.sources import resolve_source
from tests.harness.cli._run import run_cli


def _llava_file(path: Path) -> Path:
    path.write_text(json.dumps([{"id": "1", "image": "extra/0000001.png", "conversations": [
        {"from": "human", "value": "<image>\nWhat is there?"}, {"from": "gpt", "value": "A red star."}]}]))
    return path


def test_a_named_file_is_a_source_with_its_own_stages(tmp_path: Path) -> None:
    f = _llava_file(tmp_path / "theirs.json")
    cfg = load_config(preset="smoke", overrides=[f"data_files={{theirs: {f}}}", "sources=[seed, seed+theirs]"])
    assert cfg.data_parts()[-1] == "theirs"
    assert resolve_source("seed+theirs", cfg.data_files).parts == ("seed", "theirs")
    names = {s.name: s for s in api.plan_study(cfg, tmp_path / "run")}
    assert "data/file-theirs" in names and "quality/theirs" in names
    ft = names["finetune/llava/seed+theirs"]
    assert set(ft.inputs.values()) >= {"data/seed", "data/file-theirs"}
    key = names["data/file-theirs"].key
    f.write_text(f.read_text().replace("A red star.", "A blue star."))  # an edited file is taken in again
    assert {s.name: s for s in api.plan_study(cfg, tmp_path / "run")}["data/file-theirs"].key != key


@pytest.mark.parametrize("overrides, needle", [
    (["sources=[seed, seed+theirs]"], "seed+NAME"),  # not named under data_files
    (["data_files={vigc: x.json}"], "data part the study makes"),
    (["data_files={'a b': x.json}"], "letters, digits"),
    (["data_files={a: ''}"], "empty path"),
])
def test_bad_data_files_config(overrides: list[str], needle: str) -> None:
    with pytest.raises(BadConfig) as e:
        load_config(preset="smoke", overrides=overrides)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_a_missing_file_is_one_line_naming_the_key(tmp_path: Path) -> None:
    cfg = load_config(preset="smoke", overrides=[f"data_files={{theirs: {tmp_path / 'nope.json'}}}",
                                                 "sources=[seed, seed+theirs]"])
    with pytest.raises(MissingResource, match=r"data_files\.theirs: .*nope\.json: file not found"):
        api.plan_study(cfg, tmp_path / "run")


def test_paper_preset_is_the_papers_study() -> None:
    cfg = load_config(preset="paper")  # validates without any of its files present
    assert cfg.vigc.enabled and cfg.vigc.checkpoint == "Salesforce/instructblip-vicuna-7b"
    assert set(cfg.vigc.train_files) == {"knowledge_vqa"} and "knowledge_vqa" in cfg.vigc.train_data_types
    assert set(cfg.seed_data.files) == {"conversation", "detail", "complex_reasoning"}
    assert {"seed", "seed+vig", "seed+vigc"} <= set(cfg.sources)
    # All six benchmarks and LLaVA-Bench; ScienceQA on its image problems, as LLaVA-1.5 reports it.
    assert set(cfg.benchmarks) == set(BENCHMARKS.names()) - {"scienceqa"}
    assert {t.checkpoint for t in cfg.targets} == {"llava-hf/llava-1.5-7b-hf", "Salesforce/instructblip-vicuna-7b"}
    assert cfg.world.kind == "files" and cfg.world.has_split("extra") and not cfg.world.has_scenes()


def test_paper_dry_run_without_files_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # no data/ folder here
    assert run_cli("run", "--preset", "paper", "--dry-run") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not found" in err and "data/" in err, err
    assert "Traceback" not in err


def test_a_data_file_may_hold_text_only_conversations(tmp_path: Path) -> None:
    """As LLaVA-1.5's mix does (ShareGPT): kept without an `image` key, no data-quality records;
    an image conversation whose image is missing is still one clear error."""
    from harness.core.errors import BadInput
    from harness.core.io import read_json, sha256_file
    from harness.core.progress import silent_progress
    from harness.stages.data_file import DataFileConfig, DataFileEntry, run_data_file
    from harness.stages.runner import StageContext, StageOutput

    world = tmp_path / "world"
    (world / "images" / "extra").mkdir(parents=True)
    (world / "images" / "extra" / "0000001.png").write_bytes(b"png")
    f = _llava_file(tmp_path / "theirs.json")
    items = json.loads(f.read_text()) + [{"id": "t", "conversations": [
        {"from": "human", "value": "Name something that is red."}, {"from": "gpt", "value": "a fire truck"}]}]
    f.write_text(json.dumps(items))

    def run(out: Path) -> object:
        out.mkdir()
        cfg = DataFileConfig(name="theirs", files=(DataFileEntry(path=str(f), sha256=sha256_file(f),
                                                                 data_type="conversation"),))
        ctx = StageContext("data/file-theirs", "k", cfg, {"world": StageOutput("world", "w", world, {}, True, 0.0)},
                           out, silent_progress)
        return run_data_file(ctx)

    res = run(tmp_path / "a")
    assert res.conversations == 2 and res.records == 1
    written = read_json(tmp_path / "a" / "llava.json")
    assert "image" not in written[1] and written[0]["image"] == "extra/0000001.png"
    items[0]["image"] = "extra/missing.png"
    f.write_text(json.dumps(items))
    with pytest.raises(BadInput, match="missing.png"):
        run(tmp_path / "b")
