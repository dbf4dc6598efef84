"""The layer order of folk.layers holds: no module under python/folk imports a later pipeline
stage — at the top of the file, inside a function, or through importlib with a literal name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from folk import layers

PACKAGE_DIR = Path(layers.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def resolve(name: str) -> str:
    """The module an imported name refers to: the longest folk module it starts with
    (``from folk.ops import extensions`` imports ``folk.ops.extensions``)."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def folk_imports(module: str, path: Path) -> list[tuple[int, str]]:
    """``(line, imported folk module)`` for every import in the file, nested ones included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names = [node.args[0].value]
        for name in names:
            if name == "folk" or name.startswith("folk."):
                found.append((node.lineno, resolve(name)))
    return found


def test_every_module_has_a_layer():
    for module in MODULES:
        layers.layer_of(module)  # raises KeyError naming the module


def test_no_module_imports_a_later_layer():
    violations = []
    for module, path in MODULES.items():
        position, layer = layers.layer_of(module)
        for line, imported in folk_imports(module, path):
            their_position, their_layer = layers.layer_of(imported)
            if their_position > position:
                violations.append(
                    f"{path.relative_to(PACKAGE_DIR.parent)}:{line}: {module} imports {imported}: "
                    f"layer '{layer}' may not import the later layer '{their_layer}' "
                    "(order in folk.layers.LAYERS)")
    assert not violations, "upward imports:\n" + "\n".join(violations)


@pytest.mark.parametrize(("importer", "imported", "allowed"), [
    ("folk.distill.trainer", "folk.student.model", True),
    ("folk.distill.trainer", "folk.predict.predictor", False),
    ("folk.data.vocabulary", "folk.synthetic.config", False),
    ("folk.ops.visibility", "folk.errors", True),
    ("folk.predict.cli", "folk.evaluation.evaluator", True),  # the app layer wires anything
    ("folk.teacher.views_cli", "folk.ops.visibility", True),
    ("folk.evaluation.evaluator", "folk.predict.instances", True),
    ("folk.evaluation.evaluator", "folk.cli", False),
])
def test_the_rule_itself(importer, imported, allowed):
    assert layers.may_import(importer, imported) is allowed


def test_the_walker_sees_imports_inside_functions(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from folk.predict.predictor import x\n"
                    "    import importlib\n    importlib.import_module('folk.cli')\n")
    assert folk_imports("folk.distill.probe", path) == [(2, "folk.predict.predictor"),
                                                        (4, "folk.cli")]
