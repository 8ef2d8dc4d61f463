"""Atomic writes and JSON/JSONL I/O: no half-written files, errors that name the file and line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.core import io as hio
from harness.core.errors import BadInput, MissingResource
from harness.core.io import (atomic_write_bytes, atomic_write_text, hash_obj, iter_jsonl_dicts, read_json, read_jsonl,
                        sha256_file, to_jsonl, write_json, write_jsonl)
from harness.core.records import Conversation, Scene, Turn
from harness.world.scenes import sample_scene


def listing(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_atomic_write_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "héllo")
    assert target.read_text(encoding="utf-8") == "héllo"
    assert listing(target.parent) == ["a.txt"]
    atomic_write_bytes(target, b"second", fsync=True)
    assert target.read_bytes() == b"second"
    assert listing(target.parent) == ["a.txt"]


def test_atomic_write_has_the_usual_file_mode(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    atomic_write_text(tmp_path / "a.txt", "x")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask


def test_failed_write_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    atomic_write_text(target, "old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, object())  # type: ignore[arg-type]
    assert target.read_text(encoding="utf-8") == "old"
    assert listing(tmp_path) == ["a.txt"]


def test_failed_rename_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "a.json"
    write_json(target, {"v": 1})

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(hio.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_json(target, {"v": 2})
    monkeypatch.undo()
    assert read_json(target) == {"v": 1}
    assert listing(tmp_path) == ["a.json"]


def test_is_atomic_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The stage runner deletes what this recognizes, so it must recognize the temp names
    # atomic writes really use, and nothing ordinary.
    seen: list[str] = []
    real = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append(src)
        real(src, dst)

    monkeypatch.setattr(hio.os, "replace", spy)
    atomic_write_text(tmp_path / "x.png", "x")
    monkeypatch.undo()
    assert hio.is_atomic_temp(Path(seen[0]))
    assert not hio.is_atomic_temp(tmp_path / "x.png")
    assert not hio.is_atomic_temp(tmp_path / "x.tmp")


def test_read_json_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingResource, match="nope.json"):
        read_json(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(BadInput, match="bad.json: not valid JSON"):
        read_json(bad)


def test_jsonl_round_trip_uses_declared_names(tmp_path: Path) -> None:
    scenes = [sample_scene(0, i, "seed") for i in range(3)]
    write_jsonl(tmp_path / "s.jsonl", scenes)
    assert read_jsonl(tmp_path / "s.jsonl", Scene) == scenes
    first = next(iter_jsonl_dicts(tmp_path / "s.jsonl"))
    assert first["schema"] == 1 and "schema_" not in first
    conv = Conversation(id="1", image="a.png",
                        conversations=(Turn.model_validate({"from": "human", "value": "<image>\nHi"}),))
    line = to_jsonl([conv])
    assert '"from": "human"' in line and "from_" not in line
    assert to_jsonl([{"a": 1}, {"b": "é"}]) == '{"a": 1}\n{"b": "é"}\n'


def test_read_jsonl_bad_line_names_file_and_line(tmp_path: Path) -> None:
    good = to_jsonl([sample_scene(0, 1, "seed")])
    f = tmp_path / "s.jsonl"
    f.write_text(good + "\n" + '{"image_id": 1,\n', encoding="utf-8")
    with pytest.raises(BadInput) as e:
        read_jsonl(f, Scene)
    assert f"{f}:3:" in str(e.value) and "not valid JSON" in str(e.value)

    f.write_text(good + "\n" + good.replace('"theme"', '"thme"'), encoding="utf-8")
    with pytest.raises(BadInput) as e:
        read_jsonl(f, Scene)
    assert f"{f}:3:" in str(e.value)

    f.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r":1: expected a JSON object, got list"):
        list(iter_jsonl_dicts(f))

    f.write_bytes(good.encode() + b"\xff\xfe\n")
    with pytest.raises(BadInput, match=r":2: not UTF-8"):
        read_jsonl(f, Scene)

    with pytest.raises(MissingResource):
        read_jsonl(tmp_path / "missing.jsonl", Scene)


def test_blank_lines_and_crlf_are_fine(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_bytes(b'{"a": 1}\r\n\r\n{"a": 2}\r\n')
    assert list(iter_jsonl_dicts(f)) == [{"a": 1}, {"a": 2}]


def test_hashes() -> None:
    assert hash_obj({"a": 1, "b": [1, 2]}) == hash_obj({"b": [1, 2], "a": 1})
    assert hash_obj({"a": 1}) != hash_obj({"a": 2})
    assert hash_obj((1, 2)) == hash_obj([1, 2])


def test_sha256_file(tmp_path: Path) -> None:
    import hashlib

    f = tmp_path / "x.bin"
    data = os.urandom(3 << 20)
    f.write_bytes(data)
    assert sha256_file(f) == hashlib.sha256(data).hexdigest()


def test_write_json_is_strict_json(tmp_path):
    """NaN and infinities are written as null, never as bare NaN (not JSON)."""
    import json
    import math

    from harness.core.io import write_json

    p = tmp_path / "x.json"
    write_json(p, {"a": float("nan"), "b": [1.5, float("inf")], "c": {"d": -math.inf}, "e": "NaN"})
    assert json.loads(p.read_text(), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c))) == {
        "a": None, "b": [1.5, None], "c": {"d": None}, "e": "NaN"}


def test_vic_table_shows_missing_values_as_dashes():
    from reports.markdown import vic_table

    effect = {"detail": {"n_records": 2, "values": {"vig_factual_accuracy": 50.0, "vic_factual_accuracy": None,
                                                     "diff_factual_accuracy": None, "changed": 50.0},
                         "ci95": {"diff_factual_accuracy": [None, 1.0]}}}
    row = vic_table(effect).splitlines()[2]
    assert "50.0 → – (– [–, +1.0])" in row and "| detail | 2 |" in row
