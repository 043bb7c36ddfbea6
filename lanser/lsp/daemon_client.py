"""The light client side of the daemon: standard library only, imported on every call.

Filled in by the daemon work (issue 3); until a daemon runs it answers ``None``
and the caller falls back to an in-process session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def try_query(root: Path, server: str, requests: list[dict[str, Any]], *,
              timeout: float) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    return None
