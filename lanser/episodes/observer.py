"""Observing a workspace for an episode: snapshots, and the bundles each step records.

One warm :class:`~lanser.lsp.service.LanguageService` serves the whole episode (the
episode process is long-lived, like the daemon, so no step pays a cold start). Every
observation becomes a hashed bundle in the workspace's store (filed by hash: that is
how episodes name them): whole-workspace diagnostics, test runs, and query answers.
A tree this observer has seen before (a rollback, an undo, a query) is answered from
memory without a server round trip. Only from memory, for this observer's lifetime:
across processes, files git ignores (a ``.venv`` gaining a package) can change what
the server says about the same tree, so an older answer is not reused.
``--reexecute`` replays through this same class on a rebuilt snapshot (remembering
nothing), so recording and re-execution cannot differ in method.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lanser.bundles import make_bundle
from lanser.bundles.store import BundleStore, store_key
from lanser.episodes import snapshots
from lanser.episodes.snapshots import Snapshot
from lanser.errors import ServerTimeout
from lanser.lsp.registry import ServerSpec
from lanser.lsp.service import LanguageService
from lanser.queries.bundle import facts_of_answers, queries_of, query_request, server_pin
from lanser.queries.execute import execute
from lanser.queries.ops import BY_NAME, request
from lanser.queries.plan import run_queries
from lanser.selectors import Target
from lanser.workspace import Workspace

DIAGNOSTICS_REQUEST = request(BY_NAME["diagnostics"], paths=[])
#: How many trees' diagnostics an observer remembers.
REMEMBERED = 64


class Observer:
    def __init__(self, workspace: Workspace, spec: ServerSpec, *, timeout: float,
                 test_timeout: float, remember: bool = True) -> None:
        self.workspace = workspace
        self.spec = spec
        self.timeout = timeout
        self.test_timeout = test_timeout
        self.remember = remember
        self.store = BundleStore(workspace)
        self.pin = server_pin(spec)
        self.service: LanguageService | None = None
        #: Diagnostics bundles by tree, seen by this observer (``remember``).
        self._seen: dict[str, dict[str, Any]] = {}
        #: Snapshots this observer has kept, by tree.
        self._kept: dict[str, Snapshot] = {}
        #: Grading runs (issue 16): protected files restored in the sandbox copy, and
        #: a run the code under test ends early scored rather than an error.
        self.protect: Any = None

    async def __aenter__(self) -> Observer:
        # Tracked: the server follows the disk by content hashes, and a whole-workspace
        # answer on an unchanged disk (the verify before an edit, the observation after
        # its verify) is the last one, not a second pull.
        self.service = await LanguageService(self.workspace, self.spec, timeout=self.timeout,
                                             track_disk=True).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.service is not None:
            await self.service.close()

    def snapshot(self) -> Snapshot:
        """The working tree now, kept alive by its ref (:func:`keep`)."""
        return self.keep(self.tree())

    def tree(self) -> str:
        """The git tree of the working tree now (written, not yet kept by a ref)."""
        return snapshots.working_tree_hash(self.workspace)

    def keep(self, tree: str) -> Snapshot:
        """``tree`` wrapped and pointed at by its ref, once per tree per observer: the
        wrapping commit is a function of the tree, so a tree seen again (an undo, a
        rollback, a test run's) costs no ``commit-tree`` + ``update-ref``."""
        kept = self._kept.get(tree)
        if kept is None:
            kept = self._kept[tree] = snapshots.keep(self.workspace, tree)
        return kept

    async def diagnostics(self, tree: str) -> dict[str, Any]:
        """The whole-workspace diagnostics bundle of ``tree`` (the disk now)."""
        seen = self._seen.get(tree)
        if seen is not None:
            return seen

        answer = (await execute(self._service(), DIAGNOSTICS_REQUEST)).to_json()
        late = [f["path"] for f in answer["files"] if f["status"] != "ready"]
        if late:
            # A reward on a partial answer would be a wrong number: say so instead.
            raise ServerTimeout(f"{self.spec.name} did not publish diagnostics in time for "
                                f"{', '.join(late[:5])}{' ...' if len(late) > 5 else ''} "
                                f"({len(late)} file(s)): raise --timeout (or [lanser] "
                                "timeout), or start the daemon (lanser daemon start)",
                                paths=late)
        bundle = make_bundle(self.workspace, op="diagnostics", request=DIAGNOSTICS_REQUEST,
                             facts=answer, server=self._service().server_info(),
                             snapshot=snapshots.identity(tree))
        self.store.put(None, bundle)
        if self.remember:
            if len(self._seen) >= REMEMBERED:
                del self._seen[next(iter(self._seen))]  # the oldest: a bounded memory
            self._seen[tree] = bundle
        return bundle

    def _service(self) -> LanguageService:
        if self.service is None:
            raise RuntimeError("the observer is used outside `async with`")
        return self.service

    async def tests(self, args: tuple[str, ...] = ()) -> tuple[dict[str, Any], Any]:
        """Run the tests in the sandbox; their bundle (stored) and the RunResult."""
        from lanser.runner import run_tests

        result = await asyncio.to_thread(run_tests, self.workspace, args=args,
                                         timeout=self.test_timeout, protect=self.protect)
        bundle = result.bundle(self.workspace)
        self.store.put(None, bundle)
        return bundle, result

    async def query(self, op: str, at: str | None, tree: str, *,
                    query: str | None = None) -> tuple[dict[str, Any], Target | None]:
        """A query bundle (the shape ``lanser bundle`` writes) and the resolved target
        (``None`` for an op that takes no location, such as workspace-symbols)."""
        request, target = query_request(self.workspace, at, [op], query=query)
        service = self._service()
        answers = await run_queries(service, Workspace(self.workspace.root, self.workspace.root),
                                    queries_of(request))
        identity = snapshots.identity(tree)
        bundle = make_bundle(self.workspace, op="query", request=request,
                             facts=facts_of_answers([op], answers),
                             server=service.server_info(), snapshot=identity)
        self.store.put(store_key(self.pin, identity, {"op": "query", **request}), bundle)
        return bundle, target
