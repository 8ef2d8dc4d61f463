"""A stage's code fingerprint: the import closure of its module, imports inside functions included."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from harness.core import code


def _clear() -> None:
    for f in (code._packages, code.module_file, code._direct, code.import_closure, code.code_fingerprint):
        f.cache_clear()


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A throwaway project root with one package, `toypkg`."""
    pkg = tmp_path / "toypkg"
    pkg.mkdir()
    files = {
        "__init__.py": '"""A package."""\n',
        "stage.py": "import json\n\n\ndef run():\n    from toypkg.helper import twice  # lazy, still counted\n    return twice(1)\n",
        "helper.py": "from toypkg import (\n    base,\n)\n\n\ndef twice(x):\n    return 2 * base.ONE * x\n",
        "base.py": "ONE = 1\n",
        "unrelated.py": "X = 0\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(textwrap.dedent(text), encoding="utf-8")
    monkeypatch.setattr(code, "ROOT", tmp_path)
    _clear()
    yield pkg
    _clear()


def test_closure_follows_lazy_and_parenthesised_imports(project: Path) -> None:
    assert code.import_closure("toypkg.stage") == ("toypkg", "toypkg.base", "toypkg.helper", "toypkg.stage")


def test_fingerprint_changes_with_imported_code_only(project: Path) -> None:
    before = code.code_fingerprint("toypkg.stage")
    (project / "unrelated.py").write_text("X = 1\n", encoding="utf-8")
    _clear()
    assert code.code_fingerprint("toypkg.stage") == before
    (project / "base.py").write_text("ONE = 2\n", encoding="utf-8")
    _clear()
    assert code.code_fingerprint("toypkg.stage") != before


def test_plugin_package_counts_with_every_registered_module(project: Path) -> None:
    (project / "__init__.py").write_text('from harness.core.registry import Registry\nTHINGS = Registry("thing", '
                                         '"toypkg")\n', encoding="utf-8")
    (project / "_private.py").write_text("", encoding="utf-8")
    _clear()
    closure = code.import_closure("toypkg")
    assert {"toypkg.base", "toypkg.helper", "toypkg.stage", "toypkg.unrelated"} <= set(closure)
    assert "toypkg._private" not in closure  # the registry does not import it either


def test_study_stages_do_not_count_display_or_report_code() -> None:
    _clear()
    for stage in ("world", "lm", "foundation", "data", "vigc", "finetune", "bench", "quality", "pretrained"):
        closure = code.import_closure(f"harness.stages.{stage}")
        assert not [m for m in closure if m.startswith(("reports", "harness.cli", "harness.study", "harness.api",
                                                        "harness.core.rich_progress", "harness.lm_eval_bridge"))], stage
    bench = code.import_closure("harness.stages.bench")
    assert {"benchmarks.pope", "benchmarks.mmbench", "benchmarks.chair", "harness.stages.predict"} <= set(bench)
    assert "harness.quality.metrics" in code.import_closure("harness.stages.quality")
