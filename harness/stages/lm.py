"""Stage `foundation/lm`: train the tokenizer and pretrain the language model on world text.

The stand-in for a base LLM's pretraining. Most documents are questions about a scene written
as object slots (see `harness.models.slots`), placed where an image's tokens will later go,
with the question before them; the rest is text: the knowledge base as questions with short
answers (some with lettered options), captions, and option-copy exercises.

A base LM, not an instruction-tuned one (version 14). Questions about scenes are written as
documents ("Question: ... Answer: ...", `DOC_TEMPLATE`), never in the chat template; only text
conversations (knowledge, captions) use it, as a chat LLM has seen text chats but never an
image in one. And the scene documents hold only reading questions (what is where, what colour,
how many, which is bigger, with lettered options or without): no detailed descriptions, no
reasoning answers, no question-answer writing (VIG). Those, and answering about an image in a
conversation, with a word or a letter as a prompt asks, are what instruction data teaches. A
fourth phase (version 15, `KNOWLEDGE_PHASE`) adds questions that recall a fact about an object
the question points at ("How many sides does the red shape have?"), as a base LLM answers about
an entity its context describes. Measured: the shipped version-13 LM, trained on the same
questions in the chat template, answered the benchmarks' chat prompts as well untuned as
finetuned (POPE 99.8, MMBench 53.4); asked in the document form, it fell to chance (POPE 50),
so the form is learned with the skill. The reading skills themselves cannot be left to the
finetune at this budget: an LM that only described scenes, or read them out in statements,
stayed at POPE 48-52 and MMBench 1-5 after one or two epochs of seed data (pilots A, D, E; POPE
51.5 after 188 steps of existence questions alone). A 4,000-step pilot of this design answered
existence questions at 92% in its document form, 68% (POPE) untuned in chat, 76% after one
epoch of seed data.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Callable

from pydantic import ConfigDict

from generators.templates import knowledge_qa as seen_object_knowledge, object_qas
from harness.core.config import Section
from harness.core.records import Scene
from harness.stages.runner import StageContext, StageSpec, resume_dir
from harness.models.encode import image_after_question
from harness.training.recipes import LMPretrain
from harness.world.captions import make_captions
from harness.world.corpus import corpus, knowledge_qa
from harness.world.export import read_scenes
from harness.world.spec import COLOURS, SHAPES
from harness.world.qa import QUADRANTS, as_multiple_choice, known_from_scene, multiple_choice

VERSION = 15  # 15: a fourth phase, knowledge about an object in the scene (KNOWLEDGE_PHASE)
# 14: a base LM: scene questions as documents (DOC_TEMPLATE), no instruction-like tasks
MAX_DOC_TOKENS = 96
# How a scene document is written: the turns of a conversation as plain "Question:" and "Answer:"
# lines (the chat template's roles and special tokens never frame an image in pretraining).
DOC_TEMPLATE = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ 'Question: ' }}"
                "{% else %}{{ 'Answer: ' }}{% endif %}{% if m['content'] is string %}{{ m['content'] }}{% else %}"
                "{% for p in m['content'] %}{% if p['type'] == 'image' %}{% if loop.first %}{{ '<image>\n' }}"
                "{% else %}{{ '\n<image>' }}{% endif %}{% else %}{{ p['text'] }}{% endif %}{% endfor %}{% endif %}"
                "{{ '\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'Answer: ' }}{% endif %}")
SCENE_DOC_SHARE = 0.85  # the rest is plain text (knowledge questions, most with options; captions)
# Questions asked with lettered options. Picking the letter of the option that holds the
# answer is a skill of its own (an induction-style lookup) and the one this budget does not
# teach: after the lookup phase and 560 mixed steps at this share, lettered answers were at
# chance (0.34 on the world's MMBench passes, 0.29 on knowledge questions); 400 further steps
# of knowledge questions with options alone took the latter to 0.62. Raising this share to
# 0.4 with more text questions (and 1,100 steps) did not help: POPE random 57% vs 65%.
MC_SHARE = 0.3
# The first share of steps is a curriculum of single lookups: one question per document
# about one object or pair, answered in a full sentence. Pilots: the aggregate questions
# (counts, most common colour) are learned first and with broad attention, and mixing them
# in from the start delayed sharp lookups (colour 0.57, existence 0.50 after 600 steps of
# the full mix, against 0.84 and 0.89 on lookups alone).
LOOKUP_PHASE = 0.68
LOOKUP_KINDS = ("colour", "size", "where", "shape", "exists", "relation", "bigger", "same_colour")
SHORT_SHARE = 0.15  # answers given as a bare word or phrase (the rest restate the question)
# Lettered options from the first step. Picking an option's letter composes two skills: copying
# the letter that stands before a given word (an induction-style copy) and finding the answer.
# From the 8,000-step checkpoint, the copy alone was learned in 200 steps when it was every
# document (0.31 -> 0.90) and not at all in 400 steps at a fifth of them; with the copy in
# place, knowledge questions with options followed (0.30 -> 0.79 in 300 steps), questions
# about slots did not (chance after 700 steps at 40%). So both are practised throughout.
COPY_SHARE = 0.15  # "Which option says red?" over lettered options: the copy alone
LOOKUP_MC_SHARE = 0.3  # lookup-phase questions asked with lettered options
# The second phase (`train_phase` on `draw_mc`): lettered questions about scenes for half of the documents.
# From the first phase's end, colour options went from 0.51 to 0.99 and counts from 0.25 to
# 0.72 in 500 steps of this mix (a pilot from the previous LM); spread through the first phase
# at 30% of lookups, the same questions stayed at chance after 8,000 steps.
# Version 11: from version 10's phase (1,000 steps, all kinds alike), lettered counts,
# relations and positions were still near chance (0.37, 0.54, 0.23); 1,500 more steps with
# only those kinds (and shape, same colour) took counts to 0.93 and relations to 0.69 while the
# other kinds held (pilot, ground-truth slots). So the phase is longer and draws those kinds
# three times as often. Positions stay at chance: picking "top left" among the four corners
# needs a two-word match that this 4-layer LM did not learn even as a pure copy (0.37 after
# 600 steps at 10 such copies per batch).
MC_PHASE = 0.3  # its steps, as a share of the first phase's (2,400 after 8,000)
MC_PHASE_LR = 5e-4
MC_PHASE_SHARE = 0.5
MC_HARD_KINDS = ("count", "count_shape", "relation", "where", "same_colour", "shape")
MC_HARD_WEIGHT = 3
MC_PHASE_LOOKUPS = 0.15  # open lookups, so that answering in words is not forgotten
# The third phase: the second phase's mix, its lettered questions drawn mostly from the two
# comparisons between objects that were still at chance after it (MMBench's fine-grained
# cross-instance perception), relations and same colour. Pilot from the version-12 LM, on
# ground-truth slots: with these two kinds as all the lettered questions, lettered relations
# went 0.54 -> 0.93 in 500 steps and same colour 0.58 -> 0.85 in 1,000 (in words too: 0.58 ->
# 0.82), MMBench CircularEval cross-instance 0.56 -> 0.92 in 1,500, but coarse perception fell
# 0.86 -> 0.73. With the two drawn five times as often as each other kind instead, all three
# perception categories rose and stayed up, more slowly (1,500 steps: coarse 0.94, instance
# 0.73, cross 0.74; relations 0.72, same colour 0.73, still rising). So: weight 8, 2,400 steps.
FPC_PHASE = 0.3  # its steps, as a share of the first phase's (2,400 after 8,000)
FPC_KINDS = ("relation", "same_colour")
FPC_WEIGHT = 8
# The phases after the first, in order: (name: its batch tag, resume directory and meta key;
# steps as a share of the first phase's; the kinds drawn more often and their weight; title).
LATER_PHASES = (("mc", MC_PHASE, MC_HARD_KINDS, MC_HARD_WEIGHT, "lettered-answer"),
                ("fpc", FPC_PHASE, FPC_KINDS, FPC_WEIGHT, "comparison"))
# The fourth phase: knowledge about an object the question points at by colour or place ("How many
# sides does the red shape have?", "Is the colour of the star warm or cool?"), in document form
# over the slots, as a base LLM answers about an entity described in its context. Without it, no
# target learned the composition (find the object, then recall a fact about it) from instruction
# data: one answer per question form on OK-VQA for every source, A-OKVQA and ScienceQA at chance,
# seeing or blind (README, what the default study finds). Pilot from the shipped version-14 LM
# (fp32, ground-truth slots, 40% of documents, the rest the general mix and copies): such
# questions in words 0.00 -> 0.64 after 250 steps, 0.78 after 1,000; with lettered options 0.30
# -> 0.62; knowledge questions with options in text 0.44 -> 0.64, lookups held (0.95). In fp32,
# unlike the phases before it (bf16 autocast): on a 2-core CPU without native bf16, autocast
# made this phase's step 5x slower (1.8 s against 0.35 s).
# Instruction data still teaches the chat form and the answer formats (a word or phrase, a letter).
KNOWLEDGE_PHASE = 0.125  # its steps, as a share of the first phase's (1,000 after 8,000)
KNOWLEDGE_SHARE = 0.4
KNOWLEDGE_COPY_SHARE = 0.1
COPY_WORDS = (tuple(COLOURS) + tuple(SHAPES) + ("big", "small", "left", "right", "above", "below", "yes", "no")
              + QUADRANTS + ("1", "2", "3", "4", "5", "6"))


def qas_by_kind(scene: Scene, rng: random.Random) -> dict[str, list[Any]]:
    """Every templated question about `scene`, grouped by kind."""
    out: dict[str, list[Any]] = {}
    for qa in object_qas(known_from_scene(scene), rng):
        out.setdefault(qa.kind, []).append(qa)
    return out


class SceneQAs:
    """Every templated question of each scene, computed once per scene (by kind).

    Drawing documents was a fifth of LM pretraining time when the templates ran per
    document; a scene's questions are fixed by a per-scene seed, so batches stay a pure
    function of the step (exact resume).
    """

    def __init__(self, scenes: list[Scene], seed: int) -> None:
        self.scenes, self.seed = scenes, seed
        self._cache: dict[int, dict[str, list[Any]]] = {}

    def by_kind(self, i: int) -> dict[str, list[Any]]:
        """Questions of scene `i`, grouped by kind."""
        if i not in self._cache:
            self._cache[i] = qas_by_kind(self.scenes[i], random.Random(f"lm-qas/{self.seed}/{i}"))
        return self._cache[i]


def mc_kind(kinds: list[str], rng: random.Random, heavy: tuple[str, ...] = MC_HARD_KINDS,
            weight: float = MC_HARD_WEIGHT) -> str:
    """The kind of a lettered question in the second or third phase: those in `heavy` weigh
    `weight` times the others."""
    return rng.choices(kinds, [weight if k in heavy else 1 for k in kinds])[0]


def lookup_doc(qas: dict[str, list[Any]], rng: random.Random, lettered: bool = False) -> list[dict[str, Any]] | None:
    """One lookup question (the curriculum's first phase): answered in a full sentence, or,
    `lettered`, with lettered options and the letter as the answer (when the kind has options)."""
    kinds = [k for k in LOOKUP_KINDS if k in qas]
    if not kinds:
        return None
    qa = rng.choice(qas[rng.choice(kinds)])
    return qa_doc(*((as_multiple_choice(qa, rng) if lettered else None) or (qa.question, qa.answer)))


def qa_doc(question: str, answer: str) -> list[dict[str, Any]]:
    """One question about a scene and its answer, the scene's slots placed as the tiny models read them."""
    return [{"role": "user", "content": image_after_question(question)}, {"role": "assistant", "content": answer}]


def copy_doc(rng: random.Random) -> list[dict[str, Any]]:
    """Find a named word among lettered options and answer its letter (text only)."""
    n = rng.choice((2, 4, 4))
    options = rng.sample(COPY_WORDS, n)
    k = rng.randrange(n)
    q = rng.choice(("Which option says {}?", "Pick the option {}.", "Find {} among the options.")).format(options[k])
    q, a = multiple_choice(q, options, k)
    return [{"role": "user", "content": q}, {"role": "assistant", "content": a}]


def scene_doc(scene: Scene, rng: random.Random, qas: dict[str, list[Any]] | None = None) -> list[dict[str, Any]]:
    """Messages of a scene document (written with `DOC_TEMPLATE`); the first question holds the
    image (slot) placeholder.

    Several questions about the scene, many with short answers and many with lettered
    options: each answer is one lookup in the slots, so short answers teach the same lesson in
    fewer tokens. Questions are drawn kind-first (count, colour, where, relation, ...), so that
    the rarer kinds, which are also the harder ones (relations need two lookups), are not
    drowned out by the many single-object questions a scene supports.
    """
    if qas is None:
        qas = qas_by_kind(scene, rng)
    kinds = sorted(qas)
    pairs: list[tuple[str, str]] = []
    for _ in range(rng.randint(1, 3)):
        qa = rng.choice(qas[rng.choice(kinds)])
        mc = as_multiple_choice(qa, rng) if rng.random() < MC_SHARE else None
        pairs.append(mc if mc is not None else (qa.question, qa.short if rng.random() < SHORT_SHARE else qa.answer))
    msgs: list[dict[str, Any]] = []
    for k, (q, a) in enumerate(pairs):
        content = image_after_question(q) if k == 0 else [{"type": "text", "text": q}]
        msgs += [{"role": "user", "content": content}, {"role": "assistant", "content": a}]
    return msgs


def knowledge_doc(scene: Scene, rng: random.Random) -> list[dict[str, Any]] | None:
    """A knowledge question about an object of `scene` that the question points at without
    naming what the fact is about (half with lettered options), or None when none fits."""
    got = seen_object_knowledge(known_from_scene(scene), rng, mc_fraction=0.5)
    return None if got is None else qa_doc(*got)


def knowledge_mc(rng: random.Random) -> tuple[str, str]:
    """A knowledge question with lettered options (distractors: answers to the same question
    form): the letter-picking skill, practised on text alone."""
    q, a = knowledge_qa(rng)
    form = _form(q)
    wrong: list[str] = []
    for _ in range(200):
        q2, a2 = knowledge_qa(rng)
        if _form(q2) == form and a2 != a and a2 not in wrong:
            wrong.append(a2)
        if len(wrong) == 3:
            break
    if not wrong:
        return q, a
    options = wrong + [a]
    rng.shuffle(options)
    return multiple_choice(q, options, options.index(a))


def _form(question: str) -> list[str]:
    """The question with the world's shape and colour names blanked out."""
    names = set(SHAPES) | set(COLOURS)
    return ["_" if w.strip("?.,") in names else w for w in question.split()]


def text_doc(scene: Scene, seed: int, rng: random.Random) -> list[dict[str, Any]]:
    """A plain-text document: knowledge questions (some with options), or a caption."""
    if rng.random() < 0.2:
        msgs = [{"role": "user", "content": "Write a caption for a picture of shapes."},
                {"role": "assistant", "content": rng.choice(make_captions(scene, seed, 3))}]
        return msgs
    msgs = []
    for _ in range(rng.randint(1, 3)):
        q, a = knowledge_mc(rng) if rng.random() < 0.7 else knowledge_qa(rng)
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return msgs


class LMStageConfig(Section):
    """The LM's size and pretraining schedule, and the seed."""

    lm: LMPretrain
    seed: int


class LMResult(Section):
    """Final losses of each phase, the vocabulary size, and the step the first phase resumed from."""

    # Each later phase adds `<name>_phase_loss` (LATER_PHASES).
    model_config = ConfigDict(extra="allow", frozen=True)

    final_loss: float
    vocab: int
    resumed_from: float


def run_lm(ctx: StageContext[LMStageConfig]) -> LMResult:
    """Train the tokenizer, then pretrain the LM with its slot codebook; save them."""
    import torch
    from transformers import AutoModelForCausalLM

    from harness.models.slots import SlotCodebook, attrs_tensor
    from harness.models.tiny import LMSpec, lm_config
    from harness.models.tokenizer import train_tokenizer
    from harness.models.encode import encode_chat

    cfg = ctx.config.lm
    seed = ctx.config.seed
    scenes = read_scenes(ctx.input_path("world"), "foundation")
    rng = random.Random(f"tokenizer/{seed}")
    texts = list(corpus(scenes, seed))
    for s in scenes[:1500]:
        texts += [x for m in scene_doc(s, rng) for x in _texts(m)]
    tok = train_tokenizer(texts, cfg.vocab_size)
    tok.save_pretrained(ctx.out_dir / "tokenizer")
    doc_tok = document_tokenizer(ctx.out_dir / "tokenizer")
    spec = LMSpec(**{k: getattr(cfg, k) for k in LMSpec.model_fields})
    torch.manual_seed(seed)
    # Built on the CPU, then moved: the seeded initialisation is the same on any device.
    lm = AutoModelForCausalLM.from_config(lm_config(len(tok), spec, tok)).to(ctx.device)
    book = SlotCodebook.create(tok, spec.hidden, seed, ctx.device)
    cells = scenes[0].grid ** 2
    attrs = attrs_tensor(scenes)

    qas = SceneQAs(scenes, seed)

    # A drawn document is (form, messages): DOC for a scene (slots), CHAT for text alone.
    def mixed(grng: random.Random, i: int) -> tuple[tuple[str, list[dict[str, Any]]], list[int]]:
        # The general mix: questions about scene i, or plain text.
        if grng.random() < SCENE_DOC_SHARE:
            return (DOC, scene_doc(scenes[i], grng, qas.by_kind(i))), [i]
        return (CHAT, text_doc(scenes[i], seed, grng)), []

    def draw(grng: random.Random, step: int) -> tuple[tuple[str, list[dict[str, Any]]], list[int]] | None:
        i = grng.randrange(len(scenes))
        if grng.random() < COPY_SHARE:
            return (CHAT, copy_doc(grng)), []
        if step < LOOKUP_PHASE * cfg.steps:
            doc = lookup_doc(qas.by_kind(i), grng, grng.random() < LOOKUP_MC_SHARE)
            return None if doc is None else ((DOC, doc), [i])
        return mixed(grng, i)

    def lettered(heavy: tuple[str, ...], weight: float) -> Callable[[random.Random, int], Any]:
        # The later phases' mix: lettered questions about scenes (kinds in `heavy` weighted),
        # with copies, open lookups and the general mix kept so that nothing is forgotten.
        def draw_mc(grng: random.Random, step: int) -> tuple[tuple[str, list[dict[str, Any]]], list[int]] | None:
            i = grng.randrange(len(scenes))
            u = grng.random()
            if u < COPY_SHARE:
                return (CHAT, copy_doc(grng)), []
            if u < COPY_SHARE + MC_PHASE_SHARE:
                by = qas.by_kind(i)
                mc = as_multiple_choice(grng.choice(by[mc_kind(sorted(by), grng, heavy, weight)]), grng)
                return None if mc is None else ((DOC, qa_doc(*mc)), [i])
            if u < COPY_SHARE + MC_PHASE_SHARE + MC_PHASE_LOOKUPS:
                doc = lookup_doc(qas.by_kind(i), grng)
                return None if doc is None else ((DOC, doc), [i])
            return mixed(grng, i)

        return draw_mc

    def encode(doc: tuple[str, list[dict[str, Any]]]) -> Any:
        form, msgs = doc
        return encode_chat(doc_tok if form == DOC else tok, msgs, cells)

    log = train_phase(lm, book, tok, bucketed(draw, encode, attrs, cfg.batch, f"lm-batch/{seed}"), cfg.steps,
                      cfg.lr, seed, resume_dir(ctx), ctx.progress, "foundation: LM pretraining")
    # Empty cells become a word from here on (see `SlotCodebook.empty_ids`); the first phase
    # keeps exact zeros, the cleanest signal while lookups are learned.
    book = book.with_empty_word(tok)
    meta = {"final_loss": round(log["loss"], 4), "vocab": len(tok), "resumed_from": log["resumed_from"]}

    def draw_knowledge(grng: random.Random, step: int) -> tuple[tuple[str, list[dict[str, Any]]], list[int]] | None:
        i = grng.randrange(len(scenes))
        u = grng.random()
        if u < KNOWLEDGE_SHARE:
            doc = knowledge_doc(scenes[i], grng)
            return None if doc is None else ((DOC, doc), [i])
        if u < KNOWLEDGE_SHARE + KNOWLEDGE_COPY_SHARE:
            return (CHAT, copy_doc(grng)), []
        return mixed(grng, i)

    # (name: batch tag, resume directory and meta key; steps as a share of the first phase's; draw;
    # title; bf16 autocast), in order.
    phases = [(name, share, lettered(heavy, weight), title, True) for name, share, heavy, weight, title in LATER_PHASES]
    phases.append(("knowledge", KNOWLEDGE_PHASE, draw_knowledge, "knowledge", False))
    # Each later phase starts a fresh optimizer and schedule, so the phases before it are unchanged by it.
    for name, share, draw_phase, title, bf16 in phases:
        got = train_phase(lm, book, tok, bucketed(draw_phase, encode, attrs, cfg.batch, f"lm-{name}/{seed}"),
                          max(1, round(cfg.steps * share)), MC_PHASE_LR, seed, resume_dir(ctx) / name, ctx.progress,
                          f"foundation: LM {title} phase", bf16=bf16)
        meta[f"{name}_phase_loss"] = round(got["loss"], 4)
    lm.save_pretrained(ctx.out_dir / "lm", safe_serialization=True)
    book.save(ctx.out_dir)
    return LMResult.model_validate(meta)


LM = StageSpec("foundation/lm", VERSION, run_lm, LMStageConfig, LMResult, inputs=("world",), collective=True,
                  cost=1800)


DOC, CHAT = "doc", "chat"  # the two forms a pretraining document is written in


def document_tokenizer(folder: Path) -> Any:
    """The LM's tokenizer (from `folder`) with `DOC_TEMPLATE` as its template: how scene
    documents are written. A second object, so the saved tokenizer keeps the chat template."""
    from transformers import AutoTokenizer

    doc = AutoTokenizer.from_pretrained(folder)
    doc.chat_template = DOC_TEMPLATE
    return doc


def train_phase(lm: Any, book: Any, tok: Any, batch: Callable[[int], Any], steps: int, lr: float, seed: int,
                resume: Path, progress: Any, title: str, bf16: bool = True) -> dict[str, float]:
    """One phase of LM pretraining (`pretrain_lm_slots`, its own optimizer and schedule) under a
    progress bar, resumable from checkpoints in `resume`; `bf16`: under bf16 autocast."""
    from harness.training.pretrain import pretrain_lm_slots

    resume.mkdir(parents=True, exist_ok=True)
    task = progress(title, steps)
    log = pretrain_lm_slots(lm, book, tok, batch, steps, lr, seed, resume, lambda s, loss: task.advance(1, loss=loss),
                            bf16=bf16)
    task.close()
    return log


def bucketed(draw: Callable[[random.Random, int], Any], encode: Callable[[Any], Any], attrs: Any, size: int,
             tag: str, group: int = 8) -> Callable[[int], tuple[list[list[int]], list[list[int]], Any]]:
    """A batch function over documents from `draw(rng, step)` ((messages, scene rows) or None).

    A pure function of the step, so a resumed run sees the same batches. Documents of `group`
    steps are drawn together and sorted by length, so that a batch is padded to about its own
    length (padding to the longest of a random batch doubled the cost).
    """

    def batch(step: int) -> tuple[list[list[int]], list[list[int]], Any]:
        g0 = step - step % group
        grng = random.Random(f"{tag}/{g0}")
        docs = []
        while len(docs) < size * group:
            got = draw(grng, g0)
            if got is None:
                continue
            e = encode(got[0])
            # Long documents are redrawn: past ~10k tokens a batch falls out of the CPU's
            # caches and a step costs 3-4x per token (measured), for no gain in learning.
            if len(e.input_ids) <= MAX_DOC_TOKENS:
                docs.append((len(e.input_ids), e, got[1]))
        docs.sort(key=lambda d: d[0])
        chunks = [docs[k * size:(k + 1) * size] for k in range(group)]
        grng.shuffle(chunks)
        chunk = chunks[step % group]
        rows = [r for _, _, rs in chunk for r in rs]
        return ([e.input_ids for _, e, _ in chunk], [e.labels for _, e, _ in chunk],
                attrs[rows] if rows else attrs[:0])

    return batch


def _texts(m: dict[str, Any]) -> list[str]:
    c = m["content"]
    return [c] if isinstance(c, str) else [p["text"] for p in c if p["type"] == "text"]
