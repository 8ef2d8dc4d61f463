"""POPE: the official metrics on a hand-scored file, negative sampling, and the world round trip."""

import json
from pathlib import Path

import pytest

from benchmarks import BENCHMARKS
from benchmarks.pope import Pope, build_questions, question_text
from harness.core.errors import BadInput
from harness.core.records import Scene, SceneObject
from harness.world.export import read_scenes, write_world


def write_lines(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def six(tmp_path: Path) -> tuple[Path, Path]:
    """Six questions (3 yes, 3 no) and replies parsed as yes, no, yes | no, yes, no."""
    labels = ["yes", "yes", "yes", "no", "no", "no"]
    replies = ["Yes", "No, there is not.", "yes there is", "There is no dog", "Yes. No.", "I do not see one"]
    data = write_lines(tmp_path / "q.json", [
        {"question_id": i + 1, "image": f"{i}.png", "text": "Is there a star in the image?", "label": lab}
        for i, lab in enumerate(labels)])
    # Predictions in another order: pairing is by question_id.
    preds = write_lines(tmp_path / "p.jsonl", [{"question_id": i + 1, "text": r} for i, r in enumerate(replies)][::-1])
    return data, preds


def test_registered() -> None:
    b = BENCHMARKS.get("pope")
    assert b is Pope and b.primary_metric == "accuracy" and b.splits == ("random", "popular", "adversarial")


def test_hand_computed_metrics(six: tuple[Path, Path]) -> None:
    data, preds = six
    r = Pope().score([data], preds)
    # TP = q1, q3; FN = q2; TN = q4, q6; FP = q5.
    assert r.notes == {"TP": 2, "FP": 1, "TN": 2, "FN": 1}
    assert r.metrics == pytest.approx({"accuracy": 400 / 6, "precision": 200 / 3, "recall": 200 / 3,
                                       "f1": 200 / 3, "yes_ratio": 50.0})
    assert r.n == 6 and r.protocol == "official"
    assert Pope().aggregate(r.outcomes) == r.metrics
    # A subset: q1 (TP) and q5 (FP) only.
    sub = Pope().aggregate([r.outcomes[0], r.outcomes[4]])
    assert sub == pytest.approx({"accuracy": 50.0, "precision": 50.0, "recall": 100.0, "f1": 200 / 3,
                                 "yes_ratio": 100.0})


def test_no_yes_predictions_do_not_divide_by_zero(six: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = six
    preds = write_lines(tmp_path / "no.jsonl", [{"question_id": i, "answer": "No"} for i in range(1, 7)])
    m = Pope().score([data], preds).metrics
    assert m == {"accuracy": 50.0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "yes_ratio": 0.0}


def test_missing_prediction_is_bad_input(six: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = six
    preds = write_lines(tmp_path / "short.jsonl", [{"question_id": i, "text": "Yes"} for i in range(1, 6)])
    with pytest.raises(BadInput, match=r"short\.jsonl: 1 of 6 questions have no prediction"):
        Pope().score([data], preds)


@pytest.mark.parametrize("content, problem", [
    ("not json\n", "not valid JSON"),
    ('{"question_id": 1}\n', "no 'text'"),
    ('{"text": "yes"}\n', "no integer 'question_id'"),
])
def test_malformed_prediction_file(six: tuple[Path, Path], tmp_path: Path, content: str, problem: str) -> None:
    data, _ = six
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    with pytest.raises(BadInput, match=rf"bad\.jsonl.*{problem}"):
        Pope().score([data], bad)


def test_bad_label_names_the_data_file(tmp_path: Path) -> None:
    data = write_lines(tmp_path / "q.json", [{"question_id": 1, "image": "x.png", "text": "?", "label": "maybe"}])
    with pytest.raises(BadInput, match=r"q\.json: question 1: label"):
        Pope().load([data])


def scene(image_id: int, shapes: list[str]) -> Scene:
    objs = tuple(SceneObject(id=i, shape=s, colour="red", size="big", row=0, col=i, bbox=(24.0 * i, 0.0, 20.0, 20.0))
                 for i, s in enumerate(shapes))
    return Scene(image_id=image_id, file_name=f"bench/{image_id}.png", split="bench", width=96, height=96, grid=4,
                 theme="sky", objects=objs)


SCENES = [scene(1, ["circle", "square"]), scene(2, ["circle", "star", "star"]),
          scene(3, ["circle", "star", "heart"]), scene(4, ["square", "triangle"])]


def negatives(questions: list[dict], image_id: int) -> set[str]:
    return {q["text"].split()[3] for q in questions if q["image"] == f"bench/{image_id}.png" and q["label"] == "no"}


def test_popular_negatives_are_the_most_frequent_absent() -> None:
    # Images containing: circle 3, square 2, star 2, heart 1, triangle 1 (ties by name).
    qs = build_questions(SCENES, "popular", seed=0)
    assert negatives(qs, 1) == {"star", "heart"}
    assert negatives(qs, 4) == {"circle", "star"}


def test_adversarial_negatives_co_occur_with_the_positives() -> None:
    # circle co-occurs with star 2, heart 1, square 1; square with circle 1, triangle 1.
    qs = build_questions(SCENES, "adversarial", seed=0)
    assert negatives(qs, 1) == {"star", "triangle"}
    # Image 3 has three categories but only two absent ones exist: two pairs, not three.
    assert negatives(qs, 3) == {"square", "triangle"}
    assert sum(q["image"] == "bench/3.png" for q in qs) == 4


def test_question_layout_is_official() -> None:
    qs = build_questions(SCENES, "random", seed=0)
    assert [q["question_id"] for q in qs] == list(range(1, len(qs) + 1))
    assert [q["label"] for q in qs[:4]] == ["yes", "no", "yes", "no"]
    assert qs[0]["text"] == question_text("circle") or qs[0]["text"] == question_text("square")
    assert question_text("star") == "Is there a star in the image?"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world")
    write_world(root, seed=0, counts={"bench": 16})
    return root


def test_synthesize_load_score_round_trip(world: Path, tmp_path: Path) -> None:
    scenes = read_scenes(world, "bench")
    b = Pope()
    files = b.synthesize(scenes, world / "images", tmp_path / "out", seed=3)
    assert sorted(files) == ["adversarial", "popular", "random"]
    assert files["random"] == [tmp_path / "out" / "world_pope_random.json"]
    present = {s.file_name: {o.shape for o in s.objects} for s in scenes}
    for split, (path,) in files.items():
        qs = [json.loads(line) for line in path.read_text().splitlines()]
        for q in qs:  # every label agrees with the ground truth
            assert (q["text"].split()[3] in present[q["image"]]) == (q["label"] == "yes")
        assert sum(q["label"] == "yes" for q in qs) == sum(q["label"] == "no" for q in qs)
        items = b.load([path], world / "images")
        assert [i.prompt for i in items] == [q["text"] for q in qs]
        assert all(Path(str(i.image)).is_file() for i in items)
        perfect = [q["label"].capitalize() + ", it is." for q in qs]
        b.write_predictions(items, perfect, tmp_path / f"{split}.jsonl")
        assert b.score([path], tmp_path / f"{split}.jsonl").metrics["accuracy"] == 100.0
        b.write_predictions(items, ["Yes"] * len(items), tmp_path / f"{split}_yes.jsonl")
        m = b.score([path], tmp_path / f"{split}_yes.jsonl").metrics
        assert m["accuracy"] == 50.0 and m["yes_ratio"] == 100.0


def test_images_resolve_against_the_data_file_folder(tmp_path: Path) -> None:
    data = write_lines(tmp_path / "q.json", [{"question_id": 1, "image": "a/b.png", "text": "?", "label": "no"}])
    assert Pope().load([data])[0].image == str(tmp_path / "a" / "b.png")
    assert Pope().load([data], Path("/imgs"))[0].image == "/imgs/a/b.png"


def test_synthesize_is_deterministic(world: Path, tmp_path: Path) -> None:
    scenes = read_scenes(world, "bench")
    a = Pope().synthesize(scenes, world / "images", tmp_path / "a", seed=5)
    b = Pope().synthesize(scenes, world / "images", tmp_path / "b", seed=5)
    c = Pope().synthesize(scenes, world / "images", tmp_path / "c", seed=6)
    for split in a:
        assert a[split][0].read_bytes() == b[split][0].read_bytes()
    assert a["random"][0].read_bytes() != c["random"][0].read_bytes()
