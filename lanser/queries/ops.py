"""The one table of query operations: every place that names an op derives from it.

An :class:`Op` is what a user asks for (``definition``, ``references``,
``outgoing-calls``, ...): the CLI's query commands, the fast path, the planner, the
daemon, episode queries and ``lanser bundle --op`` all read :data:`OPS`. Adding an op
is one row here plus, for a new kind of question, one branch in
:func:`lanser.queries.execute.execute`.

Each op asks one *kind* of question of the server (``kind``); bundle-only variants
(``references-with-declaration``, ``outgoing-calls``) are the same kind with a fixed
option. ``facts`` is the key of the answer that holds what the server said.

Imported on the fast path (an agent's warm query): the standard library only, and not
``dataclasses`` (its ``inspect`` costs ~8 ms a call): :class:`Op` is a ``NamedTuple``,
and this module's annotations are evaluated, not postponed (``typing`` would compile each
field's string annotation, ~2 ms).
"""

from typing import Any, NamedTuple

#: The LSP method behind each kind of question (``calls`` starts with this one,
#: then asks incoming or outgoing calls of each item).
METHODS = {
    "definition": "textDocument/definition",
    "declaration": "textDocument/declaration",
    "type-definition": "textDocument/typeDefinition",
    "implementation": "textDocument/implementation",
    "references": "textDocument/references",
    "hover": "textDocument/hover",
    "symbols": "textDocument/documentSymbol",
    "workspace-symbols": "workspace/symbol",
    "calls": "textDocument/prepareCallHierarchy",
    "diagnostics": "textDocument/diagnostic",
}
#: Kinds that ask where something is (the answer is a list of locations).
LOCATION_KINDS = ("definition", "declaration", "type-definition", "implementation")


class Op(NamedTuple):
    """One operation a user can ask for.

    ``where``: ``"position"`` (a location: path, line, col), ``"file"`` (a path),
    ``"files"`` (paths; none = the whole workspace) or ``"query"`` (a search string).
    ``options``: the boolean request fields the CLI command may set, with defaults.
    ``fixed``: request fields this op always sends (the bundle variants).
    ``command``: whether it is also a CLI command of the same name.
    """

    name: str
    kind: str
    facts: str
    where: str = "position"
    options: tuple[tuple[str, bool], ...] = ()
    fixed: tuple[tuple[str, bool], ...] = ()
    command: bool = True
    flags: tuple[tuple[str, str, bool], ...] = ()

    @property
    def method(self) -> str:
        return METHODS[self.kind]

    @property
    def located(self) -> bool:
        """Whether a bundle of this op needs a location (a target)."""
        return self.where != "query"


#: Every op, in the order ``--op`` lists them. ``flags``: (CLI flag, request field,
#: the value the flag sets), so the fast path parses exactly what typer accepts.
OPS: tuple[Op, ...] = (
    Op("definition", "definition", "locations"),
    Op("declaration", "declaration", "locations"),
    Op("type-definition", "type-definition", "locations"),
    Op("implementation", "implementation", "locations"),
    Op("references", "references", "locations",
       options=(("include_declaration", False),),
       flags=(("--include-declaration", "include_declaration", True),)),
    Op("references-with-declaration", "references", "locations",
       fixed=(("include_declaration", True),), command=False),
    Op("hover", "hover", "hover"),
    Op("symbols", "symbols", "symbols", where="file"),
    Op("workspace-symbols", "workspace-symbols", "symbols", where="query"),
    Op("diagnostics", "diagnostics", "files", where="files"),
    Op("calls", "calls", "calls", options=(("incoming", True),),
       flags=(("--incoming", "incoming", True), ("--outgoing", "incoming", False))),
    Op("outgoing-calls", "calls", "calls", fixed=(("incoming", False),), command=False),
)
BY_NAME: dict[str, Op] = {op.name: op for op in OPS}
#: The CLI's query commands.
COMMANDS: tuple[str, ...] = tuple(op.name for op in OPS if op.command)
#: What ``lanser bundle --op`` and an episode's query action accept.
BUNDLE_OPS: tuple[str, ...] = tuple(op.name for op in OPS)
#: Ops that need no location.
UNLOCATED_OPS: tuple[str, ...] = tuple(op.name for op in OPS if not op.located)


def get_op(name: Any) -> Op:
    """The op called ``name``; an unknown one is a usage error (``bad_request``)."""
    op = BY_NAME.get(name) if isinstance(name, str) else None
    if op is None:
        from lanser.errors import UsageError

        raise UsageError(f"unknown operation {name!r}; expected one of "
                         f"{', '.join(BUNDLE_OPS)}", code="bad_request")
    return op


#: The fields a query of each kind of place carries (:func:`lanser.jsonio.require`),
#: beside ``op`` and the op's own options (booleans): a position is either ``loc`` (a
#: selector) or a resolved ``path``, ``line``, ``col``.
QUERY_FIELDS: dict[str, dict[str, str]] = {
    "position": {"loc": "str?", "path": "str?", "line": "int?", "col": "int?"},
    "file": {"path": "str"},
    "files": {"paths": "str_list?"},
    "query": {"query": "str?"},
}


def check_query(query: Any) -> Op:
    """The op of ``query`` once its fields have the shapes its op reads, else
    ``bad_request`` (issue 17: a daemon's malformed query is exit 2, never internal)."""
    from lanser.jsonio import require

    op = get_op(require(query, {"op": "str"}, what="query")["op"])
    fields = {**QUERY_FIELDS[op.where], **{key: "bool?" for key, _ in op.options}}
    if op.where == "position" and query.get("loc") is None:
        fields.update(path="str", line="int", col="int")
    require(query, fields, what=f"{op.name} query")
    return op


def request(op: Op, *, path: str | None = None, line: int | None = None,
            col: int | None = None, paths: list[str] | None = None, query: str | None = None,
            options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The server request (the JSON :func:`lanser.queries.execute.execute` takes) of
    ``op`` at a place; ``options`` may set the op's own options, nothing else."""
    out: dict[str, Any] = {"op": op.kind}
    if op.where == "query":
        out["query"] = query or ""
    elif op.where == "files":
        out["paths"] = list(paths or [])
    elif op.where == "file":
        out["path"] = path
    else:
        out.update(path=path, line=line, col=col)
    given = options or {}
    out.update({key: bool(given[key]) for key, _ in op.options if key in given})
    out.update(dict(op.fixed))
    return out


def query_message(server: str | None, queries: list[dict[str, Any]], *, timeout: float,
                  cwd: str) -> dict[str, Any]:
    """The daemon's one query message (:mod:`lanser.queries.daemon` answers it): the
    fast path and :mod:`lanser.queries.ask` send the same."""
    return {"method": "query", "server": server, "queries": queries, "timeout": timeout,
            "cwd": cwd}


def diagnostics_summary(files: list[dict[str, Any]]) -> dict[str, int]:
    """Counts by severity over a diagnostics answer's ``files``, plus ``not_ready``."""
    from lanser.severities import NAMES

    counts = {**dict.fromkeys(NAMES, 0), "not_ready": 0}
    for entry in files:
        if entry["status"] != "ready":
            counts["not_ready"] += 1
        for diag in entry["diagnostics"]:
            counts[diag["severity"]] = counts.get(diag["severity"], 0) + 1
    return counts
