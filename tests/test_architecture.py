"""The package layout is the pipeline: layers import only downwards, and nothing imports in a
cycle (not even through imports hidden inside functions).

Layers, lowest first (ARCHITECTURE.md):
config/findings < io < contracts < panel < demo < models < inference < designs < report < cli.
A module may import from its own layer or lower ones.  The graph is read statically (every
``import``/``from ... import`` anywhere in a module, including inside functions), so a cycle
fails here even when it would only bite at run time.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "evaluation"
LAYERS = [
    {"config", "findings", "compute"},
    {"io"},
    {"contracts"},
    {"panel"},
    {"demo"},
    {"models"},
    {"inference"},
    {"designs"},
    {"report"},
    {"cli"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
MAX_MODULE_LINES = 600


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """Every project module that ``name`` imports (resolved to the longest known module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != "evaluation" and t != name:
                found.add(t)
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: imports_of(p, m, known) for m, p in mods.items()}


def test_every_module_belongs_to_a_layer():
    loose = [m for m in modules() if m not in ("evaluation", "evaluation.__main__")]
    assert [m for m in loose if layer_of(m) not in RANK] == []


def test_layers_import_only_downwards():
    bad = []
    for mod, deps in graph().items():
        if layer_of(mod) not in RANK:
            continue
        for dep in deps:
            if RANK.get(layer_of(dep), -1) > RANK[layer_of(mod)]:
                bad.append(f"{mod} imports {dep}")
    assert bad == []


def find_cycles(g: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for dep in sorted(g.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*stack[stack.index(dep) :], dep]))
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_import_cycles():
    assert find_cycles(graph()) == []


def test_the_checks_can_fail(tmp_path):
    """A planted upward import is resolved and ranked above its importer; a planted cycle is found."""
    a = tmp_path / "fake.py"
    a.write_text(
        "from evaluation.cli import main\n\ndef f():\n    from evaluation.panel import build\n"
    )
    deps = imports_of(a, "evaluation.io.fake", {"evaluation.cli", "evaluation.panel.build"})
    assert deps == {"evaluation.cli", "evaluation.panel.build"}
    assert RANK[layer_of("evaluation.cli")] > RANK[layer_of("evaluation.io.fake")]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a -> b -> c -> a"]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("name", sorted(m for m in modules() if m != "evaluation.__main__"))
def test_every_module_imports(name):
    importlib.import_module(name)


def test_modules_are_small_enough_to_read():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
