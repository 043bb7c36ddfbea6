"""``lanser trust``: approve the workspace's config to start programs (direnv ``allow``)."""

from __future__ import annotations

from typing import Annotated

import typer

from lanser.cli.common import Invocation, JsonOpt, RootOpt, emit_json


def register(app: typer.Typer) -> None:
    app.command("trust")(trust)


def trust(revoke: Annotated[bool, typer.Option(
              "--revoke", help="Withdraw the approval of this workspace's config.")] = False,
          status: Annotated[bool, typer.Option(
              "--status", help="Say whether the config is approved; change nothing.")] = False,
          root: RootOpt = None, json_out: JsonOpt = False) -> int:
    """Approve this workspace's lanser config, as it is now, to start programs.

    Server commands and the test interpreter in lanser.toml (or [tool.lanser]) are
    honoured only after this; any change to the config needs a new approval.
    Approvals live in the user's config dir ($LANSER_CONFIG_DIR, else
    ~/.config/lanser). See SECURITY.md.
    """
    from lanser.trust import revoke_workspace, trust_workspace, workspace_status

    root_dir = Invocation(root, json_out, None, None, auto_recover=False).workspace.root
    if status:
        payload = workspace_status(root_dir)
    elif revoke:
        payload = revoke_workspace(root_dir)
    else:
        payload = trust_workspace(root_dir)
    if json_out:
        emit_json(payload)
    else:
        state = "trusted" if payload["trusted"] else "not trusted"
        programs = ", ".join(payload["programs"]) or "none"
        typer.echo(f"{payload['file'] or 'no config'}: {state} "
                   f"({payload['content'] or '-'}); program settings: {programs}")
    return 0
