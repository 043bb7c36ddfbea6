"""Bundles of queries: resolve the target, ask, wrap, store; verify and diff them.

``lanser bundle LOC --op definition,hover,...`` records what the server said about
one target on the current snapshot. The store key is known before any server is
started (server pin, snapshot identity, request), so a repeated request on a frozen
snapshot is answered from the store. ``verify`` recomputes on the workspace as it
is now, bypassing the store, and compares hashes.

``exclude`` (files inside the workspace left out of the snapshot) is how a bundle
written into the workspace (``-o FILE``) and the ``verify FILE`` that reads it back
agree on the snapshot: both leave FILE out.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lanser.bundles import check_bundle, make_bundle
from lanser.bundles.diff import diff_bundles
from lanser.bundles.snapshot import snapshot_identity
from lanser.bundles.store import BundleStore, store_key
from lanser.errors import (
    BadSelector,
    MissingFile,
    NotResolved,
    PositionOutOfRange,
    UnreadableFile,
    UsageError,
)
from lanser.lsp.registry import ServerSpec, get_server
from lanser.lsp.service import config_hash
from lanser.queries.ask import ask
from lanser.queries.ops import BUNDLE_OPS, get_op
from lanser.queries.plan import Query, facts_of
from lanser.runner import run_tests
from lanser.selectors import Target, resolve_target
from lanser.workspace import Workspace


def parse_ops(text: str) -> list[str]:
    """``--op``'s comma-separated list: known ops (:data:`BUNDLE_OPS`), each once."""
    ops = [op.strip() for op in text.split(",") if op.strip()]
    unknown = [op for op in ops if op not in BUNDLE_OPS]
    if not ops or unknown:
        raise UsageError(f"--op {text!r}: expected a comma-separated list of "
                         f"{', '.join(BUNDLE_OPS)}", code="bad_op")
    return sorted(set(ops), key=ops.index)


def needs_location(ops: Iterable[str]) -> bool:
    return any(get_op(op).located for op in ops)


def server_pin(spec: ServerSpec) -> dict[str, Any]:
    """What identifies a server's answers before it starts (part of every store key)."""
    return {"name": spec.name, "version": spec.installed_version(),
            "config_hash": config_hash(spec)}


def query_request(workspace: Workspace, loc: str | None, ops: list[str], *,
                  query: str | None = None) -> tuple[dict[str, Any], Target | None]:
    """The hashed request of a query bundle, and the resolved target it names.

    Selectors in bundles are relative to the root whatever the cwd, so a bundle can
    be verified from anywhere (and means the same in every checkout). ``loc`` may be
    ``None`` only when every op is unlocated (the target is then ``None``);
    ``query`` is required by ``workspace-symbols`` and recorded only with it.
    """
    request: dict[str, Any] = {"ops": list(ops)}
    searches = [op for op in ops if get_op(op).where == "query"]
    if searches:
        if not query:
            raise UsageError(f"{', '.join(searches)} needs a query (--query TEXT)",
                             code="bad_op")
        request["query"] = query
    if not needs_location(ops):
        return request, None
    if not loc:
        raise UsageError(f"{', '.join(op for op in ops if get_op(op).located)} "
                         "need a location (LOC)", code="bad_op")
    workspace = Workspace(workspace.root, cwd=workspace.root)
    target = resolve_target(workspace, loc, threshold=workspace.config.confidence_threshold)
    workspace.check_python(target.path)  # a README is not analysed as Python
    request["selector"] = loc
    request["target"] = {"path": workspace.relative(target.path), "line": target.position.line,
                         "col": target.position.col, "method": target.method,
                         "confidence": f"{target.confidence:.3f}"}
    return request, target


def queries_of(request: dict[str, Any]) -> list[Query]:
    """The queries a query bundle's ``request`` stands for, at its resolved target."""
    target = request.get("target") or {}
    out: list[Query] = []
    for name in request["ops"]:
        op = get_op(name)
        if op.where == "query":
            out.append({"op": name, "query": request.get("query") or ""})
        elif op.where == "files":
            out.append({"op": name, "paths": [target.get("path")]})
        elif op.where == "file":
            out.append({"op": name, "path": target.get("path")})
        else:
            out.append({"op": name, "path": target.get("path"), "line": target.get("line"),
                        "col": target.get("col")})
    return out


def facts_of_answers(ops: list[str], answers: list[dict[str, Any]]) -> dict[str, Any]:
    """A query bundle's ``facts``: each op's facts, keyed by the op."""
    return {op: facts_of(op, answer) for op, answer in zip(ops, answers, strict=True)}


def query_bundle(workspace: Workspace, spec: ServerSpec, loc: str | None, ops: list[str], *,
                 timeout: float, use_daemon: bool = True, use_store: bool = True,
                 query: str | None = None, exclude: Iterable[Path] = ()
                 ) -> tuple[dict[str, Any], bool]:
    """The bundle for ``ops`` at ``loc``; the flag says it came from the store."""
    began = time.perf_counter()
    request, _ = query_request(workspace, loc, ops, query=query)
    snapshot = snapshot_identity(workspace, exclude)
    pin = server_pin(spec)
    key = store_key(pin, snapshot, {"op": "query", **request})
    store = BundleStore(workspace)
    if use_store:
        stored = store.get(key)
        if stored is not None:
            return stored, True
    asked = time.perf_counter()
    answers, server = ask(Workspace(workspace.root, cwd=workspace.root), spec,
                          queries_of(request), timeout=timeout, use_daemon=use_daemon)
    answered = time.perf_counter()
    facts = facts_of_answers(ops, answers)
    bundle = make_bundle(workspace, op="query", request=request, facts=facts, server=server,
                         snapshot=snapshot, provenance={"timings_ms": {
                             "prepare": round((asked - began) * 1000, 3),
                             "server": round((answered - asked) * 1000, 3),
                         }})
    store.put(key, bundle)  # not under ``key`` when a fact is partial (not_ready)
    return bundle, False


#: Errors of a recompute that mean the workspace moved away from the bundle (drift),
#: not that the bundle or the command is wrong.
DRIFT_ERRORS = (MissingFile, BadSelector, NotResolved, PositionOutOfRange, UnreadableFile)


def verify_bundle(workspace: Workspace, bundle: dict[str, Any], *, timeout: float,
                  use_daemon: bool = True, exclude: Iterable[Path] = ()
                  ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Recompute ``bundle`` on the workspace now; returns the new bundle and the changes.

    A target that no longer resolves (file deleted, selector now ambiguous or gone)
    is drift: no new bundle, one change of kind ``unresolvable`` with the reason.
    Test-run bundles are rerun through :mod:`lanser.runner`; a diagnostics bundle
    (episodes) is asked again on the whole workspace.
    """
    check_bundle(bundle)
    request = bundle["request"]
    try:
        if request["op"] == "query":
            spec = get_server(bundle["server"]["name"], workspace.config.servers)
            fresh, _ = query_bundle(workspace, spec, request.get("selector"), request["ops"],
                                    query=request.get("query"), timeout=timeout,
                                    use_daemon=use_daemon, use_store=False, exclude=exclude)
        elif request["op"] == "test":
            fresh = _rerun_tests(workspace, request)
        elif request["op"] == "diagnostics" and bundle["server"] is not None:
            fresh = _rediagnose(workspace, bundle, timeout=timeout, use_daemon=use_daemon,
                                exclude=exclude)
        else:
            raise UsageError(f"bundles of op {request['op']!r} cannot be recomputed by "
                             "`bundle verify` (their integrity is intact)", code="unsupported")
    except DRIFT_ERRORS as exc:
        return None, [{"where": "request", "kind": "unresolvable", "reason": exc.code,
                       "message": str(exc)}]
    if fresh["hash"] == bundle["hash"]:
        return fresh, []
    return fresh, diff_bundles(bundle, fresh)


def _rerun_tests(workspace: Workspace, request: dict[str, Any]) -> dict[str, Any]:
    if request.get("selection") is not None:
        raise UsageError("a test bundle of an impact-selected run cannot be rerun by "
                         "`bundle verify` (its integrity is intact); rerun `lanser test` "
                         "with the same selection", code="unsupported")

    try:
        result = run_tests(workspace, rev=request.get("rev"), args=tuple(request["args"]),
                           timeout=float(request["test_timeout"]),
                           memory_mb=int(request["memory_mb"]),
                           reruns=int(request["reruns"]))
    except (KeyError, TypeError, ValueError):
        raise UsageError("this test bundle's request lacks what a rerun needs (args, "
                         "test_timeout, memory_mb, reruns)", code="unsupported") from None
    return result.bundle(workspace)


def _rediagnose(workspace: Workspace, bundle: dict[str, Any], *, timeout: float,
                use_daemon: bool, exclude: Iterable[Path]) -> dict[str, Any]:
    spec = get_server(bundle["server"]["name"], workspace.config.servers)
    request = {k: v for k, v in bundle["request"].items() if k != "op"}
    snapshot = snapshot_identity(workspace, exclude)
    answers, server = ask(Workspace(workspace.root, cwd=workspace.root), spec,
                          [{"op": "diagnostics", "paths": request.get("paths") or []}],
                          timeout=timeout, use_daemon=use_daemon)
    return make_bundle(workspace, op="diagnostics", request=request,
                       facts=facts_of("diagnostics", answers[0]), server=server,
                       snapshot=snapshot)

