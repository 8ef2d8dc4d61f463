"""Atomic file writes, JSON/JSONL I/O of typed records, and content hashes.

Every file a stage writes goes through `atomic_write*`: it is written to a temporary name in
the same directory and renamed, so a killed process never leaves a half-written file that a
later stage would read.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

from pydantic import BaseModel, ValidationError

from harness.core.errors import BadInput, MissingResource, excerpt

R = TypeVar("R", bound=BaseModel)
UTF8_BOM = b"\xef\xbb\xbf"


@functools.cache
def _file_mode() -> int:
    """0o666 less the process umask (read once: setting the umask to read it is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, fsync: bool = False) -> None:
    """Write `data` to `path` atomically (temp file + rename).

    The rename alone protects against a killed process; `fsync` also protects against a
    power cut and is used for manifests, whose existence vouches for everything else.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # under /dev/null, a folder that is a file, no permission: name the target
        raise BadInput(f"{path}: cannot write there ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        # mkstemp creates the file 0600; give it the mode a plain open() would have, so a
        # shared cache or a served report stays readable by others.
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_atomic_temp(path: Path) -> bool:
    """Whether `path` is the temporary file of an `atomic_write*` that was killed mid-write."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def atomic_write_text(path: str | os.PathLike[str], text: str, fsync: bool = False) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), fsync)


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the form that hashes are taken of."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def strict_json_value(obj: Any) -> Any:
    """`obj` with NaN and infinities as None: Python writes them as bare NaN, which is not JSON
    and which other readers (browsers, jq, pandas' strict mode) reject."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: strict_json_value(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json_value(v) for v in obj]
    return obj


def write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 1, fsync: bool = False) -> None:
    """Write `obj` as strict JSON atomically (non-finite numbers become null)."""
    text = json.dumps(strict_json_value(obj), indent=indent, ensure_ascii=False, allow_nan=False)
    atomic_write_text(path, text + "\n", fsync)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small containers that hold no cycles.

    Parsing a 75 MB annotation file makes millions of dicts; with the collector on, its
    repeated passes over them took half of the parse time (1.1 s -> 0.6 s without). On the way
    out everything young is moved to the oldest generation (freeze, then unfreeze), or the next
    young-generation pass would walk those millions of objects once more.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file; a missing or malformed file is a `BadInput` naming it."""
    path = Path(path)
    if not path.is_file():
        raise MissingResource(f"{path}: file not found")
    import orjson  # strict JSON (no NaN / Infinity, no lone surrogates) and 1.5x the stdlib's speed

    try:
        data = path.read_bytes()
    except OSError as e:
        raise BadInput(f"{path}: cannot be read ({e.strerror or e})") from None
    data = data.removeprefix(UTF8_BOM)  # RFC 8259 lets a parser ignore one; editors on Windows write it
    try:
        with gc_paused():
            return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise BadInput(f"{path}: not valid JSON ({str(e)[:200]})") from None


def to_jsonl(rows: Iterable[BaseModel | dict[str, Any]]) -> str:
    """Serialise records or dicts as JSON lines (one per line, keys in declaration order)."""
    out = []
    for r in rows:
        # by_alias: fields named after Python keywords or clashing names (`schema_`, `from_`)
        # are written under their declared names (`schema`, `from`).
        d = r.model_dump(mode="json", by_alias=True) if isinstance(r, BaseModel) else r
        out.append(json.dumps(d, ensure_ascii=False))
    return "".join(line + "\n" for line in out)


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[BaseModel | dict[str, Any]]) -> None:
    """Write records as JSONL atomically."""
    atomic_write_text(path, to_jsonl(rows))


def _jsonl_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-empty line; errors name the file and line."""
    if not path.is_file():
        raise MissingResource(f"{path}: file not found")
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            if lineno == 1:
                raw = raw.removeprefix(UTF8_BOM)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise BadInput(f"{path}:{lineno}: not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise BadInput(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict):
                raise BadInput(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def iter_jsonl_dicts(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield each non-empty line of a JSONL file as a dict; errors name the file and line."""
    for _, obj in _jsonl_lines(Path(path)):
        yield obj


def read_jsonl(path: str | os.PathLike[str], model: type[R]) -> list[R]:
    """Read a JSONL file into typed records; a line that does not validate is a `BadInput`
    naming the file and line."""
    return [_validated(model, d, f"{path}:{lineno}", "(record)") for lineno, d in _jsonl_lines(Path(path))]


def validate_items(path: str | os.PathLike[str], items: Any, model: type[R], what: str) -> list[R]:
    """A JSON list read from `path` as typed records; not a list, or an item that does not
    validate, is a `BadInput` naming the file and the first bad item (`what` names the list)."""
    if not isinstance(items, list):
        raise BadInput(f"{path}: expected a JSON list of {what}")
    return [_validated(model, d, f"{path}: item {i}", "(item)") for i, d in enumerate(items)]


def _validated(model: type[R], d: Any, where: str, whole: str) -> R:
    """`d` as a `model` record; else a `BadInput` at `where` with the first error's field
    (`whole` when the error is about the value as a whole)."""
    try:
        return model.model_validate(d)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or whole
        raise BadInput(f"{where}: {loc}: {err['msg']}") from None


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hash_obj(obj: Any) -> str:
    """Hex SHA-256 of the canonical JSON of `obj`."""
    return sha256_bytes(canonical_json(obj).encode("utf-8"))
