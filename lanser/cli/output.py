"""The one JSON encoding of lanser output (standard library only: the fast path uses it)."""

from __future__ import annotations

import json
import sys
from typing import Any


def dumps(data: Any) -> str:
    """Sorted keys, compact separators, UTF-8 text: the same bytes for the same answer."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def emit_json(data: Any) -> None:
    sys.stdout.write(dumps(data) + "\n")
    sys.stdout.flush()
