"""A sandbox's temporary directory: made held by its owner, removed whole, and swept
once its owner is gone.

A sandbox removes its directory when it closes; a process killed first (a scorer's
worker past its deadline, an OOM kill) cannot. So the owner holds an exclusive
``flock`` on the directory for as long as it lives: the kernel drops it when the
process ends however it ends, in any PID namespace. The first sandbox a process makes
sweeps the directories whose lock it can take, leaving alone any younger than
:data:`GRACE_SECONDS` (the moment between ``mkdtemp`` and the lock).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PREFIX = "lanser-run-"
GRACE_SECONDS = 300.0
_swept = False


def make_held() -> tuple[Path, int]:
    """A new directory and the descriptor holding its lock (close it to let go)."""
    global _swept
    if not _swept:
        _swept = True
        sweep()
    path = Path(tempfile.mkdtemp(prefix=PREFIX)).resolve()
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return path, fd


def sweep(folder: str | None = None, *, grace: float = GRACE_SECONDS) -> list[str]:
    """Remove the sandbox directories under ``folder`` (the temp dir) whose owner is
    gone; the names removed."""
    folder = folder or tempfile.gettempdir()
    removed = []
    try:
        names = sorted(n for n in os.listdir(folder) if n.startswith(PREFIX))
    except OSError:
        return removed
    now = time.time()
    for name in names:
        path = os.path.join(folder, name)
        try:
            if now - os.lstat(path).st_mtime < grace:
                continue
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # its owner lives
        try:
            remove_tree(Path(path))
            removed.append(name)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def remove_tree(path: Path) -> None:
    """``path`` and all below it, folders a test made read-only included."""
    def writable(func: Any, name: str, _exc: Any) -> None:
        os.chmod(os.path.dirname(name), 0o700)
        if os.path.isdir(name) and not os.path.islink(name):
            os.chmod(name, 0o700)
        func(name)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=writable)
    else:
        shutil.rmtree(path, onerror=writable)
