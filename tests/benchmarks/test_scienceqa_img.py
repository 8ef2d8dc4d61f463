"""ScienceQA-IMG: the image problems of ScienceQA, scored exactly as `scienceqa` scores them."""

import json
from pathlib import Path

import pytest

from benchmarks import BENCHMARKS
from benchmarks.scienceqa import ScienceQA
from benchmarks.scienceqa_img import ScienceQAImg
from harness.core.errors import BadInput
from harness.world.export import read_scenes, write_world
from tests.benchmarks.test_scienceqa import sqa  # noqa: F401 (the hand-scored split, a fixture)


def test_registered() -> None:
    b = BENCHMARKS.get("scienceqa_img")
    assert b is ScienceQAImg and b.primary_metric == "accuracy" and b.multiple_choice and b.splits == ("test",)


def test_scores_the_image_problems_only(sqa: tuple[Path, Path, Path]) -> None:
    problems, splits, preds = sqa
    r = ScienceQAImg().score([problems, splits], preds)
    # Image problems of the test split: 1 (right), 4 (two matches: unread), 8 (right).
    assert r.n == 3 and [o.pid for o in r.outcomes] == ["1", "4", "8"]
    assert r.metrics["accuracy"] == pytest.approx(200 / 3)
    assert r.metrics["accuracy"] == pytest.approx(ScienceQA().score([problems, splits], preds).metrics["IMG"])
    assert "NO" not in r.metrics  # no text-only problem is scored
    # The predictions for the text-only test problems (2, 3, 5, 6) and the val one (9) are not
    # looked at; 7 has none anyway.
    assert r.notes == {"split": "test", "missing": 0, "unread": 1, "unknown": 5}


def test_split_without_image_problems_is_bad_input(sqa: tuple[Path, Path, Path]) -> None:
    problems, splits, preds = sqa
    with pytest.raises(BadInput, match=r"problems\.json: split 'val' has no problem that scienceqa_img asks"):
        ScienceQAImg(split="val").score([problems, splits], preds)


def test_world_round_trip(tmp_path: Path) -> None:
    world = tmp_path / "world"
    write_world(world, seed=3, counts={"bench": 12})
    files = ScienceQAImg().synthesize(read_scenes(world, "bench"), world / "images", tmp_path / "sqa", seed=1)
    problems = json.loads(files["test"][0].read_text())
    test = json.loads(files["test"][1].read_text())["test"]
    items = ScienceQAImg().load(files["test"], image_root=world / "images")
    assert [i.id for i in items] == [pid for pid in test if problems[pid]["image"]] and items
    assert all(i.image is not None and i.choices and i.rank_prompt for i in items)
    full = ScienceQA().load(files["test"], image_root=world / "images")
    assert {i.id: i for i in full if i.image is not None} == {i.id: i for i in items}  # the same requests
