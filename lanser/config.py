"""Workspace configuration: ``lanser.toml`` at the root, or ``[tool.lanser]`` in pyproject.

Each pillar reads its own table (``[edits]``, ``[runner]``, ``[rewards]``, ...) through
:meth:`Config.section`; the keys the core needs are typed attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanser.configfiles import parse_toml, read_lanser_source, tomllib
from lanser.errors import ConfigError
from lanser.roots import CONFIG_FILE, DEFAULT_TIMEOUT
from lanser.trust import (
    UNTRUSTED,
    USER_CONFIG,
    content_digest,
    is_trusted,
    program_settings,
    refusal,
    user_config_dir,
)

__all__ = ["DEFAULT_CONFIDENCE_THRESHOLD", "Config", "load_config", "tomllib"]

#: Below this disambiguation confidence a query refuses and lists candidates.
DEFAULT_CONFIDENCE_THRESHOLD = 0.8


@dataclass(frozen=True)
class Config:
    server: str = "basedpyright"
    timeout: float = DEFAULT_TIMEOUT
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD
    auto_daemon: bool = False
    daemon_idle_timeout: float = 1800.0
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    #: The workspace file the configuration came from (``None``: defaults only).
    source: str | None = None
    #: Program-starting settings the workspace file has but the user has not approved
    #: (``lanser trust``); they were taken out of ``raw`` and ``servers``.
    untrusted: tuple[str, ...] = ()
    #: The user-level configuration (:func:`lanser.trust.user_config_dir`): trusted.
    user: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] in the lanser configuration must be a table")
        return value

    def program(self, section: str, key: str) -> Any:
        """A setting that starts a program (``[runner] python``): from the workspace file
        when the user approved it, else from the user's config; ``None`` when neither
        sets it. Raises :class:`~lanser.trust.UntrustedConfig` when only an unapproved
        workspace file does."""
        value = self.raw.get(section, {}).get(key) if isinstance(
            self.raw.get(section), dict) else None
        if value is None:
            user = self.user.get(section)
            value = user.get(key) if isinstance(user, dict) else None
        if value is None and f"{section}.{key}" in self.untrusted:
            raise refusal(f"{section}.{key}", self.source or CONFIG_FILE)
        return value


def load_config(root: Path) -> Config:
    """Read the configuration of the workspace at ``root`` (defaults when there is none)."""
    source, raw = read_lanser_source(root)
    raw, untrusted = _gate_programs(source, raw)
    user = _read_user()
    try:
        return Config(
            server=str(raw.get("server", "basedpyright")),
            timeout=float(raw.get("timeout", DEFAULT_TIMEOUT)),
            confidence_threshold=float(
                raw.get("confidence_threshold", DEFAULT_CONFIDENCE_THRESHOLD)
            ),
            auto_daemon=bool(raw.get("auto_daemon", False)),
            daemon_idle_timeout=float(raw.get("daemon_idle_timeout", 1800.0)),
            servers={**_servers(user), **_servers(raw)},
            raw=raw,
            source=None if source is None else source.name,
            untrusted=untrusted,
            user=user,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid lanser configuration: {exc}") from None


def _servers(raw: dict[str, Any]) -> dict[str, Any]:
    servers = raw.get("servers", {})
    if not isinstance(servers, dict):
        raise ConfigError("[servers] in the lanser configuration must be a table")
    return dict(servers)


def _gate_programs(source: Path | None, raw: dict[str, Any]
                   ) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``raw`` without the program-starting settings the user has not approved
    (SECURITY.md): each ``[servers.NAME]`` becomes a marker the registry refuses to
    start, and ``[runner] python`` is dropped; returns them by name."""
    found = program_settings(raw)
    if source is None or not found or is_trusted(source, content_digest(raw)):
        return raw, ()
    gated = dict(raw)
    if isinstance(raw.get("servers"), dict):
        gated["servers"] = {name: {UNTRUSTED: source.name} for name in raw["servers"]}
    for setting in found:
        section, _, key = setting.partition(".")
        if section != "servers":
            gated[section] = {k: v for k, v in raw[section].items() if k != key}
    return gated, tuple(found)


def _read_user() -> dict[str, Any]:
    """The user-level ``config.toml`` (trusted: only the user writes it), or {}."""
    path = user_config_dir() / USER_CONFIG
    return parse_toml(path) if path.is_file() else {}

