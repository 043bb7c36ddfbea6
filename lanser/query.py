"""Query commands as library calls: resolve the target, ask the server, shape the answer.

The answer of every query is one JSON object: ``op``, ``server`` (name, version),
``target`` (for positional queries: the resolved path, line, col, the selector as
given, the method that resolved it and its confidence) and the op's facts
(``locations``, ``hover``, ``symbols``, ``calls`` or ``files``), each list sorted
in the order documented in :mod:`lanser.lsp.facts`.
"""

from __future__ import annotations

from typing import Any

from lanser.lsp.client import query
from lanser.lsp.registry import ServerSpec
from lanser.workspace import Workspace


def position_query(workspace: Workspace, spec: ServerSpec, op: str, loc: str, *,
                   timeout: float, use_daemon: bool = True, **extra: Any) -> dict[str, Any]:
    """A query at a location (``path:line:col`` or a selector)."""
    from lanser.selectors import resolve_target

    target = resolve_target(workspace, loc, threshold=workspace.config.confidence_threshold)
    request = {"op": op, "path": workspace.relative(target.path),
               "line": target.position.line, "col": target.position.col, **extra}
    answer = query(workspace, spec, request, timeout=timeout, use_daemon=use_daemon)
    return {"op": op, "target": target.to_json(workspace), **answer}


def file_query(workspace: Workspace, spec: ServerSpec, op: str, *, timeout: float,
               use_daemon: bool = True, **request: Any) -> dict[str, Any]:
    """A query that takes files or a string rather than a location."""
    answer = query(workspace, spec, {"op": op, **request}, timeout=timeout,
                   use_daemon=use_daemon)
    return {"op": op, **answer}


def diagnostics_summary(files: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"error": 0, "warning": 0, "information": 0, "hint": 0, "not_ready": 0}
    for entry in files:
        if entry["status"] != "ready":
            counts["not_ready"] += 1
        for diag in entry["diagnostics"]:
            counts[diag["severity"]] = counts.get(diag["severity"], 0) + 1
    return counts
