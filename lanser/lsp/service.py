"""Language operations over one session: what every query command and the daemon run.

:class:`LanguageService` takes workspace paths and user positions, keeps the server
in step with the disk, asks, and returns normalized records
(:mod:`lanser.lsp.facts`). :func:`lanser.queries.execute.execute` runs a query's
request on it, in process, in the daemon and in an episode alike.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser.errors import LanserError, ServerError, UnreadableFile, Unsupported, UsageError
from lanser.lsp.dependents import DependencyGraph
from lanser.lsp.facts import (
    Call,
    CodeAction,
    Diagnostic,
    FileChange,
    Hover,
    Location,
    Normalizer,
    PathNames,
    Symbol,
    Texts,
)
from lanser.lsp.registry import ServerSpec
from lanser.lsp.session import Session
from lanser.lsp.tracker import ConfigWatch, DiskTracker
from lanser.positions import Position, Span, decode_source
from lanser.workspace import Workspace, path_to_uri

#: The server capability each request needs.
PROVIDERS = {
    "textDocument/definition": "definitionProvider",
    "textDocument/declaration": "declarationProvider",
    "textDocument/typeDefinition": "typeDefinitionProvider",
    "textDocument/implementation": "implementationProvider",
    "textDocument/references": "referencesProvider",
    "textDocument/hover": "hoverProvider",
    "textDocument/documentSymbol": "documentSymbolProvider",
    "workspace/symbol": "workspaceSymbolProvider",
    "textDocument/prepareCallHierarchy": "callHierarchyProvider",
    "textDocument/rename": "renameProvider",
    "textDocument/codeAction": "codeActionProvider",
}


#: How many whole-workspace answers a tracked service remembers.
WHOLE_MEMORY = 16


@dataclass(frozen=True)
class FileDiagnostics:
    """Diagnostics of one file; ``ready`` is False when the server did not answer in time."""

    path: str
    ready: bool
    diagnostics: tuple[Diagnostic, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": "ready" if self.ready else "not_ready",
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }


@dataclass(frozen=True)
class _Whole:
    """A whole-workspace answer and the files it is of (relative name → digest)."""

    files: dict[str, str]
    answer: list[FileDiagnostics]


class LanguageService:
    """A workspace and the session of one server, kept fresh against the disk.

    Each operation takes an optional ``timeout``: the caller's limit for each
    server request (the daemon serves clients that each pass their own
    ``--timeout``); ``None`` means the session's.
    """

    def __init__(self, workspace: Workspace, spec: ServerSpec, *, timeout: float = 30.0,
                 track_disk: bool = False) -> None:
        self.workspace = workspace
        self.spec = spec
        self.session = Session(spec, workspace.root, timeout=timeout)
        self._tracker = DiskTracker() if track_disk else None
        self._config: ConfigWatch | None = None
        self._lock = asyncio.Lock()
        self._server_info: tuple[int, dict[str, Any]] | None = None
        #: Whole-workspace answers of a tracked service, by (server start, the
        #: tracked files and their digests): the newest last, :data:`WHOLE_MEMORY` kept.
        self._wholes: OrderedDict[tuple[int, frozenset[tuple[str, str]]], _Whole] = (
            OrderedDict())
        self._dependents = DependencyGraph()
        #: The workspace's Python files at the last refresh (tracked only): by
        #: relative name, and the name of each.
        self._paths: dict[str, Path] = {}
        self._names: dict[Path, str] = {}
        anchors = []
        base = spec.resolved_command()
        for part in base[1:2]:
            # The server's own install dir names its bundled stubs (typeshed).
            candidate = Path(part).parent
            if candidate.exists():
                anchors.append((candidate, f"<{spec.name}>"))
        self.names = PathNames(workspace.root, anchors)

    async def start(self) -> LanguageService:
        if self._tracker is not None:
            self._config = ConfigWatch(self.workspace.root, self.spec.config_files)
        await self.session.start()
        if self._tracker is not None:
            self._tracker.scan(self._list_files())
        return self

    async def close(self) -> None:
        await self.session.close()

    async def retire(self) -> None:
        """Close once the requests in flight are answered (the daemon replaces it)."""
        async with self._lock:
            await self.session.close()

    async def __aenter__(self) -> LanguageService:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- freshness ------------------------------------------------------------

    async def refresh(self) -> None:
        """Bring the server up to date with every file changed on disk since last time.

        A change to the server's own configuration restarts it: servers read it once.
        """
        if self._tracker is None:
            return
        if self._config is not None and self._config.changed():
            await self.session.restart()
        changes = self._tracker.scan(self._list_files())
        if not changes:
            return
        open_paths = {doc.path for doc in self.session.documents.values()}
        watched_changed = []
        for path in changes.changed:
            if path in open_paths:
                # The version the server had: what a remembered answer may be of.
                doc = self.session.documents[path_to_uri(path)]
                self._dependents.remember(self._names[path], doc.digest, doc.source.text)
                await self.session.sync_file(path)
            else:
                watched_changed.append(path)
        for path in changes.deleted:
            self.session.close_file(path)
        self.session.files_changed(changes.created, watched_changed, changes.deleted)

    def _list_files(self) -> list[Path]:
        """The workspace's Python files now, in name order (kept by name in
        :attr:`_paths`, so each path object is made once)."""
        root, known = self.workspace.root, self._paths
        self._paths = {name: known.get(name) or root / name
                       for name in self.workspace.python_names()}
        self._names = {path: name for name, path in self._paths.items()}
        return list(self._paths.values())

    def _normalizer(self) -> Normalizer:
        def overlay(path: Path) -> Any:
            doc = self.session.documents.get(path_to_uri(path))
            return doc.source if doc is not None else None

        return Normalizer(self.names, Texts(overlay, self.session.encoding))

    async def _open(self, path: Path, pos: Position | None = None) -> tuple[Any, dict[str, Any]]:
        doc = await self.session.sync_file(path)
        params: dict[str, Any] = {"textDocument": {"uri": doc.uri}}
        if pos is not None:
            line, character = doc.source.to_lsp(pos, self.session.encoding)
            params["position"] = {"line": line, "character": character}
        return doc, params

    async def _reach_all(self) -> list[str]:
        """Open every Python file of the workspace in the server before a query that
        searches the workspace (references, rename, incoming calls, implementations).

        A server answers those from the files in its program: for pyright that is its
        ``include`` (a project's ``[tool.pyright] include = ["src"]`` leaves tests and
        examples out) plus the files open in it. Opening them all makes the answer
        reach every Python file lanser sees, and the same whether the session is cold
        or a daemon already opened them for diagnostics (issue 15, defect 5).
        Returns the files that could not be opened (too large, not text).
        """
        files = list(self._paths.values()) if self._tracker is not None \
            else self.workspace.python_files()
        unread = []
        for path in files:
            try:
                await self.session.sync_file(path)
            except UnreadableFile:  # too large, not text: the server cannot look there
                unread.append(self.workspace.relative(path))
        return unread

    async def _ask(self, method: str, params: Any, timeout: float | None = None) -> Any:
        """A request, refused up front when the server did not announce the feature."""
        provider = PROVIDERS.get(method)
        if provider is not None and not self.session.capabilities.get(provider):
            raise Unsupported(f"{self.spec.name} does not support {method}",
                              server=self.spec.name, method=method)
        return await self.session.request(method, params, timeout=timeout)

    # -- operations -----------------------------------------------------------

    async def locations(self, method: str, path: Path, pos: Position, *,
                        timeout: float | None = None) -> list[Location]:
        """Locations ``method`` (``textDocument/definition``, ...) answers at ``pos``."""
        async with self._lock:
            await self.refresh()
            if method == "textDocument/implementation":
                await self._reach_all()
            _, params = await self._open(path, pos)
            raw = await self._ask(method, params, timeout)
            return self._normalizer().locations(raw)

    async def references(self, path: Path, pos: Position, *, include_declaration: bool = False,
                         timeout: float | None = None) -> list[Location]:
        async with self._lock:
            await self.refresh()
            await self._reach_all()
            _, params = await self._open(path, pos)
            params["context"] = {"includeDeclaration": include_declaration}
            raw = await self._ask("textDocument/references", params, timeout)
            return self._normalizer().locations(raw)

    async def hover(self, path: Path, pos: Position, *,
                    timeout: float | None = None) -> Hover | None:
        async with self._lock:
            await self.refresh()
            _, params = await self._open(path, pos)
            raw = await self._ask("textDocument/hover", params, timeout)
            return self._normalizer().hover(path, raw)

    async def symbols(self, path: Path, *, timeout: float | None = None) -> list[Symbol]:
        async with self._lock:
            await self.refresh()
            _, params = await self._open(path)
            raw = await self._ask("textDocument/documentSymbol", params, timeout)
            return self._normalizer().document_symbols(path, raw)

    async def workspace_symbols(self, query: str, *,
                                timeout: float | None = None) -> list[Symbol]:
        async with self._lock:
            await self.refresh()
            raw = await self._ask("workspace/symbol", {"query": query}, timeout)
            return self._normalizer().workspace_symbols(raw)

    async def calls(self, path: Path, pos: Position, *, incoming: bool,
                    timeout: float | None = None) -> list[Call]:
        async with self._lock:
            await self.refresh()
            if incoming:
                await self._reach_all()
            _, params = await self._open(path, pos)
            items = await self._ask("textDocument/prepareCallHierarchy", params, timeout)
            method, end = (("callHierarchy/incomingCalls", "from") if incoming
                           else ("callHierarchy/outgoingCalls", "to"))
            found: list[Call] = []
            normalizer = self._normalizer()
            for item in items or []:
                raw = await self.session.request(method, {"item": item}, timeout=timeout)
                found.extend(normalizer.calls(raw, end=end, origin=path))
            return sorted(set(found), key=lambda c: c.sort_key)

    async def diagnostics(self, paths: list[Path] | None = None, *,
                          timeout: float | None = None) -> list[FileDiagnostics]:
        """Fresh diagnostics of ``paths`` (default: every Python file of the workspace).

        A tracked service answers the whole workspace incrementally
        (:meth:`_whole_workspace`); otherwise each call asks the server for every file.
        """
        async with self._lock:
            await self.refresh()
            if paths:
                return await self._pull(paths, timeout)
            if self._tracker is None:
                return await self._pull(self.workspace.python_files(), timeout)
            return await self._whole_workspace(timeout)

    async def _whole_workspace(self, timeout: float | None) -> list[FileDiagnostics]:
        """The whole workspace's diagnostics, asking the server only what may differ.

        Diagnostics are a function of the files (and of the server's configuration,
        whose change restarts it), so an answer is reused for files whose content and
        what they see of their imports are as they were (:mod:`lanser.lsp.dependents`):
        a state seen before (the verify before an edit, a rollback, an undo) costs no
        request at all, an edit inside a function body pulls that one file, and one
        that changes what importers see pulls them too. Any change to which files
        exist pulls everything.
        """
        assert self._tracker is not None
        restarts = self.session.restarts
        digests = self._tracker.digests()
        now = {self._names[p]: d for p, d in digests.items()}
        state = frozenset(now.items())
        known = self._wholes.get((restarts, state))
        if known is not None:
            self._wholes.move_to_end((restarts, state))
            return list(known.answer)

        def text_of(rel: str) -> str | None:
            return self._text(self.workspace.root / rel)

        files = [p for p in self._paths.values() if p in digests]
        base = next((w for k, w in reversed(self._wholes.items()) if k[0] == restarts), None)
        affected = (None if base is None
                    else self._dependents.affected(base.files, now, text_of))
        if affected is None:
            answer = await self._pull(files, timeout)
        else:
            pulled = await self._pull([p for p in files if self._names[p] in affected],
                                      timeout)
            fresh = {f.path: f for f in pulled}
            answer = [fresh.get(f.path, f) for f in base.answer]
        if all(f.ready for f in answer):
            # A server that died meanwhile answered the rest after its restart.
            restarts = self.session.restarts
            for stale in [k for k in self._wholes if k[0] != restarts]:
                del self._wholes[stale]
            self._wholes[(restarts, state)] = _Whole(now, answer)
            if len(self._wholes) > WHOLE_MEMORY:
                self._wholes.popitem(last=False)
        return list(answer)

    def _text(self, path: Path) -> str | None:
        """``path`` as the server has it (else from disk); ``None``: unreadable."""
        doc = self.session.documents.get(path_to_uri(path))
        if doc is not None:
            return doc.source.text
        try:
            return decode_source(path.read_bytes(), path)
        except (OSError, LanserError):
            return None

    async def _pull(self, paths: list[Path], timeout: float | None) -> list[FileDiagnostics]:
        """One real answer for ``paths``, from the server, in workspace order."""
        targets = sorted(set(paths), key=self.workspace.relative)
        docs = [await self.session.sync_file(p) for p in targets]
        if await self.session.uses_pull_diagnostics():
            # Pulls in flight together: one round trip per file in a row was most
            # of a whole-workspace answer (bench/episode_latency.py); the session
            # restarts once for all of them if the server dies meanwhile.
            raws = await asyncio.gather(
                *(self.session.diagnostics(d, timeout=timeout) for d in docs),
                return_exceptions=True)
            for raw in raws:
                if isinstance(raw, BaseException):
                    raise raw
        else:  # push: each waits for its own version's publication
            raws = [await self.session.diagnostics(d, timeout=timeout) for d in docs]
        normalizer = self._normalizer()
        return [FileDiagnostics(self.names.name(path), raw is not None,
                                tuple(normalizer.diagnostics(path, raw or [])))
                for path, raw in zip(targets, raws, strict=True)]

    async def rename(self, path: Path, pos: Position, new_name: str) -> list[FileChange]:
        """The server's edit for renaming the symbol at ``pos``; refused renames raise."""
        async with self._lock:
            await self.refresh()
            unread = await self._reach_all()
            _, params = await self._open(path, pos)
            provider = self.session.capabilities.get("renameProvider")
            refused = f"{self.spec.name} cannot rename at {self.workspace.relative(path)}:{pos}"
            if unread:  # a rename that may miss uses is refused, with where it could not look
                raise UsageError(f"{refused}: the server cannot read {len(unread)} Python "
                                 f"file(s) that may use the name: {', '.join(unread[:10])}",
                                 code="rename_incomplete")
            if isinstance(provider, dict) and provider.get("prepareProvider"):
                try:
                    prepared = await self.session.request("textDocument/prepareRename", params)
                except ServerError as exc:
                    raise _rename_refused(exc, refused) from None
                if not prepared:
                    raise UsageError(f"{refused}: no renameable symbol there",
                                     code="rename_refused")
            params["newName"] = new_name
            try:
                raw = await self._ask("textDocument/rename", params)
            except ServerError as exc:
                raise _rename_refused(exc, "rename refused") from None
            if not raw:
                raise UsageError(f"{self.spec.name} returned no edit for this rename",
                                 code="rename_refused")
            return self._normalizer().workspace_edit(raw, version_of=self._synced_version)

    def _synced_version(self, path: Path) -> int | None:
        """The version of ``path`` the server was last sent (None: not open)."""
        doc = self.session.documents.get(path_to_uri(path))
        return doc.version if doc is not None else None

    async def code_actions(self, path: Path, span: Span) -> list[CodeAction]:
        """Code actions offered for ``span``, each with its edit in user coordinates."""
        async with self._lock:
            await self.refresh()
            doc, params = await self._open(path)
            start = doc.source.to_lsp(span.start, self.session.encoding)
            end = doc.source.to_lsp(span.end, self.session.encoding)
            raw_diags = await self.session.diagnostics(doc) or []
            params["range"] = {"start": {"line": start[0], "character": start[1]},
                               "end": {"line": end[0], "character": end[1]}}
            params["context"] = {"diagnostics": [
                d for d in raw_diags
                if d["range"]["start"]["line"] <= end[0] and d["range"]["end"]["line"] >= start[0]
            ]}
            actions = await self._ask("textDocument/codeAction", params) or []
            normalizer = self._normalizer()
            out = []
            for action in actions:
                if "command" in action and isinstance(action["command"], str):
                    continue  # a bare Command: executing it would let the server write
                if "edit" not in action and action.get("data") is not None:
                    try:
                        action = await self.session.request("codeAction/resolve", action)
                    except ServerError:
                        continue
                if not action.get("edit"):
                    continue
                # Edit *and* command: LSP runs the command after the edit. lanser never
                # executes server commands, so it names it and refuses to half-apply.
                command = action.get("command")
                out.append(CodeAction(
                    title=action.get("title", ""), kind=action.get("kind"),
                    command=command.get("command") if isinstance(command, dict) else None,
                    changes=tuple(normalizer.workspace_edit(
                        action["edit"], version_of=self._synced_version))))
            out.sort(key=lambda a: a.sort_key)
            return out

    def server_info(self) -> dict[str, Any]:
        """The server's identity as bundles record it: nothing machine-specific.

        Computed once per server start (a restart may bring other capabilities).
        """
        cached = self._server_info
        if cached is not None and cached[0] == self.session.restarts:
            return cached[1]
        from lanser.canonical import content_hash

        info = {
            "name": self.spec.name,
            "version": self.session.server_version,
            "command": [self.names.name(Path(c)) if "/" in c else c
                        for c in self.session.command],
            "capabilities_hash": content_hash(self.session.capabilities),
            "config_hash": config_hash(self.spec),
        }
        self._server_info = (self.session.restarts, info)
        return info


def config_hash(spec: ServerSpec) -> str:
    """Everything lanser sends that changes a server's answers: client capabilities,
    settings and initialization options. Known before the server starts, so bundle
    store keys can be computed without one."""
    from lanser.canonical import content_hash
    from lanser.lsp.capabilities import capabilities_document

    return content_hash({
        "client_capabilities": capabilities_document(),
        "settings": spec.settings,
        "initialization_options": spec.initialization_options,
    })


def _rename_refused(exc: ServerError, what: str) -> LanserError:
    """A server's error *answer* to a rename is a refusal (exit 2); a crash or a
    timeout stays a server failure (exit 3)."""
    if type(exc) is not ServerError:
        return exc
    return UsageError(f"{what}: {exc.message}", code="rename_refused")
