"""`harness.stages.predict` and `vigc-bench predict`: the shared loop, the command, its errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from benchmarks import BENCHMARKS  # noqa: E402
from benchmarks.base import BenchItem  # noqa: E402
from harness.cli import main  # noqa: E402
from harness.models.adapter import load_vlm  # noqa: E402
from harness.stages.predict import predict_items  # noqa: E402
from tests.harness._bench_world import BenchWorld, bench_world  # noqa: E402
from tests.harness.cli._run import run_cli  # noqa: E402


@pytest.fixture(scope="module")
def bw(tmp_path_factory: pytest.TempPathFactory) -> BenchWorld:
    return bench_world(tmp_path_factory.getbasetemp() / "bench-world")


@pytest.fixture(scope="module")
def vlm(bw: BenchWorld):
    return load_vlm(bw.ckpt)


def reference_loop(vlm, items, bs: int, num_beams: int = 1) -> list[str]:
    """The predict stage's loop as it was before it moved into `predict_items` (kept to pin outputs)."""
    from harness.models.features import feature_table

    feats, rows = feature_table(vlm, [it.image for it in items])
    order = sorted(range(len(items)), key=lambda i: len(items[i].prompt))
    out: dict[int, str] = {}
    for s in range(0, len(order), bs):
        idx = order[s:s + bs]
        texts = vlm.generate(feats[[rows[i] for i in idx]], [items[i].prompt for i in idx],
                             max_new_tokens=max(items[i].max_new_tokens for i in idx), num_beams=num_beams)
        out.update(zip(idx, texts))
    return [out[i] for i in range(len(items))]


def test_predict_items_equals_the_stage_loop(bw: BenchWorld, vlm) -> None:
    items = BENCHMARKS.get("pope")().load([bw.pope], image_root=bw.images)
    # Short answers keep the test fast; mixed budgets check that a batch takes its largest.
    items = [dataclasses.replace(it, max_new_tokens=4 + i % 3) for i, it in enumerate(items)]
    got = predict_items(vlm, items, batch_size=4)
    assert got == reference_loop(vlm, items, 4)
    # The test model answers something, and not the same thing to everything.
    assert all(got) and len(set(got)) > 1


def prompts_generated(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The prompts every later `VLM.generate` call is given, in order (the calls still run)."""
    from harness.models import adapter

    asked: list[str] = []
    real = adapter.VLM.generate

    def counting(self, feats, prompts, *a, **k):
        asked.extend(prompts)
        return real(self, feats, prompts, *a, **k)

    monkeypatch.setattr(adapter.VLM, "generate", counting)
    return asked


def test_the_same_question_on_the_same_image_is_asked_once(bw: BenchWorld, vlm, monkeypatch) -> None:
    items = BENCHMARKS.get("pope")().load([bw.pope], image_root=bw.images)[:6]
    items = [dataclasses.replace(it, max_new_tokens=5) for it in items]
    # POPE's splits repeat questions: the same six again under other ids, and one with a
    # larger token budget, which is another request.
    again = [dataclasses.replace(it, id=f"again-{it.id}") for it in items]
    longer = dataclasses.replace(items[0], id="longer", max_new_tokens=7)
    asked = prompts_generated(monkeypatch)
    got = predict_items(vlm, items + again, batch_size=8)
    assert len(asked) == 6
    assert got[:6] == got[6:]
    assert got == predict_items(vlm, items, batch_size=8) * 2
    asked.clear()
    predict_items(vlm, items + again + [longer], batch_size=8)
    assert len(asked) == 7


def test_item_without_image_sees_the_blank_image(bw: BenchWorld, vlm) -> None:
    img = str(bw.images / "bench" / sorted(p.name for p in (bw.images / "bench").iterdir())[0])
    items = [BenchItem("1", "Is there a circle in the image?", img, 6),
             BenchItem("2", "What colour is the star?", None, 6)]
    got = predict_items(vlm, items, batch_size=2)
    assert got[0] == predict_items(vlm, items[:1], batch_size=1)[0]
    assert got[1] == predict_items(vlm, items[1:], batch_size=1, blind=True)[0]


def score_json(capsys: pytest.CaptureFixture, name: str, data: Path, pred: Path) -> dict:
    capsys.readouterr()
    assert run_cli("score", name, "--data", str(data), "--predictions", str(pred), "--json") == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", ["pope", "mmbench"])
def test_predict_command_writes_what_score_reads(name: str, bw: BenchWorld, vlm, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    data = bw.pope if name == "pope" else bw.mmbench
    images = ["--images", str(bw.images)] if name == "pope" else []  # MMBench inlines its images
    out = tmp_path / "sub" / "pred.jsonl"
    rc = run_cli("predict", "--model", str(bw.ckpt), "--benchmark", name, "--data", str(data), *images,
                 "--out", str(out), "--batch-size", "8", "--quiet")
    assert rc == 0
    bench = BENCHMARKS.get(name)()
    items = bench.load([data], image_root=bw.images if name == "pope" else None)
    want = tmp_path / "want.jsonl"
    bench.write_predictions(items, predict_items(vlm, items, batch_size=8), want)
    assert out.read_bytes() == want.read_bytes()
    got = score_json(capsys, name, data, out)
    assert got[bench.primary_metric] == bench.score([data], want).metrics[bench.primary_metric]


def one_error_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_bad_input_is_one_line_exit_2(bw: BenchWorld, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2, 3]\n")
    out = tmp_path / "pred.jsonl"
    base = ["predict", "--out", str(out), "--quiet"]
    cases = [
        (["--model", str(tmp_path / "no-model"), "--benchmark", "pope", "--data", str(bw.pope),
          "--images", str(bw.images)], "no-model"),
        (["--model", str(bw.ckpt), "--benchmark", "popee", "--data", str(bw.pope)], "pope"),
        (["--model", str(bw.ckpt), "--benchmark", "pope", "--data", str(junk)], "junk.json"),
        (["--model", str(bw.ckpt), "--benchmark", "mmbench", "--data", str(junk)], "junk.json"),
        (["--model", str(bw.ckpt), "--benchmark", "pope", "--data", str(bw.pope)], ".png"),  # images not beside it
        (["--model", str(bw.ckpt), "--benchmark", "pope", "--data", str(tmp_path / "none.json")], "none.json"),
        (["--model", str(bw.ckpt), "--benchmark", "pope", "--data", str(bw.pope), "--split", "x"], "--split"),
        (["--model", str(bw.ckpt), "--benchmark", "pope", "--data", str(bw.pope), "--images", str(bw.images),
          "--rank"], "--rank: pope has no multiple-choice items"),
    ]
    for args, named in cases:
        capsys.readouterr()
        assert run_cli(*base, *args) == 2, args
        assert named in one_error_line(capsys.readouterr().err), args
        assert not out.exists()


def test_a_failed_run_leaves_the_old_file(bw: BenchWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.models import adapter

    out = tmp_path / "pred.jsonl"
    out.write_text("old\n")
    calls = {"n": 0}
    real = adapter.VLM.generate

    def failing(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed mid-run")
        return real(self, *a, **k)

    monkeypatch.setattr(adapter.VLM, "generate", failing)
    with pytest.raises(RuntimeError, match="mid-run"):
        main(["predict", "--model", str(bw.ckpt), "--benchmark", "pope", "--data", str(bw.pope), "--images",
              str(bw.images), "--out", str(out), "--batch-size", "4", "--quiet"])
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["pred.jsonl"]  # no temp file left behind


def test_predict_stage_writes_what_predict_items_answers(bw: BenchWorld, vlm, tmp_path: Path, monkeypatch) -> None:
    """The study's predict stage goes through `predict_items` (one loop, not two), with its model
    loaded onto the context's device."""
    from harness.models import adapter
    from harness.stages.bench import PredictResult, PredictStageConfig, run_predict
    from harness.core.progress import silent_progress
    from harness.stages.runner import StageContext, StageOutput

    def out(name: str, path: Path, meta: dict | None = None) -> StageOutput:
        return StageOutput(name, "k", path, meta or {}, True, 0.0)

    model_dir = tmp_path / "model-stage"
    model_dir.mkdir()
    (model_dir / "model").symlink_to(bw.ckpt, target_is_directory=True)
    bench_dir = bw.pope.parent.parent
    config = PredictStageConfig(benchmark="pope", blind=False, label="t", batch_size=4, num_beams=1)
    ctx = StageContext("predict", "k", config,
                       {"model": out("model", model_dir), "world": out("world", bw.images.parent),
                        "bench": out("bench", bench_dir, {"files": {"pope": {"random": ["pope/" + bw.pope.name]}}})},
                       tmp_path, silent_progress, device="cuda:3")
    devices: list[str] = []
    real = adapter.load_vlm

    def load_on(source, device="cpu", dtype=None):  # records the device, loads on the CPU (no GPU here)
        devices.append(device)
        return real(source, "cpu", dtype)

    monkeypatch.setattr(adapter, "load_vlm", load_on)
    assert run_predict(ctx) == PredictResult(predictions={"random": "random.predictions"})
    assert devices == ["cuda:3"]
    bench = BENCHMARKS.get("pope")()
    items = bench.load([bw.pope], image_root=bw.images)
    bench.write_predictions(items, predict_items(vlm, items, batch_size=4), tmp_path / "want")
    assert (tmp_path / "random.predictions").read_bytes() == (tmp_path / "want").read_bytes()


# --- the rank protocol ---------------------------------------------------------------------


def _training_loss_logprob(vlm, feats, prompt: str, reply: str) -> float:
    """Log-probability of `reply` through the training path: the model's own loss over the
    labels `encode_chat` gives a finetune (mean over labelled tokens, times their count)."""
    from harness.models.encode import IGNORE, encode_chat

    msgs = [{"role": "user", "content": vlm.user_content(prompt)},
            {"role": "assistant", "content": [{"type": "text", "text": reply}]}]
    e = encode_chat(vlm.tokenizer, msgs, vlm.n_image_tokens, vlm.image_prefix, None, vlm.image_token)
    ids, labels = torch.tensor([e.input_ids]), torch.tensor([e.labels])
    qids = qmask = None
    if vlm.arch == "instructblip":
        qids, qmask = vlm.qformer_encode([prompt])
    with torch.no_grad():
        loss = vlm.forward(ids, torch.ones_like(ids), feats, labels, qids, qmask).loss
    return -float(loss) * int((labels[:, 1:] != IGNORE).sum())


@pytest.mark.parametrize("arch", ["llava", "instructblip"])
def test_choice_logprobs_is_the_training_loss_of_each_reply(arch: str, bw: BenchWorld) -> None:
    """One prompt read, its cache shared by its choices: the numbers a finetune's loss gives
    each (prompt, reply) read whole, with prompts and choices of different lengths padded."""
    from harness.models.features import feature_table
    from tests.harness._tiny_models import tiny_vlm

    vlm = tiny_vlm(arch, seed=1)
    names = sorted(p.name for p in (bw.images / "bench").iterdir())[:2]
    feats, rows = feature_table(vlm, [str(bw.images / "bench" / n) for n in names])
    prompts = ["What colour is the star?", "Is there a circle in the image? Answer with one word, please."]
    choices = [["red and blue", "red", "a very long answer about the star"], ["no", "yes"]]
    got = vlm.choice_logprobs(feats[rows], prompts, choices)
    want = [[_training_loss_logprob(vlm, feats[[r]], p, c) for c in cs] for r, p, cs in zip(rows, prompts, choices)]
    assert [len(g) for g in got] == [3, 2]
    for g, w in zip(got, want):
        assert g == pytest.approx(w, abs=1e-4)
    assert all(x < 0 for g in got for x in g)
    # The end of the turn is part of the reply: a prefix is another reply, not a likelier one.
    assert got[0][0] != pytest.approx(got[0][1])


def test_rank_answers_the_letter_of_the_likeliest_choice(bw: BenchWorld, vlm, monkeypatch) -> None:
    from harness.models.features import feature_table

    items = BENCHMARKS.get("mmbench")().load([bw.mmbench])
    assert all(it.choices and it.rank_prompt for it in items)
    generated = prompts_generated(monkeypatch)
    got = predict_items(vlm, items, batch_size=5, rank=True)
    assert not generated  # every item has choices: nothing is written
    feats, rows = feature_table(vlm, [it.image for it in items])
    letters = "ABCDEFGH"
    for it, row, answer in zip(items, rows, got):
        lps = vlm.choice_logprobs(feats[[row]], [it.rank_prompt], [it.choices])[0]
        assert answer in letters[:len(it.choices)]
        # Batched and one-by-one forward passes differ in float rounding only.
        assert lps[letters.index(answer)] == pytest.approx(max(lps), abs=1e-4)
    # CircularEval's rotated copies show the same choices in another order: the same choice wins.
    chosen: dict[int, set[str]] = {}
    for it, a in zip(items, got):
        chosen.setdefault(int(it.id) % 1_000_000, set()).add(it.choices[letters.index(a)])
    assert all(len(texts) == 1 for texts in chosen.values())
    assert len(set().union(*chosen.values())) > 1  # and the ranking depends on the item
    # Items without choices are written as always, ranked or not.
    pope = BENCHMARKS.get("pope")().load([bw.pope], image_root=bw.images)[:4]
    pope = [dataclasses.replace(it, max_new_tokens=4) for it in pope]
    assert predict_items(vlm, pope, batch_size=4, rank=True) == predict_items(vlm, pope, batch_size=4)


def test_predict_command_ranks_with_rank(bw: BenchWorld, vlm, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "pred.jsonl"
    assert run_cli("predict", "--model", str(bw.ckpt), "--benchmark", "mmbench", "--data", str(bw.mmbench),
                   "--out", str(out), "--batch-size", "8", "--rank", "--quiet") == 0
    bench = BENCHMARKS.get("mmbench")()
    items = bench.load([bw.mmbench])
    want = tmp_path / "want.jsonl"
    bench.write_predictions(items, predict_items(vlm, items, batch_size=8, rank=True), want)
    assert out.read_bytes() == want.read_bytes()
    assert all(json.loads(line)["prediction"] in "ABCD" for line in out.read_text().splitlines())
