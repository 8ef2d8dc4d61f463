"""Scoring throughput: OK-VQA (100k predictions) and CHAIR (5k captions) against plain references.

Usage: python bench/score_throughput.py [--vqa N] [--chair N] [--seed S]

Writes official-format files with the awkward cases the protocols care about (number words,
"1,000", periods, contractions, articles, unanimous answers; plurals, synonyms and two-word
objects), scores them with the project's scorers and with straightforward per-item
implementations of the same rules written here (no caching, no shortcuts: the official
scripts' loop structure), checks that both give the same metrics, and prints items/s and the
ratio. Both sides include reading the files. Absolute speeds drift; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VQA_WORDS = ["yes", "Yes.", "no", "two", "2", "three", "1,000", "1000", "the dog", "a dog", "dogs", "don't know",
             "dont", "red", "red.", "U.S.A.", "3.5", "ten", "none", "cat;dog", "hot-dog", "left", "right", "blue"]


def write_vqa(root: Path, n: int, rng: random.Random) -> tuple[list[Path], Path]:
    """OK-VQA question / annotation / result files with `n` questions."""
    qs, anns, preds = [], [], []
    for qid in range(1, n + 1):
        base = rng.choice(VQA_WORDS)
        answers = [base] * 10 if rng.random() < 0.15 else [rng.choice([base] * 4 + VQA_WORDS) for _ in range(10)]
        qs.append({"image_id": qid, "question": f"q{qid}?", "question_id": qid})
        anns.append({"question_id": qid, "image_id": qid, "answer_type": rng.choice(["other", "number", "yes/no"]),
                     "question_type": rng.choice(["what", "how many", "is the"]),
                     "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                                 for i, a in enumerate(answers)]})
        preds.append({"question_id": qid, "answer": rng.choice(VQA_WORDS)})
    files = [root / "questions.json", root / "annotations.json"]
    files[0].write_text(json.dumps({"questions": qs}))
    files[1].write_text(json.dumps({"annotations": anns}))
    (root / "results.json").write_text(json.dumps(preds))
    return files, root / "results.json"


def reference_vqa(files: list[Path], results: Path) -> float:
    """The official VQA evaluation, item by item, normalizing every answer each time it is used."""
    tables = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "vqa_normalization.json")
                        .read_text())
    contractions, numbers, articles = tables["contractions"], tables["number_words"], set(tables["articles"])
    punct = tables["punctuation"]
    period = re.compile(r"(?!<=\d)(\.)(?!\d)")
    comma = re.compile(r"(\d)(,)(\d)")

    def norm(text: str) -> str:
        out = text
        for p in punct:
            if (p + " " in text or " " + p in text) or comma.search(text) is not None:
                out = out.replace(p, "")
            else:
                out = out.replace(p, " ")
        out = period.sub("", out, count=32)
        words = []
        for w in out.lower().split():
            w = numbers.get(w, w)
            if w not in articles:
                words.append(w)
        return " ".join(contractions.get(w, w) for w in words)

    anns = {a["question_id"]: a for a in json.loads(files[1].read_text())["annotations"]}
    total = 0.0
    for r in json.loads(results.read_text()):
        gts = anns[r["question_id"]]["answers"]
        pred = r["answer"].replace("\n", " ").replace("\t", " ").strip()
        for g in gts:
            g["answer"] = g["answer"].replace("\n", " ").replace("\t", " ").strip()
        if len({g["answer"] for g in gts}) > 1:
            for g in gts:
                g["answer"] = norm(g["answer"])
            pred = norm(pred)
        accs = []
        for g in gts:
            others = [o for o in gts if o is not g]
            accs.append(min(1.0, sum(o["answer"] == pred for o in others) / 3))
        total += sum(accs) / len(accs)
    return round(100 * total / len(anns), 2)


def write_chair(root: Path, n: int, rng: random.Random) -> tuple[list[Path], Path]:
    """COCO instances / captions over the 80 classes, and `n` generated captions."""
    from benchmarks.chair import coco_vocabulary

    vocab = coco_vocabulary()
    classes = sorted(set(vocab.synonyms.values()))
    words = sorted(w for w in vocab.synonyms if " " not in w)
    doubles = sorted(vocab.double_words)
    cats = [{"id": i + 1, "name": c} for i, c in enumerate(classes)]
    images, inst, caps, preds = [], [], [], []
    for i in range(1, n + 1):
        present = rng.sample(range(len(classes)), rng.randint(1, 4))
        images.append({"id": i, "file_name": f"{i}.jpg"})
        inst += [{"id": len(inst) + 1, "image_id": i, "category_id": c + 1} for c in present]
        for k in range(5):
            caps.append({"id": len(caps) + 1, "image_id": i,
                         "caption": f"A {classes[present[0]]} next to some {rng.choice(words)}s."})
        said = [rng.choice(words) + rng.choice(["", "s"]) for _ in range(rng.randint(1, 4))]
        extra = f" There is a {rng.choice(doubles)}." if rng.random() < 0.3 else ""
        preds.append({"image_id": i, "caption": f"In this picture, a {' and a '.join(said)} stand together.{extra}"})
    files = [root / "instances.json", root / "captions.json"]
    files[0].write_text(json.dumps({"images": images, "annotations": inst, "categories": cats}))
    files[1].write_text(json.dumps({"images": images, "annotations": caps}))
    (root / "captions_pred.json").write_text(json.dumps(preds))
    return files, root / "captions_pred.json"


def reference_chair(files: list[Path], results: Path) -> dict[str, float]:
    """The CHAIR rules caption by caption: tokenize, singularize, merge, map; nothing cached."""
    import inflection
    from nltk.tokenize.destructive import NLTKWordTokenizer

    from benchmarks.chair import coco_vocabulary

    vocab = coco_vocabulary()
    tok = NLTKWordTokenizer()

    def objects(caption: str) -> list[str]:
        words = []
        for sentence in re.split(r"(?<=[.!?])\s+", caption.lower()):
            words += [vocab.singular_overrides.get(t) or inflection.singularize(t) for t in tok.tokenize(sentence)]
        merged, i = [], 0
        while i < len(words):
            pair = " ".join(words[i:i + 2])
            if pair in vocab.double_words:
                merged.append(vocab.double_words[pair])
                i += 2
            else:
                merged.append(words[i])
                i += 1
        if "toilet" in merged and "seat" in merged:
            merged = [w for w in merged if w != "seat"]
        return [vocab.synonyms[w] for w in merged if w in vocab.synonyms]

    inst, caps = (json.loads(p.read_text()) for p in files)
    names = {c["id"]: c["name"] for c in inst["categories"]}
    gt: dict[int, set[str]] = {}
    for a in inst["annotations"]:
        gt.setdefault(a["image_id"], set()).add(vocab.synonyms.get(names[a["category_id"]], names[a["category_id"]]))
    for a in caps["annotations"]:
        gt.setdefault(a["image_id"], set()).update(objects(a["caption"]))
    n_caps = n_bad_caps = n_mentions = n_bad = n_gt = n_rec = 0
    for r in json.loads(results.read_text()):
        said, truth = objects(r["caption"]), gt.get(r["image_id"], set())
        bad = [c for c in said if c not in truth]
        n_caps += 1
        n_bad_caps += bool(bad)
        n_mentions += len(said)
        n_bad += len(bad)
        n_gt += len(truth)
        n_rec += len(set(said) & truth)
    return {"CHAIRs": 100 * n_bad_caps / n_caps, "CHAIRi": 100 * n_bad / max(1, n_mentions),
            "recall": 100 * n_rec / max(1, n_gt)}


def timed(fn, *args):  # noqa: ANN001, ANN202 - script helper
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main() -> None:
    """Run both comparisons and print one line each."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vqa", type=int, default=100_000)
    ap.add_argument("--chair", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    from benchmarks import BENCHMARKS

    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        files, preds = write_vqa(root, a.vqa, rng)
        ours, t_ours = timed(BENCHMARKS.get("okvqa")().score, files, preds)
        ref, t_ref = timed(reference_vqa, files, preds)
        same = ours.metrics["accuracy"] == ref
        print(f"okvqa  n={a.vqa}: ours {a.vqa / t_ours:,.0f}/s, reference {a.vqa / t_ref:,.0f}/s, "
              f"ratio {t_ref / t_ours:.1f}x, accuracy {ours.metrics['accuracy']} vs {ref} ({'same' if same else 'DIFFERENT'})")
        if not same:
            raise SystemExit(f"OK-VQA accuracy differs: {ours.metrics['accuracy']} vs {ref}")
        files, preds = write_chair(root, a.chair, rng)
        ours, t_ours = timed(BENCHMARKS.get("chair")().score, files, preds)
        ref_m, t_ref = timed(reference_chair, files, preds)
        same = all(abs(ours.metrics[k] - round(v, 2)) < 0.006 for k, v in ref_m.items())
        print(f"chair  n={a.chair}: ours {a.chair / t_ours:,.0f}/s, reference {a.chair / t_ref:,.0f}/s, "
              f"ratio {t_ref / t_ours:.1f}x, CHAIRi {ours.metrics['CHAIRi']} vs {ref_m['CHAIRi']:.2f} "
              f"({'same' if same else 'DIFFERENT'})")
        if not same:
            raise SystemExit(f"metrics differ: {ours.metrics} vs {ref_m}")


if __name__ == "__main__":
    main()
