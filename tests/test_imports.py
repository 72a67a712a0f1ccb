"""The package's imports form a one-way stack: no module imports, at any depth (function-local imports counted),
a module that imports it back."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "animegan_tf"


def import_graph(package: Path) -> dict[str, set[str]]:
    """{module: {package modules it imports anywhere in its body}} for every .py file under `package`."""
    root = package.name
    modules = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        is_init = parts[-1] == "__init__"
        if is_init:
            parts = parts[:-1]
        modules[".".join(parts)] = (path, is_init)
    graph = {}
    for name, (path, is_init) in modules.items():
        here = name.split(".") if is_init else name.split(".")[:-1]  # the package a relative import starts from
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                stem = ".".join(base + ([node.module] if node.module else []))
                # `from . import runs` names a module; `from .data import x` names a module's attribute.
                targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules else stem
                           for alias in node.names]
            else:
                continue
            edges |= {t for t in targets if t.split(".")[0] == root and t in modules and t != name}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state = {}  # 1 = on the current path, 2 = done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt, node]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert "animegan_tf.sampling" in graph["animegan_tf.training"]  # the graph sees the real imports
    assert "animegan_tf.web.folders" in graph["animegan_tf.cli"]  # function-local ones included
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_a_function_local_circle_is_found(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import thing\n")
    (pkg / "b.py").write_text("from . import c\n")
    (pkg / "c.py").write_text("def late():\n    from .sub.d import x\n")
    (pkg / "sub" / "d.py").write_text("def later():\n    from .. import a\n")
    cycle = find_cycle(import_graph(pkg))
    assert cycle is not None and cycle[0] == cycle[-1]
    assert set(cycle) == {"pkg.a", "pkg.b", "pkg.c", "pkg.sub.d"}
    (pkg / "sub" / "d.py").write_text("x = 1\n")
    assert find_cycle(import_graph(pkg)) is None
