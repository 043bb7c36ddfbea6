"""Run one server request on a :class:`~lanser.lsp.service.LanguageService`.

One request shape for every query (built by :func:`lanser.queries.ops.request`), so
the in-process path, the daemon and an episode's observer run the same code and give
the same bytes::

    {"op": "definition", "path": "pkg/mod.py", "line": 3, "col": 5}
    {"op": "references", "path": ..., "line": ..., "col": ..., "include_declaration": true}
    {"op": "calls", "path": ..., "line": ..., "col": ..., "incoming": true}
    {"op": "symbols", "path": ...}
    {"op": "workspace-symbols", "query": "Cache"}
    {"op": "diagnostics", "paths": ["a.py"]}          # [] or absent: the whole workspace

``op`` is an :class:`~lanser.queries.ops.Op`'s ``kind``. Paths are workspace-relative
(or absolute inside the workspace); positions are 1-based code points. The answer is a
:class:`Facts` record; its JSON is the op's facts, e.g. ``{"locations": [...]}``.
``timeout`` (seconds per server request, the caller's ``--timeout``) travels beside
the requests, not in them: one limit for the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lanser.errors import UsageError
from lanser.lsp.facts import Call, Hover, Location, Symbol
from lanser.lsp.service import FileDiagnostics, LanguageService
from lanser.positions import Position
from lanser.queries.ops import LOCATION_KINDS, METHODS

Fact = Location | Symbol | Call | FileDiagnostics


@dataclass(frozen=True)
class Facts:
    """What the server said for one request: ``key`` names the list (``locations``,
    ``symbols``, ``calls``, ``files``) or ``hover`` (one record or ``None``)."""

    key: str
    items: tuple[Fact, ...] = ()
    hover: Hover | None = None

    def to_json(self) -> dict[str, Any]:
        if self.key == "hover":
            return {"hover": self.hover.to_json() if self.hover else None}
        return {self.key: [item.to_json() for item in self.items]}


async def execute(service: LanguageService, request: dict[str, Any], *,
                  timeout: float | None = None) -> Facts:
    kind = request.get("op")
    ws = service.workspace
    if kind not in METHODS:
        raise UsageError(f"unknown operation {kind!r}", code="bad_request")
    if kind == "workspace-symbols":
        found = await service.workspace_symbols(str(request.get("query", "")), timeout=timeout)
        return Facts("symbols", tuple(found))
    if kind == "diagnostics":
        paths = [ws.resolve_file(p) for p in request.get("paths") or []]
        files = await service.diagnostics(paths or None, timeout=timeout)
        return Facts("files", tuple(files))
    path = ws.resolve_file(request["path"])
    if kind == "symbols":
        return Facts("symbols", tuple(await service.symbols(path, timeout=timeout)))
    pos = ws.read(path).check(Position(int(request["line"]), int(request["col"])))
    if kind in LOCATION_KINDS:
        found = await service.locations(METHODS[kind], path, pos, timeout=timeout)
        return Facts("locations", tuple(found))
    if kind == "references":
        found = await service.references(
            path, pos, include_declaration=bool(request.get("include_declaration")),
            timeout=timeout)
        return Facts("locations", tuple(found))
    if kind == "hover":
        return Facts("hover", hover=await service.hover(path, pos, timeout=timeout))
    calls = await service.calls(path, pos, incoming=bool(request.get("incoming", True)),
                                timeout=timeout)
    return Facts("calls", tuple(calls))
