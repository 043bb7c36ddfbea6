"""The daemon process: ``python -m lanser.queries.daemon --root ROOT``.

Composes the LSP daemon (:mod:`lanser.lsp.daemon`, which knows only servers) with the
query planner: its one query method, ``query``, takes the very queries the in-process
path answers (selectors resolved here, against the client's cwd) and returns the very
answers it would. Servers are started by the client's ``warm`` request (``lanser
daemon start``) or on first use.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from lanser.errors import UsageError
from lanser.lsp.daemon import Daemon, client_timeout
from lanser.lsp.logs import silence_pygls
from lanser.lsp.service import LanguageService
from lanser.queries.ops import check_query
from lanser.queries.plan import run_queries
from lanser.workspace import Workspace


async def query(daemon: Daemon, message: dict[str, Any]) -> dict[str, Any]:
    """``{"method": "query", "server", "queries": [...], "cwd", "timeout"}`` -> ``{"answers":
    [...], "server": {...}}``: each answer exactly what the in-process path composes."""
    queries = message.get("queries")
    if not isinstance(queries, list):
        raise UsageError("a query message carries a list of queries", code="bad_request")
    for one in queries:  # the whole batch's shape first: nothing half-answered
        check_query(one)
    current = await daemon.refresh_config()
    workspace = Workspace(current.root, Path(message.get("cwd") or current.root))
    server = message.get("server") or current.config.server
    timeout = client_timeout(message)

    async def answer(service: LanguageService) -> list[dict[str, Any]]:
        return await run_queries(service, workspace, queries, timeout=timeout)

    answers, info = await daemon.run(server, answer, count=len(queries))
    return {"answers": answers, "server": info}


#: The fields of a ``query`` message (see :mod:`lanser.jsonio`); each query's own
#: fields are checked by :func:`lanser.queries.ops.check_query`.
QUERY_MESSAGE_FIELDS = {"server": "str?", "queries": "list", "cwd": "str?"}


def daemon_for(root: Path) -> Daemon:
    """The daemon of the workspace at ``root``, with the one ``query`` method."""
    return Daemon(Workspace.open(root), handlers={"query": query},
                  request_fields={"query": QUERY_MESSAGE_FIELDS})


async def _main(root: Path) -> int:
    daemon = daemon_for(root)
    return await daemon.serve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lanser.queries.daemon")
    parser.add_argument("--root", required=True)
    options = parser.parse_args(argv)
    silence_pygls()
    return asyncio.run(_main(Path(options.root)))


if __name__ == "__main__":
    raise SystemExit(main())
