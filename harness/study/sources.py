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

