"""The registry: duplicates are errors, unknown names list close matches, packages load lazily."""

from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from harness.core.errors import MissingResource, PluginError
from harness.core.registry import Registry


def test_register_and_get() -> None:
    reg: Registry = Registry("benchmark")

    @reg.register("pope")
    class Pope:
        pass

    assert reg.get("pope") is Pope
    assert reg.names() == ["pope"]
    # Registering the same object again (a module re-imported) is harmless.
    reg.register("pope")(Pope)
    assert reg.get("pope") is Pope


def test_duplicate_name_raises() -> None:
    reg: Registry = Registry("benchmark")
    reg.register("pope")(object())
    with pytest.raises(PluginError, match="duplicate benchmark name 'pope'"):
        reg.register("pope")(object())


def test_unknown_name_lists_close_matches() -> None:
    reg: Registry = Registry("benchmark")
    for name in ("pope", "mmbench", "okvqa", "aokvqa", "scienceqa"):
        reg.register(name)(name)
    with pytest.raises(MissingResource) as e:
        reg.get("okvq")
    msg = str(e.value)
    assert "unknown benchmark 'okvq'" in msg and "did you mean okvqa, aokvqa" in msg
    assert "known: aokvqa, mmbench, okvqa, pope, scienceqa" in msg
    with pytest.raises(MissingResource) as e:
        reg.get("zzz")
    assert "did you mean" not in str(e.value) and "known:" in str(e.value)
    # Never a substring match.
    with pytest.raises(MissingResource):
        reg.get("po")


_counter = itertools.count()


@pytest.fixture()
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A throwaway package `<name>` on sys.path whose modules register into `<name>.THINGS`."""
    name = f"_vigc_test_pkg_{next(_counter)}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text(textwrap.dedent(f"""
        from harness.core.registry import Registry
        THINGS = Registry("thing", {name!r})
    """), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, root
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]


def module(root: Path, file: str, body: str) -> None:
    (root / file).write_text(f"from {root.name} import THINGS\n" + textwrap.dedent(body), encoding="utf-8")


def test_package_modules_register_themselves_lazily(package: tuple[str, Path]) -> None:
    name, root = package
    module(root, "alpha.py", """
        @THINGS.register("alpha")
        def alpha(): return "a"
    """)
    module(root, "beta.py", """
        @THINGS.register("beta")
        def beta(): return "b"
    """)
    module(root, "_private.py", """
        @THINGS.register("private")
        def private(): return "p"
    """)
    pkg = __import__(name)
    assert f"{name}.alpha" not in sys.modules  # nothing imported until a lookup
    assert pkg.THINGS.get("beta")() == "b"
    assert pkg.THINGS.names() == ["alpha", "beta"]
    with pytest.raises(MissingResource):
        pkg.THINGS.get("private")


def test_failed_module_import_is_not_hidden(package: tuple[str, Path]) -> None:
    name, root = package
    flag = root / "ready.flag"
    module(root, "alpha.py", """
        @THINGS.register("alpha")
        def alpha(): return "a"
    """)
    module(root, "broken.py", f"""
        import pathlib
        if not pathlib.Path({str(flag)!r}).exists():
            raise ImportError("missing optional dependency")

        @THINGS.register("gamma")
        def gamma(): return "g"
    """)
    pkg = __import__(name)
    with pytest.raises(ImportError, match="missing optional dependency"):
        pkg.THINGS.get("gamma")
    # The next lookup tries again instead of answering from a partial registry.
    with pytest.raises(ImportError):
        pkg.THINGS.get("alpha")
    flag.write_text("", encoding="utf-8")
    assert pkg.THINGS.get("gamma")() == "g"
    assert pkg.THINGS.names() == ["alpha", "gamma"]


def test_registered_object_must_subclass_the_base() -> None:
    reg: Registry = Registry("benchmark", base="benchmarks.base:Benchmark")
    with pytest.raises(PluginError, match=r"benchmark 'odd' .* is not a subclass of benchmarks\.base\.Benchmark"):
        reg.register("odd")(type("Odd", (), {}))


class _EntryPoint:
    def __init__(self, name: str, value: object, error: Exception | None = None) -> None:
        self.name, self.value, self._obj, self._error = name, f"plugin_pkg:{name}", value, error

    def load(self) -> object:
        if self._error is not None:
            raise self._error
        return self._obj


def _entry_points(monkeypatch: pytest.MonkeyPatch, eps: list[_EntryPoint]) -> None:
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: eps if group == "vigc_test.things" else [])


def test_entry_points_register_under_their_name(monkeypatch: pytest.MonkeyPatch) -> None:
    class Thing:
        pass

    _entry_points(monkeypatch, [_EntryPoint("outside", Thing)])
    reg: Registry = Registry("thing", entry_points="vigc_test.things")
    assert reg.get("outside") is Thing and reg.names() == ["outside"]


def test_broken_entry_point_is_one_plugin_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _entry_points(monkeypatch, [_EntryPoint("broken", None, ModuleNotFoundError("No module named 'torchx'"))])
    reg: Registry = Registry("thing", entry_points="vigc_test.things")
    with pytest.raises(PluginError, match="thing plugin 'broken' .*failed to import: ModuleNotFoundError"):
        reg.names()


def test_entry_point_of_the_wrong_class_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _entry_points(monkeypatch, [_EntryPoint("notabench", dict)])
    reg: Registry = Registry("benchmark", entry_points="vigc_test.things", base="benchmarks.base:Benchmark")
    with pytest.raises(PluginError, match="not a subclass"):
        reg.get("notabench")
