"""``lanser servers``: known language servers, their pins and availability."""

from __future__ import annotations

import typer

from lanser.cli.common import Invocation, JsonOpt, RootOpt, emit_json


def register(app: typer.Typer) -> None:
    app.command("servers")(servers)


def servers(root: RootOpt = None, json_out: JsonOpt = False) -> int:
    """List known servers: pinned and installed versions, availability, command."""
    from lanser.lsp.registry import all_servers
    from lanser.lsp.status import server_table

    inv = Invocation(root, json_out, None, None)
    rows = server_table(all_servers(inv.workspace.config.servers), inv.workspace.config.server)
    if json_out:
        emit_json({"servers": rows})
        return 0
    from lanser.cli import render

    render.servers(rows)
    return 0
