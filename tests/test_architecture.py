"""The package's layers as docs/architecture.md draws them: every import in paperlib/ (function-level ones, and
modules imported by a name computed at run time) goes down a layer or stays in its own, no modules import each
other in a cycle, and nothing in paperlib/ is a test or benchmark tool."""

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


def _is_import_call(node: ast.AST) -> bool:
    """``importlib.import_module(...)``, ``import_module(...)`` or ``__import__(...)``."""
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    return (isinstance(f, ast.Attribute) and f.attr == "import_module") or (
        isinstance(f, ast.Name) and f.id in ("import_module", "__import__"))


def string_imports(path: Path) -> tuple[set[str], int]:
    """The modules a file imports by a constant string (``importlib.import_module("paperlib.x")``), and how many
    such calls compute their name at run time."""
    named, computed = set(), 0
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if _is_import_call(node) and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                named.add(arg.value)
            else:
                computed += 1
    return named, computed


def computed_targets() -> dict[str, set[str]]:
    """The package's modules imported by a computed name, by the module that imports them, read from the tables
    that compute them (the root's lazy API, the pipeline's, the command dispatcher's)."""
    import paperlib
    import paperlib.pipeline
    from paperlib.cli.main import COMMANDS

    return {"paperlib": {f"paperlib.{m}" for m in paperlib._API.values()},
            "paperlib.pipeline": {f"paperlib.pipeline.{m}" for m in paperlib.pipeline._API.values()},
            "paperlib.cli.main": {f"paperlib.cli.{m}" for m, _ in COMMANDS.values()},
            "paperlib.errors": set()}  # optional extras: other packages' modules (EXTRAS), none of ours


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    g = {name: imports(name, path, known) for name, path in mods.items()}
    for name, path in mods.items():
        g[name] |= {t for t in string_imports(path)[0] if t in known}
    for name, targets in computed_targets().items():
        g[name] |= targets
    return g


def test_modules_imported_by_a_computed_name_are_known():
    """Only the modules of :func:`computed_targets` import by a name computed at run time (so the graph holds every
    edge), each target is a module of the package, and the extras' modules are other packages'."""
    from paperlib.errors import EXTRAS

    computing = {name for name, path in modules().items() if string_imports(path)[1]}
    assert computing == set(computed_targets())
    known = set(modules())
    assert all(t in known for targets in computed_targets().values() for t in targets)
    assert not [m for m, *_ in EXTRAS.values() if m.split(".")[0] == "paperlib"]


def test_a_string_import_is_an_edge(tmp_path: Path):
    src = tmp_path / "m.py"
    src.write_text("import importlib\nimportlib.import_module('paperlib.engine.train')\n"
                   "importlib.import_module(f'paperlib.{x}')\n")
    assert string_imports(src) == ({"paperlib.engine.train"}, 1)


def layers() -> dict[str, int]:
    """``top-level name -> layer`` from the table in docs/architecture.md; the root package, whose names import on
    first use from every layer (``from paperlib import Learner``), is the API on top of them all."""
    text = ARCHITECTURE.read_text()
    table = text.split("<!-- layers:", 1)[1].split("\n\n", 1)[0]
    out = {}
    for row in table.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if cells and cells[0].isdigit():
            for name in re.findall(r"`([^`]+)`", cells[1]):
                out[f"paperlib.{name}"] = int(cells[0])
    out["paperlib"] = max(out.values())
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
