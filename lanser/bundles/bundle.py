"""Analysis bundles: a request, the facts answered, and everything they depend on.

A bundle is a JSON object::

    {
      "schema": "lanser.bundle/1",
      "tool": {"name": "lanser", "version": ...},
      "server": {name, version, command, capabilities_hash, config_hash} | null,
      "snapshot": {"kind": "git-tree", "tree": ...} | {"kind": "manifest", ...},
      "request": {...},            # operation(s), selector as given, resolved target
      "facts": {...},              # normalized answers, lists in documented order
      "hash": "sha256:...",        # over canonical JSON of all of the above
      "provenance": {...}          # host, absolute root, timings: kept, never hashed
    }

Same snapshot + same pinned server + same request => same ``hash``, on any machine,
at any checkout path: nothing machine-specific is allowed outside ``provenance``.
"""

from __future__ import annotations

import json
import os
import platform
import socket
from pathlib import Path
from typing import Any

from lanser import __version__
from lanser.bundles.schema import MalformedBundle, validate
from lanser.canonical import content_hash
from lanser.errors import UsageError
from lanser.workspace import Workspace

SCHEMA = "lanser.bundle/1"
UNHASHED = ("hash", "provenance")


def bundle_hash(bundle: dict[str, Any]) -> str:
    return content_hash({k: v for k, v in bundle.items() if k not in UNHASHED})


def make_bundle(workspace: Workspace, *, op: str, request: dict[str, Any],
                facts: dict[str, Any], server: dict[str, Any] | None = None,
                snapshot: dict[str, Any] | None = None,
                provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """Wrap ``facts`` into a hashed bundle (``snapshot`` defaults to the workspace now).

    The bundle is checked against the schema before it is returned
    (:class:`MalformedBundle` if it does not fit: a bug, not bad input)."""
    if snapshot is None:
        from lanser.bundles.snapshot import snapshot_identity

        snapshot = snapshot_identity(workspace)
    bundle: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "lanser", "version": __version__},
        "server": server,
        "snapshot": snapshot,
        "request": {"op": op, **request},
        "facts": facts,
    }
    bundle["hash"] = bundle_hash(bundle)
    validate(bundle)  # never write what verify would refuse
    bundle["provenance"] = {
        "host": socket.gethostname(),
        "root": str(workspace.root),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pid": os.getpid(),
        **(provenance or {}),
    }
    return bundle


def check_bundle(bundle: Any) -> dict[str, Any]:
    """Validate shape (JSON Schema) and hash; raise :class:`MalformedBundle` if either fails."""
    validate(bundle)
    expected = bundle_hash(bundle)
    if bundle["hash"] != expected:
        raise MalformedBundle(
            f"bundle hash {bundle['hash']} does not match its content ({expected}): "
            "it was edited after it was made", code="tampered",
            recorded=bundle["hash"], computed=expected,
        )
    return bundle


def load_bundle(path: Path) -> dict[str, Any]:
    from lanser.jsonio import load_json_bounded

    try:  # bounded, a regular file, no NaN, limited depth
        data = load_json_bounded(path, what="bundle")
    except UsageError as exc:
        if exc.code != "bad_json":
            raise
        raise MalformedBundle(exc.message) from None
    return check_bundle(data)


def dump_bundle(bundle: dict[str, Any]) -> str:
    """The file form of a bundle: sorted keys, two-space indent, trailing newline."""
    return json.dumps(bundle, sort_keys=True, ensure_ascii=False, indent=2) + "\n"
