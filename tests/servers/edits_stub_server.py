"""A language server whose rename and code-action answers exercise the envelope's
refusals (never for real answers): prepareRename answers with an error, and the one
code action carries both an edit and a server command.

Usage: edits_stub_server.py
"""

from __future__ import annotations

from stub_server import read_message, send  # the same directory: sys.path[0]


def main() -> None:
    while True:
        message = read_message()
        if message is None:
            return
        method, msg_id, params = message.get("method"), message.get("id"), message.get("params")
        if msg_id is None:
            if method == "exit":
                return
            continue
        result: object = None
        if method == "initialize":
            result = {"capabilities": {
                "textDocumentSync": 1, "diagnosticProvider": {"interFileDependencies": False,
                                                              "workspaceDiagnostics": False},
                "renameProvider": {"prepareProvider": True}, "codeActionProvider": True},
                "serverInfo": {"name": "edits-stub", "version": "0"}}
        elif method == "textDocument/prepareRename":
            send({"jsonrpc": "2.0", "id": msg_id,
                  "error": {"code": -32803, "message": "this symbol cannot be renamed"}})
            continue
        elif method == "textDocument/diagnostic":
            result = {"kind": "full", "items": []}
        elif method == "textDocument/codeAction":
            uri = params["textDocument"]["uri"]
            result = [{"title": "Fix and run", "kind": "quickfix",
                       "edit": {"changes": {uri: [{"range": {
                           "start": {"line": 0, "character": 0},
                           "end": {"line": 0, "character": 0}}, "newText": "# fixed\n"}]}},
                       "command": {"title": "Run", "command": "stub.runAfterFix"}}]
        send({"jsonrpc": "2.0", "id": msg_id, "result": result})


if __name__ == "__main__":
    main()
