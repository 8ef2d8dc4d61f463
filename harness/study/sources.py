"""The study's data sources: which generated data parts each one combines (DESIGN §3).

A source is one registered entry: `register_source(name, parts, description)`. Every source
includes the baseline part (the language-only seed data), so a source's effect is measured
against the baseline on the same items.
"""

from __future__ import annotations

from dataclasses import dataclass
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

