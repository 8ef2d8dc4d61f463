"""LM pretraining documents (`harness.stages.lm`): pure functions of a seeded rng."""

from __future__ import annotations

import random
from collections import Counter

from harness.stages import lm as L


def test_mc_kind_draws_hard_kinds_more_often() -> None:
    kinds = ["colour", "count", "size", "where"]  # two hard kinds, two others
    rng = random.Random(0)
    got = Counter(L.mc_kind(kinds, rng) for _ in range(8000))
    assert set(got) == set(kinds)
    for hard in ("count", "where"):
        for easy in ("colour", "size"):
            assert 2.5 < got[hard] / got[easy] < 3.5


def test_comparison_phase_draws_relations_and_same_colour_more_often() -> None:
    kinds = ["colour", "relation", "same_colour", "size"]
    rng = random.Random(0)
    got = Counter(L.mc_kind(kinds, rng, L.FPC_KINDS, L.FPC_WEIGHT) for _ in range(8000))
    for heavy in L.FPC_KINDS:
        assert 0.8 * L.FPC_WEIGHT < got[heavy] / got["colour"] < 1.25 * L.FPC_WEIGHT
    assert got["size"] > 0  # the other kinds are still practised


def test_copy_doc_answers_the_letter_of_the_named_option() -> None:
    rng = random.Random(1)
    for _ in range(200):
        user, assistant = L.copy_doc(rng)
        lines = user["content"].split("\n")
        options = {ln[0]: ln[3:] for ln in lines[1:] if len(ln) > 3 and ln[1:3] == ". "}
        named = options[assistant["content"]]
        assert named in lines[0]
        # The other options do not contain the named word, so the letter is unique.
        assert sum(named == o for o in options.values()) == 1


def test_qa_doc_places_the_image_between_question_and_options() -> None:
    user, _ = L.qa_doc("What colour is the star?\nA. red\nB. blue\nAnswer with the option's letter.", "A")
    kinds = [p["type"] for p in user["content"]]
    assert kinds == ["text", "image", "text"]
    assert user["content"][0]["text"].startswith("What colour")
    assert user["content"][2]["text"].lstrip().startswith("A. red")


def test_scene_documents_are_written_as_documents_never_in_the_chat_template() -> None:
    from pathlib import Path

    from harness.models.encode import encode_chat
    from harness.world.scenes import sample_scene

    folder = Path(L.__file__).resolve().parents[1] / "weights" / "tiny" / "lm" / "tokenizer"
    doc = L.document_tokenizer(folder)
    from transformers import AutoTokenizer

    chat = AutoTokenizer.from_pretrained(folder)
    assert chat.chat_template != L.DOC_TEMPLATE  # the saved tokenizer keeps its chat template
    rng = random.Random(3)
    scene = sample_scene(0, 7, "foundation")
    msgs = L.scene_doc(scene, rng)
    text = doc.decode(encode_chat(doc, msgs, 16).input_ids)
    assert text.count("Question: ") == len(msgs) // 2 and "Answer: " in text
    assert "<|user|>" not in text and "<|assistant|>" not in text
    # Scene documents hold reading questions only: no descriptions, reasoning or VIG requests.
    for _ in range(300):
        for m in L.scene_doc(scene, rng):
            t = m["content"] if isinstance(m["content"], str) else " ".join(p.get("text", "") for p in m["content"])
            assert "Describe" not in t and "Generate a question" not in t and "symbol" not in t


def test_knowledge_documents_point_at_an_object_without_naming_what_the_fact_is_about() -> None:
    """The fourth phase's documents: a knowledge question about one object of the scene, the
    image between question and options, answered with the fact (a word, or a letter)."""
    from harness.world.qa import known_from_scene
    from harness.world.scenes import sample_scene
    from harness.world.spec import COLOUR_INFO, SHAPES

    rng = random.Random(4)
    forms, lettered = Counter(), 0
    for k in range(300):
        scene = sample_scene(k, 7, "foundation")
        doc = L.knowledge_doc(scene, rng)
        if doc is None:
            continue
        user, assistant = doc
        parts = [p["type"] for p in user["content"]]
        assert parts[:2] == ["text", "image"]
        question = user["content"][0]["text"]
        objs = known_from_scene(scene)
        if len(parts) == 3:  # lettered options after the image
            lettered += 1
            assert assistant["content"] in "ABCD"
            continue
        answer = assistant["content"]
        if question.startswith("How many sides"):
            forms["sides"] += 1
            # the shape is not named: the answer needs the object seen
            assert not any(f" {s} " in question for s in SHAPES)
            assert answer in {str(SHAPES[o.shape].sides) for o in objs}
        elif question.startswith("Is the colour of"):
            forms["warm"] += 1
            assert not any(f" {c} " in question for c in COLOUR_INFO)
            assert answer in {"warm" if COLOUR_INFO[o.colour].warm else "cool" for o in objs}
    assert forms["sides"] > 5 and forms["warm"] > 5
    assert 0.3 < lettered / 300 < 0.7  # about half with lettered options


def _train(steps: int, resume, stop_at: int | None = None, log: dict | None = None) -> dict:
    """A tiny LM trained on text documents by `pretrain_lm_slots`; its final weights (and, into
    `log`, what the training returned)."""
    import torch
    from transformers import AutoModelForCausalLM

    from harness.training.pretrain import pretrain_lm_slots
    from harness.models.slots import SlotCodebook
    from harness.models.tiny import LMSpec, lm_config
    from harness.models.encode import encode_chat
    from tests.harness._tiny_models import tokenizer

    tok = tokenizer()
    torch.manual_seed(0)
    lm = AutoModelForCausalLM.from_config(lm_config(len(tok), LMSpec(hidden=32, layers=2, heads=2, intermediate=64,
                                                                     max_positions=256), tok))
    book = SlotCodebook.create(tok, 32, 0)
    attrs = torch.zeros(1, 16, 5)

    def batch(step: int):
        if step == stop_at:
            raise KeyboardInterrupt  # the run is killed here
        rng = random.Random(f"t/{step}")
        docs = [encode_chat(tok, L.copy_doc(rng), 16) for _ in range(4)]
        return [d.input_ids for d in docs], [d.labels for d in docs], attrs[:0]

    try:
        got = pretrain_lm_slots(lm, book, tok, batch, steps, 1e-3, 0, resume, checkpoint_every=2)
    except KeyboardInterrupt:
        return {}
    if log is not None:
        log.update(got)
    return {k: v.clone() for k, v in lm.state_dict().items()}


def test_lm_pretraining_is_deterministic_and_resumes_exactly(tmp_path) -> None:
    """The shipped LM's second phase was run by resuming after the first: that is only the
    same as a run from scratch if training is a pure function of seed and step."""
    import torch

    a = _train(6, None)
    b = _train(6, None)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _train(6, tmp_path, stop_at=5) == {}  # killed after the checkpoint at step 4
    c = _train(6, tmp_path)
    assert all(torch.equal(a[k], c[k]) for k in a)
    assert not all(torch.equal(a[k], _train(4, None)[k]) for k in a)  # the steps do change the weights


def test_a_phase_resumed_at_its_last_step_reports_its_loss(tmp_path) -> None:
    """The shipped LM's later phases were run by resuming after the earlier ones, seeded at
    their last step: each phase's loss then comes from its checkpoint, not NaN."""
    import math

    assert _train(6, tmp_path, stop_at=5) == {}  # checkpoint at step 4
    log: dict = {}
    _train(4, tmp_path, log=log)  # a 4-step phase whose checkpoint is at step 4: nothing to run
    assert log["resumed_from"] == 4.0
    assert math.isfinite(log["loss"]) and log["loss"] > 0
