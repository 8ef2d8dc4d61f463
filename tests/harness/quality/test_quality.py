"""Data-quality metrics on hand-built datasets with known values, loaders and the CLI command."""

from __future__ import annotations

import json
import math
import random
import shutil
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.core.errors import BadInput
from harness.core.io import read_jsonl, write_jsonl
from harness.core.records import GenerationRecord, QualityRecord, Scene, SceneObject
from harness.quality.metrics import METRICS, quality_metrics
from harness.quality.readers import load_dataset, load_references
from harness.quality.text import QualityNote, self_bleu

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="java is needed by pycocoevalcap")


def obj(i: int, shape: str, colour: str, size: str, row: int, col: int) -> SceneObject:
    side = 19.0 if size == "big" else 11.0
    x, y = col * 24 + (24 - side) / 2, row * 24 + (24 - side) / 2
    return SceneObject(id=i, shape=shape, colour=colour, size=size, row=row, col=col, bbox=(x, y, side, side))


def scene(image_id: int) -> Scene:
    """A big red star (top left) and a small blue circle (top right)."""
    return Scene(image_id=image_id, file_name=f"seed/{image_id:07d}.png", split="seed", width=96, height=96, grid=4,
                 theme="sky", objects=(obj(0, "star", "red", "big", 0, 0), obj(1, "circle", "blue", "small", 0, 3)))


def rec(image: str, q: str, a: str, data_type: str = "conversation", status: str = "ok",
        i: int = 0) -> GenerationRecord:
    return GenerationRecord(id=f"{image}#{i}", image=image, generator="test", data_type=data_type, prompt="p",
                            raw_output=a, parse_status=status, question=q, answer=a)  # type: ignore[arg-type]


def by_metric(rows: list[QualityRecord], data_type: str = "all") -> dict[str, QualityRecord]:
    return {r.metric: r for r in rows if r.data_type == data_type}


EXAMPLE = ("The star is red.", "The star is blue.", "There is a heart.")


def example_records() -> list[GenerationRecord]:
    return [rec(f"seed/{img:07d}.png", "What is there?", a, i=k) for img in (1, 2) for k, a in enumerate(EXAMPLE)]


def test_world_metrics_by_hand():
    rows = quality_metrics(example_records(), [scene(1), scene(2)], n_boot=200)
    m = by_metric(rows, "conversation")
    # Per image: 1 of 3 answers correct; 3 mentions, 1 hallucinated (heart); 3 answers with a
    # mention, 1 with a hallucination; 2 attributed mentions of present shapes, 1 wrong
    # (blue star); the star identified, the circle not: coverage 1/2.
    assert m["factual_accuracy"].value == pytest.approx(100 / 3) and m["factual_accuracy"].n == 6
    assert m["chair_i"].value == pytest.approx(100 / 3) and m["chair_i"].n == 6
    assert m["chair_s"].value == pytest.approx(100 / 3) and m["chair_s"].n == 6
    assert m["attribute_error_rate"].value == pytest.approx(50.0) and m["attribute_error_rate"].n == 4
    assert m["coverage"].value == pytest.approx(50.0) and m["coverage"].n == 2
    assert [r.metric for r in rows if r.data_type == "all"] == [r.metric for r in rows if r.data_type == "conversation"]


def test_world_metrics_need_scenes():
    names = {r.metric for r in quality_metrics(example_records(), None, n_boot=0)}
    assert not names & {"factual_accuracy", "chair_i", "chair_s", "attribute_error_rate", "coverage"}
    assert {"distinct_1", "self_bleu", "answer_length"} <= names


def test_matching_by_file_name_when_folders_differ():
    recs = [r.model_copy(update={"image": "/data/imgs/" + Path(r.image).name}) for r in example_records()]
    m = by_metric(quality_metrics(recs, [scene(1), scene(2)], n_boot=0))
    assert m["chair_i"].value == pytest.approx(100 / 3)


def test_text_metrics_by_hand():
    a, b = "seed/a.png", "seed/b.png"
    recs = [rec(a, "what is it", "one two", i=0), rec(a, "what is it", "one two", i=1),
            rec(a, "what is this", "one", i=2), rec(b, "what is it", "three words here", i=3),
            rec(b, "", "", status="no_question", i=4)]
    m = by_metric(quality_metrics(recs, n_boot=0))
    # Questions of the 4 usable records: 12 unigrams, 4 distinct; 8 bigrams, 3 distinct.
    assert m["distinct_1"].value == pytest.approx(100 * 4 / 12) and m["distinct_1"].n == 12
    assert m["distinct_2"].value == pytest.approx(100 * 3 / 8)
    assert m["duplicate_rate"].value == pytest.approx(25.0)  # the repeated pair of image a; b's is a new image
    assert m["parse_failure_rate"].value == pytest.approx(20.0) and m["parse_failure_rate"].n == 5
    assert m["question_length"].value == pytest.approx(3.0) and m["question_length"].n == 4
    assert m["answer_length"].value == pytest.approx((2 + 2 + 1 + 3) / 4)
    assert m["self_bleu"].n == 4


def test_self_bleu_equals_pycocoevalcap():
    from pycocoevalcap.bleu.bleu_scorer import BleuScorer

    rng = random.Random(0)
    vocab = "what colour is the red star circle where how many shapes are there in image".split()
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(2, 9))) for _ in range(40)]
    texts += ["what is the star"] * 2
    scorer = BleuScorer(n=4)
    for i, t in enumerate(texts):
        scorer += (t, texts[:i] + texts[i + 1:])
    _, per = scorer.compute_score(option="closest")
    assert self_bleu(texts) == pytest.approx(per[3], abs=1e-12)
    assert self_bleu(texts)[-1] == pytest.approx(1.0)  # an exact duplicate


def mixed_dataset(n_images: int = 30) -> tuple[list[GenerationRecord], list[Scene]]:
    """Ground-truth answers, some corrupted, for CI tests."""
    from generators.base import ImageInfo
    from generators.language_only import template_records
    from harness.world.export import split_scenes
    from harness.world.qa import known_from_scene

    scenes = split_scenes(5, "extra", n_images, 96, 4, 2, 5)
    rng = random.Random(0)
    recs: list[GenerationRecord] = []
    for s in scenes:
        info = ImageInfo(s.image_id, s.file_name, Path("x"), s.width, s.height, scene=s)
        for r in template_records(info, known_from_scene(s), ("conversation", "detail"), rng, "gold"):
            if rng.random() < 0.3:
                r = r.model_copy(update={"answer": r.answer.replace("star", "heart").replace("red", "green")})
            recs.append(r)
    return recs, scenes


def test_cis_bracket_values_and_are_none_for_one_image():
    recs, scenes = mixed_dataset()
    rows = quality_metrics(recs, scenes, n_boot=300)
    assert {r.data_type for r in rows} == {"conversation", "detail", "all"}
    assert len({r.metric for r in rows}) >= 12
    for r in rows:
        assert r.ci_low is not None and r.ci_high is not None, r
        assert r.ci_low - 1e-9 <= r.value <= r.ci_high + 1e-9, r
    assert by_metric(rows)["chair_i"].value > 0 and by_metric(rows)["factual_accuracy"].value < 100
    one = quality_metrics([r for r in recs if r.image == recs[0].image], scenes, n_boot=100)
    assert all(r.ci_low is None and r.ci_high is None for r in one)


def test_deterministic_and_ordered():
    recs, scenes = mixed_dataset(8)
    a = quality_metrics(recs, scenes, n_boot=50, seed=3)
    assert a == quality_metrics(recs, scenes, n_boot=50, seed=3)
    order = [METRICS.index(r.metric) for r in a if r.data_type == "conversation"]
    assert order == sorted(order)
    assert [r.data_type for r in a][-1] == "all"


def caption_dataset() -> tuple[list[GenerationRecord], dict[str, list[str]]]:
    hyps = ["A big red star and a small blue circle.", "Two shapes: a green square, a heart.",
            "A red star in the top left of the image.", "Some shapes on a white background."]
    refs = {f"seed/{i}.png": [f"A big red star next to a blue circle {i}.", "Two shapes on a white background.",
                              "A red star in the top left."] for i in range(4)}
    recs = [rec(f"seed/{i}.png", "Describe the image in detail.", h, "detail", i=i) for i, h in enumerate(hyps)]
    return recs, refs


@needs_java
def test_caption_metrics_equal_pycocoevalcap():
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    recs, refs = caption_dataset()
    m = by_metric(quality_metrics(recs, references=refs, n_boot=100, meteor=False), "detail")
    tok = PTBTokenizer()
    gts = tok.tokenize({r.id: [{"caption": c} for c in refs[r.image]] for r in recs})
    res = tok.tokenize({r.id: [{"caption": r.answer}] for r in recs})
    assert m["bleu_4"].value == pytest.approx(100 * Bleu(4).compute_score(gts, res, verbose=0)[0][3])
    assert m["rouge_l"].value == pytest.approx(100 * Rouge().compute_score(gts, res)[0])
    assert m["cider"].value == pytest.approx(float(Cider().compute_score(gts, res)[0]))
    assert "meteor" not in m and m["bleu_4"].n == 4
    assert m["rouge_l"].ci_low <= m["rouge_l"].value <= m["rouge_l"].ci_high


@needs_java
@pytest.mark.slow  # METEOR's java start loads its paraphrase table: about 10 s
def test_meteor_is_the_corpus_score_with_a_centred_interval():
    recs, refs = caption_dataset()
    m = by_metric(quality_metrics(recs, references=refs, n_boot=200), "detail")
    assert 0 < m["meteor"].value < 100 and m["meteor"].n == 4
    assert m["meteor"].ci_low <= m["meteor"].value <= m["meteor"].ci_high


def test_meteor_without_java_is_skipped_with_a_note(monkeypatch):
    import harness.quality.text as qt

    monkeypatch.setattr(qt.shutil, "which", lambda name: None)
    recs, refs = caption_dataset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", QualityNote)
        m = by_metric(quality_metrics(recs, references=refs, n_boot=10), "detail")
    notes = [str(w.message) for w in caught if issubclass(w.category, QualityNote)]
    assert any("METEOR skipped" in n for n in notes)
    assert "meteor" not in m and {"bleu_4", "rouge_l", "cider"} <= set(m)


# --- loading ------------------------------------------------------------------------------


def test_llava_json_loading(tmp_path):
    data = [{"id": "x1", "image": "seed/0000001.png", "conversations": [
        {"from": "human", "value": "<image>\nWhat colour is the star?"}, {"from": "gpt", "value": "The star is red."},
        {"from": "human", "value": "Is there a heart in the image?"}, {"from": "gpt", "value": "No."}]},
        {"id": "x2", "image": "seed/0000002.png", "conversations": [
            {"from": "human", "value": "Describe it."}, {"from": "gpt", "value": ""}]}]
    p = tmp_path / "llava.json"
    p.write_text(json.dumps(data))
    recs = load_dataset(p, data_type="detail")
    assert [(r.id, r.question, r.answer, r.data_type) for r in recs[:2]] == [
        ("x1#0", "What colour is the star?", "The star is red.", "detail"),
        ("x1#1", "Is there a heart in the image?", "No.", "detail")]
    assert recs[2].parse_status == "no_answer"
    jl = tmp_path / "llava.jsonl"
    jl.write_text("".join(json.dumps(d) + "\n" for d in data))
    assert load_dataset(jl, data_type="detail") == recs


def test_text_only_conversations_give_no_records(tmp_path):
    text = {"id": "t1", "conversations": [{"from": "human", "value": "How many sides does a triangle have?"},
                                          {"from": "gpt", "value": "3"}]}
    img = {"id": "x1", "image": "seed/0000001.png", "conversations": [
        {"from": "human", "value": "<image>\nWhat colour is the star?"}, {"from": "gpt", "value": "Red."}]}
    p = tmp_path / "mix.json"
    p.write_text(json.dumps([text, img, {**text, "id": "t2", "image": None}]))
    assert [r.id for r in load_dataset(p)] == ["x1#0"]
    p.write_text(json.dumps([text]))
    with pytest.raises(BadInput, match=r"mix\.json: no records \(a conversation without an image gives none\)"):
        load_dataset(p)
    p.write_text(json.dumps([{**text, "image": 3}]))
    with pytest.raises(BadInput, match=r"mix\.json: item 0: `image` must be a string"):
        load_dataset(p)


def test_generation_records_loading(tmp_path):
    p = tmp_path / "gen.jsonl"
    write_jsonl(p, example_records())
    assert load_dataset(p) == example_records()


@pytest.mark.parametrize("content, where", [
    ("this is not json", "bad.json"),
    ('[{"id": 1, "conversations": "nope"}]', "bad.json: item 0"),
    ('{"id": "a", "image": "x"}\n', "bad.json:1"),
    ('[]', "bad.json: no records"),
    ('{"a": 1}', "bad.json:1"),
])
def test_malformed_file_is_bad_input_naming_it(tmp_path, content, where):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(BadInput, match=where.replace(".", r"\.")):
        load_dataset(p)


def test_references_loading(tmp_path):
    coco = {"images": [{"id": 7, "file_name": "seed/7.png"}],
            "annotations": [{"id": 1, "image_id": 7, "caption": "A star."}, {"id": 2, "image_id": 7, "caption": "B."}]}
    (tmp_path / "c.json").write_text(json.dumps(coco))
    assert load_references(tmp_path / "c.json") == {"seed/7.png": ["A star.", "B."]}
    (tmp_path / "d.json").write_text(json.dumps({"seed/7.png": ["A star."]}))
    assert load_references(tmp_path / "d.json") == {"seed/7.png": ["A star."]}
    (tmp_path / "e.json").write_text(json.dumps({"seed/7.png": "A star."}))
    with pytest.raises(BadInput, match="e.json"):
        load_references(tmp_path / "e.json")


# --- the command --------------------------------------------------------------------------


@pytest.fixture
def world_and_data(tmp_path: Path) -> tuple[Path, Path]:
    world = tmp_path / "world"
    write_jsonl(world / "scenes" / "seed.jsonl", [scene(1), scene(2)])
    data = tmp_path / "gen.jsonl"
    write_jsonl(data, example_records())
    return world, data


def test_cli_json_and_out(world_and_data, tmp_path):
    from harness.cli.quality import quality

    world, data = world_and_data
    out = tmp_path / "dq" / "data_quality.jsonl"
    r = CliRunner().invoke(quality, [str(data), "--world", str(world), "--split", "seed", "--json", "--out", str(out),
                                     "--n-boot", "50", "--source", "vigc"])
    assert r.exit_code == 0, r.output
    rows = [QualityRecord.model_validate(d) for d in json.loads(r.stdout)]
    assert rows == read_jsonl(out, QualityRecord)
    m = by_metric(rows, "conversation")
    assert m["chair_i"].value == pytest.approx(100 / 3) and m["chair_i"].source == "vigc"
    assert not list(out.parent.glob(".*.tmp"))


def test_cli_table(world_and_data):
    from harness.cli.quality import quality

    world, data = world_and_data
    r = CliRunner().invoke(quality, [str(data), "--world", str(world), "--n-boot", "20"])
    assert r.exit_code == 0, r.output
    assert "factual_accuracy" in r.stdout and "33.33" in r.stdout and "gen" in r.stdout


def test_cli_bad_input_names_the_file(world_and_data, tmp_path):
    from harness.cli.quality import quality

    world, _ = world_and_data
    bad = tmp_path / "broken.jsonl"
    bad.write_text("{not json\n")
    r = CliRunner().invoke(quality, [str(bad)])
    assert isinstance(r.exception, BadInput) and "broken.jsonl" in str(r.exception)
    other = tmp_path / "other.jsonl"
    write_jsonl(other, [rec("extra/9.png", "q", "a")])
    r = CliRunner().invoke(quality, [str(other), "--world", str(world)])
    assert isinstance(r.exception, BadInput) and "other.jsonl" in str(r.exception)


def test_values_are_finite():
    recs, scenes = mixed_dataset(6)
    assert all(math.isfinite(r.value) for r in quality_metrics(recs, scenes, n_boot=20))
