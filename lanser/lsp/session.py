"""One running language server, owned from start to shutdown.

A :class:`Session` starts a server over stdio with the pygls 2 client, announces the
fixed capabilities of :mod:`lanser.lsp.capabilities`, answers the server's own
requests, keeps the documents it opened in sync with the disk, and closes the
gaps pygls leaves (see shared/STYLE.md):

* every request has a timeout (``asyncio.wait_for``; the server is sent
  ``$/cancelRequest``), and a timeout is a :class:`~lanser.errors.ServerTimeout`;
* a server that dies fails its pending requests with a bare ``RuntimeError`` in
  pygls: that becomes :class:`~lanser.errors.ServerCrash`, the server is restarted,
  its open documents are re-sent, and the request is retried once;
* the server's stderr is drained (pygls pipes it and never reads it, so a chatty
  server would block) into a bounded tail kept for error messages;
* closing is shutdown -> exit -> wait with a timeout -> kill the process tree;
  a restart cancels the dead client's reader and stderr tasks, so a long-lived
  daemon holds only the tasks of the server it runs now.

Push diagnostics are gated on the version we sent. A server that publishes
without a version gets a *barrier*: a ``$/lanser/barrier`` request sent after our
last didOpen/didChange (the spec makes every server answer ``$/`` requests, with
MethodNotFound). Servers read messages in order, so once it is answered the
server has read our change, and the latest publication received since the change
was sent (one it published while handling it, or a later one) is the answer; a
late push for the previous content, received before the fresh one, is not.

Results are returned as plain JSON (lsprotocol objects unstructured again): the
normalizers in :mod:`lanser.lsp.facts` work on one shape whatever the server.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import hashlib
import itertools
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp

from lanser import __version__
from lanser.errors import ServerCrash, ServerError, ServerTimeout, ServerUnavailable, UnreadableFile
from lanser.lsp.capabilities import client_capabilities
from lanser.lsp.pygls_client import PyglsClient, ignore, kill_tree, typed_params
from lanser.lsp.registry import ServerSpec
from lanser.positions import MAX_SOURCE_BYTES, SourceText, decode_source
from lanser.workspace import path_to_uri

log = logging.getLogger(__name__)

#: Seconds the polite part of closing (shutdown, exit) may take before a kill.
CLOSE_GRACE = 3.0
#: Lines of a server's stderr kept for error messages.
STDERR_TAIL = 200
#: pyright-family servers register pull diagnostics right after ``initialized``;
#: how long to wait for that registration before falling back to push.
PULL_REGISTRATION_WAIT = 10.0

_PULL_SERVERS = {"basedpyright", "pyright"}


class SessionState(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    CRASHED = "crashed"
    CLOSED = "closed"


@dataclass
class OpenDocument:
    path: Path
    uri: str
    version: int
    digest: str
    source: SourceText
    #: The version a barrier was answered for (versionless push servers only).
    barrier_version: int | None = None


@dataclass
class _Published:
    """The latest pushed diagnostics of one document (``version`` as the server sent it)."""

    version: int | None
    diagnostics: list[dict[str, Any]]


class Session:
    """A language server for one workspace root."""

    def __init__(self, spec: ServerSpec, root: Path, *, timeout: float = 30.0) -> None:
        self.spec = spec
        self.root = root
        self.timeout = timeout
        self.state = SessionState.NEW
        self.documents: dict[str, OpenDocument] = {}
        self.server_name = spec.name
        self.server_version: str | None = None
        self.capabilities: dict[str, Any] = {}
        self.registrations: dict[str, dict[str, Any]] = {}
        #: Units of the server's columns: "utf-16" (the LSP default) or "utf-32".
        self.encoding = spec.position_encoding or "utf-16"
        self.restarts = 0
        self.requests = 0
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL)
        self.command: list[str] = []
        self._client: PyglsClient | None = None
        self._published: dict[str, _Published] = {}
        self._published_changed = asyncio.Event()
        self._pull_registered = asyncio.Event()
        self._ready = asyncio.Event()
        self._ready_pattern = re.compile(spec.ready_log) if spec.ready_log else None
        #: Pull or push, decided once per server start (the wait for a pull
        #: registration is paid once, not on every diagnostics call).
        self._pull: bool | None = None
        self._ids = itertools.count(1)
        self._tasks: list[asyncio.Task[Any]] = []
        #: Serializes restarts: concurrent requests that see one crash restart once.
        self._restart_lock = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> Session:
        self.command = self.spec.resolved_command()
        self._pull = None
        client = PyglsClient(self._on_server_exit, self.spec.name)
        self._install_handlers(client)
        env = dict(os.environ)
        env.setdefault("NODE_OPTIONS", "--max-old-space-size=4096")
        try:
            await client.start_io(*self.command, cwd=str(self.root), env=env)
        except OSError as exc:
            raise ServerUnavailable(
                f"{self.spec.name}: cannot start {self.command[0]}: {exc}"
            ) from None
        self._client = client
        process = client._server
        if process is not None and process.stderr is not None:
            self._tasks.append(asyncio.create_task(self._drain_stderr(process.stderr)))
        self.state = SessionState.RUNNING
        params = lsp.InitializeParams(
            process_id=os.getpid(),
            root_uri=path_to_uri(self.root),
            root_path=str(self.root),
            workspace_folders=[lsp.WorkspaceFolder(uri=path_to_uri(self.root), name="root")],
            capabilities=client_capabilities(client.protocol._converter),
            client_info=lsp.ClientInfo(name="lanser", version=__version__),
            initialization_options=self.spec.initialization_options,
        )
        result = await self._call("initialize", params)
        self.capabilities = result.get("capabilities", {}) if result else {}
        self.encoding = (self.spec.position_encoding
                         or self.capabilities.get("positionEncoding") or "utf-16")
        info = (result or {}).get("serverInfo") or {}
        self.server_name = info.get("name") or self.spec.name
        self.server_version = info.get("version") or self.spec.installed_version()
        client.protocol.notify("initialized", lsp.InitializedParams())
        if self.spec.settings and self.spec.push_settings:
            client.protocol.notify(
                "workspace/didChangeConfiguration",
                lsp.DidChangeConfigurationParams(settings=self.spec.settings),
            )
        return self

    async def close(self) -> None:
        """Shut the server down politely, then by force; never hangs."""
        client = self._client
        if client is None or self.state is SessionState.CLOSED:
            self.state = SessionState.CLOSED
            return
        process = client._server
        if self.state is SessionState.RUNNING:
            try:
                await asyncio.wait_for(
                    client.protocol.send_request_async("shutdown", None), CLOSE_GRACE
                )
                client.protocol.notify("exit", None)
            except Exception:  # a dying server may fail any of this; we kill below
                pass
        self.state = SessionState.CLOSED
        if process is not None:
            try:
                await asyncio.wait_for(process.wait(), CLOSE_GRACE)
            except asyncio.TimeoutError:
                kill_tree(process.pid)
                try:
                    await asyncio.wait_for(process.wait(), CLOSE_GRACE)
                except asyncio.TimeoutError:
                    pass
        await self._release(client)

    async def _release(self, client: PyglsClient) -> None:
        """Stop ``client``'s reader and our stderr drain; nothing of it stays running."""
        client._stop_event.set()
        tasks = [*client._async_tasks, *self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        client._async_tasks.clear()
        self._tasks.clear()

    async def restart(self) -> None:
        """Replace a dead (or outdated) server with a fresh one and re-send the open
        documents."""
        old = self._client
        if old is not None and old._server is not None and old._server.returncode is None:
            kill_tree(old._server.pid)
        self.state = SessionState.CLOSED
        if old is not None:
            if old._server is not None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(old._server.wait(), CLOSE_GRACE)
            await self._release(old)
        self._client = None
        self.restarts += 1
        documents = list(self.documents.values())
        self._published.clear()
        self._pull_registered = asyncio.Event()
        self._ready = asyncio.Event()
        self.registrations.clear()
        await self.start()
        for doc in documents:
            doc.barrier_version = None
            self._did_open(doc)

    def _on_server_exit(self, returncode: int | None) -> None:
        if self.state is SessionState.RUNNING:
            log.debug("%s exited with %s", self.spec.name, returncode)
            self.state = SessionState.CRASHED

    @property
    def pid(self) -> int | None:
        if self._client is None or self._client._server is None:
            return None
        return self._client._server.pid

    # -- requests -------------------------------------------------------------

    async def request(self, method: str, params: Any, *, timeout: float | None = None) -> Any:
        """Send a request; a crash restarts the server and retries once.

        Safe to call concurrently: requests in flight when the server dies all see
        the crash, and the first to get here restarts it for all of them.
        """
        if self.state is SessionState.CRASHED:
            await self.restart_once(self.restarts)
        await self.wait_ready(timeout)
        generation = self.restarts
        try:
            return await self._call(method, params, timeout=timeout)
        except ServerCrash:
            await self.restart_once(generation)
            return await self._call(method, params, timeout=timeout)

    async def restart_once(self, generation: int) -> None:
        """Restart the server unless it was restarted since ``generation`` (restarts
        seen when the failed request was sent)."""
        async with self._restart_lock:
            if self.restarts == generation and self.state is not SessionState.RUNNING:
                await self.restart()

    async def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait (bounded by the timeout) until the server knows the whole workspace."""
        if self._ready_pattern is None or self._ready.is_set():
            return True
        try:
            await asyncio.wait_for(self._ready.wait(), self.timeout if timeout is None else timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def _call(self, method: str, params: Any, *, timeout: float | None = None) -> Any:
        client = self._client
        if client is None or self.state is not SessionState.RUNNING:
            raise ServerCrash(self._crash_message(method))
        limit = self.timeout if timeout is None else timeout
        msg_id = f"lanser-{next(self._ids)}"
        self.requests += 1
        try:
            future = client.protocol.send_request_async(
                method, typed_params(client, method, params), msg_id=msg_id
            )
            result = await asyncio.wait_for(future, limit)
        except asyncio.TimeoutError:
            try:
                client.protocol.notify("$/cancelRequest", lsp.CancelParams(id=msg_id))
            except Exception:
                pass
            raise ServerTimeout(
                f"{self.spec.name} did not answer {method} within {limit:g} s",
                method=method,
                timeout=limit,
            ) from None
        except RuntimeError as exc:  # pygls: the process exited / the client stopped
            self.state = SessionState.CRASHED
            raise ServerCrash(self._crash_message(method), reason=str(exc)) from None
        except (ConnectionError, BrokenPipeError):
            self.state = SessionState.CRASHED
            raise ServerCrash(self._crash_message(method)) from None
        except Exception as exc:  # a JSON-RPC error answer from the server
            raise ServerError(f"{self.spec.name} failed {method}: {exc}", method=method) from None
        return client.protocol._converter.unstructure(result)

    def _crash_message(self, method: str) -> str:
        tail = "\n".join(list(self.stderr_tail)[-5:])
        message = f"{self.spec.name} exited while answering {method}"
        return f"{message}; its last stderr lines:\n{tail}" if tail else message

    def notify(self, method: str, params: Any) -> None:
        if self._client is None or self.state is not SessionState.RUNNING:
            return
        self._client.protocol.notify(method, typed_params(self._client, method, params))

    # -- documents ------------------------------------------------------------

    async def sync_file(self, path: Path) -> OpenDocument:
        """Make the server see ``path`` exactly as it is on disk now."""
        if self.state is SessionState.CRASHED:
            await self.restart_once(self.restarts)
        data = path.read_bytes()
        if len(data) > MAX_SOURCE_BYTES:
            raise UnreadableFile(f"{path}: larger than {MAX_SOURCE_BYTES} bytes", path=str(path))
        digest = hashlib.sha256(data).hexdigest()
        uri = path_to_uri(path)
        doc = self.documents.get(uri)
        if doc is not None and doc.digest == digest:
            return doc
        source = SourceText(decode_source(data, path))
        if doc is None:
            doc = OpenDocument(path, uri, 1, digest, source)
            self.documents[uri] = doc
            self._did_open(doc)
        else:
            doc.version += 1
            doc.digest = digest
            doc.source = source
            self.notify("textDocument/didChange", {
                "textDocument": {"uri": uri, "version": doc.version},
                "contentChanges": [{"text": source.text}],
            })
        self._published.pop(uri, None)
        return doc

    def _did_open(self, doc: OpenDocument) -> None:
        self.notify("textDocument/didOpen", {
            "textDocument": {"uri": doc.uri, "languageId": "python", "version": doc.version,
                             "text": doc.source.text}
        })

    def close_file(self, path: Path) -> None:
        uri = path_to_uri(path)
        if self.documents.pop(uri, None) is not None:
            self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            self._published.pop(uri, None)

    def files_changed(self, created: list[Path], changed: list[Path], deleted: list[Path]) -> None:
        """Tell the server about files changed on disk that it does not have open."""
        changes = (
            [{"uri": path_to_uri(p), "type": 1} for p in created]
            + [{"uri": path_to_uri(p), "type": 2} for p in changed]
            + [{"uri": path_to_uri(p), "type": 3} for p in deleted]
        )
        if changes:
            self.notify("workspace/didChangeWatchedFiles", {"changes": changes})

    # -- diagnostics ----------------------------------------------------------

    async def uses_pull_diagnostics(self) -> bool:
        """Pull where the server offers it (statically, or by registering it: the
        pyright family does so right after ``initialized``, so that is waited for,
        once per start)."""
        if self._pull is not None:
            return self._pull
        if self.capabilities.get("diagnosticProvider") or self._pull_registered.is_set():
            self._pull = True
        elif self.spec.name in _PULL_SERVERS:
            try:
                await asyncio.wait_for(self._pull_registered.wait(), PULL_REGISTRATION_WAIT)
                self._pull = True
            except asyncio.TimeoutError:
                self._pull = False
        else:
            return False  # a later registration may still switch this server to pull
        return self._pull

    async def diagnostics(self, doc: OpenDocument, *, timeout: float | None = None
                          ) -> list[dict[str, Any]] | None:
        """Fresh diagnostics of an open, synced document; ``None`` means not ready."""
        limit = self.timeout if timeout is None else timeout
        if await self.uses_pull_diagnostics():
            params: dict[str, Any] = {"textDocument": {"uri": doc.uri}}
            identifier = self.registrations.get("textDocument/diagnostic", {}).get("identifier")
            if identifier:
                params["identifier"] = identifier
            try:
                report = await self.request("textDocument/diagnostic", params, timeout=limit)
            except ServerTimeout:
                return None
            return list((report or {}).get("items", []))
        return await self._wait_published(doc, limit)

    async def _wait_published(self, doc: OpenDocument, limit: float) -> list[dict[str, Any]] | None:
        """Push diagnostics gated on the document version we last sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while True:
            published = self._published.get(doc.uri)
            if published is not None and published.version == doc.version:
                return published.diagnostics
            if published is not None and published.version is None:
                if doc.barrier_version == doc.version:
                    return published.diagnostics
                version = doc.version
                if not await self._barrier(deadline - loop.time()):
                    return None
                if doc.version == version:
                    doc.barrier_version = version
                continue
            remaining = deadline - loop.time()
            if remaining <= 0 or self.state is not SessionState.RUNNING:
                return None
            self._published_changed.clear()
            try:
                await asyncio.wait_for(self._published_changed.wait(), remaining)
            except asyncio.TimeoutError:
                return None

    async def _barrier(self, limit: float) -> bool:
        """A round trip after everything sent so far; ``False`` if it found no answer."""
        if limit <= 0:
            return False
        try:
            await self._call("$/lanser/barrier", None, timeout=limit)
        except (ServerTimeout, ServerCrash):
            return False
        except ServerError:  # MethodNotFound: the answer every server must give
            pass
        return True

    # -- the server's own messages ---------------------------------------------

    def _install_handlers(self, client: PyglsClient) -> None:
        converter = client.protocol._converter

        @client.feature("workspace/configuration")
        def configuration(params: lsp.ConfigurationParams) -> list[Any]:
            return [self._setting(item.section) for item in params.items]

        @client.feature("client/registerCapability")
        def register(params: lsp.RegistrationParams) -> None:
            for reg in params.registrations:
                options = converter.unstructure(reg.register_options) or {}
                self.registrations[reg.method] = options
                if reg.method == "textDocument/diagnostic":
                    self._pull_registered.set()

        @client.feature("client/unregisterCapability")
        def unregister(params: lsp.UnregistrationParams) -> None:
            for unreg in params.unregisterations:
                self.registrations.pop(unreg.method, None)

        @client.feature("window/workDoneProgress/create")
        def progress_create(params: Any) -> None:
            return None

        @client.feature("textDocument/publishDiagnostics")
        def published(params: lsp.PublishDiagnosticsParams) -> None:
            raw = converter.unstructure(params)
            self._published[params.uri] = _Published(
                version=params.version, diagnostics=raw.get("diagnostics", []),
            )
            self._published_changed.set()

        @client.feature("workspace/applyEdit")
        def apply_edit(params: Any) -> dict[str, Any]:
            return {"applied": False, "failureReason": "lanser never lets a server write"}

        @client.feature("window/logMessage")
        def log_message(params: lsp.LogMessageParams) -> None:
            if self._ready_pattern is not None and self._ready_pattern.search(params.message):
                self._ready.set()

        @client.feature("workspace/workspaceFolders")
        def workspace_folders(params: Any) -> list[dict[str, str]]:
            return [{"uri": path_to_uri(self.root), "name": "root"}]

        # Requests a server may send that need only an empty answer. An unanswered
        # (MethodNotFound) workspace/diagnostic/refresh crashes basedpyright 1.40.
        for method in ("window/showMessageRequest", "workspace/diagnostic/refresh",
                       "workspace/semanticTokens/refresh", "workspace/inlayHint/refresh",
                       "workspace/inlineValue/refresh", "workspace/codeLens/refresh",
                       "workspace/foldingRange/refresh", "window/showDocument"):
            client.feature(method)(ignore)

        for method in ("$/progress", "window/showMessage", "telemetry/event",
                       "pyright/beginProgress", "pyright/reportProgress",
                       "pyright/endProgress", "$/logTrace"):
            client.feature(method)(ignore)

    def _setting(self, section: str | None) -> Any:
        value: Any = self.spec.settings
        if not section:
            return value
        for part in section.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    async def _drain_stderr(self, stream: asyncio.StreamReader) -> None:
        while True:
            line = await stream.readline()
            if not line:
                return
            self.stderr_tail.append(line.decode("utf-8", "replace").rstrip())
