"""One direction of dependencies: a module imports its own package or a floor below it, never
one above or beside it, and no two files import each other, directly or around a circle.

The floors, lowest first (docs/layers.md):
    core      configuration, settings, console helpers, the published run's layout
    features  ingestion, matching, point-in-time tables, features (pure functions)
    models    criteria, ranking, lists, watch list, domain labels (pure functions)
    flows | service | synth   the Prefect flows and publication | the web service | the generator
    zjtx      the command line: imports anything, imported by nothing

Every import counts, those inside functions and under TYPE_CHECKING too: a lazy import is
still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOORS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("features",),
    ("models",),
    ("flows", "service", "synth"),
    ("zjtx",),
)


def modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name → file, for every .py file of the packages under `root`."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _known(name: str, known: Mapping[str, Path]) -> str | None:
    """The longest prefix of `name` that is one of our modules (a name imported from a
    module is that module's)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, known: Mapping[str, Path]) -> list[tuple[int, str]]:
    """(line, module) for each of our modules that the file imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's package, up level - 1
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            module = _known(target, known)
            if module is not None and module != name:
                found.append((node.lineno, module))
    return found


def import_graph(root: Path, floors: tuple[tuple[str, ...], ...]) -> nx.DiGraph:
    """Our modules and their imports; each edge carries the line of its first import."""
    known = modules(root, [p for floor in floors for p in floor])
    graph = nx.DiGraph()
    graph.add_nodes_from(known)
    for name, path in known.items():
        for line, target in imports_of(name, path, known):
            if not graph.has_edge(name, target):
                graph.add_edge(name, target, line=line)
    return graph


def wrong_way_imports(graph: nx.DiGraph, floors: tuple[tuple[str, ...], ...]) -> list[str]:
    """`file:line: a -> b` for each import of a package on the same floor or one above."""
    floor_of = {package: level for level, floor in enumerate(floors) for package in floor}
    wrong = []
    for source, target, data in graph.edges(data=True):
        mine, theirs = source.split(".")[0], target.split(".")[0]
        if mine != theirs and floor_of[theirs] >= floor_of[mine]:
            wrong.append(f"{source.replace('.', '/')}.py:{data['line']}: {source} -> {target}")
    return sorted(wrong)


def import_circles(graph: nx.DiGraph) -> list[list[str]]:
    """The files that import each other, around a circle (each circle once)."""
    return [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]


def test_every_import_goes_down_a_floor_or_stays_in_its_package() -> None:
    assert wrong_way_imports(import_graph(ROOT, FLOORS), FLOORS) == []


def test_no_two_files_import_each_other() -> None:
    assert import_circles(import_graph(ROOT, FLOORS)) == []


def test_the_floor_imports_nothing_of_ours_and_nothing_imports_the_command() -> None:
    graph = import_graph(ROOT, FLOORS)
    core = [n for n in graph if n.split(".")[0] == "core"]
    assert {t.split(".")[0] for n in core for t in graph.successors(n)} <= {"core"}
    zjtx = [n for n in graph if n.split(".")[0] == "zjtx"]
    assert {s.split(".")[0] for n in zjtx for s in graph.predecessors(n)} <= {"zjtx"}


def _tree(root: Path, files: Mapping[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for package in {p.split("/")[0] for p in files}:
        (root / package / "__init__.py").touch()
    return root


@pytest.mark.parametrize(
    "line",
    [
        "import zjtx.cli\n",
        "from zjtx import cli\n",
        "from zjtx.cli import app\n",
        "def f():\n    from zjtx.cli import app\n",  # a lazy import is a dependency too
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from zjtx.cli import app\n",
    ],
)
def test_a_module_of_features_importing_zjtx_is_reported(tmp_path: Path, line: str) -> None:
    root = _tree(
        tmp_path,
        {"features/matching.py": line, "zjtx/cli.py": "import features.matching\napp = 1\n"},
    )
    wrong = wrong_way_imports(import_graph(root, FLOORS), FLOORS)
    assert len(wrong) == 1
    assert wrong[0].startswith("features/matching.py:") and wrong[0].endswith("-> zjtx.cli")


def test_siblings_on_one_floor_and_circles_are_reported(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "core/config.py": "",
            "flows/a.py": "import service.b\nfrom core import config\n",
            "service/b.py": "",
            "models/x.py": "from models import y\n",
            "models/y.py": "from . import z\n",
            "models/z.py": "import models.x\nimport core.config\n",
        },
    )
    graph = import_graph(root, FLOORS)
    assert wrong_way_imports(graph, FLOORS) == ["flows/a.py:1: flows.a -> service.b"]
    assert import_circles(graph) == [["models.x", "models.y", "models.z"]]
