"""A small decorator registry: duplicate names are errors, unknown names list close matches."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from typing import Callable, Generic, TypeVar

from harness.core.errors import MissingResource

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to registered objects of one kind (benchmarks, generators, ...).

    `package` is imported lazily on first lookup so that every module of the package
    registers itself; adding a benchmark is adding one file.
    """

    def __init__(self, kind: str, package: str | None = None) -> None:
        self.kind = kind
        self.package = package
        self._items: dict[str, T] = {}
        self._loaded = package is None

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register the decorated object under `name`."""

        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"duplicate {self.kind} name {name!r}")
            self._items[name] = obj
            return obj

        return deco

    def _load(self) -> None:
        if self._loaded:
            return
        pkg = importlib.import_module(self.package)  # type: ignore[arg-type]
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")
        # Marked loaded only now: a module that failed to import fails again on the next
        # lookup, instead of leaving a silently partial registry ("unknown benchmark").
        self._loaded = True

    def get(self, name: str) -> T:
        """Return the object registered as `name`; an unknown name raises with close matches."""
        self._load()
        if name not in self._items:
            close = difflib.get_close_matches(name, list(self._items), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            known = ", ".join(sorted(self._items))
            raise MissingResource(f"unknown {self.kind} {name!r}{hint} (known: {known})")
        return self._items[name]

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load()
        return sorted(self._items)
