"""Suppressions a change adds: the cheapest way to make new errors disappear.

A ``# type: ignore`` or ``# pyright: ignore[...]`` on the line of a new error, a
file-level ``# pyright: basic`` directive, or a relaxed ``pyrightconfig.json``
makes the head's diagnostics clean without fixing anything, so the gate counts
them (``--fail-on new-suppressions``, on by default). Counted per file as added
minus removed matching lines, so moving a suppressed line is not new, nor is a file
git sees as renamed (its unchanged lines are not in the diff); the ones listed are
the added lines, in order, up to that count.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

#: A suppression comment: mypy/pyright ``type: ignore``, ``pyright:`` directives
#: (``ignore[...]``, ``basic``, ``strict``...), basedpyright's own.
PATTERN = re.compile(r"#\s*(?:type:\s*ignore|(?:based)?pyright:\s*\S)")
#: Checker configuration: a change to it can relax every rule at once.
CONFIG_FILES = ("pyrightconfig.json",)


@dataclass(frozen=True)
class Suppression:
    path: str
    line: int  #: 0 for a configuration file as a whole
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "text": self.text}


def added(workspace: Any, base_tree: str, head_tree: str) -> tuple[Suppression, ...]:
    """The suppressions ``head_tree`` adds over ``base_tree`` (module docstring)."""
    if base_tree == head_tree:
        return ()
    from unidiff.patch import PatchSet

    from lanser.episodes.snapshots import git

    text = git(workspace.root, "diff", "--no-color", "--no-ext-diff", "-M", "-U0",
               base_tree, head_tree, "--", "*.py", "*.pyi", *CONFIG_FILES)
    found: list[Suppression] = []
    for patched in PatchSet(text.splitlines(keepends=True)):
        path = patched.path
        if path.rsplit("/", 1)[-1] in CONFIG_FILES:
            found.append(Suppression(path, 0, "checker configuration changed"))
            continue
        plus: list[Suppression] = []
        minus = 0
        for hunk in patched:
            for line in hunk:
                if not PATTERN.search(line.value):
                    continue
                if line.is_added:
                    plus.append(Suppression(path, line.target_line_no or 0,
                                            line.value.strip()[:200]))
                elif line.is_removed:
                    minus += 1
        found.extend(plus[:max(0, len(plus) - minus)])
    by_path: dict[str, list[Suppression]] = defaultdict(list)
    for item in found:
        by_path[item.path].append(item)
    return tuple(s for p in sorted(by_path) for s in sorted(by_path[p], key=lambda s: s.line))


__all__ = ["CONFIG_FILES", "PATTERN", "Suppression", "added"]
