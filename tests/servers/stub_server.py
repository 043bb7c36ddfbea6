"""A deliberately odd language server for error-path tests (never for real answers).

Usage: stub_server.py MODE, where MODE is
  hang              never answers anything (not even initialize);
  hang-requests     answers initialize and shutdown, never any other request;
  crash             answers initialize, then exits on the first other request;
  noisy             writes 1 MiB to stderr before every answer (a client that does
                    not drain stderr blocks it: the pipe holds 64 KiB), and answers
                    definition with [] and hover with null;
  push-unversioned  publishes diagnostics without a version: one whose message is
                    the first line of the document. On a change it first publishes
                    the previous content's (a late push), pauses, then the fresh one.
"""

from __future__ import annotations

import json
import sys
import time

NOISE = b"x" * 1023 + b"\n"


def read_message() -> dict | None:
    headers = {}
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = sys.stdin.buffer.read(int(headers["content-length"]))
    return json.loads(body)


def send(message: dict) -> None:
    body = json.dumps(message).encode()
    sys.stdout.buffer.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    sys.stdout.buffer.flush()


def publish(uri: str, text: str) -> None:
    first = text.splitlines()[0] if text else ""
    send({"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics", "params": {
        "uri": uri, "diagnostics": [{
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}},
            "severity": 1, "message": first, "source": "stub"}],
    }})


def main(mode: str) -> None:
    texts: dict[str, str] = {}
    while True:
        message = read_message()
        if message is None:
            return
        method, msg_id = message.get("method"), message.get("id")
        if mode == "push-unversioned" and method == "textDocument/didOpen":
            doc = message["params"]["textDocument"]
            texts[doc["uri"]] = doc["text"]
            publish(doc["uri"], doc["text"])
        elif mode == "push-unversioned" and method == "textDocument/didChange":
            uri = message["params"]["textDocument"]["uri"]
            publish(uri, texts.get(uri, ""))   # late: computed for the previous content
            time.sleep(0.3)
            texts[uri] = message["params"]["contentChanges"][-1]["text"]
            publish(uri, texts[uri])
        if msg_id is None or mode == "hang":
            if method == "exit":
                return
            continue
        if mode == "noisy":
            sys.stderr.buffer.write(NOISE * 1024)
            sys.stderr.buffer.flush()
        if method == "initialize":
            send({"jsonrpc": "2.0", "id": msg_id, "result": {
                "capabilities": {"definitionProvider": True, "hoverProvider": True,
                                 "textDocumentSync": 1},
                "serverInfo": {"name": "stub", "version": "0"},
            }})
        elif method == "shutdown":
            send({"jsonrpc": "2.0", "id": msg_id, "result": None})
        elif mode == "crash":
            sys.exit(7)
        elif mode == "noisy":
            result = [] if method == "textDocument/definition" else None
            send({"jsonrpc": "2.0", "id": msg_id, "result": result})
        elif mode == "push-unversioned":
            send({"jsonrpc": "2.0", "id": msg_id,
                  "error": {"code": -32601, "message": f"no method {method}"}})
        # hang-requests: never answer


if __name__ == "__main__":
    main(sys.argv[1])
