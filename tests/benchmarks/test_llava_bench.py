"""LLaVA-Bench on the embedded world: the files it writes, the ground-truth judge, scoring, the
CLI, the score stage's samples and the lm-eval export."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from benchmarks._llava_judges import GroundTruthJudge, ReviewRequest, ground_truth_score, scenes_by_image
from benchmarks._llava_world import FILES, IMAGES
from benchmarks.llava_bench import LlavaBench, read_files
from harness.core.errors import BadInput
from harness.world.claims import check_answer
from harness.world.export import read_scenes, write_world
from harness.world.spec import COLOURS, SHAPES
from tests.harness.cli._run import run_cli


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("llava-world")
    write_world(out, 2, {"foundation": 1, "seed": 1, "extra": 1, "bench": 40})
    return out


@pytest.fixture(scope="module")
def files(world: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return LlavaBench().synthesize(read_scenes(world, "bench"), world / "images",
                                   tmp_path_factory.mktemp("llava-files"), 3)["test"]


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_world_files_are_llava_bench_shaped(files: list[Path], world: Path) -> None:
    assert [p.name for p in files] == [FILES[k] for k in ("questions", "answers", "context", "rule", "scenes")]
    qs, refs, ctx = rows(files[0]), rows(files[1]), rows(files[2])
    assert len(qs) == 3 * IMAGES == len(refs) and len(ctx) == IMAGES
    assert [q["question_id"] for q in qs] == list(range(90))
    assert [q["category"] for q in qs] == ["conv", "detail", "complex"] * IMAGES
    assert all(set(q) == {"question_id", "image", "text", "category"} for q in qs)
    assert all(set(r) == {"question_id", "text", "category"} for r in refs)
    assert all((world / "images" / q["image"]).is_file() for q in qs)
    for c in ctx:
        assert len(c["captions"]) == 5 and c["instances"]
        assert all(len(i["bbox"]) == 4 and all(0 <= v <= 1 for v in i["bbox"]) for i in c["instances"])
        assert all(i["bbox"][0] < i["bbox"][2] and i["bbox"][1] < i["bbox"][3] for i in c["instances"])
    rule = json.loads(files[3].read_text())
    assert set(rule) == {"conv", "detail", "complex"} and all(r["role"] == "Assistant" for r in rule.values())


def test_every_reference_states_checkable_true_facts(files: list[Path]) -> None:
    data = read_files(files)
    scenes = scenes_by_image(data.scenes)
    for q in data.questions:
        ref = data.answers[str(q["question_id"])]["text"]
        verdicts = [c.verdict for c in check_answer(ref, q["text"], scenes[q["image"]]).claims if c.verdict is not None]
        assert verdicts and all(verdicts), (q, ref)


def _review(files: list[Path], answer_for) -> list[tuple[float, float]]:
    data = read_files(files)
    judge = GroundTruthJudge(scenes_by_image(data.scenes))
    out = []
    for q in data.questions:
        ref = data.answers[str(q["question_id"])]["text"]
        text = judge.review(ReviewRequest(q["question_id"], q["category"], q["image"], q["text"], ref,
                                          answer_for(q, ref), ""))
        a, b = text.split("\n")[0].split(" ")
        out.append((float(a), float(b)))
    return out


def _swap_colours(text: str, rng: random.Random) -> str:
    cs = list(COLOURS)
    return re.sub(rf"\b({'|'.join(cs)})\b", lambda m: rng.choice([c for c in cs if c != m[1]]), text)


def test_ground_truth_judge_ranks_gold_above_noisy_above_blind(files: list[Path]) -> None:
    rng = random.Random(0)
    data = read_files(files)
    by_cat: dict[str, list[str]] = {}
    for q in data.questions:
        by_cat.setdefault(q["category"], []).append(data.answers[str(q["question_id"])]["text"])

    def mean(pairs: list[tuple[float, float]]) -> float:
        return sum(b for _, b in pairs) / len(pairs)

    gold = _review(files, lambda q, ref: ref)
    assert all(a == 10 for a, _ in gold) and mean(gold) == 10
    noisy = mean(_review(files, lambda q, ref: _swap_colours(ref, rng)))
    # A blind model's answers: fluent, in the right format, about some other image.
    blind = mean(_review(files, lambda q, ref: rng.choice([r for r in by_cat[q["category"]] if r != ref])))
    empty = mean(_review(files, lambda q, ref: ""))
    assert 10 > noisy > blind >= empty == 1


def test_hallucinated_objects_cost_more_than_wrong_attributes(files: list[Path]) -> None:
    data = read_files(files)
    scene = data.scenes[0]
    shapes = {o.shape for o in scene.objects}
    o, p = scene.objects[0], scene.objects[1]
    absent = next(s for s in SHAPES if s not in shapes)
    other_colour = next(c for c in COLOURS if not any(x.colour == c and x.shape == o.shape for x in scene.objects))
    question = "Describe the image."
    second = f" There is a {p.size} {p.colour} {p.shape}."
    reference = f"There is a {o.size} {o.colour} {o.shape}." + second
    required = [c for c in check_answer(reference, question, scene).claims if c.verdict]
    right = ground_truth_score(reference, question, scene, required)
    wrong = ground_truth_score(f"There is a {o.size} {other_colour} {o.shape}." + second, question, scene, required)
    hallucinated = ground_truth_score(f"There is a {o.size} {o.colour} {absent}." + second, question, scene, required)
    assert right.score == 10 and right.wrong == 0 and not right.hallucinated
    assert wrong.wrong == 1 and hallucinated.hallucinated == (absent,)
    assert right.score > wrong.score > hallucinated.score


def test_score_with_the_ground_truth_judge(files: list[Path], world: Path, tmp_path: Path) -> None:
    bench = LlavaBench()
    items = bench.load(files, image_root=world / "images")
    assert len(items) == 90 and all(Path(str(it.image)).is_file() for it in items)
    assert {it.max_new_tokens for it in items} == {48, 128, 80}
    pred = tmp_path / "p.jsonl"
    refs = [r["text"] for r in rows(files[1])]
    bench.write_predictions(items, refs, pred)
    written = rows(pred)
    assert written[0]["question_id"] == 0 and set(written[0]) == {"question_id", "prompt", "text", "answer_id",
                                                                   "model_id", "metadata"}
    res = bench.score(files, pred)
    assert res.protocol == "official (judge: ground-truth)" and res.n == 90
    assert {k: res.metrics[k] for k in ("overall", "conversation", "detail", "complex_reasoning")} == {
        "overall": 100.0, "conversation": 100.0, "detail": 100.0, "complex_reasoning": 100.0}
    views = bench.item_scores(files, pred, res)
    assert {v.categories for v in views} == {("conversation",), ("detail",), ("complex_reasoning",)}
    assert all(v.extracted and v.extracted.startswith("10 10\n") and v.reference == v.prediction for v in views)


def test_bad_data_is_one_clear_error(files: list[Path], tmp_path: Path) -> None:
    bench = LlavaBench()
    pred = tmp_path / "p.jsonl"
    pred.write_text("".join(json.dumps({"question_id": i, "text": "x"}) + "\n" for i in range(89)))
    with pytest.raises(BadInput, match="1 of 90 questions have no answer"):
        bench.score(files, pred)
    pred.write_text("".join(json.dumps({"question_id": i, "text": "x"}) + "\n" for i in range(90)))
    with pytest.raises(BadInput, match="needs a judge"):
        bench.score(files[:4], pred)  # no scenes, no judge
    with pytest.raises(BadInput, match="reference answers"):
        bench.score([files[0], files[2], files[3]], pred)
    with pytest.raises(BadInput, match="a second questions file"):
        bench.score([files[0], files[0]], pred)


def test_cli_score_with_ground_truth(files: list[Path], world: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture) -> None:
    bench = LlavaBench()
    items = bench.load(files, image_root=world / "images")
    pred = tmp_path / "p.jsonl"
    bench.write_predictions(items, ["There is a big red star."] * len(items), pred)
    data = [a for f in files for a in ("--data", str(f))]
    assert run_cli("score", "llava_bench", *data, "--predictions", str(pred), "--json") == 0
    got = json.loads(capsys.readouterr().out)
    assert got["judge"] == "ground-truth" and got["n"] == 90
    assert set(got) >= {"overall", "conversation", "detail", "complex_reasoning", "overall_reference",
                        "overall_model", "unparsed"}
    assert 0 < got["overall"] < 50


def test_lm_eval_export_scores_like_score(files: list[Path], world: Path, tmp_path: Path) -> None:
    from harness.lm_eval_bridge import runtime
    from harness.lm_eval_bridge.tasks import TaskSpec, write_tasks

    tasks = write_tasks(tmp_path / "tasks", [TaskSpec("llava_bench", tuple(files), images=world / "images")])
    spec = tasks["vigc_llava_bench"]
    assert "overall" in spec["metrics"] and spec["items"] == 90
    answers = {str(r["question_id"]): r["text"] for r in rows(files[1])}
    assert runtime.score_answers(spec, answers).metrics["overall"] == 100.0


def test_score_stage_writes_reviews_as_samples(files: list[Path], world: Path, tmp_path: Path) -> None:
    import shutil

    from harness.core.io import read_jsonl, write_json
    from harness.core.progress import silent_progress
    from harness.core.records import SAMPLES_FILE, SampleRecord
    from harness.stages.bench import run_score
    from harness.stages.runner import StageContext, StageOutput

    bdir, pdir, sdir = tmp_path / "bench", tmp_path / "pred", tmp_path / "score"
    shutil.copytree(files[0].parent, bdir / "llava_bench")
    bench = LlavaBench()
    items = bench.load(files, image_root=world / "images")
    bench.write_predictions(items, ["There is a big red star."] * len(items), pdir / "test.predictions")
    write_json(pdir / "manifest.json", {"inputs": {}, "meta": {"predictions": {"test": "test.predictions"}}})
    sdir.mkdir()
    meta = {"files": {"llava_bench": {"test": [f"llava_bench/{p.name}" for p in files]}}}
    from harness.stages.bench import ScoreStageConfig

    config = ScoreStageConfig(benchmark="llava_bench", target="t", source="s", bootstrap=20, seed=0)
    ctx = StageContext("score/t/s/llava_bench", "k", config,
                       {"bench": StageOutput("bench-files", "b", bdir, meta, True, 0.0),
                        "pred": StageOutput("predict", "p", pdir, {"predictions": {"test": "test.predictions"}},
                                            True, 0.0)}, sdir, silent_progress)
    run_score(ctx)
    samples = read_jsonl(sdir / SAMPLES_FILE, SampleRecord)
    assert len(samples) == 90 and samples[0].metric == "overall"
    s = samples[1]
    assert s.prediction == "There is a big red star." and s.reference and s.extracted.split("\n")[0].startswith("10 ")
    assert s.categories == ("detail",) and s.weight == 10.0
    results = [json.loads(x) for x in (sdir / "results.jsonl").read_text().splitlines()]
    assert {r["metric"] for r in results} >= {"overall", "conversation", "detail", "complex_reasoning", "unparsed"}
    assert all(r["protocol"] == "official (judge: ground-truth)" for r in results)
