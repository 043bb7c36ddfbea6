"""The pygls 2 client lanser speaks to a server through, and its repairs.

:class:`PyglsClient` is pygls's ``LanguageClient`` on :class:`FastProtocol` (which
sorts incoming messages without pygls's slow runtime Protocol checks), with a
structure hook that tells a ``Command`` from a ``CodeAction`` by shape;
:func:`typed_params` turns lanser's plain-JSON params into the lsprotocol types pygls
serializes. :class:`lanser.lsp.session.Session` owns one and everything above it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient
from pygls.protocol import LanguageServerProtocol

from lanser import __version__

log = logging.getLogger(__name__)


class FastProtocol(LanguageServerProtocol):
    """pygls's protocol, with the kind of each incoming message decided cheaply.

    pygls tells requests, notifications, responses and errors apart by ``isinstance``
    against runtime-checkable Protocols, which Python 3.11 answers by walking each
    Protocol's attributes anew on every call: about a quarter of the client's time in
    a 200-file whole-workspace diagnostics pull (1,600 messages; cProfile of
    ``LanguageService.diagnostics``). The same attribute tests, asked directly, decide
    the same way; anything unusual (another JSON-RPC version, a message during
    shutdown) still goes through pygls's own handling.
    """

    def handle_message(self, message: Any) -> None:
        if (getattr(message, "jsonrpc", None) != self.VERSION
                or (self._shutdown and getattr(message, "method", "") != lsp.EXIT)):
            super().handle_message(message)
            return
        ctx = contextvars.copy_context()
        if hasattr(message, "method") and hasattr(message, "params"):
            if hasattr(message, "id"):
                ctx.run(self._handle_request, message.id, message.method, message.params)
            else:
                ctx.run(self._handle_notification, message.method, message.params)
        elif hasattr(message, "result"):
            ctx.run(self._handle_response, message.id, message.result)
        else:
            ctx.run(self._handle_response, message.id, None, message.error)


class PyglsClient(LanguageClient):
    """pygls's client on :class:`FastProtocol`, telling its owner when the server exits."""

    def __init__(self, on_exit: Callable[[int | None], None], server_name: str) -> None:
        super().__init__("lanser", __version__, protocol_cls=FastProtocol)
        self._on_exit = on_exit
        self._server_name = server_name
        _decode_code_actions_by_shape(self.protocol._converter)

    async def server_exit(self, server: asyncio.subprocess.Process) -> None:
        self._on_exit(server.returncode)

    def report_server_error(self, error: Exception, source: Any) -> None:
        log.debug("server error from %s: %s", self._server_name, error)


def _decode_code_actions_by_shape(converter: Any) -> None:
    """Tell a bare ``Command`` from a ``CodeAction`` by the type of ``command``.

    lsprotocol's hook for ``Command | CodeAction`` takes anything with a ``command``
    key for a Command, so a CodeAction carrying an edit *and* a command (a string in
    a Command, an object in a CodeAction) came back as a Command with its edit lost.
    """

    def structure(obj: Any, _: type) -> lsp.Command | lsp.CodeAction:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, lsp.Command)
        return converter.structure(obj, lsp.CodeAction)

    converter.register_structure_hook(lsp.Command | lsp.CodeAction, structure)


def typed_params(client: PyglsClient, method: str, params: Any) -> Any:
    """Structure plain-JSON params into the lsprotocol type pygls expects for ``method``.

    pygls serializes known methods through their lsprotocol types and fails on plain
    dicts; lanser builds params as JSON (one shape for every server), so convert here.
    """
    if not isinstance(params, dict):
        return params
    types = lsp.METHOD_TO_TYPES.get(method)
    if types is None or types[2] is None:
        return params
    return client.protocol._converter.structure(params, types[2])


def ignore(params: Any) -> None:
    """The handler of a server message that needs no answer but an empty one."""
    return None


def kill_tree(pid: int) -> None:
    """Kill a server and every process it started (best effort)."""
    try:
        import psutil

        parent = psutil.Process(pid)
        for child in parent.children(recursive=True):
            child.kill()
        parent.kill()
    except Exception:
        pass
