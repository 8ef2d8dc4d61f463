"""The study's data sources: which generated parts each one combines (DESIGN §3)."""

from __future__ import annotations

from harness.core.errors import BadConfig
from harness.study.config import StudyConfig

# Which generated parts make up each data source (DESIGN §3). `seed` is in every source.
SOURCE_PARTS: dict[str, tuple[str, ...]] = {
    "seed": ("seed",),
    "seed+lang": ("seed", "lang"),
    "seed+vig": ("seed", "vig"),
    "seed+vigc": ("seed", "vigc"),
    "seed+gold": ("seed", "gold"),
}


def check_sources(cfg: StudyConfig, available: set[str]) -> None:
    """Every configured source must be known and its parts producible by this study."""
    for s in cfg.sources:
        if s not in SOURCE_PARTS:
            raise BadConfig(f"sources: unknown data source {s!r} (known: {', '.join(SOURCE_PARTS)})")
        missing = [p for p in SOURCE_PARTS[s] if p not in available]
        if missing:
            raise BadConfig(f"sources: {s!r} needs data part(s) {', '.join(missing)}, which this study cannot make")
