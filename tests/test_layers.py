"""The package's layers (docs/design.md): each package imports only the layers below it, so
the device side (models, sampling, train) never depends on the host-side pipeline and pure SQL
code never depends on JAX."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "spft_jax"

# What each package (or top-level module) may import from the project, besides itself.
ALLOWED = {
    "errors": set(),
    "cli": {"errors"},
    "config_schema": {"errors"},
    "token_prefix": set(),
    "shape_buckets": set(),
    "sql": {"errors"},
    "synthesis": {"errors", "sql"},
    "demo": {"errors", "sql"},
    "data": {"errors", "cli", "config_schema", "demo", "sql"},
    "parallel": {"errors"},
    "models": {"errors", "parallel"},
    "sampling": {"errors", "models", "parallel", "shape_buckets", "token_prefix"},
    "train": {"errors", "models", "parallel", "shape_buckets", "token_prefix"},
    "pipeline": {"errors", "config_schema", "data", "models", "parallel", "sampling", "sql",
                 "synthesis", "train"},
    "evaluate": {"cli", "demo", "errors", "sql"},
    "generate": {"cli", "errors", "models", "sampling"},
    "main": {"cli", "errors", "parallel", "pipeline"},
}


def _imports(path: pathlib.Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("spft_jax."):
            yield node.lineno, node.module.split(".")[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("spft_jax."):
                    yield node.lineno, alias.name.split(".")[1]


def test_every_package_imports_only_the_layers_below_it():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts == ("__init__.py",):
            continue
        layer = parts[0] if len(parts) > 1 else path.stem
        assert layer in ALLOWED, f"{layer}: a new package or module; give it its place in ALLOWED"
        for line, target in _imports(path):
            if target != layer and target not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(ROOT.parent)}:{line} ({layer} imports {target})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)
