"""The one fixed set of client capabilities lanser announces to every server.

Fixed so that a server's behaviour (and therefore every bundle) does not depend on
which lanser command started it. Notable choices:

* ``positionEncodings: ["utf-16"]`` only: the one encoding every server supports;
  :mod:`lanser.positions` converts to code points.
* ``textDocument.diagnostic.dynamicRegistration``: pyright-family servers register
  pull diagnostics only when this is set; pull is how lanser gets fresh answers.
* ``didChangeWatchedFiles.dynamicRegistration``: servers register watchers, and lanser
  reports files changed on disk behind their back.
* ``hierarchicalDocumentSymbolSupport``: symbols come with their children, which
  gives qualified names without guessing.
* no ``workspace.applyEdit``: servers never write; every edit goes through the
  safety envelope.
* no ``window.workDoneProgress``: lanser shows no server progress, and with it
  basedpyright wraps every diagnostics pull in a ``workDoneProgress/create``
  request and ``$/progress`` messages: 1,467 extra messages (and 40 % of the time)
  in a 200-file whole-workspace pull. Its own ``pyright/*Progress`` notifications,
  sent instead, are three a pull and ignored.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types as lsp

_CAPABILITIES: dict[str, Any] = {
    "general": {"positionEncodings": ["utf-16"]},
    "workspace": {
        "applyEdit": False,
        "configuration": True,
        "workspaceFolders": True,
        "didChangeConfiguration": {"dynamicRegistration": True},
        "didChangeWatchedFiles": {"dynamicRegistration": True, "relativePatternSupport": True},
        "symbol": {"dynamicRegistration": False},
        "workspaceEdit": {
            "documentChanges": True,
            "resourceOperations": ["create", "rename", "delete"],
            "failureHandling": "abort",
        },
        "diagnostics": {"refreshSupport": False},
    },
    "textDocument": {
        "synchronization": {"dynamicRegistration": False, "didSave": True},
        "hover": {"dynamicRegistration": False, "contentFormat": ["markdown", "plaintext"]},
        "definition": {"dynamicRegistration": False, "linkSupport": False},
        "declaration": {"dynamicRegistration": False, "linkSupport": False},
        "typeDefinition": {"dynamicRegistration": False, "linkSupport": False},
        "implementation": {"dynamicRegistration": False, "linkSupport": False},
        "references": {"dynamicRegistration": False},
        "documentSymbol": {
            "dynamicRegistration": False,
            "hierarchicalDocumentSymbolSupport": True,
        },
        "callHierarchy": {"dynamicRegistration": False},
        "rename": {"dynamicRegistration": False, "prepareSupport": True},
        "codeAction": {
            "dynamicRegistration": False,
            "isPreferredSupport": True,
            "dataSupport": True,
            "resolveSupport": {"properties": ["edit"]},
            "codeActionLiteralSupport": {
                "codeActionKind": {
                    "valueSet": ["", "quickfix", "refactor", "refactor.extract",
                                 "refactor.inline", "refactor.rewrite", "source",
                                 "source.organizeImports"]
                }
            },
        },
        "publishDiagnostics": {"relatedInformation": True, "versionSupport": True},
        "diagnostic": {"dynamicRegistration": True, "relatedDocumentSupport": False},
    },
    "window": {"workDoneProgress": False},
}


def client_capabilities(converter: Any) -> lsp.ClientCapabilities:
    """The capabilities as an lsprotocol object (built from the documented dict)."""
    return converter.structure(_CAPABILITIES, lsp.ClientCapabilities)


def capabilities_document() -> dict[str, Any]:
    """The capabilities as plain JSON, for bundles and ``lanser servers --json``."""
    return _CAPABILITIES
