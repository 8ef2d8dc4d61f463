"""`vigc-bench lm-eval-tasks` and the `vigc` lm-eval model: lm-eval scores what `predict` + `score` score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lm_eval")

from benchmarks import BENCHMARKS  # noqa: E402
from harness.lm_eval_bridge import runtime  # noqa: E402
from tests.harness._bench_world import BenchWorld, bench_world  # noqa: E402
from tests.harness.cli._run import run_cli  # noqa: E402

TASKS = ("vigc_pope_random", "vigc_mmbench")


@pytest.fixture(scope="module")
def bw(tmp_path_factory: pytest.TempPathFactory) -> BenchWorld:
    return bench_world(tmp_path_factory.getbasetemp() / "bench-world")


@pytest.fixture(scope="module")
def task_dir(bw: BenchWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lm-eval-tasks")
    rc = run_cli("lm-eval-tasks", "--out", str(out), "--data", f"pope/random={bw.pope}", "--images",
                 f"pope={bw.images}", "--data", f"mmbench={bw.mmbench}")
    assert rc == 0
    return out


def test_folder_holds_loadable_tasks(task_dir: Path) -> None:
    from lm_eval.tasks import TaskManager

    for t in TASKS:
        assert (task_dir / f"{t}.yaml").is_file() and (task_dir / f"{t}.jsonl").is_file()
    assert set(TASKS) <= set(TaskManager(include_path=str(task_dir), include_defaults=False).all_tasks)
    # MMBench's base64 images were written out as files the items point at.
    docs = [json.loads(x) for x in (task_dir / "vigc_mmbench.jsonl").read_text().splitlines()]
    assert all((task_dir / d["image"]).is_file() for d in docs)


def test_lm_eval_run_equals_predict_and_score(bw: BenchWorld, task_dir: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    import lm_eval
    from lm_eval.tasks import TaskManager

    from harness.lm_eval_bridge.model import register_vigc_model
    from harness.models import features

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    # Path 1: vigc-bench predict, then vigc-bench score.
    expected: dict[str, dict] = {}
    answers: dict[str, list[str]] = {}
    for task, name, data, images in (("vigc_pope_random", "pope", bw.pope, ["--images", str(bw.images)]),
                                     ("vigc_mmbench", "mmbench", bw.mmbench, [])):
        pred = tmp_path / f"{name}.pred"
        assert run_cli("predict", "--model", str(bw.ckpt), "--benchmark", name, "--data", str(data), *images,
                       "--out", str(pred), "--quiet") == 0
        capsys.readouterr()
        assert run_cli("score", name, "--data", str(data), "--predictions", str(pred), "--json") == 0
        expected[task] = json.loads(capsys.readouterr().out)
        key = "text" if name == "pope" else "prediction"
        answers[task] = [json.loads(x)[key] for x in pred.read_text().splitlines()]
    # Path 2: lm-eval with the generated tasks and the vigc model (features recomputed).
    features.clear()
    register_vigc_model()
    res = lm_eval.simple_evaluate(model="vigc", model_args=f"path={bw.ckpt}", tasks=list(TASKS), batch_size=16,
                                  task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
                                  bootstrap_iters=0,
                                  log_samples=True)
    assert res is not None
    for task in TASKS:
        got = {k.split(",")[0]: v for k, v in res["results"][task].items() if k.endswith(",none") and "_stderr," not in k}
        metrics = {k: v for k, v in expected[task].items() if k not in ("n", "protocol", "notes")}
        assert got == metrics, task
        # The same answers, item by item, not only the same scores.
        samples = sorted(res["samples"][task], key=lambda s: s["doc_id"])
        assert [s["filtered_resps"][0] for s in samples] == answers[task]
    assert any(a for a in answers["vigc_pope_random"])


def test_aggregation_is_the_official_scorer(bw: BenchWorld, task_dir: Path, tmp_path: Path) -> None:
    """Non-trivial answers (a mix of yes and no) score the same through the lm-eval helper."""
    helper = str(task_dir / runtime.HELPER_NAME)
    bench = BENCHMARKS.get("pope")()
    items = bench.load([bw.pope], image_root=bw.images)
    replies = ["Yes, there is." if i % 3 else "No." for i in range(len(items))]
    pred = tmp_path / "pope.pred"
    bench.write_predictions(items, replies, pred)
    want = bench.score([bw.pope], pred).metrics
    pairs = [(it.id, r) for it, r in zip(reversed(items), reversed(replies))]  # order must not matter
    for metric, value in want.items():
        assert runtime.aggregate(helper, "vigc_pope_random", metric, pairs) == value
    assert 0 < want["accuracy"] < 100
    from harness.core.errors import BadInput

    with pytest.raises(BadInput, match="--limit"):
        runtime.aggregate(helper, "vigc_pope_random", "accuracy", pairs[1:])


def test_registering_keeps_lm_evals_own_models() -> None:
    from lm_eval.api.registry import get_model

    from harness.lm_eval_bridge.model import register_vigc_model, vigc_lm_class

    assert register_vigc_model() is register_vigc_model() is vigc_lm_class()
    assert get_model("vigc") is vigc_lm_class()
    assert get_model("hf") is not None  # built-ins still resolve after ours was added


def one_error_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_bad_input_is_one_line_exit_2(bw: BenchWorld, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine\n")
    cases = [
        (["--out", str(foreign), "--data", f"mmbench={bw.mmbench}"], "not empty"),
        (["--out", str(tmp_path / "a"), "--data", f"popee={bw.pope}"], "popee"),
        (["--out", str(tmp_path / "b"), "--benchmark", "pope", "--benchmark", "mmbench", "--data", str(bw.pope)],
         "which benchmark"),
        (["--out", str(tmp_path / "c"), "--data", f"mmbench={bw.pope}"], bw.pope.name),
        (["--out", str(tmp_path / "d"), "--benchmark", "chair", "--data", f"pope={bw.pope}"], "chair"),
        (["--out", str(tmp_path / "e"), "--data", f"pope={bw.pope}", "--split", "pope=val"], "--split"),
    ]
    for args, named in cases:
        capsys.readouterr()
        assert run_cli("lm-eval-tasks", *args) == 2, args
        assert named in one_error_line(capsys.readouterr().err), args
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    assert not any((tmp_path / d).exists() for d in "abcde")


def test_rewriting_a_task_folder_drops_stale_tasks(bw: BenchWorld, tmp_path: Path) -> None:
    out = tmp_path / "t"
    assert run_cli("lm-eval-tasks", "--out", str(out), "--data", f"mmbench={bw.mmbench}") == 0
    assert run_cli("lm-eval-tasks", "--out", str(out), "--benchmark", "pope", "--data", str(bw.pope),
                   "--images", str(bw.images)) == 0
    assert sorted(p.name for p in out.iterdir()) == ["vigc_pope.jsonl", "vigc_pope.yaml", "vigc_tasks.json",
                                                     "vigc_tasks.py"]
