"""The layout's promises, checked: no import cycles (function-level imports included),
one owner for the manifest's file name, and a no-op build's light import graph."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "policy_briefs"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every policy_briefs module ``path`` imports, wherever the import statement sits.

    Imports under ``if TYPE_CHECKING:`` are skipped: they never run.
    """
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text("utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("policy_briefs"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("policy_briefs"):
                continue
            # "from . import api" names a module; "from .x import y" names x (or x.y).
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _exists(candidate) else target)
    found.discard(name)
    return {m for m in found if _exists(m)}


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_counting_function_level_imports():
    graph = _graph()
    assert graph["policy_briefs.build"], "the import scan found nothing; it is broken"
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_manifest_file_name_has_one_owner():
    spelled = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if '"manifest.json"' in p.read_text("utf-8")
    ]
    assert spelled == ["manifest.py"]


@pytest.mark.parametrize(
    "module",
    [
        "policy_briefs.manifest",
        "policy_briefs.fingerprint",
        "policy_briefs.build",
        "policy_briefs.files",
    ],
)
def test_modules_of_the_no_op_build_import_nothing_heavy(module):
    heavy = {
        "policy_briefs.models",
        "policy_briefs.corpus",
        "policy_briefs.templating",
        "policy_briefs.pdf",
        "policy_briefs.selection",
        "policy_briefs.validate",
    }
    graph = _graph()
    # Module-level imports only: build.py may import the heavy stages inside functions.
    path = PACKAGE / (module.split(".", 1)[1].replace(".", "/") + ".py")
    tree = ast.parse(path.read_text("utf-8"))
    top = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            top.add(f"policy_briefs.{node.module}")
    assert not (top & heavy), f"{module} imports {top & heavy} at module level"
    assert module in graph
