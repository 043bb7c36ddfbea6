"""The light side of the daemon: paths, a JSON-lines request, start and stop.

Imported on every CLI call, so it uses the standard library only (plus
:mod:`lanser.errors`, itself import-free): a warm query should spend its time in
Python start-up, not in our imports.

Wire format: one JSON object per line each way. A request is
``{"method": ..., ...}``; a reply is ``{"ok": true, ...}`` or
``{"ok": false, "error": {"code", "message", ...}, "exit_code": N}``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

#: Seconds a client waits for the daemon beyond the request's own timeout.
REPLY_MARGIN = 30.0


def runtime_dir() -> Path:
    """Where sockets live: out of the workspace (git status stays clean), short paths.

    Unix socket paths are limited to 108 bytes; ``/tmp/lanser-<uid>/<20 hex>.sock``
    is about 45.
    """
    base = os.environ.get("LANSER_RUNTIME_DIR")
    if base:
        return Path(base)
    return Path(f"/tmp/lanser-{os.getuid()}")


def ensure_runtime_dir() -> Path:
    """The runtime dir, created private (0700) if missing, refused if not ours."""
    directory = runtime_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_runtime_dir(directory)
    return directory


def check_runtime_dir(directory: Path) -> None:
    """Refuse a runtime dir someone else could write to: in a shared ``/tmp``, another
    user could create ``/tmp/lanser-<uid>`` first and answer our queries (or read them)."""
    import stat

    info = os.lstat(directory)
    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid()
            or stat.S_IMODE(info.st_mode) != 0o700):
        from lanser.errors import LanserError

        raise LanserError(
            f"refusing the runtime directory {directory}: it must be a directory owned by "
            f"uid {os.getuid()} with mode 0700 (it is uid {info.st_uid}, mode "
            f"{stat.S_IMODE(info.st_mode):o}); remove it or set LANSER_RUNTIME_DIR",
            code="unsafe_runtime_dir")


try:  # the builtin SHA-256: hashlib's OpenSSL start-up costs ~3 ms on every warm call
    from _sha2 import sha256  # CPython >= 3.12
except ImportError:  # pragma: no cover - depends on the interpreter
    try:
        from _sha256 import sha256  # CPython 3.11
    except ImportError:
        from hashlib import sha256


def daemon_key(root: Path) -> str:
    return sha256(str(root).encode()).hexdigest()[:20]


def socket_path(root: Path) -> Path:
    return runtime_dir() / f"{daemon_key(root)}.sock"


def log_path(root: Path) -> Path:
    return runtime_dir() / f"{daemon_key(root)}.log"


def lock_path(root: Path) -> Path:
    return runtime_dir() / f"{daemon_key(root)}.lock"


class DaemonUnavailable(Exception):
    """No daemon answers for this root (none started, or a stale socket)."""


def request(root: Path, message: dict[str, Any], *, timeout: float = 60.0) -> dict[str, Any]:
    """Send one message to the root's daemon and return its reply."""
    path = socket_path(root)
    if not path.exists():
        raise DaemonUnavailable(str(path))
    check_runtime_dir(path.parent)
    # The C socket, not the ``socket`` module: its import (selectors, array, enums)
    # costs ~4 ms of every warm call, and a Unix stream socket needs none of it.
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            raise DaemonUnavailable(str(path)) from exc
        sock.sendall(json.dumps(message).encode() + b"\n")
        chunks = []
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                break
    except TimeoutError:
        from lanser.errors import ServerTimeout

        raise ServerTimeout(f"the lanser daemon did not answer within {timeout:g} s") from None
    finally:
        sock.close()
    if not chunks:
        raise DaemonUnavailable(str(path))
    return json.loads(b"".join(chunks))


def raise_remote(reply: dict[str, Any]) -> None:
    """Re-raise an error the daemon reported as the same lanser error here."""
    from lanser import errors

    error = reply.get("error") or {}
    code = error.get("code", "error")
    classes: list[type[errors.LanserError]] = [errors.LanserError]
    for cls in classes:
        classes.extend(cls.__subclasses__())
    cls = next((c for c in reversed(classes) if c.code == code), errors.LanserError)
    exc = cls(error.get("message", "daemon error"), code=code, **(error.get("details") or {}))
    exc.exit_code = errors.ExitCode(reply.get("exit_code", int(cls.exit_code)))
    raise exc


def call(root: Path, message: dict[str, Any], *, timeout: float = 60.0) -> dict[str, Any]:
    """Like :func:`request`, raising the daemon's errors as lanser errors."""
    reply = request(root, message, timeout=timeout)
    if not reply.get("ok"):
        raise_remote(reply)
    return reply


def reply_wait(timeout: float, requests: int = 1) -> float:
    """How long a client waits for the daemon's reply to ``requests`` each bounded
    by ``timeout``: the daemon reports their timeouts itself, well before this."""
    return timeout * max(1, requests) + REPLY_MARGIN


def is_running(root: Path) -> bool:
    try:
        return bool(request(root, {"method": "ping"}, timeout=5.0).get("ok"))
    except (DaemonUnavailable, OSError, ValueError):
        return False
    except Exception:
        return False


def start(root: Path, entry: str, *, wait: float = 60.0,
          servers: list[str] | None = None) -> dict[str, Any]:
    """Start the root's daemon unless one runs; return its status once it answers.

    ``entry``: the module the daemon process runs (``python -m ENTRY --root ROOT``),
    given by the caller, so this layer needs nothing above it to start one.
    """
    ensure_runtime_dir()
    if not is_running(root):
        import subprocess  # only here: the warm call's client never spawns anything

        args = [sys.executable, "-m", entry, "--root", str(root)]
        with open(log_path(root), "ab") as log:
            subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                             start_new_session=True, close_fds=True, cwd=str(root))
        deadline = time.monotonic() + wait
        while not is_running(root):
            if time.monotonic() > deadline:
                from lanser.errors import ServerError

                raise ServerError(f"the lanser daemon did not start within {wait:g} s; "
                                  f"see {log_path(root)}", code="daemon_start_failed")
            time.sleep(0.05)
    return call(root, {"method": "warm", "servers": servers or []}, timeout=wait + REPLY_MARGIN)


def stop(root: Path, *, wait: float = 30.0) -> bool:
    """Stop the root's daemon and wait until its process (and servers) are gone.

    ``False`` if none was running.
    """
    try:
        pid = request(root, {"method": "ping"}, timeout=wait)["pid"]
        request(root, {"method": "stop"}, timeout=wait)
    except (DaemonUnavailable, OSError, KeyError):
        return False
    deadline = time.monotonic() + wait
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
