"""The package's layout: imports go one way between its parts (no cycle, so a newcomer can read
each part with only what is below it), and disentax modules are imported at module level only."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "disentax"
# Bottom to top. A part may import the parts before it in this list, never those after it.
LAYERS = [
    {"errors", "xla_flags"},
    {"distributions"},
    {"estimators"},
    {"data", "envs"},
    {"objectives", "control"},
    {"metrics"},
    {"models", "viz"},
    {"evaluation"},
    {"train"},
    {"methods"},
    {"config"},
    {"runner"},
    {"cli"},
]


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path, ast.parse(path.read_text())


def _targets(node, package):
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
    module = ".".join(base + ([node.module] if node.module else []))
    return [f"{module}.{a.name}" for a in node.names]


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(part: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if part in names)


def test_every_part_has_a_layer():
    parts = {_part(name) for name, _, _ in _modules()} - {""}
    assert parts == set().union(*LAYERS), parts ^ set().union(*LAYERS)


def test_imports_only_go_down_the_layers():
    wrong = []
    for name, path, tree in _modules():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        here = _part(name)
        for node in tree.body:
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _targets(node, package):
                there = _part(target)
                if target.startswith("disentax.") and there and here and there != here \
                        and _layer(there) > _layer(here):
                    wrong.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_no_function_level_imports_of_disentax_modules():
    # A function-level import would hide a cycle; the only reason for one is to defer a heavy
    # optional dependency, and those are third-party packages, not disentax modules.
    inner = []
    for name, path, tree in _modules():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                            t.startswith("disentax") for t in _targets(node, package)):
                        inner.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert not inner, inner
