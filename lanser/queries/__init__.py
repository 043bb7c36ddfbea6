"""Queries: the one op table, the one planner, and every path a query is answered by.

- :mod:`~lanser.queries.ops` — the op table (:data:`OPS`), the request each op sends;
  light, so the CLI's fast path can read it.
- :mod:`~lanser.queries.execute` — one request on a language service, as typed facts.
- :mod:`~lanser.queries.plan` — a query (JSON) planned (selectors resolved) and answered.
- :mod:`~lanser.queries.ask` — through the workspace's daemon, or in process.
- :mod:`~lanser.queries.daemon` — the daemon's process entry point and query method.
- :mod:`~lanser.queries.bundle` — hashed bundles of queries: make, store, verify.

Only the op table is imported here: the fast path must not pay for the planner.
"""

from lanser.queries.ops import BUNDLE_OPS, COMMANDS, OPS, UNLOCATED_OPS, Op, get_op

__all__ = ["BUNDLE_OPS", "COMMANDS", "OPS", "UNLOCATED_OPS", "Op", "get_op"]
