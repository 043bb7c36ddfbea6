"""What an agent may do in an episode, checked before anything runs.

One JSON object per action (``rewards/EPISODES.md`` has the full table)::

    {"action": "edit", "path": "pkg/mod.py", "content": "..."}      # whole file
    {"action": "edit", "at": "pkg/mod.py:3:5..3:9", "text": "..."}  # a range or selector
    {"action": "patch", "diff": "--- a/pkg/mod.py\\n+++ b/pkg/mod.py\\n@@ ..."}
    {"action": "query", "op": "definition", "at": "pkg/mod.py::Stock.remove"}
    {"action": "query", "op": "workspace-symbols", "query": "Stock"}  # no location
    {"action": "test", "args": ["tests/test_stock.py"]}
    {"action": "submit"}

A malformed action raises :class:`InvalidAction`; the episode turns it into an error
observation and the profile's invalid-action penalty, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lanser.errors import UsageError
from lanser.queries.ops import BUNDLE_OPS, UNLOCATED_OPS

KINDS = ("edit", "patch", "query", "test", "submit")
#: Actions that change files, and so go through the safety envelope.
MUTATING = ("edit", "patch")


class InvalidAction(UsageError):
    code = "invalid_action"


@dataclass(frozen=True)
class Action:
    kind: str
    path: str | None = None        # edit: the file, for whole-content edits
    at: str | None = None          # edit/query: a location or selector
    text: str | None = None        # edit: new content (whole file or the range)
    diff: str | None = None        # patch
    op: str | None = None          # query: one of lanser.queries.ops.BUNDLE_OPS
    query: str | None = None       # query: the string of workspace-symbols
    args: tuple[str, ...] = field(default=())  # test

    @property
    def targeted(self) -> bool:
        """Whether the action aimed at code through a selector or position."""
        return self.at is not None


def _string(data: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidAction(f"{data.get('action')}: {key!r} must be a string")
    return value


def parse_action(data: Any) -> Action:
    """Check one decoded JSON action; raise :class:`InvalidAction` with what is wrong."""
    if not isinstance(data, dict):
        raise InvalidAction("an action must be a JSON object")
    if "action" not in data:  # name the missing key, not "unknown action None"
        keys = ", ".join(repr(k) for k in sorted(data)) or "none"
        raise InvalidAction(f'an action needs an "action" key (one of {", ".join(KINDS)}); '
                            f"this one has {keys}")
    kind = data.get("action")
    if kind not in KINDS:
        raise InvalidAction(f"unknown action {kind!r}: expected one of {', '.join(KINDS)}")
    if kind == "edit":
        if "content" in data:
            return Action(kind, path=_string(data, "path"), text=_string(data, "content"))
        if "at" in data:
            return Action(kind, at=_string(data, "at"), text=_string(data, "text"))
        raise InvalidAction("edit: give 'path' and 'content' (whole file) or 'at' and 'text'")
    if kind == "patch":
        return Action(kind, diff=_string(data, "diff"))
    if kind == "query":
        op = data.get("op")
        if op not in BUNDLE_OPS:
            raise InvalidAction(f"query: 'op' must be one of {', '.join(BUNDLE_OPS)}")
        if op in UNLOCATED_OPS:  # a query string, no location
            return Action(kind, op=op, query=_string(data, "query"))
        return Action(kind, op=op, at=_string(data, "at"))
    if kind == "test":
        args = data.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise InvalidAction("test: 'args' must be a list of strings")
        return Action(kind, args=tuple(args))
    return Action(kind)
