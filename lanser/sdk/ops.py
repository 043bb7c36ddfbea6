"""The SDK's one seam onto the query layer: a query command by name, a bundle.

Today these call :func:`lanser.query.run` and :func:`lanser.bundling.query_bundle`
(daemon when one serves the workspace, else a server started in-process); when the
query package with the single op table lands (issue 14, ``lanser/queries/``), only
this module changes.
"""

from __future__ import annotations

from typing import Any

from lanser.workspace import Workspace


def query(workspace: Workspace, spec: Any, command: str, args: dict[str, Any], *,
          timeout: float, use_daemon: bool) -> dict[str, Any]:
    """The ``--json`` answer of ``lanser COMMAND`` for ``args`` (sync: call it in a
    worker thread from async code; it runs its own event loop when in-process)."""
    from lanser.query import run

    return run(workspace, spec, command, args, timeout=timeout, use_daemon=use_daemon)


def bundle(workspace: Workspace, spec: Any, loc: str | None, ops: list[str], *,
           query: str | None, timeout: float, use_daemon: bool
           ) -> tuple[dict[str, Any], bool]:
    from lanser.bundling import query_bundle

    return query_bundle(workspace, spec, loc, ops, query=query, timeout=timeout,
                        use_daemon=use_daemon)


def verify(workspace: Workspace, document: dict[str, Any], *, timeout: float,
           use_daemon: bool) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    from lanser.bundling import verify_bundle

    return verify_bundle(workspace, document, timeout=timeout, use_daemon=use_daemon)
