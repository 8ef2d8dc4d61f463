"""A files world: paths resolved against the YAML's folder, its files checked before any work,
and brought into the world layout without leaving the image folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.errors import BadInput, MissingResource
from harness.core.records import WorldLayout
from harness.world.config import WorldConfig, resolve_world_paths
from harness.world.export import write_world
from harness.world.files import file_digests, files_world_section, import_world


def _world(root: Path) -> WorldConfig:
    write_world(root, 1, {"seed": 2, "bench": 2})
    section = files_world_section(WorldConfig(), ["seed", "bench"], {})
    data = {"world": section}
    resolve_world_paths(data, root)
    return WorldConfig.model_validate(data["world"])


def test_relative_paths_resolve_against_the_yaml_folder(tmp_path: Path) -> None:
    data = {"world": {"kind": "files", "splits": {"seed": {"images": "im", "instances": "/abs/i.json",
                                                           "captions": "c.json"}},
                      "benchmark_files": {"pope": {"random": ["p.json"]}}}}
    resolve_world_paths(data, tmp_path)
    seed = data["world"]["splits"]["seed"]
    assert seed == {"images": str(tmp_path / "im"), "instances": "/abs/i.json", "captions": str(tmp_path / "c.json")}
    assert data["world"]["benchmark_files"]["pope"]["random"] == [str(tmp_path / "p.json")]


def test_import_gives_the_world_layout_byte_for_byte(tmp_path: Path) -> None:
    w = _world(tmp_path / "w")
    digests = file_digests(w)
    assert set(digests) == {f"splits.{s}.{k}" for s in ("seed", "bench") for k in ("instances", "captions", "scenes")}
    out = tmp_path / "stage"
    assert import_world(w, out) == {"seed": 2, "bench": 2}
    src, dst = WorldLayout(tmp_path / "w"), WorldLayout(out)
    for split in ("seed", "bench"):
        for a, b in ((src.instances(split), dst.instances(split)), (src.scenes(split), dst.scenes(split))):
            assert a.read_bytes() == b.read_bytes()
    names = [im["file_name"] for im in json.loads(src.instances("seed").read_text())["images"]]
    assert all((dst.images / n).read_bytes() == (src.images / n).read_bytes() for n in names)


def test_a_world_without_scenes_has_none(tmp_path: Path) -> None:
    w = _world(tmp_path / "w")
    for p in WorldLayout(tmp_path / "w").all_scenes():
        p.unlink()
    assert not w.has_scenes() and w.scenes_of("bench") is None and len(w.missing_scenes()) == 2
    assert not any(k.endswith(".scenes") for k in file_digests(w))


def test_bad_files_are_named(tmp_path: Path) -> None:
    w = _world(tmp_path / "w")
    layout = WorldLayout(tmp_path / "w")
    inst = json.loads(layout.instances("seed").read_text())
    inst["images"][0]["file_name"] = "../../etc/passwd"
    layout.instances("seed").write_text(json.dumps(inst))
    with pytest.raises(BadInput, match="leaves the image folder"):
        import_world(w, tmp_path / "stage")
    layout.captions("bench").unlink()
    with pytest.raises(MissingResource, match="captions_bench.json: file not found"):
        file_digests(w)
