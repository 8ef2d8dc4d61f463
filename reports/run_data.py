"""A run directory read into memory: results, data quality, per-sample records, manifest.

Everything a report, a comparison or a check needs comes through `load_run`, so every
command reads run directories the same way and fails the same way (one `VigcError` line).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from harness.core.errors import BadInput, MissingResource, excerpt
from harness.core.records import (COMPARISONS_FILE, MANIFEST, QUALITY_FILE, RESULTS_FILE, SAMPLES_FILE,
                                   VIC_EFFECT_FILE, ComparisonRecord, QualityRecord, ResultRecord, SampleRecord,
                                   stage_dir_from_manifest)

Cell = tuple[str, str, str, str]  # (target, source, benchmark, split)


@dataclass(frozen=True)
class RunData:
    """The records of one finished (or hand-made) run directory."""

    run_dir: Path
    results: list[ResultRecord]
    quality: list[QualityRecord] = field(default_factory=list)
    samples: list[SampleRecord] = field(default_factory=list)
    # Folder of the samples file each (target, source, benchmark) came from: image paths in
    # samples are relative to it.
    sample_dirs: dict[tuple[str, str, str], Path] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    vic_effect: dict[str, Any] | None = None
    comparisons: list[ComparisonRecord] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The run's name: the config's, else the directory's."""
        return str(self.manifest.get("config", {}).get("name") or self.run_dir.name)

    @cached_property
    def _by_model(self) -> dict[tuple[str, str, str], list[SampleRecord]]:
        out: dict[tuple[str, str, str], list[SampleRecord]] = {}
        for s in self.samples:
            out.setdefault((s.target, s.source, s.benchmark), []).append(s)
        return out

    @cached_property
    def comparison_index(self) -> dict[tuple[str, str, str, str, str, str], ComparisonRecord]:
        """Comparisons by (target, source, baseline, benchmark, split, metric)."""
        return {(c.target, c.source, c.baseline, c.benchmark, c.split, c.metric): c for c in self.comparisons}

    @cached_property
    def result_index(self) -> dict[tuple[str, str, str, str, str], ResultRecord]:
        """Results by (target, source, benchmark, split, metric)."""
        return {(r.target, r.source, r.benchmark, r.split, r.metric): r for r in self.results}

    @cached_property
    def target_configs(self) -> dict[str, dict[str, Any]]:
        """target name -> its entry in the manifest's config (arch, controls, recipe); empty for a
        run whose manifest has none."""
        return {str(t["name"]): t for t in self.manifest.get("config", {}).get("targets", []) or []
                if isinstance(t, dict) and "name" in t}

    @cached_property
    def roles(self) -> dict[str, str]:
        """target -> 'untuned' / 'blind' (the study's controls) or 'target', from the manifest's
        config, else from the target's name."""
        out = {name: "untuned" if t.get("untuned") else "blind" if t.get("blind") else "target"
               for name, t in self.target_configs.items()}
        for t in dict.fromkeys(r.target for r in self.results):
            out.setdefault(t, "untuned" if "untuned" in t else "blind" if "blind" in t else "target")
        return out

    def samples_of(self, target: str, source: str, benchmark: str) -> list[SampleRecord]:
        """The samples of one (target, source, benchmark), all splits, in file order."""
        return self._by_model.get((target, source, benchmark), [])

    def image_path(self, s: SampleRecord) -> Path | None:
        """The image file of a sample, or None when it has none, the file is gone, it lies outside
        the run directory and the stage cache the samples came from, or its bytes do not match
        the recorded `image_sha256` (a report embeds only the image the model was shown)."""
        from harness.core.io import sha256_file

        folder = self.sample_dirs.get((s.target, s.source, s.benchmark))
        if s.image is None or folder is None:
            return None
        p = Path(os.path.realpath(folder / s.image))
        run, here = os.path.realpath(self.run_dir), os.path.realpath(folder)
        # Inside the run directory, or inside the stage cache the samples file lies in (a shared
        # --cache elsewhere): a stage's samples name images of the world stage beside it.
        roots = {run} if here == run else {run, os.path.dirname(here)}
        if not any(str(p).startswith(r + os.sep) for r in roots) or not p.is_file():
            return None
        if s.image_sha256 and sha256_file(p) != s.image_sha256:
            return None
        return p


def _check_values(path: Path, rows: list[Any], key: Any) -> None:
    """Every value and interval bound finite, and each metric once: a NaN would render as 'nan'
    and a metric given twice would show one of its two values, chosen by file order."""
    seen: set[Any] = set()
    for n, r in enumerate(rows, 1):
        for name in ("value", "ci_low", "ci_high"):
            v = getattr(r, name)
            if v is not None and not math.isfinite(v):
                raise BadInput(f"{path}: record {n}: {name} is {v} (must be a finite number)")
        k = key(r)
        if k in seen:
            raise BadInput(f"{path}: record {n}: {excerpt('/'.join(k))} occurs twice")
        seen.add(k)


def _samples_files(run_dir: Path, manifest: dict[str, Any]) -> list[Path]:
    """samples.jsonl of every score stage: through the manifest's stage paths (a shared cache
    may live elsewhere), else the run directory's own stages/ folder."""
    found: list[Path] = []
    for name, st in manifest.get("stages", {}).items():
        if name.startswith("score/") and isinstance(st, dict) and isinstance(st.get("path"), str):
            p = stage_dir_from_manifest(run_dir, st["path"]) / SAMPLES_FILE
            if p.is_file():
                found.append(p)
    if not found:
        found = sorted((run_dir / "stages").glob(f"score--*/{SAMPLES_FILE}"))
    if (run_dir / SAMPLES_FILE).is_file():  # a hand-made or merged run keeps them at the top
        found.append(run_dir / SAMPLES_FILE)
    return found


def load_run(run_dir: str | Path, manifest: dict[str, Any] | None = None, with_samples: bool = True) -> RunData:
    """Read a run directory; `manifest` overrides manifest.json (a study passes it before writing it).

    Raises `MissingResource` when there is no results.jsonl and `BadInput` for malformed files,
    each naming the file.
    """
    from harness.core.io import read_json, read_jsonl

    rd = Path(run_dir)
    if not (rd / RESULTS_FILE).is_file():
        raise MissingResource(f"{rd}: not a run directory (no {RESULTS_FILE})")
    results = read_jsonl(rd / RESULTS_FILE, ResultRecord)
    quality = read_jsonl(rd / QUALITY_FILE, QualityRecord) if (rd / QUALITY_FILE).is_file() else []
    _check_values(rd / RESULTS_FILE, results, lambda r: (r.target, r.source, r.benchmark, r.split, r.metric))
    _check_values(rd / QUALITY_FILE, quality, lambda q: (q.source, q.data_type, q.metric))
    if manifest is None and not (rd / MANIFEST).is_file() and (rd / "stages").is_dir():
        # A study writes results.jsonl before its manifest: without the manifest it did not finish.
        raise BadInput(f"{rd}: the study did not finish (no {MANIFEST}); rerun it to resume")
    if manifest is None and (rd / MANIFEST).is_file():
        manifest = read_json(rd / MANIFEST)
        if not isinstance(manifest, dict):
            raise BadInput(f"{rd / 'manifest.json'}: expected a JSON object")
    manifest = manifest or {}
    vic = read_json(rd / VIC_EFFECT_FILE) if (rd / VIC_EFFECT_FILE).is_file() else None
    samples: list[SampleRecord] = []
    dirs: dict[tuple[str, str, str], Path] = {}
    if with_samples:
        for f in _samples_files(rd, manifest):
            rows = read_jsonl(f, SampleRecord)
            for s in rows:
                dirs.setdefault((s.target, s.source, s.benchmark), f.parent)
            samples.extend(rows)
    comparisons = read_jsonl(rd / COMPARISONS_FILE, ComparisonRecord) if (rd / COMPARISONS_FILE).is_file() else []
    return RunData(rd, results, quality, samples, dirs, manifest, vic if isinstance(vic, dict) else None,
                   comparisons)


def unit_scores(samples: list[SampleRecord]) -> dict[str, tuple[float, float]]:
    """{unit id: (num, den)} of samples of one cell; unit ids carry the split, so splits pool."""
    from harness.core.stats import collapse_groups

    return collapse_groups([f"{s.split}/{s.item_id}" for s in samples], [s.score for s in samples],
                           [s.weight for s in samples],
                           [None if s.group is None else f"{s.split}/{s.group}" for s in samples])
