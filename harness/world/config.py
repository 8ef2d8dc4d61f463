"""The world section of a study config: the embedded world's size and layout, or a world of files.

A files world (`kind: files`) is a folder of plain files that `vigc-bench world` writes, or
your own COCO folder: per split an image folder and COCO `instances` / `captions` JSON (and
optionally ground-truth scene lines), plus benchmark files in their official formats.
Relative paths resolve against the folder of the YAML file that names them
(`resolve_world_paths`).

Why a split is a set of files (and not an image-id list over one big file): COCO itself ships
a split as files (`instances_train2017.json`, `instances_val2017.json`, each with its image
folder), so a real study names COCO's files as they are; and the embedded world writes one
`annotations/instances_<split>.json` per split already, so its export is a listing, not a
conversion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from harness.core.config import Section

SPLIT_NAMES = ("foundation", "seed", "extra", "bench")  # the order harness.world.export writes them in


class WorldImages(Section):
    """How many images the embedded world draws per split."""

    # At most a million per split: image ids are offset by a million per split (world.export).
    foundation: int = Field(6000, ge=1, le=1_000_000,
                            description="pretraining images for the vision tower and LM text")
    seed: int = Field(2000, ge=1, le=1_000_000,
                      description="annotated images the seed (language-only) data is made from")
    extra: int = Field(2000, ge=0, le=1_000_000, description="more images, for the compared data sources")
    bench: int = Field(300, ge=1, le=1_000_000, description="held-out images the benchmark files are made from")


class SplitFiles(Section):
    """One split of a files world: COCO annotations, the folder their `file_name`s resolve
    against, and (where the world has complete ground truth) its scene lines."""

    images: str = Field(description="image folder; COCO `file_name`s are relative to it")
    instances: str = Field(description="COCO instances JSON (images, annotations, categories)")
    captions: str = Field(description="COCO captions JSON")
    scenes: str | None = Field(None, description="ground-truth `Scene` lines (JSONL); absent on real data")


class WorldConfig(Section):
    """Where images, annotations and benchmark files come from."""

    kind: Literal["embedded", "files"] = "embedded"
    image_size: int = Field(96, ge=16)
    grid: int = Field(4, ge=2, le=8)
    min_objects: int = Field(2, ge=1)
    max_objects: int = Field(5, ge=1)
    captions_per_image: int = Field(5, ge=1, le=10)  # COCO has 5; caption ids leave room for 10
    occlusion: float = Field(0.0, ge=0.0, le=1.0, description="share of objects partly hidden behind a grey "
                                                              "occluder (small and hidden objects make POPE hard)")
    images: WorldImages = WorldImages()
    # kind=files: the files of each split (seed required; foundation, extra, bench optional) and,
    # per benchmark and split, its official files (a benchmark not listed is drawn from the bench
    # split's scenes).
    splits: dict[Literal["foundation", "seed", "extra", "bench"], SplitFiles] = Field(default_factory=dict)
    benchmark_files: dict[str, dict[str, list[str]]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> "WorldConfig":
        if self.max_objects < self.min_objects:
            raise ValueError("max_objects must be >= min_objects")
        if self.max_objects > self.grid * self.grid:
            raise ValueError(f"max_objects ({self.max_objects}) exceeds the grid's {self.grid ** 2} cells")
        if self.image_size % self.grid:
            raise ValueError(f"image_size ({self.image_size}) must be a multiple of grid ({self.grid})")
        if self.kind == "files" and "seed" not in self.splits:
            raise ValueError("kind=files needs splits.seed (images, instances, captions)")
        if self.kind == "embedded" and (self.splits or self.benchmark_files):
            raise ValueError("splits and benchmark_files are for kind=files")
        return self

    def has_split(self, split: str) -> bool:
        """Whether the world has images in `split`."""
        if self.kind == "files":
            return split in self.splits
        return getattr(self.images, split) > 0

    def missing_scenes(self) -> list[str]:
        """Scene files a files world lacks (a split without `scenes`, or a path not on disk);
        empty when the world has complete ground truth (always, for the embedded world)."""
        if self.kind == "embedded":
            return []
        return [s.scenes or f"splits.{name}.scenes" for name, s in sorted(self.splits.items())
                if s.scenes is None or not Path(s.scenes).is_file()]

    def scenes_of(self, split: str) -> Path | None:
        """The scene lines of one split of a files world, if it names them and they are on disk."""
        files = self.splits.get(split)  # type: ignore[call-overload]
        p = Path(files.scenes) if files is not None and files.scenes is not None else None
        return p if p is not None and p.is_file() else None

    def has_scenes(self) -> bool:
        """Whether every split has its ground-truth scenes: gold data, ground-truth quality
        metrics and judges, and the tiny models' foundation, need them."""
        return not self.missing_scenes()


def resolve_world_paths(data: dict[str, Any], base: Path) -> None:
    """Make the relative paths of a files world in a raw config dict absolute against `base`
    (the YAML file's folder), in place. Values of the wrong type are left for validation."""
    world = data.get("world")
    if not isinstance(world, dict) or world.get("kind") != "files":
        return

    def fix(value: Any) -> Any:
        return str(base / value) if isinstance(value, str) and not Path(value).is_absolute() else value

    for split in (world.get("splits") or {}).values() if isinstance(world.get("splits"), dict) else ():
        if isinstance(split, dict):
            for key in ("images", "instances", "captions", "scenes"):
                if key in split:
                    split[key] = fix(split[key])
    files = world.get("benchmark_files")
    if isinstance(files, dict):
        for per_split in files.values():
            if isinstance(per_split, dict):
                for split, paths in per_split.items():
                    if isinstance(paths, list):
                        per_split[split] = [fix(p) for p in paths]
