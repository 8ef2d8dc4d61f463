"""A small decorator registry: duplicate names are errors, unknown names list close matches,
registered objects are checked against the kind's base class, and outside packages register
through entry points.

A plugin package declares, in its own `pyproject.toml`,

    [project.entry-points."vigc_bench.benchmarks"]
    my_bench = "my_package.my_bench:MyBench"

and once installed, `my_bench` is a benchmark like the built-in ones (`vigc_bench.generators`
for generators). An entry point may also name a module whose classes register themselves with
the decorator.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from types import ModuleType
from typing import Any, Callable, Generic, TypeVar

from harness.core.errors import MissingResource, PluginError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to registered objects of one kind (benchmarks, generators, ...).

    `package` is imported lazily on first lookup so that every module of the package registers
    itself; adding a benchmark is adding one file. `base` ("module:Class") is the class every
    registered object must subclass, resolved when the first object registers (the core layer
    names it without importing it). `entry_points` is the group outside packages register in.
    """

    def __init__(self, kind: str, package: str | None = None, base: str | None = None,
                 entry_points: str | None = None) -> None:
        self.kind = kind
        self.package = package
        self.base = base
        self.entry_points = entry_points
        self._items: dict[str, T] = {}
        self._loaded = package is None and entry_points is None

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register the decorated object under `name`."""

        def deco(obj: T) -> T:
            self._check_base(name, obj)
            if name in self._items and self._items[name] is not obj:
                raise PluginError(f"duplicate {self.kind} name {name!r}: {_where(self._items[name])} and {_where(obj)}")
            self._items[name] = obj
            return obj

        return deco

    def _check_base(self, name: str, obj: Any) -> None:
        if self.base is None:
            return
        mod, _, attr = self.base.partition(":")
        base = getattr(importlib.import_module(mod), attr)
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise PluginError(f"{self.kind} {name!r} ({_where(obj)}) is not a subclass of {base.__module__}.{attr}")

    def _load(self) -> None:
        if self._loaded:
            return
        if self.package is not None:
            pkg = importlib.import_module(self.package)
            for info in pkgutil.iter_modules(pkg.__path__):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{self.package}.{info.name}")
        if self.entry_points is not None:
            self._load_entry_points(self.entry_points)
        # Marked loaded only now: a module that failed to import fails again on the next
        # lookup, instead of leaving a silently partial registry ("unknown benchmark").
        self._loaded = True

    def _load_entry_points(self, group: str) -> None:
        from importlib.metadata import entry_points

        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            try:
                obj = ep.load()
            except Exception as e:  # a broken plugin is named, not a traceback from deep inside it
                raise PluginError(f"{self.kind} plugin {ep.name!r} (entry point {group}: {ep.value}) failed to "
                                  f"import: {type(e).__name__}: {e}") from e
            if not isinstance(obj, ModuleType):  # a module registers its classes by decorator
                self.register(ep.name)(obj)

    def get(self, name: str) -> T:
        """Return the object registered as `name`; an unknown name raises with close matches."""
        self._load()
        if name not in self._items:
            raise MissingResource(self.unknown(name))
        return self._items[name]

    def unknown(self, name: str) -> str:
        """The one-line message for an unknown `name`: close matches first, then every known name."""
        self._load()
        close = difflib.get_close_matches(name, list(self._items), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return f"unknown {self.kind} {name!r}{hint} (known: {', '.join(sorted(self._items))})"

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items


def _where(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"
