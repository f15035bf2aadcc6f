"""The direction of imports drawn in docs/architecture.md, checked on the source: the domain
app never reaches up into the apps that listen to it, and models import no layer above them."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package → packages it must never import (directly or inside a function)
FORBIDDEN = {
    "mqaflow": {"plays", "integrations", "tuning", "config"},
    "plays": {"integrations", "tuning", "config"},
    "integrations": {"tuning", "config"},
    "tuning": {"integrations", "config"},
}
# The models of every app, and what they may import of the project: other models, the
# signals they send and the validators their fields use; nothing that builds on models.
MODELS = ["mqaflow/models", "plays/models.py", "integrations/models.py", "tuning/models"]
BELOW_MODELS = {"models", "signals", "validation"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module the file imports, relative imports resolved to their full name."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = list(path.relative_to(ROOT).with_suffix("").parts)[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            if node.module is None:  # `from . import x`: each name is a module
                found += [
                    (node.lineno, ".".join(filter(None, [module, a.name]))) for a in node.names
                ]
            else:
                found.append((node.lineno, module))
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
        if module.split(".")[0] in FORBIDDEN and not set(module.split(".")[1:2]) <= BELOW_MODELS
    ]
    assert wrong == []


def test_relative_imports_are_resolved_to_the_module_they_name(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    models = tmp_path / "plays" / "models.py"
    models.parent.mkdir()
    models.write_text("from .services import x\nfrom . import selectors\nfrom .. import y\n")
    assert [m for _, m in imported_modules(models)] == ["plays.services", "plays.selectors", "y"]
