"""The layering rules of the design: engine is pure domain, connectors and reports never
import each other, and only nrr wires them together."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "engine": {"connectors", "reports", "nrr"},
    "connectors": {"reports", "nrr"},
    "reports": {"connectors", "nrr"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_layers_import_only_what_the_design_allows():
    violations = []
    for package, banned in FORBIDDEN.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            bad = imported_packages(path) & banned
            if bad:
                violations.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}")
    assert violations == []


def test_the_checker_sees_imports(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("import connectors.sync\nfrom reports.render import x\nfrom . import y\n")
    assert imported_packages(sample) == {"connectors", "reports"}
