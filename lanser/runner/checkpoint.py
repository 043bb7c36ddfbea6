"""Checkpoint credit for programs that are not tests: how far did the script get?

The deterministic counterpart of sprinkling progress prints through a program: the
AST pass of :mod:`lanser.runner.probes` inserts a probe call after each *checkpoint*
(every top-level statement, a top-level ``if __name__ == "__main__":`` block expanded
into its statements) and one at the entry of every top-level function (evidence of
what ran, not counted in the credit). lanser runs the pass here to count checkpoints
and reject a syntax error; the sandbox child runs the same pass on the same source and
compiles the tree itself (line numbers are the script's), then executes it as
``__main__`` with the script's folder first on ``sys.path``, as ``python script.py``
would. Probes append signed lines to the events file with unbuffered writes, so
progress survives ``os._exit`` and kills; a probe counts only when called from one of
the inserted call sites (see :mod:`lanser.runner.channel`), and only indexes below
the number of checkpoints count.

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
from lanser.runner.probes import instrument_tree
from lanser.runner.run import root_of
from lanser.runner.sandbox import Limits, Sandbox


def instrument(source: str, filename: str = "<script>") -> tuple[ast.Module, int]:
    """The instrumented tree and its number of checkpoints (a syntax error is bad input)."""
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as exc:
        raise UsageError(f"{filename}: syntax error: {exc.msg} (line {exc.lineno})",
                         code="syntax_error") from None
    return tree, instrument_tree(tree)


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
    with Sandbox(root, rev=rev, python=python, limits=limits, isolation=isolation,
                 warm="script") as box:
        target = (box.copy / script).resolve()
        if box.copy not in target.parents or not target.is_file():
            raise UsageError(f"{script}: no such script in the snapshot", code="missing_file")
        rel = target.relative_to(box.copy).as_posix()
        _tree, total = instrument(target.read_text(encoding="utf-8"), rel)
        child = box.run("script", list(args), deadline=time.monotonic() + timeout,
                        extra={"script": str(target)})
        roots = (str(box.copy), str(box.dir))
    probes = [e for e in child.events if e.get("e") == "probe"]
    reached = len({e["index"] for e in probes if e.get("kind") == "stmt"
                   and isinstance(e.get("index"), int) and 0 <= e["index"] < total})
    functions = tuple(sorted({e["name"] for e in probes if e.get("kind") == "enter"}))
    timed_out = child.killed is not None
    status = None if timed_out else child.returncode
    return ScriptResult(rel, status, total, reached, functions,
                        checkpoint_credit(reached, total, status == 0), timed_out,
                        normalize_message(child.output, roots) or "",
                        {"copy_seconds": box.copy_seconds,
                         "run_seconds": time.perf_counter() - start})
