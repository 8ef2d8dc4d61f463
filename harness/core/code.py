"""What a piece of code can run: a module's import closure within this project, and its hash.

A stage's cache key includes the hash of the source of every module its function's module
imports, directly or through others, imports inside functions included; so editing a
generator, template, model or scorer recomputes the stages that run it, and nothing else (a
report template or the CLI is in no stage's closure). A plugin package (one whose `__init__`
builds a `Registry` of its own modules, e.g. `benchmarks`) counts with all its modules, as the
registry imports them by name, and with the modules outside packages register through its
entry points.

Imports are read from the source text, not executed, and generously: an import statement in a
string or a docstring counts too. Over-counting only recomputes more than needed; missing an
import would reuse outputs of old code.
"""

from __future__ import annotations

import hashlib
import re
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|.*(?:\\\n.*)*)", re.MULTILINE)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+(.*(?:\\\n.*)*)", re.MULTILINE)
_REGISTRY = re.compile(r"Registry\(([^)]*)\)")
_QUOTED = re.compile(r"""["']([\w.]+)["']""")
_GROUP = re.compile(r"""entry_points\s*=\s*["']([\w.]+)["']""")


@lru_cache(maxsize=1)
def _packages() -> frozenset[str]:
    """This project's top-level packages (folders beside `harness` with an `__init__.py`)."""
    return frozenset(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file())


@lru_cache(maxsize=None)
def module_file(name: str) -> Path | None:
    """The source file of module `name`: in this project, else as imported (tests, scripts)."""
    if name.split(".")[0] in _packages():
        base = ROOT.joinpath(*name.split("."))
        for f in (base.with_suffix(".py"), base / "__init__.py"):
            if f.is_file():
                return f
        return None
    mod = sys.modules.get(name)
    f = getattr(mod, "__file__", None)
    return Path(f).resolve() if f else None


def _is_module(name: str) -> bool:
    return name.split(".")[0] in _packages() and module_file(name) is not None


def _resolve(importer: str, is_package: bool, text: str) -> set[str]:
    """Project modules named by the import statements of `text` (the source of `importer`)."""
    found: set[str] = set()
    for m in _IMPORT.finditer(text):
        for part in m.group(1).replace("\\\n", " ").split(","):
            found.add(part.split()[0] if part.split() else "")
    for m in _FROM.finditer(text):
        base = m.group(1)
        if base.startswith("."):
            level = len(base) - len(base.lstrip("."))
            parts = importer.split(".")[: len(importer.split(".")) - level + (1 if is_package else 0)]
            base = ".".join(parts + ([base.lstrip(".")] if base.lstrip(".") else []))
        found.add(base)
        for name in m.group(2).strip("()").replace("\\\n", " ").split(","):
            words = name.split()
            if words:
                found.add(f"{base}.{words[0]}")  # `from pkg import module` imports a module
    out = set()
    for name in found:
        # Importing a.b.c runs a/__init__ and a/b/__init__ too.
        parts = name.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1) if _is_module(".".join(parts[:i])))
    return out


def _registry_extras(package: str, text: str) -> set[str]:
    """A plugin package's own modules (its registry imports them by name) and its entry-point modules."""
    out: set[str] = set()
    for call in _REGISTRY.findall(text):
        if package not in _QUOTED.findall(call):
            continue
        folder = ROOT.joinpath(*package.split("."))
        out.update(f"{package}.{f.stem}" for f in folder.glob("*.py") if not f.stem.startswith("_"))
        group = _GROUP.search(call)
        if group:
            from importlib.metadata import entry_points

            out.update(f"ep:{ep.module}" for ep in entry_points(group=group.group(1)))
    return out


@lru_cache(maxsize=None)
def import_closure(module: str) -> tuple[str, ...]:
    """`module` and every project module it imports, directly or not, sorted.

    Names `ep:<module>` stand for modules of installed plugins (not followed further).
    """
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name.startswith("ep:"):
            continue
        todo.extend(_direct(name) - seen)
    return tuple(sorted(seen))


@lru_cache(maxsize=None)
def _direct(name: str) -> frozenset[str]:
    """The modules `name` imports itself (and, for a plugin package, its registry's modules)."""
    f = module_file(name)
    if f is None:
        return frozenset()
    text = f.read_text(encoding="utf-8")
    out = _resolve(name, f.name == "__init__.py", text)
    if f.name == "__init__.py":
        out |= _registry_extras(name, text)
    return frozenset(out)


def _file_of(name: str) -> Path | None:
    if name.startswith("ep:"):
        from importlib.util import find_spec

        try:
            spec = find_spec(name[3:])
        except (ImportError, ValueError):
            return None
        return Path(spec.origin) if spec is not None and spec.origin else None
    return module_file(name)


@lru_cache(maxsize=None)
def code_fingerprint(module: str) -> str:
    """Hash of the source of `module`'s import closure (file paths and bytes), once per process."""
    h = hashlib.sha256()
    for name in import_closure(module):
        f = _file_of(name)
        if f is None:
            continue
        try:
            shown = f.relative_to(ROOT).as_posix()
        except ValueError:
            shown = f.as_posix()
        h.update(shown.encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()
