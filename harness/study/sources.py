"""The study's data sources: which generated data parts each one combines (DESIGN §3).

A source is one registered entry: `register_source(name, parts, description)`. Every source
includes the baseline part (the language-only seed data), so a source's effect is measured
against the baseline on the same items.

A study can also compare data that someone else made: its `data_files` section names LLaVA-format
JSON files (`{name: path}`), and `seed+NAME` in `sources` is the seed data plus that file
(`resolve_source`). Those sources are the study's own, not registered: the registry is global to
the process, and a config's files must not outlive it or clash with another config's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from harness.core.records import BASELINE_SOURCE
from harness.core.registry import Registry


@dataclass(frozen=True)
class DataSource:
    """A data source: the data parts whose LLaVA files a target is finetuned on together."""

    name: str
    parts: tuple[str, ...]
    description: str


SOURCES: Registry[DataSource] = Registry("data source")


def register_source(name: str, parts: tuple[str, ...], description: str) -> DataSource:
    """Register a data source made of `parts` (the baseline part first)."""
    if not parts or parts[0] != BASELINE_SOURCE:
        raise ValueError(f"data source {name!r}: its parts must start with {BASELINE_SOURCE!r}")
    return SOURCES.register(name)(DataSource(name, parts, description))


register_source(BASELINE_SOURCE, (BASELINE_SOURCE,), "the language-only (LLaVA-style) data on the annotated images")
register_source("seed+lang", (BASELINE_SOURCE, "lang"), "plus language-only data on the extra images")
register_source("seed+vig", (BASELINE_SOURCE, "vig"), "plus VIGC data on the extra images, without correction")
register_source("seed+vigc", (BASELINE_SOURCE, "vigc"), "plus VIG + VIC data on the extra images")
register_source("seed+gold", (BASELINE_SOURCE, "gold"), "plus ground-truth data on the extra images (embedded world)")
# Calibration (generators/noisy.py): the gold data with half / all of its answers corrupted. A
# study fit to judge data ranks them seed+gold > seed+noisy50 > seed+noisy100.
register_source("seed+noisy50", (BASELINE_SOURCE, "noisy50"),
                "plus the gold data with half of its answers corrupted (calibration, embedded world)")
register_source("seed+noisy100", (BASELINE_SOURCE, "noisy100"),
                "plus the gold data with all of its answers corrupted (calibration, embedded world)")

# The noise level of each calibration part (share of gold's answers corrupted).
NOISY_PARTS: dict[str, float] = {"noisy50": 0.5, "noisy100": 1.0}
# The source label of an untuned control target's rows: it was finetuned on no data.
UNTUNED_SOURCE = "none"


BUILTIN_PARTS = (BASELINE_SOURCE, "lang", "gold", "vig", "vigc")  # the parts the study's own stages make
FILE_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,50}")  # a data file's name: part of a source and a stage name


def check_data_file_name(name: str) -> str:
    """`name` if it can name a data file (plain, and not a part the study makes), else ValueError."""
    if not FILE_NAME_RE.fullmatch(name):
        raise ValueError(f"data_files: name {name!r}: use letters, digits, '_' and '-' (at most 50)")
    if name in BUILTIN_PARTS:
        raise ValueError(f"data_files: name {name!r} is a data part the study makes; choose another")
    return name


def resolve_source(name: str, data_files: Mapping[str, str]) -> DataSource:
    """The data source called `name`: a registered one, or `seed+NAME` for a file in `data_files`.

    An unknown name is a ValueError listing close matches (and how to name a file).
    """
    if name in SOURCES:
        return SOURCES.get(name)
    prefix = f"{BASELINE_SOURCE}+"
    if name.startswith(prefix) and name[len(prefix):] in data_files:
        part = name[len(prefix):]
        return DataSource(name, (BASELINE_SOURCE, part), f"plus the LLaVA file {data_files[part]}")
    hint = f" or {prefix}NAME for a file in data_files ({', '.join(data_files)})" if data_files else \
        f" (or {prefix}NAME after naming a LLaVA JSON file under data_files)"
    raise ValueError(SOURCES.unknown(name) + hint)
