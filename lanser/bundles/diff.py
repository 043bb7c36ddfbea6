"""What changed between two bundles, fact by fact.

Lists of records (locations, diagnostics, symbols, calls, files) are compared as
multisets of their canonical JSON: an item is ``added`` or ``removed``; any other
value that differs is ``changed``. Identity fields (server, snapshot, request) are
compared first so a reader sees *why* facts may differ.
"""

from __future__ import annotations

from typing import Any

from lanser.canonical import canonical_bytes


def diff_bundles(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    for field in ("tool", "server", "snapshot", "request"):
        if a.get(field) != b.get(field):
            changes.append({"where": field, "kind": "changed",
                            "before": a.get(field), "after": b.get(field)})
    _diff_value("facts", a.get("facts"), b.get("facts"), changes)
    return changes


def _diff_value(where: str, x: Any, y: Any, out: list[dict[str, Any]]) -> None:
    if x == y:
        return
    if isinstance(x, dict) and isinstance(y, dict):
        for key in sorted(set(x) | set(y)):
            _diff_value(f"{where}.{key}", x.get(key), y.get(key), out)
        return
    if isinstance(x, list) and isinstance(y, list):
        if _is_keyed_files(x) and _is_keyed_files(y):
            xs = {item["path"]: item for item in x}
            ys = {item["path"]: item for item in y}
            for path in sorted(set(xs) | set(ys)):
                _diff_value(f"{where}[{path}]", xs.get(path), ys.get(path), out)
            return
        for item in _unmatched(x, y):
            out.append({"where": where, "kind": "removed", "item": item})
        for item in _unmatched(y, x):
            out.append({"where": where, "kind": "added", "item": item})
        return
    out.append({"where": where, "kind": "changed", "before": x, "after": y})


def _unmatched(items: list[Any], others: list[Any]) -> list[Any]:
    """Items of ``items`` left over once each is matched with an equal one of ``others``."""
    pool = [canonical_bytes(item) for item in others]
    left = []
    for item in items:
        key = canonical_bytes(item)
        if key in pool:
            pool.remove(key)
        else:
            left.append(item)
    return left


def _is_keyed_files(items: list[Any]) -> bool:
    """Per-file entries (diagnostics ``files``) are matched by path, not as opaque items."""
    return bool(items) and all(
        isinstance(i, dict) and "path" in i and "diagnostics" in i for i in items)
