"""Which workspace configurations the user approved to start programs (``lanser trust``).

A workspace's ``lanser.toml`` (or ``[tool.lanser]`` in pyproject.toml) is content an
agent can write. Settings in it that start a program on the host — a server's
``command``, the test interpreter ``[runner] python`` — are honoured only once the
user approved that exact configuration, the way direnv's ``allow`` works: an
approval is a file in the user's config dir named by the hash of (the config
file's real path, its content hash). A changed config, or the same config at
another path (a scratch copy of a revision being scored), is not approved.

The user's own config dir is ``$LANSER_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/lanser``,
else ``~/.config/lanser``; ``config.toml`` there is user-level configuration and is
trusted (see SECURITY.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from lanser.configfiles import lanser_files, read_lanser_source
from lanser.errors import UsageError
from lanser.userdirs import config_dir

#: The user-level configuration file, in :func:`user_config_dir`.
USER_CONFIG = "config.toml"
#: The key of the marker a gated ``[servers.NAME]`` table holds (lanser.config).
UNTRUSTED = "__untrusted__"
#: Settings, besides every ``[servers.NAME]`` table, that start a program.
PROGRAM_SETTINGS = (("runner", "python"),)


class UntrustedConfig(UsageError):
    """A program-starting setting in a workspace config the user has not approved."""

    code = "untrusted_config"


def user_config_dir() -> Path:
    """The user's lanser config dir (holds ``config.toml`` and the approvals)."""
    return config_dir()


def content_digest(raw: dict[str, Any]) -> str:
    """The hash of a parsed lanser configuration table (TOML values as JSON text)."""
    text = json.dumps(raw, sort_keys=True, default=str, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _approval(path: Path, digest: str) -> Path:
    key = hashlib.sha256(f"{os.path.realpath(path)}\n{digest}".encode()).hexdigest()
    return user_config_dir() / "trusted" / key


def is_trusted(path: Path, digest: str) -> bool:
    return _approval(path, digest).is_file()


def approve(path: Path, digest: str) -> Path:
    """Record the user's approval of the config at ``path`` with content ``digest``."""
    target = _approval(path, digest)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps({"path": os.path.realpath(path), "content": digest},
                              sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def revoke(path: Path) -> int:
    """Forget every approval of the config file at ``path``; how many there were."""
    real = os.path.realpath(path)
    removed = 0
    folder = user_config_dir() / "trusted"
    for entry in sorted(folder.glob("*")) if folder.is_dir() else ():
        try:
            record = json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("path") == real:
            entry.unlink(missing_ok=True)
            removed += 1
    return removed


def program_settings(raw: dict[str, Any]) -> list[str]:
    """The dotted names of the settings in ``raw`` that start a program, sorted."""
    found = []
    servers = raw.get("servers")
    if isinstance(servers, dict):
        found.extend(f"servers.{name}.command" for name in servers)
    for section, key in PROGRAM_SETTINGS:
        table = raw.get(section)
        if isinstance(table, dict) and key in table:
            found.append(f"{section}.{key}")
    return sorted(found)


def refusal(setting: str, source: str) -> UntrustedConfig:
    """The error for using ``setting`` from the unapproved workspace file ``source``."""
    return UntrustedConfig(
        f"{setting} in {source} starts a program, and this workspace configuration is not "
        "trusted (an agent may have written it): review the file, then run `lanser trust` "
        "in the workspace to approve this exact content (or set it on the command line "
        "or in your user config)", setting=setting, file=source)


# -- the workspace's config file (what ``lanser trust`` acts on) -----------------------


def workspace_status(root: Path) -> dict[str, Any]:
    """What ``lanser trust --status`` prints: the file, its hash, its program settings."""
    source, raw = read_lanser_source(root)
    if source is None:
        return {"file": None, "content": None, "trusted": False, "programs": []}
    digest = content_digest(raw)
    return {"file": source.name, "content": digest, "trusted": is_trusted(source, digest),
            "programs": program_settings(raw)}


def trust_workspace(root: Path) -> dict[str, Any]:
    """Approve the workspace's config as it is now (``lanser trust``)."""
    source, raw = read_lanser_source(root)
    if source is None:
        raise UsageError(f"no lanser configuration in {root.name or root} (lanser.toml, "
                         "or [tool.lanser] in pyproject.toml): nothing to trust",
                         code="no_config")
    approve(source, content_digest(raw))
    return workspace_status(root)


def revoke_workspace(root: Path) -> dict[str, Any]:
    """Forget every approval of the workspace's config files (``lanser trust --revoke``)."""
    removed = sum(revoke(path) for path in lanser_files(root))
    return {**workspace_status(root), "revoked": removed}
