"""Text metrics of a dataset that need no ground truth: tokens, n-grams, self-BLEU, and the
caption metrics (BLEU-4, METEOR, ROUGE-L, CIDEr) of answers against reference captions.

Caption metrics use pycocoevalcap, as the COCO caption evaluation does: the PTB tokenizer
(Stanford CoreNLP, through java), BLEU with the "closest" reference length, CIDEr as
pycocoevalcap computes it (which is the CIDEr-D variant: clipped n-gram counts and a
Gaussian length penalty, sigma 6, so answers much longer than the references score near
0) with document frequencies over the references of every scored answer, ROUGE-L, and
METEOR 1.5 (java). SPICE is not used: it needs models that cannot be downloaded here.
Each function returns per-item statistics, so that the caller can resample images.
"""

from __future__ import annotations

import math
import random
import re
import shutil
import subprocess
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Hashable, Sequence

import numpy as np

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
SELF_BLEU_SAMPLE = 300


class QualityNote(UserWarning):
    """A metric was skipped or computed in a fallback way (e.g. no java for METEOR)."""


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits; punctuation dropped)."""
    return _TOKEN.findall(text.lower())


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """The n-grams of a token list, in order."""
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def normalise(text: str) -> str:
    """Lower-cased, whitespace collapsed: the form duplicates are compared in."""
    return " ".join(text.lower().split())


# --- self-BLEU ----------------------------------------------------------------------------


def self_bleu_sample(n_items: int, seed: int = 0, k: int = SELF_BLEU_SAMPLE) -> list[int]:
    """The indices (sorted) of the items self-BLEU is computed on: all, or `k` drawn with `seed`."""
    if n_items <= k:
        return list(range(n_items))
    return sorted(random.Random(f"self-bleu/{seed}").sample(range(n_items), k))


def _precook(tokens: Sequence[str], n: int = 4) -> Counter:
    return Counter(g for k in range(1, n + 1) for g in ngrams(tokens, k))


def self_bleu(texts: Sequence[str], n: int = 4) -> list[float]:
    """Sentence BLEU-n (0-1) of each text against all the others as references.

    Exactly pycocoevalcap's BleuScorer per sentence (clipped counts against the maximum count
    over the references, "closest" reference length, its 1e-9 / 1e-15 smoothing), but the
    reference maxima come from the top two counts of each n-gram instead of re-cooking
    every reference set, which takes O(N) instead of O(N^2) n-gram passes.
    """
    toks = [words(t) for t in texts]
    cooked = [_precook(t, n) for t in toks]
    top: dict[tuple, list[tuple[int, int]]] = {}  # n-gram -> the two largest (count, owner)
    for i, c in enumerate(cooked):
        for g, k in c.items():
            best = top.setdefault(g, [])
            best.append((k, i))
            best.sort(reverse=True)
            del best[2:]
    lens = [len(t) for t in toks]
    return [_sentence_bleu(i, cooked[i], top, lens, n) for i in range(len(toks))]


def _sentence_bleu(i: int, counts: Counter, top: dict, lens: list[int], n: int) -> float:
    others = lens[:i] + lens[i + 1:]
    if not others:
        return 0.0
    testlen = lens[i]
    reflen = min((abs(r - testlen), r) for r in others)[1]
    correct = [0] * n
    for g, k in counts.items():
        ref_max = next((c for c, owner in top[g] if owner != i), 0)
        correct[len(g) - 1] += min(ref_max, k)
    guess = [max(0, testlen - k + 1) for k in range(1, n + 1)]
    bleu = 1.0
    for k in range(n):
        bleu *= (correct[k] + 1e-15) / (guess[k] + 1e-9)
    score = bleu ** (1.0 / n)
    ratio = (testlen + 1e-15) / (reflen + 1e-9)
    if ratio < 1:
        score *= math.exp(1 - 1 / ratio)
    return score


# --- caption metrics ----------------------------------------------------------------------


@dataclass(frozen=True)
class CaptionScores:
    """Per-item caption statistics: BLEU sufficient statistics and sentence scores (0-1;
    CIDEr on pycocoevalcap's scale, 0-10)."""

    bleu_stats: tuple[float, ...]  # testlen, reflen, guess 1-4, correct 1-4
    cider: float
    rouge_l: float
    meteor: float | None


def corpus_bleu4(stats: Sequence[Any]) -> Any:
    """Corpus BLEU-4 (0-1) from summed `bleu_stats`, as pycocoevalcap's BleuScorer; each
    statistic may be an array (one value per resample), and so is the result."""
    testlen, reflen = np.asarray(stats[0], dtype=float), np.asarray(stats[1], dtype=float)
    score = np.ones_like(testlen)
    for k in range(4):
        score = score * (np.asarray(stats[6 + k], dtype=float) + 1e-15) / (np.asarray(stats[2 + k], dtype=float) + 1e-9)
    score = score ** 0.25
    ratio = (testlen + 1e-15) / (reflen + 1e-9)
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(ratio < 1, score * np.exp(1 - 1 / np.maximum(ratio, 1e-300)), score)


def _simple_tokenize(text: str) -> str:
    return " ".join(words(text))


def ptb_tokenize(texts: dict[Hashable, list[str]]) -> dict[Hashable, list[str]]:
    """pycocoevalcap's PTB tokenizer (java); without java, lower-cased words with a note."""
    if shutil.which("java"):
        try:
            return _java_ptb(texts)
        except (OSError, ValueError, IndexError) as e:  # java present but not runnable
            warnings.warn(f"PTB tokenizer failed ({e}); using a plain word tokenizer", QualityNote, stacklevel=2)
    else:
        warnings.warn("java not found: PTB tokenizer replaced by a plain word tokenizer", QualityNote, stacklevel=2)
    return {k: [_simple_tokenize(t) for t in v] for k, v in texts.items()}


def _java_ptb(texts: dict[Hashable, list[str]]) -> dict[Hashable, list[str]]:
    """What pycocoevalcap's `PTBTokenizer.tokenize` does (same jar, command, input and
    punctuation removal), run so that java's stderr is captured, not inherited: it prints
    "PTBTokenizer tokenized N tokens at ..." on every call, which landed on the console of a
    run, under its progress bars. The stderr is shown only when java fails."""
    from pycocoevalcap.tokenizer import ptbtokenizer as ptb

    jar = Path(ptb.__file__).resolve().parent / ptb.STANFORD_CORENLP_3_4_1_JAR
    keys = [k for k, v in texts.items() for _ in v]
    sentences = "\n".join(t.replace("\n", " ") for v in texts.values() for t in v)
    # A temporary folder of our own: pycocoevalcap writes its file beside the jar, inside the
    # installed package, which fails where site-packages is read-only.
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "sentences.txt"
        src.write_bytes(sentences.encode())
        done = subprocess.run(["java", "-cp", str(jar), "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines",
                               "-lowerCase", str(src)], stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        raise OSError(f"java exited with {done.returncode}: {err[-1] if err else 'no message'}")
    out: dict[Hashable, list[str]] = {}
    for k, line in zip(keys, done.stdout.decode().split("\n")):
        out.setdefault(k, []).append(" ".join(w for w in line.rstrip().split(" ") if w not in ptb.PUNCTUATIONS))
    return out


def _bleu_stats(hyp: str, refs: list[str]) -> tuple[float, ...]:
    from pycocoevalcap.bleu.bleu_scorer import cook_refs, cook_test

    c = cook_test(hyp, cook_refs(refs))
    reflen = min((abs(r - c["testlen"]), r) for r in c["reflen"])[1]
    return (c["testlen"], reflen, *c["guess"], *c["correct"])


def _meteor(gts: dict, res: dict) -> tuple[float, list[float]] | None:
    """(corpus METEOR, per-item scores), or None with a note when java cannot run it."""
    if not shutil.which("java"):
        warnings.warn("java not found: METEOR skipped", QualityNote, stacklevel=3)
        return None
    from pycocoevalcap.meteor.meteor import Meteor

    try:
        scorer = Meteor()
        proc = scorer.meteor_p
        try:
            score, scores = scorer.compute_score(gts, res)
        finally:
            del scorer  # its __del__ ends the java process but leaves two pipes open
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
    except (OSError, ValueError, BrokenPipeError) as e:
        warnings.warn(f"METEOR skipped: java failed ({e})", QualityNote, stacklevel=3)
        return None
    return float(score), [float(s) for s in scores]


def caption_scores(items: dict[Hashable, tuple[str, Sequence[str]]], meteor: bool = True
                   ) -> tuple[dict[Hashable, CaptionScores], float | None]:
    """Per-item scores of hypotheses against their references, and the corpus METEOR.

    `items`: key -> (hypothesis, references). The corpus METEOR is METEOR 1.5's own
    aggregate (not the mean of the item scores); None when METEOR is off or cannot run.
    """
    from pycocoevalcap.cider.cider_scorer import CiderScorer
    from pycocoevalcap.rouge.rouge import Rouge

    keys = list(items)
    tok = ptb_tokenize({**{("h", k): [items[k][0]] for k in keys}, **{("r", k): list(items[k][1]) for k in keys}})
    res = {k: tok[("h", k)] for k in keys}
    gts = {k: tok[("r", k)] for k in keys}
    cider = CiderScorer(n=4, sigma=6.0)
    for k in keys:
        cider += (res[k][0], gts[k])
    _, cider_scores = cider.compute_score()
    rouge = Rouge()
    met = _meteor(gts, res) if meteor and keys else None
    out = {}
    for i, k in enumerate(keys):
        out[k] = CaptionScores(_bleu_stats(res[k][0], gts[k]), float(cider_scores[i]),
                               float(rouge.calc_score(res[k], gts[k])), met[1][i] if met else None)
    return out, met[0] if met else None
