"""The world commands: draw the embedded world, or export a preset's world as plain files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.api.study import load_study_config
from harness.core.errors import BadConfig, BadInput


def write_world(out_dir: Path, images: int, seed: int = 0) -> dict[str, int]:
    """Draw the embedded world into `out_dir` (`images` per split); images written per split."""
    from harness.world.export import SPLITS, write_world as write

    if images < 1:
        raise BadInput(f"images per split must be at least 1, got {images}")
    return write(Path(out_dir), seed, {s: images for s in SPLITS})


@dataclass(frozen=True)
class WorldExport:
    """What `export_world` wrote into a world folder."""

    images: dict[str, int]  # images per split
    benchmark_files: dict[str, dict[str, list[str]]]  # per benchmark and split, relative to the folder
    config: Path  # the study config that runs on the folder: `vigc-bench run --config <config>`


def export_world(out_dir: Path, preset: str = "tiny", images: int | None = None, seed: int | None = None
                 ) -> WorldExport:
    """Write a preset's embedded world into `out_dir` as plain files (DESIGN §2 "A world is
    files"): images, COCO instances and captions, ground-truth scenes and the benchmark files in
    their official formats, then `study.yaml`, the preset with `world.kind: files` pointing at
    them (written last, so its presence says the folder is complete). `images` overrides every
    split's count, `seed` the preset's seed."""
    import yaml

    from harness.core.io import atomic_write_text
    from harness.stages.bench import write_bench_files
    from harness.study.config import files_world_study
    from harness.world.export import SPLITS, write_world as write
    from harness.world.files import files_world_section

    if images is not None and images < 1:
        raise BadInput(f"images per split must be at least 1, got {images}")
    cfg = load_study_config(preset=preset)
    w = cfg.world
    if w.kind != "embedded":
        raise BadConfig(f"preset {preset!r}: its world is files already; `world` writes an embedded world")
    counts = w.images.model_dump() if images is None else {s: images for s in SPLITS}
    seed = cfg.seed if seed is None else seed
    out = Path(out_dir)
    written = write(out, seed, counts, w.image_size, w.grid, w.min_objects, w.max_objects, w.captions_per_image)
    bench = write_bench_files(out, cfg.benchmarks, seed, out / "bench")
    rel = {b: {s: [Path(p).resolve().relative_to(out.resolve()).as_posix() for p in ps] for s, ps in per.items()}
           for b, per in bench.items()}
    section = files_world_section(w, [s for s in SPLITS if written.get(s, 0) > 0], rel)
    doc = files_world_study(preset, seed, section)
    path = out / "study.yaml"
    header = (f"# The {preset} study on a world of files, written by `vigc-bench world --preset {preset}`.\n"
              f"# Paths are relative to this file's folder. Run with:  vigc-bench run --config {path}\n")
    atomic_write_text(path, header + yaml.safe_dump(doc, sort_keys=False))
    return WorldExport(written, rel, path)
