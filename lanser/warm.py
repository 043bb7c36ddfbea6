"""The daemon process: ``python -m lanser.warm --root ROOT``.

Composes the LSP daemon (:mod:`lanser.lsp.daemon`) with the query planner
(:mod:`lanser.query`), so a client can send a whole CLI query (a selector to
resolve, say) and get back exactly the JSON the in-process path would print.
Servers are started by the client's ``warm`` request (``lanser daemon start``) or
on first use.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from lanser.lsp.daemon import Daemon, client_timeout
from lanser.lsp.logs import silence_pygls
from lanser.query import plan
from lanser.workspace import Workspace


async def _command(daemon: Daemon, message: dict[str, Any]) -> dict[str, Any]:
    """``{"method": "command", "command", "args", "server", "cwd", "timeout"}`` -> the
    CLI answer."""
    current = await daemon.refresh_config()
    workspace = Workspace(current.root, Path(message.get("cwd") or current.root))
    steps = plan(workspace, message["command"], message.get("args") or {})
    server = message.get("server") or current.config.server
    answers, info = await daemon.answer(server, steps.requests,
                                        timeout=client_timeout(message))
    return {"answer": steps.compose(answers, info)}


async def _main(root: Path) -> int:
    daemon = Daemon(Workspace.open(root), handlers={"command": _command})
    return await daemon.serve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lanser.warm")
    parser.add_argument("--root", required=True)
    options = parser.parse_args(argv)
    silence_pygls()
    return asyncio.run(_main(Path(options.root)))


if __name__ == "__main__":
    raise SystemExit(main())
