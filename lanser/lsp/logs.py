"""Quiet pygls: its loggers report a server's protocol noise (unknown notifications,
a dying process) that lanser already turns into its own errors and data."""

from __future__ import annotations

import logging


def silence_pygls() -> None:
    """Called once per process by whatever runs sessions (CLI command, daemon)."""
    logging.getLogger("pygls").setLevel(logging.CRITICAL)
