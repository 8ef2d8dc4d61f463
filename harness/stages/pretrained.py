"""Pretrained foundation weights: export them from a finished study, check them, load them.

Real VLM studies start from pretrained checkpoints (a CLIP tower, a Vicuna); nobody pretrains
the LLM inside the study. The embedded world's equivalent is the `foundation/lm` and
`foundation/vision-*` stages. Trained once with the recipe in the preset, they are exported
into a folder (`foundation.json` + the stages' files) that a config names with
`foundation.pretrained`; the study then loads them instead of training them. The folder
records the exact training configs, and a config whose recipe differs is refused before any
work starts: the weights would not be what the config says.

The folder may also hold the aligned connectors (`align-clip`, `align-blip`), as LLaVA ships
its stage-1 projector. They are used only where they fit exactly: the same alignment recipe,
world and stage code, trained on the very LM and tower files of this folder. Otherwise the
study trains the connector itself (minutes, not the hour the LM and towers take), so they are
never a reason to refuse a config.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, ClassVar, Mapping

from harness.core.errors import BadConfig, BadInput
from harness.core.io import read_json, sha256_bytes, write_json
from harness.core.config import Section
from harness.core.records import stage_dir_from_manifest
from harness.stages.runner import MANIFEST, StageContext, StageSpec

VERSION = 1
INDEX = "foundation.json"
FORMAT = 1
BUILTIN_ROOT = Path(__file__).resolve().parents[1] / "weights"
# The world settings a foundation model depends on (its image grid and object counts); seeds
# and image counts do not matter, as a pretrained model is used on any draw of the same world.
WORLD_KEYS = ("kind", "image_size", "grid", "min_objects", "max_objects", "occlusion")
# Keys a folder exported before they existed was trained without (their value then).
WORLD_DEFAULTS = {"occlusion": 0.0}
PARTS = ("lm", "vision-clip", "vision-blip")
CONNECTORS = ("align-clip", "align-blip")  # optional parts (see the module note)


def resolve(spec: str) -> Path:
    """The folder named by `foundation.pretrained`: `builtin:NAME` (shipped) or a path."""
    if spec.startswith("builtin:"):
        path = BUILTIN_ROOT / spec.split(":", 1)[1]
    else:
        path = Path(spec).expanduser()
    if not (path / INDEX).is_file():
        raise BadConfig(f"foundation.pretrained: {path / INDEX} not found (a folder written by "
                        "`vigc-bench export-foundation`, or builtin:NAME)")
    return path.resolve()


def _sha256(path: Path) -> str:
    return sha256_bytes(path.read_bytes())  # the shipped files are a few MB each


def _world_spec(world: Mapping[str, Any]) -> dict[str, Any]:
    return {k: world[k] for k in WORLD_KEYS}


def read_index(folder: Path) -> dict[str, Any]:
    """The folder's index, checked for shape."""
    idx = read_json(folder / INDEX)
    if not isinstance(idx, dict) or idx.get("format") != FORMAT or not isinstance(idx.get("parts"), dict):
        raise BadInput(f"{folder / INDEX}: not a foundation index of format {FORMAT}")
    return idx


def expected_configs(foundation: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What each part's training recipe must be under a study's `foundation` section."""
    return {"lm": {"lm": dict(foundation["lm"])},
            "vision-clip": {"vision": dict(foundation["vision"]), "arch": "clip"},
            "vision-blip": {"vision": dict(foundation["vision"]), "arch": "blip"}}


def code_versions() -> dict[str, int]:
    """The version of the stage code that trains each part: the data mix and the training
    loop live in code, so weights from another version are another recipe."""
    from harness.stages import foundation as foundation_stage, lm as lm_stage

    return {"lm": lm_stage.VERSION, "vision-clip": foundation_stage.VERSION, "vision-blip": foundation_stage.VERSION}


def check(folder: Path, foundation: Mapping[str, Any], world: Mapping[str, Any], parts: tuple[str, ...]) -> None:
    """Refuse weights trained with another recipe, world or stage code than this (one line)."""
    idx = read_index(folder)
    want_world = _world_spec(world)
    versions = code_versions()
    for part in parts:
        got = idx["parts"].get(part)
        if got is None:
            raise BadConfig(f"foundation.pretrained: {folder} has no '{part}' weights")
        if got.get("code_version") != versions[part]:
            raise BadConfig(f"foundation.pretrained: {folder} '{part}' was trained by version {got.get('code_version')} "
                            f"of its stage, this code is version {versions[part]}; re-export it (vigc-bench "
                            "export-foundation) or set foundation.pretrained=null to train the foundation")
        trained_world = {**WORLD_DEFAULTS, **got["world"]}
        if trained_world != want_world:
            key = next(k for k in WORLD_KEYS if trained_world.get(k) != want_world[k])
            raise BadConfig(f"foundation.pretrained: {folder} was trained on world.{key}={trained_world.get(key)}, "
                            f"this config has {want_world[key]}; set foundation.pretrained=null to train the foundation")
        for section, value in expected_configs(foundation)[part].items():
            trained = got["config"].get(section)
            if trained == value:
                continue
            if isinstance(value, dict) and isinstance(trained, dict):
                key = next(k for k in sorted(set(value) | set(trained)) if trained.get(k) != value.get(k))
                shown, t, v = f"foundation.{section}.{key}", trained.get(key), value.get(key)
            else:
                shown, t, v = section, trained, value
            raise BadConfig(f"foundation.pretrained: {folder} '{part}' was trained with {shown}={t}, this "
                            f"config has {v}; set foundation.pretrained=null to train the foundation")


def _input_dir(run_dir: Path, stages: Mapping[str, Any], stage_manifest: Mapping[str, Any], role: str) -> Path:
    key = stage_manifest["inputs"][role]
    entry = next(e for e in stages.values() if e["key"] == key)
    return stage_dir_from_manifest(run_dir, entry["path"])


def _file_hashes(folder: Path) -> dict[str, str]:
    return {f.relative_to(folder).as_posix(): _sha256(f)
            for f in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)}


def connector_fits(folder: Path, part: str, config: Mapping[str, Any], world: Mapping[str, Any]) -> bool:
    """Whether the folder's connector `part` is exactly what the study would train: same
    recipe (`config`, without the seed), world and stage code, aligned on this folder's LM and
    tower files."""
    from harness.stages import foundation as foundation_stage

    parts = read_index(folder)["parts"]
    entry = parts.get(part)
    if entry is None:
        return False
    tower = "vision-" + part.split("-", 1)[1]
    return (entry.get("code_version") == foundation_stage.VERSION
            and entry.get("config") == {k: v for k, v in config.items() if k != "seed"}
            and {**WORLD_DEFAULTS, **entry.get("world", {})} == _world_spec(world)
            and entry.get("aligned_on") == {"lm": parts.get("lm", {}).get("files"),
                                            "vision": parts.get(tower, {}).get("files")})


def digest(folder: Path, part: str) -> str:
    """A hash of one part's files as the index lists them (part of the loading stage's key)."""
    return sha256_bytes(repr(sorted(read_index(folder)["parts"][part]["files"].items())).encode())


class LoadConfig(Section):
    """One part of a pretrained foundation folder, and the hash of its files (so a changed
    folder is a changed key). The folder itself is not keyed: `digest` says what is loaded, so
    a stage cache shared by two checkouts (whose shipped weights lie at different paths) reuses
    the stage and everything after it."""

    UNKEYED: ClassVar[tuple[str, ...]] = ("folder",)

    part: str
    folder: str
    digest: str


class LoadResult(Section):
    """Where the weights came from, the meta of the stage that trained them and its time."""

    pretrained: str
    trained: dict[str, Any]
    train_seconds: float | None


def run_load(ctx: StageContext[LoadConfig]) -> LoadResult:
    """Stage body: copy one part's files into the stage, verifying every file's checksum."""
    folder, part = Path(ctx.config.folder), ctx.config.part
    entry = read_index(folder)["parts"][part]
    for rel, sha in sorted(entry["files"].items()):
        src = folder / part / rel
        if not src.is_file() or _sha256(src) != sha:
            raise BadInput(f"{src}: missing or corrupt (checksum differs from {folder / INDEX})")
        dst = ctx.out_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    return LoadResult(pretrained=str(folder), trained=entry.get("meta", {}), train_seconds=entry.get("seconds"))


LOAD = StageSpec("foundation/load", VERSION, run_load, LoadConfig, LoadResult)


def export(run_dir: Path, out: Path, parts: tuple[str, ...] = PARTS, add: bool = False) -> dict[str, Any]:
    """Write the foundation stages of a finished study (`run_dir`) into `out` with their index.

    Each part's files, its training config, the world settings, its training time and meta; a
    connector also records the hashes of the LM and tower files it was aligned on. With `add`,
    `out` is an existing folder whose other parts are kept (e.g. connectors aligned by a study
    that loaded its LM and towers from that folder).
    """
    manifest = read_json(run_dir / MANIFEST)
    stages = manifest.get("stages", {})
    world = manifest["config"]["world"]
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    if add:
        index = read_index(out)
        shutil.copytree(out, tmp)
        for part in parts:
            shutil.rmtree(tmp / part, ignore_errors=True)
    else:
        index = {"format": FORMAT, "parts": {}}
    for part in parts:
        entry = stages.get(f"foundation/{part}")
        if entry is None:
            raise BadInput(f"{run_dir / MANIFEST}: the run has no foundation/{part} stage")
        src = stage_dir_from_manifest(run_dir, entry["path"])
        sm = read_json(src / MANIFEST)
        if "pretrained" in sm.get("meta", {}):
            raise BadInput(f"{src}: foundation/{part} was itself loaded from {sm['meta']['pretrained']}; "
                           "export the run that trained it")
        files = {}
        for f in sorted(p for p in src.rglob("*") if p.is_file() and p.name != MANIFEST):
            rel = f.relative_to(src).as_posix()
            (tmp / part / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, tmp / part / rel)
            files[rel] = _sha256(f)
        config = {k: v for k, v in sm["config"].items() if k != "seed"}
        index["parts"][part] = {"config": config, "seed": sm["config"].get("seed"), "world": _world_spec(world),
                                "files": files, "meta": sm.get("meta", {}), "seconds": sm.get("seconds"),
                                "code_version": sm.get("version"), "harness": sm.get("harness")}
        if part in CONNECTORS:
            index["parts"][part]["aligned_on"] = {role: _file_hashes(_input_dir(run_dir, stages, sm, role))
                                                  for role in ("lm", "vision")}
    write_json(tmp / INDEX, index)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return index
