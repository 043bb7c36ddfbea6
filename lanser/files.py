"""Writing files so that a reader never sees half of one: the one atomic write.

:func:`atomic_write` writes a temp file beside the target (same directory, so the
rename stays on one filesystem), fsyncs it, and ``os.replace``\\ s it over the target;
on any failure (a full disk, Ctrl-C) the temp file is removed and the target is as
it was. The bundle store, JUnit reports and impact maps write through it. The edit
journal writes temp files named in its manifest (a crash mid-write must leave a temp
file the next recovery finds by name), with the same :func:`write_synced` and
:func:`fsync_dir`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_synced(path: Path | str, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` (created 0600, or ``mode``), then fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if mode is not None:
            os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path | str) -> None:
    """Make a rename or unlink in ``path`` durable (where the filesystem allows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the data is fsynced
    finally:
        os.close(fd)


def atomic_write(path: Path | str, data: bytes | str, *, mode: int | None = None) -> Path:
    """Replace ``path`` with ``data`` (text is written as UTF-8) all at once.

    The parent directory is created if missing. ``mode``: the file's permissions
    (default 0600, the temp file's). Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.close(fd)
        write_synced(tmp, data.encode("utf-8") if isinstance(data, str) else data, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
