"""The one query planner: a query in, the server request it needs and its answer out.

A *query* is JSON (it crosses the daemon's socket): ``{"op": NAME, ...}`` with the
op's place — ``loc`` (a selector, resolved here) or an already resolved ``path``,
``line``, ``col``; ``path`` for ``symbols``; ``paths`` for ``diagnostics``; ``query``
for ``workspace-symbols`` — and the op's options (``include_declaration``,
``incoming``). :func:`plan` turns it into a :class:`Plan`; :func:`run_queries` runs
plans on a warm or fresh :class:`~lanser.lsp.service.LanguageService` (the daemon,
the in-process path and an episode's observer all call it), so every path gives the
same bytes.

The answer of every query is one JSON object: ``op``, ``server`` (name, version),
``target`` for a query given a ``loc`` (resolved path, line, col, the selector as
given, the method that resolved it and its confidence) and the op's facts
(``locations``, ``hover``, ``symbols``, ``calls`` or ``files`` plus ``summary``), each
list sorted in the order documented in :mod:`lanser.lsp.facts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lanser.errors import UsageError
from lanser.lsp.service import LanguageService
from lanser.queries.execute import Facts, execute
from lanser.queries.ops import Op, diagnostics_summary, get_op, request
from lanser.selectors import resolve_target
from lanser.workspace import Workspace

Query = dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """One query, planned: its op, the server request, and the target JSON (if a LOC)."""

    op: Op
    request: dict[str, Any]
    target: dict[str, Any] | None = None

    def compose(self, facts: Facts, server: dict[str, Any]) -> dict[str, Any]:
        """The query's answer (the CLI's JSON) from the server's facts."""
        out: dict[str, Any] = {"op": self.op.name, **facts.to_json(),
                               "server": {"name": server["name"],
                                          "version": server["version"]}}
        if self.op.kind == "diagnostics":
            out["summary"] = diagnostics_summary(out["files"])
        if self.target is not None:
            out["target"] = self.target
        return out


def plan(workspace: Workspace, query: Query) -> Plan:
    """The server request behind ``query`` (a selector in ``loc`` is resolved here)."""
    if not isinstance(query, dict):
        raise UsageError("a query is a JSON object", code="bad_request")
    op = get_op(query.get("op"))
    if op.where == "query":
        return Plan(op, request(op, query=str(query.get("query") or "")))
    if op.where == "files":
        # a folder means its Python files (issue 15, defect 7); sorted, once each
        paths = sorted({n for p in query.get("paths") or [] for n in workspace.python_paths(p)})
        return Plan(op, request(op, paths=paths))
    if op.where == "file":
        given = _text(query, "path")
        path = workspace.relative(workspace.check_python(workspace.resolve_file(given), given))
        return Plan(op, request(op, path=path))
    if query.get("loc") is None:  # already resolved (a bundle's recorded target)
        path = workspace.relative(workspace.resolve_file(_text(query, "path")))
        return Plan(op, request(op, path=path, line=_int(query, "line"),
                                col=_int(query, "col"), options=query))
    target = resolve_target(workspace, _text(query, "loc"),
                            threshold=workspace.config.confidence_threshold)
    workspace.check_python(target.path)
    return Plan(op, request(op, path=workspace.relative(target.path),
                            line=target.position.line, col=target.position.col,
                            options=query),
                target.to_json(workspace))


async def run_queries(service: LanguageService, workspace: Workspace, queries: list[Query], *,
                      timeout: float | None = None) -> list[dict[str, Any]]:
    """Plan and answer ``queries`` on ``service``, in order; their answers."""
    plans = [plan(workspace, query) for query in queries]
    answers = []
    for step in plans:
        facts = await execute(service, step.request, timeout=timeout)
        answers.append(step.compose(facts, service.server_info()))
    return answers


def facts_of(op_name: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The op's facts in a query's answer (what a bundle records of it)."""
    key = get_op(op_name).facts
    return {key: answer[key]}


def _text(query: Query, key: str) -> str:
    value = query.get(key)
    if not isinstance(value, str) or not value:
        raise UsageError(f"query {query.get('op')!r} needs {key!r} (a string)",
                         code="bad_request")
    return value


def _int(query: Query, key: str) -> int:
    value = query.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"query {query.get('op')!r} needs {key!r} (an integer)",
                         code="bad_request")
    return value
