"""Rows describing the known servers, for ``lanser servers``."""

from __future__ import annotations

from typing import Any

from lanser.errors import ServerUnavailable
from lanser.lsp.registry import ServerSpec
from lanser.trust import UntrustedConfig


def server_table(servers: dict[str, ServerSpec], default: str) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(servers):
        spec = servers[name]
        try:
            command = spec.resolved_command()
            available, reason = True, None
        except (ServerUnavailable, UntrustedConfig) as exc:
            command, available, reason = list(spec.command), False, exc.message
        installed = spec.installed_version()
        rows.append({
            "name": name,
            "default": name == default,
            "pinned": spec.pinned,
            "installed": installed,
            "pin_ok": spec.pinned is None or installed == spec.pinned,
            "available": available,
            "reason": reason,
            "languages": list(spec.languages),
            "command": command,
            "builtin": spec.builtin,
        })
    return rows
