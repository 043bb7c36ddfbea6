"""Answer one query: through the workspace's daemon when one runs, else in-process.

The in-process path starts a server, asks, and shuts it down: correct but cold.
The daemon path (:mod:`lanser.lsp.daemon`) sends the same JSON request over a Unix
socket to warm servers; both run :func:`lanser.lsp.operations.execute`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lanser.lsp.registry import ServerSpec
from lanser.workspace import Workspace


async def query_in_process(workspace: Workspace, spec: ServerSpec, request: dict[str, Any],
                           *, timeout: float) -> dict[str, Any]:
    from lanser.lsp.operations import execute
    from lanser.lsp.service import LanguageService

    async with LanguageService(workspace, spec, timeout=timeout) as service:
        result = await execute(service, request)
        result["server"] = _server_brief(service.server_info())
        return result


def _server_brief(info: dict[str, Any]) -> dict[str, Any]:
    return {"name": info["name"], "version": info["version"]}


def query(workspace: Workspace, spec: ServerSpec, request: dict[str, Any], *,
          timeout: float, use_daemon: bool = True) -> dict[str, Any]:
    """Run ``request`` and return its JSON answer (plus ``server``: name and version)."""
    if use_daemon:
        from lanser.lsp import daemon_client

        answer = daemon_client.try_query(workspace.root, spec.name, request, timeout=timeout)
        if answer is not None:
            return answer
    import logging

    logging.getLogger("pygls").setLevel(logging.CRITICAL)
    return asyncio.run(query_in_process(workspace, spec, request, timeout=timeout))
