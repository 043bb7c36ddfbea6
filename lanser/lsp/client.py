"""Answer queries: through the workspace's daemon when one runs, else in-process.

The in-process path starts a server, asks, and shuts it down: correct but cold.
The daemon path (:mod:`lanser.lsp.daemon`) sends the same JSON requests over a
Unix socket to warm servers; both run :func:`lanser.lsp.operations.execute`, so
both give the same bytes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lanser.lsp.registry import ServerSpec
from lanser.workspace import Workspace


async def query_in_process(workspace: Workspace, spec: ServerSpec,
                           requests: list[dict[str, Any]], *, timeout: float
                           ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from lanser.lsp.operations import execute
    from lanser.lsp.service import LanguageService

    async with LanguageService(workspace, spec, timeout=timeout) as service:
        answers = [await execute(service, request, timeout=timeout) for request in requests]
        return answers, service.server_info()


def query_batch(workspace: Workspace, spec: ServerSpec, requests: list[dict[str, Any]], *,
                timeout: float, use_daemon: bool = True
                ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run ``requests`` on one server; return their answers and the server's identity.

    ``timeout`` bounds each server request on either path (the daemon is sent it).
    """
    if use_daemon:
        from lanser.lsp import daemon_client

        reply = daemon_client.try_query(workspace.root, spec.name, requests, timeout=timeout)
        if reply is None and auto_daemon(workspace):
            daemon_client.start(workspace.root, servers=[spec.name])
            reply = daemon_client.try_query(workspace.root, spec.name, requests, timeout=timeout)
        if reply is not None:
            return reply
    from lanser.lsp.logs import silence_pygls

    silence_pygls()
    return asyncio.run(query_in_process(workspace, spec, requests, timeout=timeout))


def auto_daemon(workspace: Workspace) -> bool:
    """Opt-in: ``auto_daemon = true`` in the config, or ``LANSER_AUTO_DAEMON=1``."""
    import os

    return workspace.config.auto_daemon or os.environ.get("LANSER_AUTO_DAEMON") == "1"


def query(workspace: Workspace, spec: ServerSpec, request: dict[str, Any], *,
          timeout: float, use_daemon: bool = True) -> dict[str, Any]:
    """One request; its answer carries ``server`` (name and version)."""
    answers, server = query_batch(workspace, spec, [request], timeout=timeout,
                                  use_daemon=use_daemon)
    return {**answers[0], "server": {"name": server["name"], "version": server["version"]}}
