"""The world section of a study config: the embedded world's size and layout, or real files."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from harness.core.config import Section


class WorldImages(Section):
    """How many images the embedded world draws per split."""

    # At most a million per split: image ids are offset by a million per split (world.export).
    foundation: int = Field(6000, ge=1, le=1_000_000,
                            description="pretraining images for the vision tower and LM text")
    seed: int = Field(2000, ge=1, le=1_000_000,
                      description="annotated images the seed (language-only) data is made from")
    extra: int = Field(2000, ge=0, le=1_000_000, description="more images, for the compared data sources")
    bench: int = Field(300, ge=1, le=1_000_000, description="held-out images the benchmark files are made from")


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
    # For kind=files (real data): COCO-format annotations and image folders, benchmark files.
    coco_images: str | None = None
    coco_instances: str | None = None
    coco_captions: str | None = None
    extra_images: str | None = None
    benchmark_files: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> "WorldConfig":
        if self.max_objects < self.min_objects:
            raise ValueError("max_objects must be >= min_objects")
        if self.max_objects > self.grid * self.grid:
            raise ValueError(f"max_objects ({self.max_objects}) exceeds the grid's {self.grid ** 2} cells")
        if self.image_size % self.grid:
            raise ValueError(f"image_size ({self.image_size}) must be a multiple of grid ({self.grid})")
        if self.kind == "files":
            missing = [k for k in ("coco_images", "coco_instances", "coco_captions") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"kind=files needs {', '.join(missing)}")
        return self
