"""``lanser.AsyncClient`` and ``lanser.Client``: lanser from Python.

:class:`AsyncClient` is the implementation: each method calls the same library
function the CLI command of the same name calls (queries go to the workspace's
daemon when one runs, else to a server started for the call), and returns a typed
record (:mod:`lanser.sdk.results`, or the library's own frozen records: the
runner's :class:`~lanser.runner.RunResult`, the gate's
:class:`~lanser.gate.GateReport`). :class:`Client` is the same methods, blocking:
written once, generically (:func:`_blocking`), not a second implementation.

Errors are lanser's (:mod:`lanser.errors`): :class:`~lanser.errors.UsageError`
(bad location, path outside the workspace, unknown revision...),
:class:`~lanser.errors.ServerError` (crash, timeout), :class:`~lanser.errors.NotResolved`
(not found, ambiguous: ``details`` lists the candidates); every one a
:class:`~lanser.errors.LanserError` with a stable ``code``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from lanser.errors import LanserError, UsageError
from lanser.sdk import ops
from lanser.sdk.results import (
    Bundle,
    Calls,
    Diagnostics,
    EditResult,
    HoverInfo,
    Locations,
    RewardResult,
    Symbols,
    Verification,
)

P = ParamSpec("P")
T = TypeVar("T")


class AsyncClient:
    """lanser on one workspace, for asyncio code.

    ``root``: the workspace (default: the git top-level of the current directory);
    ``server``: the language server (default: the workspace's); ``timeout``: seconds a
    server request may take; ``use_daemon=False`` never asks a running daemon.
    """

    def __init__(self, root: str | Path | None = None, *, server: str | None = None,
                 timeout: float | None = None, use_daemon: bool = True) -> None:
        from lanser.workspace import Workspace

        self.workspace = Workspace.open(root)
        self.server = server or self.workspace.config.server
        self.timeout = timeout if timeout is not None else self.workspace.config.timeout
        self.use_daemon = use_daemon

    @property
    def root(self) -> Path:
        return self.workspace.root

    def _spec(self) -> Any:
        from lanser.lsp.registry import get_server

        return get_server(self.server, self.workspace.config.servers)

    async def _query(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(ops.query, self.workspace, self._spec(), command, args,
                                       timeout=self.timeout, use_daemon=self.use_daemon)

    # -- queries -------------------------------------------------------------------

    async def definition(self, loc: str) -> Locations:
        """Where the symbol at ``loc`` (``path:line:col`` or a selector) is defined."""
        return Locations.from_json(await self._query("definition", {"loc": loc}))

    async def declaration(self, loc: str) -> Locations:
        return Locations.from_json(await self._query("declaration", {"loc": loc}))

    async def type_definition(self, loc: str) -> Locations:
        return Locations.from_json(await self._query("type-definition", {"loc": loc}))

    async def implementation(self, loc: str) -> Locations:
        return Locations.from_json(await self._query("implementation", {"loc": loc}))

    async def references(self, loc: str, *, include_declaration: bool = False) -> Locations:
        return Locations.from_json(await self._query(
            "references", {"loc": loc, "include_declaration": include_declaration}))

    async def hover(self, loc: str) -> HoverInfo:
        return HoverInfo.from_json(await self._query("hover", {"loc": loc}))

    async def symbols(self, path: str) -> Symbols:
        return Symbols.from_json(await self._query("symbols", {"path": path}))

    async def workspace_symbols(self, query: str) -> Symbols:
        return Symbols.from_json(await self._query("workspace-symbols", {"query": query}))

    async def calls(self, loc: str, *, incoming: bool = True) -> Calls:
        return Calls.from_json(await self._query("calls", {"loc": loc, "incoming": incoming}))

    async def diagnostics(self, *paths: str) -> Diagnostics:
        """Fresh diagnostics of ``paths`` (files or folders; none: the workspace)."""
        return Diagnostics.from_json(await self._query("diagnostics", {"paths": list(paths)}))

    # -- bundles -------------------------------------------------------------------

    async def bundle(self, loc: str | None, ops_: Sequence[str] = ("definition",), *,
                     query: str | None = None) -> Bundle:
        """A hashed bundle of ``ops_`` at ``loc`` (from the store when it has it)."""
        document, stored = await asyncio.to_thread(
            ops.bundle, self.workspace, self._spec(), loc, list(ops_), query=query,
            timeout=self.timeout, use_daemon=self.use_daemon)
        return Bundle.from_json(document, stored)

    async def verify(self, bundle: Bundle | dict[str, Any]) -> Verification:
        """Recompute a bundle on the workspace now: the same hash, or what drifted."""
        document = bundle.data if isinstance(bundle, Bundle) else bundle
        fresh, changes = await asyncio.to_thread(ops.verify, self.workspace, document,
                                                 timeout=self.timeout,
                                                 use_daemon=self.use_daemon)
        return Verification(not changes, None if fresh is None else fresh["hash"],
                            tuple(changes))

    # -- edits ---------------------------------------------------------------------

    async def rename(self, loc: str, new_name: str, *, apply: bool = False,
                     verify: bool = False) -> EditResult:
        """Rename the symbol at ``loc``: previewed, or applied through the envelope."""
        from lanser.edits import flows
        from lanser.selectors import resolve_target

        target = resolve_target(self.workspace, loc,
                                threshold=self.workspace.config.confidence_threshold)
        outcome = await flows.rename(self.workspace, self._spec(), target.path,
                                     target.position, new_name, apply=apply, verify=verify,
                                     timeout=self.timeout)
        return EditResult.from_outcome(outcome)

    async def apply(self, edit: str, *, apply: bool = True, verify: bool = False) -> EditResult:
        """Apply an edit (a unified diff, WorkspaceEdit JSON or a lanser preview, as
        text) through the safety envelope; ``apply=False`` only previews it."""
        from lanser.edits import flows

        outcome = await flows.apply_file(self.workspace, edit, origin="sdk apply",
                                         apply=apply, verify=verify,
                                         spec=self._spec() if verify else None,
                                         timeout=self.timeout)
        return EditResult.from_outcome(outcome)

    async def undo(self) -> tuple[str, ...]:
        """Roll back the last apply exactly; the files restored."""
        from lanser.edits import Envelope

        result = await asyncio.to_thread(lambda: Envelope(self.workspace).undo())
        return tuple(result.files)

    # -- tests, rewards, episodes, the gate ------------------------------------------

    async def test(self, *pytest_args: str, rev: str | None = None,
                   timeout: float = 60.0) -> Any:
        """A sandboxed pytest run: a :class:`lanser.runner.RunResult` (per-test
        outcomes and credit)."""
        from lanser.runner import run_tests

        python = self.workspace.config.program("runner", "python")
        return await asyncio.to_thread(run_tests, self.workspace, rev=rev,
                                       args=tuple(pytest_args), timeout=timeout, python=python)

    async def reward(self, *, before: str = "HEAD", after: str | None = None,
                     patch: str | None = None, profile: str | None = None,
                     fail_to_pass: Iterable[str] = (), pass_to_pass: Iterable[str] = (),
                     test_timeout: float = 60.0) -> RewardResult:
        """The one-shot process reward of a change (``lanser reward``)."""
        from lanser.episodes import oneshot
        from lanser.episodes.task import TaskSpec
        from lanser.rewards import profile_for_workspace

        chosen = profile_for_workspace(self.workspace.config.section("rewards"), profile,
                                       self.workspace.root)
        task = TaskSpec.load(None, f2p=fail_to_pass, p2p=pass_to_pass)
        result = await oneshot.score(self.workspace, before=before, after=after, patch=patch,
                                     profile=chosen, task=task, spec=self._spec(),
                                     timeout=self.timeout, test_timeout=test_timeout)
        return RewardResult.from_oneshot(result)

    async def replay(self, episode: str | Path, *, profile: str | None = None) -> Any:
        """Re-score a recorded episode offline: a ``Replayed`` (``.matches``, ``.total``)."""
        from lanser.episodes import format as episode_format
        from lanser.episodes.replay import replay

        loaded = episode_format.load(Path(episode))
        return await asyncio.to_thread(replay, self.workspace, loaded, profile)

    async def gate(self, base: str, head: str = "HEAD", *,
                   fail_on: str | Iterable[str] | None = None, tests: str = "impact",
                   profile: str | None = None, test_timeout: float = 60.0) -> Any:
        """``lanser ci``: a :class:`lanser.gate.GateReport` (``.passed``, new
        diagnostics, new and old test failures, the reward)."""
        from lanser.gate import FailOn, check
        from lanser.rewards import profile_for_workspace

        chosen = profile_for_workspace(self.workspace.config.section("rewards"), profile,
                                       self.workspace.root)
        configured = self.workspace.config.section("ci").get("fail_on")
        return await check(self.workspace, base=base, head=head,
                           fail_on=FailOn.parse(fail_on if fail_on is not None else configured),
                           tests=tests, profile=chosen, spec=self._spec(),
                           timeout=self.timeout, test_timeout=test_timeout,
                           python=self.workspace.config.program("runner", "python"))


def _blocking(method: Callable[Concatenate[AsyncClient, P], Awaitable[T]]
              ) -> Callable[Concatenate[Client, P], T]:
    """``method`` of :class:`AsyncClient`, run to completion (one event loop per call)."""

    @functools.wraps(method)
    def call(self: Client, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(method(self._async, *args, **kwargs))  # type: ignore[arg-type]
        raise UsageError("lanser.Client blocks; inside a running event loop use "
                         "lanser.AsyncClient (await its methods)", code="usage")

    return call


class Client:
    """lanser on one workspace, blocking: :class:`AsyncClient`'s methods, same
    arguments, same results."""

    def __init__(self, root: str | Path | None = None, *, server: str | None = None,
                 timeout: float | None = None, use_daemon: bool = True) -> None:
        self._async = AsyncClient(root, server=server, timeout=timeout, use_daemon=use_daemon)

    @property
    def root(self) -> Path:
        return self._async.root

    @property
    def workspace(self) -> Any:
        return self._async.workspace

    definition = _blocking(AsyncClient.definition)
    declaration = _blocking(AsyncClient.declaration)
    type_definition = _blocking(AsyncClient.type_definition)
    implementation = _blocking(AsyncClient.implementation)
    references = _blocking(AsyncClient.references)
    hover = _blocking(AsyncClient.hover)
    symbols = _blocking(AsyncClient.symbols)
    workspace_symbols = _blocking(AsyncClient.workspace_symbols)
    calls = _blocking(AsyncClient.calls)
    diagnostics = _blocking(AsyncClient.diagnostics)
    bundle = _blocking(AsyncClient.bundle)
    verify = _blocking(AsyncClient.verify)
    rename = _blocking(AsyncClient.rename)
    apply = _blocking(AsyncClient.apply)
    undo = _blocking(AsyncClient.undo)
    test = _blocking(AsyncClient.test)
    reward = _blocking(AsyncClient.reward)
    replay = _blocking(AsyncClient.replay)
    gate = _blocking(AsyncClient.gate)


__all__ = ["AsyncClient", "Client", "LanserError"]
