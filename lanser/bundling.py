"""Bundles of queries: resolve the target, ask, wrap, store; verify and diff them.

``lanser bundle LOC --op definition,hover,...`` records what the server said about
one target on the current snapshot. The store key is known before any server is
started (server pin, snapshot identity, request), so a repeated request on a frozen
snapshot is answered from the store. ``verify`` recomputes on the workspace as it
is now, bypassing the store, and compares hashes.
"""

from __future__ import annotations

import time
from typing import Any

from lanser.bundles import check_bundle, make_bundle
from lanser.bundles.diff import diff_bundles
from lanser.bundles.snapshot import snapshot_identity
from lanser.bundles.store import BundleStore, store_key
from lanser.errors import UsageError
from lanser.lsp.registry import ServerSpec, get_server
from lanser.workspace import Workspace

#: Operations a query bundle can hold; each becomes one key of ``facts``.
BUNDLE_OPS = ("definition", "declaration", "type-definition", "implementation", "references",
              "hover", "symbols", "diagnostics", "calls")


def parse_ops(text: str) -> list[str]:
    ops = [op.strip() for op in text.split(",") if op.strip()]
    unknown = [op for op in ops if op not in BUNDLE_OPS]
    if not ops or unknown:
        raise UsageError(f"--op {text!r}: expected a comma-separated list of "
                         f"{', '.join(BUNDLE_OPS)}", code="bad_op")
    return sorted(set(ops), key=ops.index)


def op_requests(ops: list[str], path: str, line: int, col: int) -> list[dict[str, Any]]:
    out = []
    for op in ops:
        if op == "diagnostics":
            out.append({"op": op, "paths": [path]})
        elif op == "symbols":
            out.append({"op": op, "path": path})
        else:
            request: dict[str, Any] = {"op": op, "path": path, "line": line, "col": col}
            if op == "calls":
                request["incoming"] = True
            out.append(request)
    return out


def server_pin(spec: ServerSpec) -> dict[str, Any]:
    """What identifies a server's answers before it starts (part of every store key)."""
    from lanser.lsp.service import config_hash

    return {"name": spec.name, "version": spec.installed_version(),
            "config_hash": config_hash(spec)}


def query_request(workspace: Workspace, loc: str, ops: list[str]) -> tuple[dict[str, Any], Any]:
    """The hashed request of a query bundle, and the resolved target it names.

    Selectors in bundles are relative to the root whatever the cwd, so a bundle can
    be verified from anywhere (and means the same in every checkout).
    """
    from lanser.selectors import resolve_target

    workspace = Workspace(workspace.root, cwd=workspace.root)
    target = resolve_target(workspace, loc, threshold=workspace.config.confidence_threshold)
    request = {
        "ops": list(ops),
        "selector": loc,
        "target": {"path": workspace.relative(target.path), "line": target.position.line,
                   "col": target.position.col, "method": target.method,
                   "confidence": f"{target.confidence:.3f}"},
    }
    return request, target


def query_bundle(workspace: Workspace, spec: ServerSpec, loc: str, ops: list[str], *,
                 timeout: float, use_daemon: bool = True, use_store: bool = True
                 ) -> tuple[dict[str, Any], bool]:
    """The bundle for ``ops`` at ``loc``; the flag says it came from the store."""
    from lanser.lsp.client import query_batch

    began = time.perf_counter()
    request, target = query_request(workspace, loc, ops)
    snapshot = snapshot_identity(workspace)
    pin = server_pin(spec)
    key = store_key(pin, snapshot, {"op": "query", **request})
    store = BundleStore(workspace)
    if use_store:
        stored = store.get(key)
        if stored is not None:
            return stored, True
    asked = time.perf_counter()
    answers, server = query_batch(workspace, spec, op_requests(ops, request["target"]["path"],
                                                               target.position.line,
                                                               target.position.col),
                                  timeout=timeout, use_daemon=use_daemon)
    answered = time.perf_counter()
    facts = dict(zip(ops, answers, strict=True))
    bundle = make_bundle(workspace, op="query", request=request, facts=facts, server=server,
                         snapshot=snapshot, provenance={"timings_ms": {
                             "prepare": round((asked - began) * 1000, 3),
                             "server": round((answered - asked) * 1000, 3),
                         }})
    store.put(key, bundle)
    return bundle, False


def verify_bundle(workspace: Workspace, bundle: dict[str, Any], *, timeout: float,
                  use_daemon: bool = True) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Recompute ``bundle`` on the workspace now; returns the new bundle and the changes."""
    check_bundle(bundle)
    request = bundle["request"]
    if request["op"] != "query":
        raise UsageError(f"bundles of op {request['op']!r} cannot be recomputed by "
                         "`bundle verify` (their integrity is intact)", code="unsupported")
    spec = get_server(bundle["server"]["name"], workspace.config.servers)
    fresh, _ = query_bundle(workspace, spec, request["selector"], request["ops"],
                            timeout=timeout, use_daemon=use_daemon, use_store=False)
    if fresh["hash"] == bundle["hash"]:
        return fresh, []
    return fresh, diff_bundles(bundle, fresh)
