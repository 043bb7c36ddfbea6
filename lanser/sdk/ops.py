"""The SDK's one seam onto the query layer (:mod:`lanser.queries`): a query by op
name, a bundle, a bundle verified.

All three go through :mod:`lanser.queries.ask` (the workspace's daemon when one
serves it, else a server started in-process), as the CLI's commands do, so the SDK
and ``lanser COMMAND --json`` give the same answers.
"""

from __future__ import annotations

from typing import Any

from lanser.workspace import Workspace


def query(workspace: Workspace, spec: Any, command: str, args: dict[str, Any], *,
          timeout: float, use_daemon: bool) -> dict[str, Any]:
    """The ``--json`` answer of ``lanser COMMAND`` for ``args`` (sync: call it in a
    worker thread from async code; it runs its own event loop when in-process)."""
    from lanser.queries.ask import run

    return run(workspace, spec, {"op": command, **args}, timeout=timeout,
               use_daemon=use_daemon)


def bundle(workspace: Workspace, spec: Any, loc: str | None, ops: list[str], *,
           query: str | None, timeout: float, use_daemon: bool
           ) -> tuple[dict[str, Any], bool]:
    """A query bundle for ``ops`` at ``loc``; the flag says it came from the store."""
    from lanser.queries.bundle import query_bundle

    return query_bundle(workspace, spec, loc, ops, query=query, timeout=timeout,
                        use_daemon=use_daemon)


def verify(workspace: Workspace, document: dict[str, Any], *, timeout: float,
           use_daemon: bool) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """``document`` recomputed on the workspace now: the new bundle and the changes."""
    from lanser.queries.bundle import verify_bundle

    return verify_bundle(workspace, document, timeout=timeout, use_daemon=use_daemon)
