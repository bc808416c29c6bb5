"""The import graph of the product code, measured: what the Architecture section promises.

    .venv/bin/python -m tools.import_graph [ROOT]

Prints the module cycles (strongly connected groups of modules), the pairs of packages that
import each other, the import edges that run up the layers (README "Architecture"), and the
largest modules. ROOT defaults to the checkout; pointing it at an older checkout (a ``git
worktree``) measures the layout before the re-layering, whose packages were the top-level
folders.
"""

from __future__ import annotations

import argparse
import ast
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

LAYERS = (
    ("safer.scheduler",),
    ("safer.app",),
    ("safer.alerts",),
    ("safer.indicators",),
    ("safer.checks", "safer.pipelines"),
    ("safer.store",),
    ("safer.kernel",),
)
"""Top first, as in ``.importlinter``; packages in one row may not import each other."""
OLD_TOPS = ("safer", "pipelines", "checks", "indicators", "alerts", "scheduler")

Graph = dict[str, set[str]]


def modules(root: Path) -> dict[str, Path]:
    """Module name → file, for the new namespace (``safer/``, symlinks followed) or, when the
    checkout predates it, the old top-level packages."""
    found: dict[str, Path] = {}
    new = (root / "safer" / "kernel").is_dir()
    tops = ("safer",) if new else OLD_TOPS
    for top in tops:
        single = root / f"{top}.py"
        if single.is_file():
            found[top] = single
        for path in _python_files(root / top):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _python_files(folder: Path) -> list[Path]:
    """Every module under ``folder``, following the stage symlinks inside ``safer/``."""
    found = []
    for where, _, files in os.walk(folder, followlinks=True):
        if "__pycache__" not in where:
            found += [Path(where) / f for f in files if f.endswith(".py")]
    return sorted(found)


def graph(found: Mapping[str, Path]) -> Graph:
    """Module → the project's modules it imports (anywhere in the file)."""
    edges: Graph = defaultdict(set)
    for name, path in found.items():
        for target in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            while target and target not in found:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges[name].add(target)
    return edges


def _imported(tree: ast.AST) -> Iterable[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def cycles(edges: Graph) -> list[list[str]]:
    """Groups of modules that reach each other (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                item = stack.pop()
                on.discard(item)
                group.append(item)
                if item == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(set(edges) | {t for ts in edges.values() for t in ts}):
        if node not in index:
            visit(node)
    return groups


def package(module: str) -> str:
    """``safer.app.job`` → ``safer.app``; before the re-layering, ``pipelines.db`` →
    ``pipelines`` and ``safer.config`` → ``safer``."""
    parts = module.split(".")
    layered = len(parts) > 1 and parts[0] == "safer" and parts[1] in _SUBPACKAGES
    return ".".join(parts[:2]) if layered else parts[0]


_SUBPACKAGES = {name.split(".")[1] for row in LAYERS for name in row}


def two_way(edges: Graph) -> list[tuple[str, str]]:
    pairs = {(package(a), package(b)) for a, bs in edges.items() for b in bs}
    pairs = {(a, b) for a, b in pairs if a != b}
    return sorted((a, b) for a, b in pairs if (b, a) in pairs and a < b)


def upward(edges: Graph) -> list[tuple[str, str]]:
    """Edges from a layer to one above it, or between siblings of one row."""
    row = {pkg: i for i, names in enumerate(LAYERS) for pkg in names}
    found = []
    for source, targets in edges.items():
        for target in targets:
            a, b = row.get(package(source)), row.get(package(target))
            if a is None or b is None or package(source) == package(target):
                continue
            if b < a or (a == b):
                found.append((source, target))
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path, default=Path(__file__).parent.parent)
    root = parser.parse_args().root
    found = modules(root)
    edges = graph(found)
    print(f"{len(found)} modules, {sum(map(len, edges.values()))} import edges")
    print(f"module cycles: {len(cycles(edges))}", *[" → ".join(c) for c in cycles(edges)])
    print(f"packages importing each other: {len(two_way(edges))}", *two_way(edges))
    if (root / "safer" / "kernel").is_dir():
        up = upward(edges)
        print(f"edges running up the layers: {len(up)}", *[f"{a} → {b}" for a, b in up])
    sizes = sorted(((len(p.read_text().splitlines()), n) for n, p in found.items()), reverse=True)
    print("largest modules:", ", ".join(f"{name} {lines}" for lines, name in sizes[:3]))


if __name__ == "__main__":
    main()
