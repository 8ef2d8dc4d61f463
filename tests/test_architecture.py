"""The layers of DESIGN §4 hold: the import-linter contracts in pyproject.toml pass, and no
module imports itself through others (imports inside functions included)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert len(contracts) >= 3
    assert {"layers", "forbidden", "acyclic_siblings"} <= {c["type"] for c in contracts}
    lint = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert f"{len(contracts)} kept, 0 broken" in r.stdout


def test_no_module_imports_itself_through_others() -> None:
    """Module-level cycles, which acyclic_siblings only sees between siblings of one package."""
    import grimp

    graph = grimp.build_graph("harness", "generators", "benchmarks", "reports", cache_dir=None)
    cycles = []
    for m in sorted(graph.modules):
        for dep in graph.find_modules_directly_imported_by(m):
            # A cycle through m and dep: dep reaches m again (imports in functions count).
            if dep != m and graph.chain_exists(importer=dep, imported=m) and not _package_link(m, dep):
                cycles.append((m, dep))
    assert not cycles, cycles[:10]


def _package_link(a: str, b: str) -> bool:
    # A package's __init__ "importing" its own submodule (or the reverse) is how Python packages
    # work, not a cycle between modules.
    return a.startswith(b + ".") or b.startswith(a + ".")
