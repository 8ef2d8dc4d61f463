"""A study's console: the overall line (stages done of the plan, ETA from the plan's kinds), the
bars of running stages taken off when they finish, and the closing table by kind."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from harness.cli.run import timing_summary
from harness.core.rich_progress import RichProgress, StudyClock, StudyProgress
from harness.stages.runner import StageOutput

PLAN = ["world", "foundation/lm", "data/seed", "finetune/a/seed", "finetune/b/seed", "predict/a/seed/pope",
        "predict/b/seed/pope"]


def _console() -> Console:
    return Console(file=io.StringIO(), force_terminal=False, width=120)


def test_cached_stages_are_done_at_once_and_weigh_nothing() -> None:
    clock = StudyClock(PLAN, ["world", "foundation/lm"], start=0.0)
    assert (len(clock.done), clock.total, clock.eta_at) == (2, 7, None)
    clock.finished("data/seed", False, 10.0, now=10.0)
    # Nothing of finetune or predict ran yet: each counts as the mean of what ran (10 s).
    assert clock.eta_at == pytest.approx(10.0 + 4 * 10.0)
    assert clock.info() == "1 ran, 2 cached"


def test_eta_weighs_each_kind_by_its_own_mean_and_counts_parallel_work() -> None:
    clock = StudyClock(PLAN, [], start=0.0)
    for name, seconds, now in [("world", 2.0, 2.0), ("foundation/lm", 20.0, 22.0), ("data/seed", 2.0, 24.0)]:
        clock.finished(name, False, seconds, now)
    clock.finished("finetune/a/seed", False, 40.0, now=44.0)  # two stages ran at once: 64 s of work in 44 s
    left = 40.0 + 2 * (64.0 / 4)  # one finetune at its mean, two predicts at the mean of all
    assert clock.eta_at == pytest.approx(44.0 + left * 44.0 / 64.0)
    clock.finished("finetune/a/seed", False, 40.0, now=50.0)  # a stage is counted once
    assert len(clock.done) == 4


def test_a_finished_stage_bar_is_removed_and_the_line_counts_it() -> None:
    with StudyProgress(_console(), PLAN, ["world"]) as prog:
        overall = prog.progress.tasks[0]
        assert (overall.description, overall.completed, overall.total) == ("stages", 1, 7)
        bar = prog("finetune a/seed", 5)
        bar.advance(5, loss=0.5)
        assert len(prog.progress.tasks) == 2
        bar.close()
        assert [t.description for t in prog.progress.tasks] == ["stages"]
        bar.close()  # twice is harmless
        prog.finished("finetune/a/seed", False, 3.0)
        prog.finished("world", True, 0.0)  # cached, and already counted from the plan
        assert (overall.completed, overall.fields["info"]) == (2, "1 ran, 1 cached")
        assert overall.fields["eta_at"] is not None
        prog("predict a/seed/pope", 3)  # a bar whose close never arrived
    assert [t.description for t in prog.progress.tasks] == ["stages"]


def test_after_an_error_the_bars_stay() -> None:
    with pytest.raises(RuntimeError):
        with StudyProgress(_console(), PLAN) as prog:
            prog("finetune a/seed", 5)
            raise RuntimeError("stage failed")
    assert [t.description for t in prog.progress.tasks] == ["stages", "finetune a/seed"]


def test_a_single_command_keeps_its_finished_bar() -> None:
    with RichProgress(_console()) as prog:
        bar = prog("finetune", 4)
        bar.close()
    assert [(t.description, t.completed) for t in prog.progress.tasks] == [("finetune", 4)]


def test_closing_table_has_one_row_per_kind() -> None:
    history = [StageOutput(name, "k", Path("."), {}, name == "world", s) for name, s in
               [("world", 0.0), ("foundation/lm", 5.0), ("finetune/a/seed", 2.0), ("finetune/b/seed", 3.0),
                ("predict/a/seed/pope", 1.5)]]
    console = _console()
    console.print(timing_summary(history, 9.0))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    rows = [line.replace("┃", "│").split("│")[1:-1] for line in text.splitlines()]
    cells = [[c.strip() for c in row] for row in rows if len(row) == 5]
    assert cells == [["kind", "stages", "ran", "cached", "seconds"], ["world", "1", "0", "1", "0.0"],
                     ["foundation", "1", "1", "0", "5.0"], ["finetune", "2", "2", "0", "5.0"],
                     ["predict", "1", "1", "0", "1.5"], ["total", "5", "4", "1", "11.5"]]
    assert "9.0 s wall clock" in text and "manifest.json" in text


def test_the_overall_eta_counts_down_to_the_planned_time() -> None:
    import time

    with StudyProgress(_console(), PLAN) as prog:
        eta = prog.progress.columns[5]
        overall = prog.progress.tasks[0]
        assert str(eta.render(overall)) == "-:--:--"  # nothing ran yet
        prog.progress.update(overall.id, eta_at=time.monotonic() + 3700)
        assert str(eta.render(overall)).startswith("1:01:")
        bar = prog("predict a", 4)
        assert "eta_at" not in prog.progress.tasks[1].fields  # a stage's bar keeps rich's own ETA
        bar.close()
