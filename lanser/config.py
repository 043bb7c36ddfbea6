"""Workspace configuration: ``lanser.toml`` at the root, or ``[tool.lanser]`` in pyproject.

Each pillar reads its own table (``[edits]``, ``[runner]``, ``[rewards]``, ...) through
:meth:`Config.section`; the keys the core needs are typed attributes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanser.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from lanser.roots import CONFIG_FILE, DEFAULT_TIMEOUT

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

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] in the lanser configuration must be a table")
        return value


def load_config(root: Path) -> Config:
    """Read the configuration of the workspace at ``root`` (defaults when there is none)."""
    raw = _read_raw(root)
    try:
        return Config(
            server=str(raw.get("server", "basedpyright")),
            timeout=float(raw.get("timeout", DEFAULT_TIMEOUT)),
            confidence_threshold=float(
                raw.get("confidence_threshold", DEFAULT_CONFIDENCE_THRESHOLD)
            ),
            auto_daemon=bool(raw.get("auto_daemon", False)),
            daemon_idle_timeout=float(raw.get("daemon_idle_timeout", 1800.0)),
            servers=dict(raw.get("servers", {})),
            raw=raw,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid lanser configuration: {exc}") from None


def _read_raw(root: Path) -> dict[str, Any]:
    own = root / CONFIG_FILE
    if own.is_file():
        return _parse(own)
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        return _parse(pyproject).get("tool", {}).get("lanser", {})
    return {}


def _parse(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name}: {exc}") from None
