"""A deliberately broken language server for error-path tests (never for real answers).

Usage: stub_server.py MODE, where MODE is
  hang           never answers anything (not even initialize);
  hang-requests  answers initialize and shutdown, never any other request;
  crash          answers initialize, then exits on the first other request.
"""

from __future__ import annotations

import json
import sys


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


def main(mode: str) -> None:
    while True:
        message = read_message()
        if message is None:
            return
        method, msg_id = message.get("method"), message.get("id")
        if msg_id is None or mode == "hang":
            if method == "exit":
                return
            continue
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
        # hang-requests: never answer


if __name__ == "__main__":
    main(sys.argv[1])
