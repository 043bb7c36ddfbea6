"""The house rules, checked on the code's own imports (issue 14).

Built from the AST of every module under ``lanser/`` (function-level and
``TYPE_CHECKING`` imports included: a lazy import is still a dependency):

- every module has a home: a pillar package, or one of the few foundation modules;
- imports run one way, down the layers of :data:`LAYERS` (nothing imports ``cli``;
  ``lsp`` imports nothing above it);
- there is no cycle between modules;
- the op vocabulary is written once (:mod:`lanser.queries.ops`).

Static analysis only: no server, no subprocess, well under a second.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "lanser"

#: Each unit's layer: a unit may import units of a *lower* layer only (and itself).
#: Units on the same layer are siblings that must not import each other.
LAYERS: dict[str, float] = {
    # foundation: no lanser imports but each other, in this order
    "errors": 0, "__init__": 0, "resources": 0, "canonical": 1, "pathtext": 1,
    "severities": 1, "positions": 1, "files": 1, "roots": 1, "findings": 1, "jsonio": 1,
    "userdirs": 1,
    "git": 2, "configfiles": 2,
    # which workspace configuration may start programs, then the loader that asks it
    "trust": 2.5, "config": 3,
    "workspace": 4,
    # the pillars
    "lsp": 5,
    "selectors": 6, "bundles": 6,
    "edits": 7, "runner": 7,
    "queries": 8,
    "rewards": 9,
    "tasks": 10,
    "episodes": 11,
    "scoring": 12, "gate": 12,
    "train": 13, "doctor": 13,
    # the Python SDK: a facade over every pillar (queries, edits, runner, episodes, gate)
    "sdk": 13,
    "cli": 14, "__main__": 15,
}


#: Known cycles, each a debt with its issue: nothing else may join this list.
KNOWN_CYCLES: list[list[str]] = []


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The lanser modules ``name`` imports (``from pkg import mod`` counts ``pkg.mod``)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            wanted = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if is_package else name.split(".")[:-1]
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            wanted = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                      for a in node.names]
        else:
            continue
        for target in wanted:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target.startswith("lanser") and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def unit(module: str) -> str:
    parts = module.split(".")
    name = "__init__" if len(parts) == 1 else parts[1]
    return name


def test_every_module_has_a_home() -> None:
    loose = sorted(m for m in MODULES if unit(m) not in LAYERS)
    assert not loose, f"modules outside any known layer: {loose} (give them a pillar)"


def test_imports_run_down_the_layers() -> None:
    upward = sorted(
        f"{source} -> {target}"
        for source, targets in GRAPH.items() for target in targets
        if unit(source) != unit(target)
        and LAYERS.get(unit(target), 99) >= LAYERS.get(unit(source), 99))
    assert not upward, "imports up (or across) the layers:\n" + "\n".join(upward)


def test_no_import_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert [c for c in cycles if c not in KNOWN_CYCLES] == [], f"import cycles: {cycles}"


def test_the_lsp_layer_starts_the_daemon_it_is_given() -> None:
    text = (PACKAGE / "lsp" / "daemon_client.py").read_text(encoding="utf-8")
    assert "lanser.queries" not in text and "lanser.warm" not in text


def test_the_op_vocabulary_is_written_once() -> None:
    """Outside the op table, no module writes a collection of query op names (the six
    lists of issue 14: a new op must not need edits in six files)."""
    from lanser.queries.ops import BUNDLE_OPS

    #: LSP's own capability names (``textDocument.definition``), not lanser's ops.
    protocol = {"lanser.queries.ops", "lanser.lsp.capabilities"}
    written = {}
    for name, path in MODULES.items():
        if name in protocol:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                items = node.elts
            elif isinstance(node, ast.Dict):
                items = [k for k in node.keys if k is not None]
            else:
                continue
            ops = {i.value for i in items if isinstance(i, ast.Constant) and i.value in BUNDLE_OPS}
            if len(ops) >= 2:
                written.setdefault(name, []).append(sorted(ops))
    assert len(BUNDLE_OPS) >= 10
    assert not written, f"op lists written outside lanser/queries/ops.py: {written}"


def test_the_checker_sees_a_real_upward_import() -> None:
    """The graph is not vacuous: known downward edges are found."""
    assert "lanser.lsp.service" in GRAPH["lanser.queries.execute"]
    assert "lanser.queries.ops" in GRAPH["lanser.cli.fast"]
    assert unit("lanser.cli.app") == "cli" and LAYERS["cli"] > LAYERS["lsp"]


#: The modules that may import an optional engine, and only inside a function (the
#: extra is imported when it is used, never by ``import lanser``).
ENGINES: dict[str, set[str]] = {"ray": {"lanser.scoring.ray_executor"}}


def test_optional_engines_are_imported_lazily_by_their_one_module() -> None:
    """Ray (issue 21) lives in lanser.scoring.ray_executor, imported inside functions;
    the executor module itself is reached only lazily (the Scorer's executor='ray')."""
    found: dict[str, list[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            for engine in set(roots) & set(ENGINES):
                where = "top" if id(node) in top else "lazy"
                found.setdefault(engine, []).append(f"{name}:{where}")
            if isinstance(node, ast.ImportFrom) and node.module in {
                    m for ms in ENGINES.values() for m in ms} and id(node) in top:
                found.setdefault("eager", []).append(name)
    assert sorted(found.get("ray", [])) and all(
        entry.endswith(":lazy") and entry.split(":")[0] in ENGINES["ray"]
        for entry in found["ray"]), found
    assert "eager" not in found, found
    assert "lanser.scoring.ray_executor" in GRAPH["lanser.scoring.scorer"]
    assert "lanser.git" in GRAPH["lanser.scoring.ray_executor"]
