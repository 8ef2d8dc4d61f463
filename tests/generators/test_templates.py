"""The template questions behind the language-only, gold and noisy generators."""

from __future__ import annotations

import random

from generators.templates import knowledge_qa
from harness.world.qa import MC_SUFFIX, VQA_SUFFIX, Known
from harness.world.spec import COLOUR_INFO, SHAPES


def _objs() -> list[Known]:
    return [Known(shape="square", size="big", cx=0.2, cy=0.2, colour="red"),
            Known(shape="circle", size="small", cx=0.8, cy=0.8, colour="blue")]


def test_knowledge_questions_come_in_both_knowledge_vqa_formats() -> None:
    rng = random.Random(0)
    qas = [knowledge_qa(_objs(), rng) for _ in range(400)]
    assert all(qa is not None for qa in qas)
    mc = [(q, a) for q, a in qas if q.endswith(MC_SUFFIX)]  # type: ignore[misc]
    direct = [(q, a) for q, a in qas if q.endswith(VQA_SUFFIX)]  # type: ignore[misc]
    assert len(mc) + len(direct) == 400
    assert 150 < len(mc) < 250  # mc_fraction 0.5
    assert all(a in "ABCD" and len(a) == 1 for _, a in mc)
    # The letter names the option that holds the knowledge base's answer.
    for q, a in mc:
        lines = q.splitlines()
        chosen = next(line[3:] for line in lines if line.startswith(f"{a}. "))
        assert len([line for line in lines if line[1:3] == ". "]) in (2, 4)  # warm/cool has two
        known = ({str(s.sides) for s in SHAPES.values()} | {str(s.corners) for s in SHAPES.values()}
                 | {s.symbol_of for s in SHAPES.values()} | {"warm", "cool"} | {c.thing for c in COLOUR_INFO.values()}
                 | {f"{c.mix[0]} and {c.mix[1]}" for c in COLOUR_INFO.values() if c.mix})
        assert chosen in known
    assert all(" " not in a or " and " in a or len(a.split()) <= 3 for _, a in direct)


def test_knowledge_questions_can_be_all_direct_answers() -> None:
    rng = random.Random(1)
    qas = [knowledge_qa(_objs(), rng, mc_fraction=0.0) for _ in range(50)]
    assert all(qa is not None and qa[0].endswith(VQA_SUFFIX) for qa in qas)


def test_chair_prompt_is_one_of_the_detail_instructions_as_other_benchmark_prompts_are_taught() -> None:
    # A tiny LM does not carry a request across wordings: left out, CHAIR's prompt drew short
    # garbled replies from targets trained on knowledge VQA (generators/templates.py).
    from benchmarks.chair import PROMPT
    from benchmarks.pope import question_text
    from generators.templates import DETAIL_PROMPTS
    from harness.world.qa import qa_exists

    assert PROMPT in DETAIL_PROMPTS
    assert len(set(DETAIL_PROMPTS)) == len(DETAIL_PROMPTS) == 16
    assert qa_exists(_objs(), "square", random.Random(0)).question == question_text("square")
