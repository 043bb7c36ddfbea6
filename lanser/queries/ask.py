"""Answer queries: through the workspace's daemon when one runs, else in process.

The in-process path starts a server, asks, and shuts it down: correct but cold. The
daemon path sends the same queries (one ``query`` message) over a Unix socket to warm
servers; both run :func:`lanser.queries.plan.run_queries`, so both give the same bytes.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from lanser.lsp import daemon_client
from lanser.lsp.logs import silence_pygls
from lanser.lsp.registry import ServerSpec
from lanser.lsp.service import LanguageService
from lanser.queries.ops import query_message
from lanser.queries.plan import Query, run_queries
from lanser.workspace import Workspace

#: The daemon's entry point (``python -m ...``), handed to :func:`daemon_client.start`.
DAEMON_ENTRY = "lanser.queries.daemon"


async def ask_in_process(workspace: Workspace, spec: ServerSpec, queries: list[Query], *,
                         timeout: float) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    async with LanguageService(workspace, spec, timeout=timeout) as service:
        answers = await run_queries(service, workspace, queries, timeout=timeout)
        return answers, service.server_info()


def ask(workspace: Workspace, spec: ServerSpec, queries: list[Query], *, timeout: float,
        use_daemon: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Answer ``queries`` on one server; their answers and the server's identity.

    ``timeout`` bounds each server request on either path (the daemon is sent it).
    """
    if use_daemon:
        reply = _try_daemon(workspace, spec, queries, timeout)
        if reply is None and auto_daemon(workspace):
            daemon_client.start(workspace.root, DAEMON_ENTRY, servers=[spec.name])
            reply = _try_daemon(workspace, spec, queries, timeout)
        if reply is not None:
            return reply
    silence_pygls()
    return asyncio.run(ask_in_process(workspace, spec, queries, timeout=timeout))


def run(workspace: Workspace, spec: ServerSpec, query: Query, *, timeout: float,
        use_daemon: bool = True) -> dict[str, Any]:
    """One query, answered (the CLI's query commands)."""
    answers, _ = ask(workspace, spec, [query], timeout=timeout, use_daemon=use_daemon)
    return answers[0]


def _try_daemon(workspace: Workspace, spec: ServerSpec, queries: list[Query],
                timeout: float) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    try:
        reply = daemon_client.call(
            workspace.root,
            query_message(spec.name, queries, timeout=timeout,
                          cwd=str(workspace.cwd or os.getcwd())),
            timeout=daemon_client.reply_wait(timeout, len(queries)))
    except daemon_client.DaemonUnavailable:
        return None
    return reply["answers"], reply["server"]


def auto_daemon(workspace: Workspace) -> bool:
    """Opt-in: ``auto_daemon = true`` in the config, or ``LANSER_AUTO_DAEMON=1``."""
    return workspace.config.auto_daemon or os.environ.get("LANSER_AUTO_DAEMON") == "1"
