"""The user's own lanser directories: configuration (approvals, ``config.toml``) and cache
(task environments, converted models). ``$LANSER_CONFIG_DIR`` / ``$LANSER_CACHE_DIR``
when set, else the XDG base directories (``$XDG_CONFIG_HOME`` / ``$XDG_CACHE_HOME``, by
default ``~/.config`` / ``~/.cache``) with ``lanser`` under them."""

from __future__ import annotations

import os
from pathlib import Path


def _user_dir(own: str, xdg: str, default: str) -> Path:
    explicit = os.environ.get(own)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get(xdg)
    return (Path(base).expanduser() if base else Path.home() / default) / "lanser"


def config_dir() -> Path:
    return _user_dir("LANSER_CONFIG_DIR", "XDG_CONFIG_HOME", ".config")


def cache_dir() -> Path:
    return _user_dir("LANSER_CACHE_DIR", "XDG_CACHE_HOME", ".cache")
