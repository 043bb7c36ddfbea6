"""``lanser daemon start|stop|status``: warm servers for a workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from lanser.cli.common import Invocation, JsonOpt, RootOpt, emit_json

daemon_app = typer.Typer(help="Warm language servers for a workspace (one daemon per root).",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(daemon_app, name="daemon")


@daemon_app.command("start")
def start(root: RootOpt = None, json_out: JsonOpt = False,
          server: Annotated[list[str] | None, typer.Option(
              "--server", help="Servers to warm up now (default: the configured one).")] = None,
          ) -> int:
    """Start the workspace's daemon (a no-op when one runs)."""
    from lanser.lsp import daemon_client
    from lanser.queries.ask import DAEMON_ENTRY

    inv = Invocation(root, json_out, None, None)
    for name in server or []:
        Invocation(root, json_out, name, None).server_spec()  # unknown names: exit 2 here
    status = daemon_client.start(inv.workspace.root, DAEMON_ENTRY,
                                 servers=server or [inv.workspace.config.server])
    return _show(inv, status, "started")


@daemon_app.command("stop")
def stop(root: RootOpt = None, json_out: JsonOpt = False) -> int:
    """Stop the workspace's daemon and its servers."""
    from lanser.lsp import daemon_client

    inv = Invocation(root, json_out, None, None)
    stopped = daemon_client.stop(inv.workspace.root)
    if json_out:
        emit_json({"stopped": stopped, "root": str(inv.workspace.root)})
    else:
        print("stopped" if stopped else "no daemon was running")
    return 0


@daemon_app.command("status")
def status(root: RootOpt = None, json_out: JsonOpt = False) -> int:
    """Servers, versions, uptime, open documents, request counts, latency percentiles."""
    from lanser.lsp import daemon_client

    inv = Invocation(root, json_out, None, None)
    try:
        info = daemon_client.call(inv.workspace.root, {"method": "status"}, timeout=10)
    except daemon_client.DaemonUnavailable:
        if json_out:
            emit_json({"running": False, "root": str(inv.workspace.root)})
        else:
            print(f"no daemon for {inv.workspace.root}")
        return 1
    return _show(inv, info, "running")


def _show(inv: Invocation, info: dict, state: str) -> int:
    if inv.json:
        emit_json({"running": True, **{k: v for k, v in info.items() if k != "ok"}})
        return 0
    from rich.table import Table

    from lanser.cli.render import console

    console.print(f"daemon {state}: pid {info['pid']}, root {info['root']}, "
                  f"up {info['uptime_s']:.1f} s, socket {info['socket']}")
    table = Table("server", "version", "pid", "state", "open docs", "requests", "restarts",
                  "p50 ms", "p95 ms")
    for s in info["servers"]:
        lat = s["latency_ms"]
        table.add_row(s["name"], s["version"] or "-", str(s["pid"]), s["state"],
                      str(s["open_documents"]), str(s["requests"]), str(s["restarts"]),
                      "-" if lat["p50"] is None else f"{lat['p50']:.1f}",
                      "-" if lat["p95"] is None else f"{lat['p95']:.1f}")
    console.print(table)
    return 0
