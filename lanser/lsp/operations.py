"""The JSON request/response face of :class:`~lanser.lsp.service.LanguageService`.

One request shape for every query, so the in-process CLI path and the daemon run
the same code and give the same bytes::

    {"op": "definition", "path": "pkg/mod.py", "line": 3, "col": 5}
    {"op": "references", "path": ..., "line": ..., "col": ..., "include_declaration": true}
    {"op": "calls", "path": ..., "line": ..., "col": ..., "incoming": true}
    {"op": "symbols", "path": ...}
    {"op": "workspace-symbols", "query": "Cache"}
    {"op": "diagnostics", "paths": ["a.py"]}          # [] or absent: the whole workspace

Paths are workspace-relative (or absolute inside the workspace); positions are
1-based code points. The answer is the op's facts, e.g. ``{"locations": [...]}``.
``timeout`` (seconds per server request, the caller's ``--timeout``) travels beside
the requests, not in them: one limit for the whole batch.
"""

from __future__ import annotations

from typing import Any

from lanser.errors import UsageError
from lanser.lsp.service import LOCATION_METHODS, LanguageService
from lanser.positions import Position

QUERY_OPS = (*LOCATION_METHODS, "references", "hover", "symbols", "workspace-symbols",
             "calls", "diagnostics")


async def execute(service: LanguageService, request: dict[str, Any], *,
                  timeout: float | None = None) -> dict[str, Any]:
    op = request.get("op")
    ws = service.workspace
    if op not in QUERY_OPS:
        raise UsageError(f"unknown operation {op!r}", code="bad_request")
    if op == "workspace-symbols":
        symbols = await service.workspace_symbols(str(request.get("query", "")),
                                                  timeout=timeout)
        return {"symbols": [s.to_json() for s in symbols]}
    if op == "diagnostics":
        paths = [ws.resolve_file(p) for p in request.get("paths") or []]
        files = await service.diagnostics(paths or None, timeout=timeout)
        return {"files": [f.to_json() for f in files]}
    path = ws.resolve_file(request["path"])
    if op == "symbols":
        return {"symbols": [s.to_json() for s in await service.symbols(path, timeout=timeout)]}
    pos = ws.read(path).check(Position(int(request["line"]), int(request["col"])))
    if op in LOCATION_METHODS:
        found = await service.locations(op, path, pos, timeout=timeout)
        return {"locations": [loc.to_json() for loc in found]}
    if op == "references":
        found = await service.references(
            path, pos, include_declaration=bool(request.get("include_declaration")),
            timeout=timeout)
        return {"locations": [loc.to_json() for loc in found]}
    if op == "hover":
        hover = await service.hover(path, pos, timeout=timeout)
        return {"hover": hover.to_json() if hover else None}
    calls = await service.calls(path, pos, incoming=bool(request.get("incoming", True)),
                                timeout=timeout)
    return {"calls": [c.to_json() for c in calls]}
