"""Seeded bug mutations over Python's syntax tree (SWE-smith style), as minimal text edits.

Each :class:`Mutant` changes one span of a file's bytes: the sites are found with
``ast`` (positions are UTF-8 byte offsets, used as such), and only that span is
rewritten, so formatting and comments elsewhere stay as they were. The operators:

- ``flip_comparison``: ``<`` ↔ ``>=``, ``>`` ↔ ``<=``, ``==`` ↔ ``!=``, ``in`` ↔ ``not in``,
  ``is`` ↔ ``is not``;
- ``off_by_one``: an integer in a comparison, a subscript or a ``range()`` call, plus
  one and minus one; a strict bound made inclusive and back (``<`` ↔ ``<=``, ``>`` ↔ ``>=``);
- ``negate_condition``: an ``if``/``while``/conditional expression's test, negated;
- ``swap_arguments``: a call's first two positional arguments swapped;
- ``drop_statement``: an assignment or call statement in a function body made ``pass``;
- ``remove_guard``: an ``if`` whose whole body is a ``raise`` or ``return`` made ``pass``;
- ``return_early``: a function's last ``return X`` made ``return None``... only when
  ``X`` is not already ``None``;
- ``replace_identifier``: a local variable read in a function replaced by the most
  similar other name bound in the same function (its parameters and assignments;
  :func:`similar`), the slip of a wrong variable.

Nothing inside an f-string is mutated (its inner positions are not reliable before
Python 3.12). A mutant may still not compile (``synth`` rejects it as ``syntax``).

:func:`mutants` lists every mutant of a source in position order, the same on every
run; :func:`sample` picks ``count`` of them (spread over the operators) with a
seeded generator keyed by the file's path, so the same seed gives the same mutants
anywhere.
"""

from __future__ import annotations

import ast
import difflib
import random
from dataclasses import dataclass

OPERATORS = ("flip_comparison", "off_by_one", "negate_condition", "swap_arguments",
             "drop_statement", "remove_guard", "return_early", "replace_identifier")

_FLIP = {ast.Lt: ("<", ">="), ast.GtE: (">=", "<"), ast.Gt: (">", "<="),
         ast.LtE: ("<=", ">"), ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="),
         ast.In: ("in", "not in"), ast.NotIn: ("not in", "in"), ast.Is: ("is", "is not"),
         ast.IsNot: ("is not", "is")}
#: the bound's edge moved by one: strict <-> inclusive
_EDGE = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="),
         ast.GtE: (">=", ">")}


@dataclass(frozen=True)
class Mutant:
    """One edit of ``path``: bytes ``start:end`` (``old``) become ``new``."""

    operator: str
    path: str
    line: int
    start: int
    end: int
    old: str
    new: str

    def apply(self, source: bytes) -> bytes:
        return source[:self.start] + self.new.encode("utf-8") + source[self.end:]

    def key(self) -> str:
        return f"{self.operator}:{self.path}:{self.start}:{self.end}:{self.new}"

    def diffs(self, source: bytes) -> tuple[str, str]:
        """The bug (clean -> mutant) and its inverse, the reference patch, as unified
        diffs ``git apply`` takes."""
        mutated = self.apply(source)
        return unified_diff(self.path, source, mutated), unified_diff(self.path, mutated, source)


class _Sites:
    def __init__(self, path: str, source: bytes) -> None:
        self.path, self.source = path, source
        self.starts = [0]
        for line in source.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))
        self.found: list[Mutant] = []

    def offset(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self.offset(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def text(self, start: int, end: int) -> str:
        return self.source[start:end].decode("utf-8")

    def add(self, operator: str, node: ast.AST, start: int, end: int, new: str) -> None:
        old = self.text(start, end)
        if new != old:
            self.found.append(Mutant(operator, self.path, node.lineno,  # type: ignore[attr-defined]
                                     start, end, old, new))


def unified_diff(path: str, old: bytes, new: bytes) -> str:
    """A unified diff of one file that ``git apply`` takes."""
    lines = difflib.unified_diff(old.decode("utf-8").splitlines(keepends=True),
                                 new.decode("utf-8").splitlines(keepends=True),
                                 f"a/{path}", f"b/{path}", n=3)
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)
    return f"diff --git a/{path} b/{path}\n{text}" if text else ""


def mutants(path: str, source: bytes) -> list[Mutant]:
    """Every mutant of ``source`` (module docstring), in position order (then operator,
    then new text)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    sites = _Sites(path, source)
    skip = {id(n) for s in ast.walk(tree) if isinstance(s, ast.JoinedStr)
            for n in ast.walk(s)}
    for node in ast.walk(tree):
        if id(node) not in skip:
            _visit(sites, node, skip)
    return sorted(sites.found,
                  key=lambda m: (m.start, m.end, OPERATORS.index(m.operator), m.new))


def _visit(sites: _Sites, node: ast.AST, skip: set[int]) -> None:
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _FLIP:
        start, end = sites.span(node.left)[1], sites.span(node.comparators[0])[0]
        between = sites.text(start, end)
        for operator, table in (("flip_comparison", _FLIP), ("off_by_one", _EDGE)):
            if type(node.ops[0]) in table:
                old, new = table[type(node.ops[0])]
                at = between.find(old)
                if at >= 0:
                    sites.add(operator, node, start + at, start + at + len(old), new)
        for side in (node.left, node.comparators[0]):
            _bump(sites, side)
    elif isinstance(node, ast.Subscript):
        for part in ((node.slice.lower, node.slice.upper) if isinstance(node.slice, ast.Slice)
                     else (node.slice,)):
            if part is not None:
                _bump(sites, part)
    elif isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id == "range":
            for arg in node.args:
                _bump(sites, arg)
        positional = node.args[:2]
        if len(positional) == 2 and not any(isinstance(a, ast.Starred) for a in positional):
            first, second = (sites.span(a) for a in positional)
            a, b = sites.text(*first), sites.text(*second)
            if a != b and first[1] <= second[0]:
                sites.add("swap_arguments", node, first[0], second[1],
                          b + sites.text(first[1], second[0]) + a)
    if isinstance(node, (ast.If, ast.While, ast.IfExp)):
        start, end = sites.span(node.test)
        sites.add("negate_condition", node, start, end, f"not ({sites.text(start, end)})")
    if isinstance(node, ast.If) and not node.orelse and len(node.body) == 1 \
            and isinstance(node.body[0], (ast.Raise, ast.Return)):
        start, end = sites.span(node)
        sites.add("remove_guard", node, start, end, "pass")
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        for stmt in node.body:
            if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)) or (
                    isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
                sites.add("drop_statement", stmt, *sites.span(stmt), "pass")
        last = node.body[-1]
        if isinstance(last, ast.Return) and last.value is not None and not (
                isinstance(last.value, ast.Constant) and last.value.value is None):
            sites.add("return_early", last, *sites.span(last), "return None")
        _rename(sites, node, skip)


def _bump(sites: _Sites, node: ast.AST) -> None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        for delta in (1, -1):
            sites.add("off_by_one", node, *sites.span(node), str(node.value + delta))


def _rename(sites: _Sites, function: ast.FunctionDef | ast.AsyncFunctionDef,
            skip: set[int]) -> None:
    """``replace_identifier`` at each read of a name bound in ``function`` (not in the
    functions or classes nested in it: they have their own scope)."""
    args = function.args
    bound = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs,
                             *(x for x in (args.vararg, args.kwarg) if x))}
    reads: list[ast.Name] = []
    for node in _own_nodes(function):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                bound.add(node.id)
            elif id(node) not in skip:
                reads.append(node)
    for node in reads:
        other = similar(node.id, bound)
        start, end = sites.span(node)
        if other is not None and node.id in bound and sites.text(start, end) == node.id:
            sites.add("replace_identifier", node, start, end, other)


def _own_nodes(function: ast.AST) -> list[ast.AST]:
    """The nodes of ``function``'s body outside nested scopes, in walk order."""
    found: list[ast.AST] = []
    todo: list[ast.AST] = list(function.body)  # type: ignore[attr-defined]
    while todo:
        node = todo.pop(0)
        found.append(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                 ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
                                 ast.GeneratorExp)):
            todo.extend(ast.iter_child_nodes(node))
    return found


def similar(name: str, names: set[str]) -> str | None:
    """The name of ``names`` most like ``name`` (difflib's ratio, then the name itself,
    so the choice never depends on a set's order); None when there is no other."""
    others = sorted(n for n in names if n != name)
    if not others:
        return None
    return max(others, key=lambda n: difflib.SequenceMatcher(None, name, n).ratio())


def sample(found: list[Mutant], count: int, seed: int) -> list[Mutant]:
    """``count`` of ``found`` (all when fewer), chosen by ``seed`` and the file path,
    spread over the operators: each operator's mutants are shuffled by the seeded
    generator and taken in turn (the operators' order shuffled too), so the
    plentiful ``replace_identifier`` sites do not crowd out the rest. Returned in
    position order."""
    if len(found) <= count:
        return list(found)
    rng = random.Random(f"{seed}:{found[0].path}")
    queues = []
    operators = list(OPERATORS)
    rng.shuffle(operators)
    for operator in operators:
        indices = [i for i, m in enumerate(found) if m.operator == operator]
        rng.shuffle(indices)
        queues.append(indices)
    chosen: list[int] = []
    while len(chosen) < count:
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return [found[i] for i in sorted(chosen)]
