"""The checkpoint AST pass, standard library only: run by lanser and inside the sandbox.

lanser runs it to count a script's checkpoints (and report a syntax error); child.py
runs the very same pass on the same source (the sandbox copies this file next to the
plugin as ``_lanser_probes``) and compiles the instrumented tree itself, so the code
that runs keeps the script's own line numbers: tracebacks point at the script's lines.

A *checkpoint* is every top-level statement, with a top-level
``if __name__ == "__main__":`` block expanded into its own statements (that is where
scripts do their work); ``from __future__`` imports are not checkpoints. A probe call
``__lanser_probe__("stmt", <index>, <statement type>)`` follows each checkpoint, and
``__lanser_probe__("enter", <line>, <name>)`` opens every top-level function (evidence
of what ran, not credit). Each probe carries the location of the statement it marks.
"""

from __future__ import annotations

import ast
import types

PROBE = "__lanser_probe__"


def _probe(kind: str, index: int, name: str, at: ast.stmt) -> ast.stmt:
    call = ast.Expr(ast.Call(ast.Name(PROBE, ast.Load()),
                             [ast.Constant(kind), ast.Constant(index), ast.Constant(name)], []))
    for node in ast.walk(call):
        ast.copy_location(node, at)
    return call


def _is_main_guard(node: ast.stmt) -> bool:
    test = getattr(node, "test", None)
    return (isinstance(node, ast.If) and isinstance(test, ast.Compare)
            and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__"
                    for c in test.comparators))


def instrument_tree(tree: ast.Module) -> int:
    """Insert the probes into ``tree`` (in place); the number of checkpoints."""
    counter = 0

    def checkpoints(body: list[ast.stmt]) -> list[ast.stmt]:
        nonlocal counter
        out: list[ast.stmt] = []
        for node in body:
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                out.append(node)  # must stay first; not a checkpoint
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                entry = _probe("enter", node.lineno, node.name, node.body[0])
                docstring = (isinstance(node.body[0], ast.Expr)
                             and isinstance(node.body[0].value, ast.Constant)
                             and isinstance(node.body[0].value.value, str))
                node.body.insert(1 if docstring else 0, entry)
            if _is_main_guard(node):
                node.body = checkpoints(node.body)  # type: ignore[attr-defined]
                out.append(node)
                continue
            out.append(node)
            out.append(_probe("stmt", counter, type(node).__name__, node))
            counter += 1
        return out

    tree.body = checkpoints(tree.body)
    return counter


def instrumented_code(source: str, filename: str) -> tuple[types.CodeType, int]:
    """The script compiled with its probes, line numbers its own; SyntaxError as is."""
    tree = ast.parse(source, filename)
    total = instrument_tree(tree)
    return compile(tree, filename, "exec", dont_inherit=True), total
