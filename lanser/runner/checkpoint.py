"""Checkpoint credit for programs that are not tests: how far did the script get?

The deterministic counterpart of sprinkling progress prints through a program: an
AST pass inserts a probe call after each *checkpoint* — every top-level statement
of the script, with a top-level ``if __name__ == "__main__":`` block expanded into
its own statements (that is where scripts do their work) — and one at the entry of
every top-level function (evidence of what ran, not counted in the credit). The
instrumented program runs in the same sandbox as tests; the probes append to the
events file with unbuffered writes, so progress survives ``os._exit`` and kills.

Credit: 1 for a clean exit (status 0), else completed checkpoints / checkpoints,
capped below 1 (see ``rewards/CREDIT.md``). Parsing untrusted source is safe in the
lanser process; executing it happens only in the sandbox.
"""

from __future__ import annotations

import ast
import time
from dataclasses import dataclass, field
from typing import Any

from lanser.errors import UsageError
from lanser.runner.credit import Credit, checkpoint_credit
from lanser.runner.outcomes import normalize_message
from lanser.runner.run import root_of
from lanser.runner.sandbox import Limits, Sandbox

PROBE = "__lanser_probe__"


def _probe(kind: str, index: int, name: str, at: ast.stmt) -> ast.stmt:
    call = ast.Expr(ast.Call(ast.Name(PROBE, ast.Load()),
                             [ast.Constant(kind), ast.Constant(index), ast.Constant(name)], []))
    return ast.copy_location(call, at)


def _is_main_guard(node: ast.stmt) -> bool:
    test = getattr(node, "test", None)
    return (isinstance(node, ast.If) and isinstance(test, ast.Compare)
            and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__"
                    for c in test.comparators))


def instrument(source: str, filename: str = "<script>") -> tuple[str, int]:
    """The instrumented source and its number of checkpoints."""
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as exc:
        raise UsageError(f"{filename}: syntax error: {exc.msg} (line {exc.lineno})",
                         code="syntax_error") from None
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
    ast.fix_missing_locations(tree)
    return ast.unparse(tree), counter


@dataclass(frozen=True)
class ScriptResult:
    path: str
    exit_status: int | None
    checkpoints: int
    reached: int
    functions: tuple[str, ...]
    credit: Credit
    timed_out: bool = False
    output: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "exit_status": self.exit_status,
                "checkpoints": self.checkpoints, "reached": self.reached,
                "functions_entered": list(self.functions), "timed_out": self.timed_out,
                "credit": self.credit.decimal, "credit_ppm": self.credit.ppm,
                "evidence": self.credit.evidence}


def run_script(workspace: Any, script: str, *, args: tuple[str, ...] = (),
               rev: str | None = None, timeout: float = 60.0, memory_mb: int = 4096,
               python: str | None = None, isolation: str = "auto") -> ScriptResult:
    """Run ``script`` (workspace-relative) instrumented, in a sandbox; credit its progress."""
    root = root_of(workspace)
    limits = Limits(test_timeout=timeout, run_timeout=timeout, memory_mb=memory_mb)
    start = time.perf_counter()
    with Sandbox(root, rev=rev, python=python, limits=limits, isolation=isolation) as box:
        target = (box.copy / script).resolve()
        if box.copy not in target.parents or not target.is_file():
            raise UsageError(f"{script}: no such script in the snapshot", code="missing_file")
        rel = target.relative_to(box.copy).as_posix()
        source, total = instrument(target.read_text(encoding="utf-8"), rel)
        instrumented = box.dir / "instrumented.py"
        instrumented.write_text(source, encoding="utf-8")
        child = box.run("script", list(args), deadline=time.monotonic() + timeout,
                        extra={"script": str(target), "instrumented": str(instrumented)})
        roots = (str(box.copy), str(box.dir))
    probes = [e for e in child.events if e.get("e") == "probe"]
    reached = len({e["index"] for e in probes if e.get("kind") == "stmt"})
    functions = tuple(sorted({e["name"] for e in probes if e.get("kind") == "enter"}))
    timed_out = child.killed is not None
    status = None if timed_out else child.returncode
    return ScriptResult(rel, status, total, reached, functions,
                        checkpoint_credit(reached, total, status == 0), timed_out,
                        normalize_message(child.output, roots) or "",
                        {"copy_seconds": box.copy_seconds,
                         "run_seconds": time.perf_counter() - start})
