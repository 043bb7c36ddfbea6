"""The daemon process: ``python -m lanser.warm --root ROOT``.

Composes the LSP daemon (:mod:`lanser.lsp.daemon`) with the query planner
(:mod:`lanser.query`), so a client can send a whole CLI query (a selector to
resolve, say) and get back exactly the JSON the in-process path would print.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

from lanser.lsp.daemon import Daemon
from lanser.query import plan
from lanser.workspace import Workspace


async def _command(daemon: Daemon, message: dict[str, Any]) -> dict[str, Any]:
    """``{"method": "command", "command", "args", "server", "cwd"}`` -> the CLI answer."""
    workspace = Workspace(daemon.workspace.root, Path(message.get("cwd") or daemon.workspace.root))
    steps = plan(workspace, message["command"], message.get("args") or {})
    server = message.get("server") or daemon.workspace.config.server
    answers, info = await daemon.answer(server, steps.requests)
    return {"answer": steps.compose(answers, info)}


async def _main(root: Path, servers: list[str]) -> int:
    daemon = Daemon(Workspace.open(root), handlers={"command": _command})
    return await daemon.serve(warm=servers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lanser.warm")
    parser.add_argument("--root", required=True)
    parser.add_argument("--server", action="append", default=[])
    options = parser.parse_args(argv)
    logging.getLogger("pygls").setLevel(logging.CRITICAL)
    return asyncio.run(_main(Path(options.root), options.server))


if __name__ == "__main__":
    raise SystemExit(main())
