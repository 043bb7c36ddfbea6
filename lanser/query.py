"""Query commands as library calls: plan the server requests, then compose the answer.

A :class:`Plan` holds the JSON requests a command needs and how to shape their
answers; the CLI runs it through :func:`lanser.lsp.client.query_batch` (daemon or
in-process) and the daemon runs it on its warm servers, so both give the same
bytes. The answer of every query is one JSON object: ``op``, ``server`` (name,
version), ``target`` for positional queries (resolved path, line, col, the
selector as given, the method that resolved it and its confidence) and the op's
facts (``locations``, ``hover``, ``symbols``, ``calls`` or ``files`` plus
``summary``), each list sorted in the order documented in :mod:`lanser.lsp.facts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lanser.errors import UsageError
from lanser.severities import NAMES
from lanser.workspace import Workspace

#: Commands that act at a location, and the extra request fields each accepts.
POSITIONAL = {
    "definition": (), "declaration": (), "type-definition": (), "implementation": (),
    "references": ("include_declaration",), "hover": (), "calls": ("incoming",),
}
COMMANDS = (*POSITIONAL, "symbols", "workspace-symbols", "diagnostics")

Answers = list[dict[str, Any]]


@dataclass(frozen=True)
class Plan:
    requests: Answers
    compose: Callable[[Answers, dict[str, Any]], dict[str, Any]]


def plan(workspace: Workspace, command: str, args: dict[str, Any]) -> Plan:
    """The requests for ``command`` with ``args`` (``loc``, ``path``, ``paths``, ...)."""
    if command in POSITIONAL:
        return _positional(workspace, command, args)
    if command == "symbols":
        path = workspace.relative(workspace.check_python(
            workspace.resolve_file(args["path"]), args["path"]))
        return _simple(command, {"op": "symbols", "path": path})
    if command == "workspace-symbols":
        return _simple(command, {"op": "workspace-symbols", "query": args.get("query", "")})
    if command == "diagnostics":
        # a folder means its Python files (issue 15, defect 7); sorted, once each
        paths = sorted({n for p in args.get("paths") or [] for n in workspace.python_paths(p)})

        def compose(answers: Answers, server: dict[str, Any]) -> dict[str, Any]:
            out = _wrap(command, answers[0], server)
            out["summary"] = diagnostics_summary(out["files"])
            return out

        return Plan([{"op": "diagnostics", "paths": paths}], compose)
    raise UsageError(f"unknown query command {command!r}", code="bad_request")


def _positional(workspace: Workspace, command: str, args: dict[str, Any]) -> Plan:
    from lanser.selectors import resolve_target

    target = resolve_target(workspace, args["loc"],
                            threshold=workspace.config.confidence_threshold)
    workspace.check_python(target.path)
    request = {"op": command, "path": workspace.relative(target.path),
               "line": target.position.line, "col": target.position.col}
    request.update({k: args[k] for k in POSITIONAL[command] if k in args})
    target_json = target.to_json(workspace)

    def compose(answers: Answers, server: dict[str, Any]) -> dict[str, Any]:
        return {**_wrap(command, answers[0], server), "target": target_json}

    return Plan([request], compose)


def _simple(command: str, request: dict[str, Any]) -> Plan:
    return Plan([request], lambda answers, server: _wrap(command, answers[0], server))


def _wrap(command: str, answer: dict[str, Any], server: dict[str, Any]) -> dict[str, Any]:
    return {"op": command, **answer,
            "server": {"name": server["name"], "version": server["version"]}}


def run(workspace: Workspace, spec: Any, command: str, args: dict[str, Any], *,
        timeout: float, use_daemon: bool = True) -> dict[str, Any]:
    """Plan, ask (daemon or in-process) and compose: the whole query, synchronously."""
    from lanser.lsp.client import query_batch

    steps = plan(workspace, command, args)
    answers, server = query_batch(workspace, spec, steps.requests, timeout=timeout,
                                  use_daemon=use_daemon)
    return steps.compose(answers, server)


def diagnostics_summary(files: list[dict[str, Any]]) -> dict[str, int]:
    counts = {**dict.fromkeys(NAMES, 0), "not_ready": 0}
    for entry in files:
        if entry["status"] != "ready":
            counts["not_ready"] += 1
        for diag in entry["diagnostics"]:
            counts[diag["severity"]] = counts.get(diag["severity"], 0) + 1
    return counts
