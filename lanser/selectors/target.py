"""Resolve the LOC argument of a query command to one file position.

A LOC is ``path:line:col`` or ``path:line`` (1-based, code points). With
``path:line`` the column is the line's first non-blank character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanser.errors import BadSelector
from lanser.positions import Position
from lanser.workspace import Workspace

_POSITION = re.compile(r"^(?P<path>.+?):(?P<line>\d+)(?::(?P<col>\d+))?$")


@dataclass(frozen=True)
class Target:
    """Where a query acts, how it was found, and how sure we are."""

    path: Path
    position: Position
    selector: str
    method: str = "position"
    confidence: float = 1.0
    reasons: tuple[str, ...] = ()
    candidates: tuple[dict[str, Any], ...] = field(default=())

    def to_json(self, workspace: Workspace) -> dict[str, Any]:
        return {
            "path": workspace.relative(self.path),
            "line": self.position.line,
            "col": self.position.col,
            "selector": self.selector,
            "method": self.method,
            "confidence": self.confidence,
        }


def resolve_target(workspace: Workspace, text: str, *, threshold: float | None = None) -> Target:
    match = _POSITION.match(text)
    if match is None:
        raise BadSelector(
            f"cannot parse location {text!r}: expected path:line:col or path:line",
            selector=text,
        )
    path = workspace.resolve_file(match["path"])
    source = workspace.read(path)
    line = int(match["line"])
    if match["col"] is None:
        line_text = source.line_text(line)
        col = len(line_text) - len(line_text.lstrip()) + 1
    else:
        col = int(match["col"])
    position = source.check(Position(line, col))
    return Target(path=path, position=position, selector=text)
