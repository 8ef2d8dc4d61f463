"""The real path, one command at a time on real files: tiny hub-layout LLaVA and InstructBLIP
checkpoints through `train-vigc`, `generate vigc` (a plain folder of images), `finetune`,
`predict` and `score`, offline; and each new option's bad input as one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from tests.harness.cli._run import run_cli  # noqa: E402
from tests.harness.models._hub_checkpoints import plain_images  # noqa: E402

ARCHS = ["llava", "instructblip"]
QA = [("<image>\nWhat colour is the square?", "The square is white. It is small. It sits at the top."),
      ("What is in the image?\n<image>", "A white square on a dark background.")]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain folder of images (one in a subfolder) and LLaVA JSON about them beside it."""
    root = tmp_path_factory.mktemp("real")
    images = plain_images(root / "images")
    names = sorted(p.relative_to(images).as_posix() for p in images.rglob("*.*"))
    conv = [{"id": f"{i}-{j}", "image": name,
             "conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]}
            for i, name in enumerate(names) for j, (q, a) in enumerate(QA[i % 2:] + QA[:i % 2])]
    (root / "conversation_tiny.json").write_text(json.dumps(conv))
    (root / "detail_tiny.json").write_text(json.dumps(conv[:2]))
    return root


def _cli(*args: str) -> int:
    return run_cli(*[str(a) for a in args])


@pytest.mark.parametrize("arch", ARCHS)
def test_train_vigc_then_generate_on_a_plain_folder(arch, hub_checkpoints, folder, tmp_path, capsys):
    model = tmp_path / "vigc"
    assert _cli("train-vigc", "--model", hub_checkpoints.of(arch), "--data", folder / "conversation_tiny.json",
                "--data", folder / "detail_tiny.json", "--images", folder / "images", "--out", model,
                "--steps", 2, "--batch-size", 4, "--lr", 1e-3, "--quiet") == 0
    out = json.loads(capsys.readouterr().out)
    # One VIG and one VIC sample per question-answer pair (8 + 2 pairs).
    assert out["pairs"] == 10 and out["examples"] == 20 and out["final_loss"] > 0
    assert (model / "config.json").is_file() and not (model / ".resume").exists()
    assert "first_words" in json.loads((model / "train_log.json").read_text())
    for shard in ("0/2", "1/2"):
        assert _cli("generate", "vigc", "--model", model, "--images", folder / "images", "--data-type", "conversation",
                    "--out", tmp_path / f"gen{shard[0]}.jsonl", "--shard", shard, "--vic-max-sentences", 2,
                    "--batch-size", 2, "--quiet") == 0
        got = json.loads(capsys.readouterr().out)
        assert got == {"records": 2, "images": 2, "shard": shard}
    assert _cli("merge", tmp_path / "gen0.jsonl", tmp_path / "gen1.jsonl", "--out", tmp_path / "gen.jsonl") == 0
    lines = [json.loads(x) for x in (tmp_path / "gen.jsonl").read_text().splitlines()]
    assert sorted(r["image"] for r in lines) == ["img0.jpg", "img1.png", "img2.jpg", "sub/img3.png"]
    assert all(r["generator"] == "vigc" and r["data_type"] == "conversation" for r in lines)
    assert isinstance(json.loads((tmp_path / "gen.jsonl.llava.json").read_text()), list)


@pytest.mark.parametrize("arch,extra", [("llava", ()), ("instructblip", ()),
                                        ("llava", ("--lora", "--gradient-checkpointing")),
                                        ("instructblip", ("--lora", "--gradient-checkpointing"))])
def test_finetune_predict_score(arch, extra, hub_checkpoints, folder, bench, tmp_path, capsys):
    if "--lora" in extra:
        pytest.importorskip("peft")
    model = tmp_path / "ft"
    assert _cli("finetune", "--model", hub_checkpoints.of(arch), "--data", folder / "conversation_tiny.json",
                "--images", folder / "images", "--out", model, "--steps", 2, "--batch", 4, "--device", "cpu",
                "--quiet", *extra) == 0
    log = json.loads((model / "train_log.json").read_text())
    assert len(log["losses"]) == 1
    # LoRA is merged before saving: a plain checkpoint, loaded without peft.
    assert not any("lora" in k for k in _weight_names(model))
    preds = tmp_path / "pope.jsonl"
    assert _cli("predict", "--model", model, "--benchmark", "pope", "--data", bench.pope, "--images", bench.images,
                "--out", preds, "--device", "auto", "--quiet") == 0
    capsys.readouterr()
    assert _cli("score", "pope", "--data", bench.pope, "--predictions", preds, "--json") == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0 <= metrics["accuracy"] <= 100


def _weight_names(model: Path) -> list[str]:
    from safetensors import safe_open

    with safe_open(str(model / "model.safetensors"), "pt") as f:
        return list(f.keys())


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - a BenchWorld
    from tests.harness._bench_world import bench_world

    return bench_world(tmp_path_factory.mktemp("bench"))


@pytest.mark.parametrize("arch", ARCHS)
def test_predict_and_mmbench_with_hub_checkpoints(arch, hub_checkpoints, bench, tmp_path, capsys):
    """The bug: a hub InstructBLIP crashed predict (its tokenizer has no image_token)."""
    preds = tmp_path / "mmbench.jsonl"
    assert _cli("predict", "--model", hub_checkpoints.of(arch), "--benchmark", "mmbench", "--data", bench.mmbench,
                "--out", preds, "--quiet") == 0
    capsys.readouterr()
    assert _cli("score", "mmbench", "--data", bench.mmbench, "--predictions", preds, "--json") == 0
    assert "overall" in json.loads(capsys.readouterr().out)
