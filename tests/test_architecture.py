"""The package's layers as docs/architecture.md draws them: every import in paperlib/ (function-level ones too)
goes down a layer or stays in its own, no modules import each other in a cycle, and nothing in paperlib/ is a test
or benchmark tool."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "paperlib"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def module_name(path: Path) -> str:
    """``paperlib/al/session.py`` -> ``paperlib.al.session``; a package's ``__init__.py`` is the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file (relative or absolute; ``from . import x``
    counts as importing module ``x`` when there is one, else the package)."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                head = ".".join(base + ([node.module] if node.module else []))
            else:
                head = node.module or ""
            targets = [f"{head}.{a.name}" if f"{head}.{a.name}" in known else head for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # paperlib.store.runs.RoundRow -> paperlib.store.runs
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def layers() -> dict[str, int]:
    """``top-level name -> layer`` from the table in docs/architecture.md (the root package is layer 0)."""
    text = ARCHITECTURE.read_text()
    table = text.split("<!-- layers:", 1)[1].split("\n\n", 1)[0]
    out = {"paperlib": 0}
    for row in table.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if cells and cells[0].isdigit():
            for name in re.findall(r"`([^`]+)`", cells[1]):
                out[f"paperlib.{name}"] = int(cells[0])
    return out


def layer_of(module: str, table: dict[str, int]) -> int:
    """A module's layer: its top-level name's; a ``__main__`` (``python -m paperlib.al``) is a launcher, on top."""
    if module.endswith(".__main__"):
        return max(table.values())
    top = ".".join(module.split(".")[:2])
    if top not in table:
        pytest.fail(f"{module}: its top-level name {top} is in no layer of {ARCHITECTURE.name}")
    return table[top]


def test_every_top_level_module_has_a_layer():
    table = layers()
    tops = {".".join(m.split(".")[:2]) for m in modules()}
    assert tops == set(table), (sorted(tops - set(table)), sorted(set(table) - tops))


def test_imports_go_down_the_layers():
    table = layers()
    upward = [f"{m} (layer {layer_of(m, table)}) imports {t} (layer {layer_of(t, table)})"
              for m, targets in graph().items() for t in sorted(targets) if layer_of(t, table) > layer_of(m, table)]
    assert upward == []


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    for start in sorted(g):
        if start in index:
            continue
        work = [(start, iter(sorted(g[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_the_cycle_check_finds_a_cycle():
    """The check itself: a back-edge through a function-level import is a cycle."""
    g = graph()
    g["paperlib.core.metrics"] = g["paperlib.core.metrics"] | {"paperlib.engine.train"}
    assert any("paperlib.core.metrics" in c and "paperlib.engine.train" in c for c in cycles(g))


def test_imports_are_read_inside_functions_too(tmp_path: Path):
    src = tmp_path / "paperlib" / "x" / "m.py"
    src.parent.mkdir(parents=True)
    src.write_text("def f():\n    from ..y import z\n    from . import n\n")
    known = {"paperlib", "paperlib.x", "paperlib.x.m", "paperlib.x.n", "paperlib.y", "paperlib.y.z"}
    assert imports("paperlib.x.m", src, known) == {"paperlib.y.z", "paperlib.x.n"}


def test_no_third_level_of_packages_and_no_tools_in_the_library():
    deep = [p for p in PACKAGE.rglob("*.py") if len(p.relative_to(PACKAGE).parts) > 2]
    assert deep == []
    tools = [p.name for p in PACKAGE.rglob("*.py") if re.match(r"(bench|lab_|readme_tables|conftest|test_)", p.name)]
    assert tools == []


def test_the_layer_table_names_every_subpackage_in_the_module_map():
    text = ARCHITECTURE.read_text()
    module_map = text.split("## Where things live", 1)[1].split("\n## ", 1)[0]
    for pkg in sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py")):
        row = next((r for r in module_map.splitlines() if r.startswith(f"| `{pkg}` |")), None)
        assert row is not None, pkg
        named = set(re.findall(r"`(\w+)`", row.split("|")[2]))
        on_disk = {p.stem for p in (PACKAGE / pkg).glob("*.py") if p.stem not in ("__init__", "__main__")}
        assert on_disk <= named, (pkg, sorted(on_disk - named))
