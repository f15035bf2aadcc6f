"""The direction of imports drawn in docs/architecture.md, checked on the source: the domain
app never reaches up into the apps that listen to it, and models import no layer above them."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package → packages it must never import (directly or inside a function)
FORBIDDEN = {
    "mqaflow": {"plays", "integrations", "config"},
    "plays": {"integrations", "config"},
    "integrations": {"config"},
}
# modules below the services in every app
MODELS = ["mqaflow/models", "plays/models.py", "integrations/models.py"]
ABOVE_MODELS = {"services", "selectors", "tasks", "views", "admin", "api", "receivers"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def sources(top: str) -> list[Path]:
    base = ROOT / top
    files = [base] if base.is_file() else sorted(base.rglob("*.py"))
    return [f for f in files if "migrations" not in f.parts]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_an_app_never_imports_the_apps_above_it(package):
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sources(package)
        for line, module in imported_modules(path)
        if module.split(".")[0] in FORBIDDEN[package]
    ]
    assert wrong == []


def test_models_import_no_layer_above_them():
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for top in MODELS
        for path in sources(top)
        for line, module in imported_modules(path)
        if module.split(".")[0] in FORBIDDEN and set(module.split(".")[1:2]) & ABOVE_MODELS
    ]
    assert wrong == []
