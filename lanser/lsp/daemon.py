"""The per-workspace daemon: warm server sessions behind a Unix socket.

One daemon per workspace root (an exclusive ``flock`` on a lock file beside the
socket makes a second one exit at once). It holds one
:class:`~lanser.lsp.service.LanguageService` per server, started on first use and
tracking the disk, so a warm answer equals a cold one on the same files. Requests
to one server are serialized by the service's lock; clients are served
concurrently, each with its own ``timeout`` (its ``--timeout``; the configured
one when it sends none). The lanser configuration is re-read when its content
changes (before the next answer): a service whose server the change redefines is
retired once its requests in flight are answered (the next use starts a new one);
the others stay warm. The query method (planning, resolving selectors) is plugged
in by the process entry point, :mod:`lanser.queries.daemon`: this module knows only
servers, and its built-in methods are control (``ping``, ``status``, ``warm``,
``stop``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lanser.errors import LanserError
from lanser.lsp import daemon_client
from lanser.lsp.registry import get_server
from lanser.lsp.service import LanguageService
from lanser.lsp.tracker import ConfigWatch
from lanser.workspace import Workspace

#: What of the workspace's files is lanser's own configuration (see lanser.config).
LANSER_CONFIG = ("lanser.toml", "pyproject.toml:tool.lanser")

Handler = Callable[["Daemon", dict[str, Any]], Awaitable[dict[str, Any]]]
T = TypeVar("T")

#: The fields each method's message needs (lanser.jsonio.require); a method a
#: handler adds declares its own in :attr:`Daemon.request_fields`.
REQUEST_FIELDS: dict[str, dict[str, str]] = {
    "ping": {}, "status": {}, "stop": {},
    "warm": {"servers": "str_list?"},
}

#: Latencies kept per server for the percentiles ``status`` reports.
LATENCY_WINDOW = 2000


class Daemon:
    def __init__(self, workspace: Workspace, *, idle_timeout: float | None = None,
                 handlers: dict[str, Handler] | None = None,
                 request_fields: dict[str, dict[str, str]] | None = None) -> None:
        self.workspace = workspace
        self._idle_timeout = idle_timeout
        self._apply_config()
        self._config = ConfigWatch(workspace.root, LANSER_CONFIG)
        self._config_lock = asyncio.Lock()
        self.services: dict[str, LanguageService] = {}
        self.handlers: dict[str, Handler] = {
            "ping": Daemon._ping, "status": Daemon._status, "stop": Daemon._stop,
            "warm": Daemon._warm, **(handlers or {}),
        }
        self.request_fields = {**REQUEST_FIELDS, **(request_fields or {})}
        self.started = time.time()
        self.last_activity = time.monotonic()
        self.latencies: dict[str, collections.deque[float]] = collections.defaultdict(
            lambda: collections.deque(maxlen=LATENCY_WINDOW))
        self.counts: collections.Counter[str] = collections.Counter()
        self._starting: dict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        self._stopping = asyncio.Event()
        self._active = 0

    # -- configuration --------------------------------------------------------

    def _apply_config(self) -> None:
        config = self.workspace.config
        self.idle_timeout = (config.daemon_idle_timeout if self._idle_timeout is None
                             else self._idle_timeout)
        self.timeout = config.timeout

    async def refresh_config(self) -> Workspace:
        """The workspace with its configuration as on disk now; called before answering."""
        async with self._config_lock:
            if self._config.changed():
                self.workspace = Workspace(self.workspace.root)
                self._apply_config()
                for name, service in list(self.services.items()):
                    try:
                        same = get_server(name, self.workspace.config.servers) == service.spec
                    except LanserError:  # now unknown or invalid: the next use says why
                        same = False
                    if same:
                        service.session.timeout = self.timeout
                        continue
                    del self.services[name]
                    with contextlib.suppress(Exception):
                        await service.retire()
        return self.workspace

    # -- services -------------------------------------------------------------

    async def service(self, name: str) -> LanguageService:
        """The warm service for server ``name``, started on first use."""
        async with self._starting[name]:
            if name not in self.services:
                spec = get_server(name, self.workspace.config.servers)
                service = LanguageService(self.workspace, spec, timeout=self.timeout,
                                          track_disk=True)
                await service.start()
                self.services[name] = service
            return self.services[name]

    async def run(self, server: str, work: Callable[[LanguageService], Awaitable[T]], *,
                  count: int = 1) -> tuple[T, dict[str, Any]]:
        """Run ``work`` (``count`` requests) on the warm server, recording its latency;
        its result and the server's identity."""
        await self.refresh_config()
        service = await self.service(server)
        began = time.perf_counter()
        try:
            result = await work(service)
        finally:
            self.latencies[server].append(time.perf_counter() - began)
            self.counts[server] += count
        return result, service.server_info()

    # -- built-in handlers ----------------------------------------------------

    async def _ping(self, message: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}

    async def _warm(self, message: dict[str, Any]) -> dict[str, Any]:
        """Start the named servers (if not yet) and answer once they are ready."""
        await self.refresh_config()
        for name in message.get("servers") or []:
            service = await self.service(name)
            await service.session.wait_ready()
        return await self._status(message)

    async def _stop(self, message: dict[str, Any]) -> dict[str, Any]:
        self._stopping.set()
        return {"stopping": True}

    async def _status(self, message: dict[str, Any]) -> dict[str, Any]:
        servers = []
        for name in sorted(self.services):
            service = self.services[name]
            session = service.session
            servers.append({
                "name": name,
                "version": session.server_version,
                "pid": session.pid,
                "state": session.state.value,
                "open_documents": len(session.documents),
                "requests": self.counts[name],
                "restarts": session.restarts,
                "latency_ms": _percentiles(self.latencies[name]),
            })
        return {
            "root": str(self.workspace.root),
            "pid": os.getpid(),
            "socket": str(daemon_client.socket_path(self.workspace.root)),
            "uptime_s": round(time.time() - self.started, 3),
            "idle_timeout_s": self.idle_timeout,
            "servers": servers,
        }

    # -- the socket -----------------------------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._active += 1
        try:
            while not reader.at_eof():
                try:
                    line = await reader.readline()
                except ValueError:  # a line over the reader's limit: answer, then hang up
                    writer.write(json.dumps(_bad_request("request line too long")).encode()
                                 + b"\n")
                    await writer.drain()
                    break
                if not line:
                    break
                self.last_activity = time.monotonic()
                reply = await self._dispatch(line)
                writer.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._active -= 1
            self.last_activity = time.monotonic()
            with contextlib.suppress(Exception):
                writer.close()

    async def _dispatch(self, line: bytes) -> dict[str, Any]:
        """One reply per request line; a malformed one is ``bad_request`` (exit 2),
        never a dropped connection or an ``internal`` error (issue 17)."""
        from lanser.jsonio import loads_bounded, require

        try:
            message = require(loads_bounded(line, what="daemon request"), {"method": "str"},
                              what="daemon request")
            method = message["method"]
            if method not in self.handlers:
                raise LanserError(f"unknown method {method[:40]!r}", code="bad_request")
            require(message, self.request_fields.get(method, {}), what=f"{method} request")
            handler = self.handlers[method]
        except LanserError as exc:
            return _bad_request(exc.message)
        try:
            return {"ok": True, **await handler(self, message)}
        except LanserError as exc:
            return {"ok": False, "exit_code": int(exc.exit_code), **exc.to_json()}
        except Exception as exc:  # one bad request must never take the daemon down
            return {"ok": False, "exit_code": 3,
                    "error": {"code": "internal", "message": f"{type(exc).__name__}: {exc}"}}

    async def _idle_watch(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(min(5.0, max(self.idle_timeout / 4, 0.1)))
            idle = time.monotonic() - self.last_activity
            if self._active == 0 and self.idle_timeout > 0 and idle > self.idle_timeout:
                self._stopping.set()

    async def serve(self) -> int:
        """Run until stopped or idle; returns a process exit code."""
        root = self.workspace.root
        daemon_client.ensure_runtime_dir()
        lock = open(daemon_client.lock_path(root), "w")  # noqa: SIM115 - held for life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another daemon serves this root: two starts leave one daemon
        path = daemon_client.socket_path(root)
        # The lock is ours, so any socket file left is from a crashed daemon.
        path.unlink(missing_ok=True)
        server = await asyncio.start_unix_server(self._client, path=str(path), limit=1 << 24)
        os.chmod(path, 0o600)
        watcher = asyncio.create_task(self._idle_watch())
        try:
            await self._stopping.wait()
        finally:
            server.close()
            watcher.cancel()
            for service in list(self.services.values()):
                with contextlib.suppress(Exception):
                    await service.close()
            path.unlink(missing_ok=True)
            lock.close()
        return 0


def _bad_request(message: str) -> dict[str, Any]:
    return {"ok": False, "exit_code": 2,
            "error": {"code": "bad_request", "message": f"malformed daemon request: {message}"}}


def client_timeout(message: dict[str, Any]) -> float | None:
    """A client's ``timeout``: a positive number of seconds, or ``None`` (ours)."""
    value = message.get("timeout")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return float(value)


def _percentiles(values: collections.deque[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": pick(0.50), "p95": pick(0.95)}
