"""The layout holds: no import cycle, every module in a layer, every module with its __all__.

The layers themselves are `.importlinter`'s contracts (scripts/test.sh runs lint-imports); the
test here runs them too, so a wrong-way import fails a plain `pytest` as well.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kea_fanvil"


def test_no_module_imports_itself_through_others() -> None:
    # grimp counts imports inside functions and under TYPE_CHECKING, as the contract does.
    graph = grimp.build_graph("kea_fanvil")
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module and graph.chain_exists(importer=imported, imported=module):
                cycles.append(f"{module} -> {imported} -> ... -> {module}")
    assert cycles == []


def test_the_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is a dev dependency (pip install -e .[dev])"
    done = subprocess.run(
        [lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_lists_its_public_names(path: Path) -> None:
    tree = ast.parse(path.read_text())
    names = [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]
    is_package_doc = path.name == "__init__.py" and len(tree.body) == 1  # a docstring only
    if path.name == "__main__.py" or is_package_doc:
        return
    assert "__all__" in names, f"{path.relative_to(ROOT)} has no __all__"


def test_the_c_sources_ship_inside_the_package() -> None:
    # `kea-fanvil hook build` from a wheel needs them (tests/test_wheel.py builds one).
    src = resources.files("kea_fanvil").joinpath("kea_hook/src")
    assert src.joinpath("Makefile").is_file()
    assert src.joinpath("fanvil_callouts.cc").is_file()


@pytest.mark.parametrize(
    "module", ["kea_fanvil.wire.sip", "kea_fanvil.wire.dhcp", "kea_fanvil.errors"]
)
def test_a_wire_module_loads_no_policy(module: str) -> None:
    # A leaf or wire module costs what it imports: not pydantic, the policy or the engine.
    code = (
        f"import json, sys, {module}; "
        "print(json.dumps([m for m in sys.modules if m.startswith(('pydantic', 'kea_fanvil.'))]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = json.loads(done.stdout)
    assert not any(m.startswith("pydantic") for m in loaded), loaded
    assert not {"kea_fanvil.engine", "kea_fanvil.policy"} & set(loaded), loaded
