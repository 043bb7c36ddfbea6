"""What changed on disk since a server last looked: the daemon's freshness guarantee.

A warm server must answer exactly as a cold one would on the files as they are now.
Before every request the daemon asks the tracker which Python files were created,
changed or deleted (by anyone) since the previous request; stat() finds candidates
cheaply and a content hash confirms them, so touching a file without changing it
costs no re-analysis.

The stat() shortcut has git's "racy" hole: a file edited again within one tick of
the filesystem's timestamps keeps its mtime, and an edit of equal size its size
too. So a file whose mtime was within :data:`MTIME_GRANULARITY_NS` of the scan
that recorded it is hashed again next time, whatever stat() says.

Server and lanser configuration (``pyrightconfig.json``, a ``pyproject.toml``
table, ``lanser.toml``) is watched by content too (:class:`ConfigWatch`): a server
reads it once at start, so a change means a restart, not a notification.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The coarsest mtime resolution we expect (FAT and some network filesystems: 2 s;
#: ext4, btrfs and tmpfs stamp files from a clock tick of a few milliseconds).
MTIME_GRANULARITY_NS = 2_000_000_000


@dataclass
class Changes:
    created: list[Path] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)
    deleted: list[Path] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.changed or self.deleted)


@dataclass
class _Seen:
    mtime_ns: int
    size: int
    digest: str
    #: Recorded within the timestamp granularity of its mtime: stat() cannot vouch.
    racy: bool


class DiskTracker:
    def __init__(self) -> None:
        self._seen: dict[Path, _Seen] = {}

    def scan(self, files: list[Path]) -> Changes:
        """Compare ``files`` (the workspace's Python files now) with the last scan."""
        changes = Changes()
        current: dict[Path, _Seen] = {}
        now_ns = time.time_ns()
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            old = self._seen.get(path)
            if (old is not None and not old.racy and old.mtime_ns == stat.st_mtime_ns
                    and old.size == stat.st_size):
                current[path] = old
                continue
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                continue
            racy = now_ns - stat.st_mtime_ns < MTIME_GRANULARITY_NS
            current[path] = _Seen(stat.st_mtime_ns, stat.st_size, digest, racy)
            if old is None:
                changes.created.append(path)
            elif old.digest != digest:
                changes.changed.append(path)
        changes.deleted = sorted(
            p for p in self._seen if p not in current and not os.path.exists(p)
        )
        self._seen = current
        return changes

    def digests(self) -> dict[Path, str]:
        """Each file of the last scan and the hash of its content then."""
        return {path: seen.digest for path, seen in self._seen.items()}


class ConfigWatch:
    """The content of some configuration files, to tell when it changed.

    Each entry is a path relative to the root, or ``path:dotted.table`` for one
    table of a TOML file (``pyproject.toml:tool.basedpyright``), so that editing
    an unrelated part of ``pyproject.toml`` restarts nothing. Files are re-read on
    every check (they are small) and parsed only when their bytes changed.
    """

    def __init__(self, root: Path, entries: tuple[str, ...]) -> None:
        self.root = root
        self.entries = entries
        self._raw: dict[str, bytes | None] = {}
        self._digest = self._compute()

    def changed(self) -> bool:
        """Whether the watched content differs from the last check (or the start)."""
        if not self.entries:
            return False
        raws = {name: _read(self.root / name) for name in self._files()}
        if raws == self._raw:
            return False
        digest = self._compute(raws)
        changed = digest != self._digest
        self._digest = digest
        return changed

    def _files(self) -> list[str]:
        return sorted({entry.partition(":")[0] for entry in self.entries})

    def _compute(self, raws: dict[str, bytes | None] | None = None) -> str:
        if raws is None:
            raws = {name: _read(self.root / name) for name in self._files()}
        self._raw = raws
        parts = []
        for entry in self.entries:
            name, _, table = entry.partition(":")
            parts.append([entry, _content(raws[name], table)])
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _content(raw: bytes | None, table: str) -> object:
    """What of a file matters: all of it, or one TOML table (raw bytes if unparsable)."""
    if raw is None or not table:
        return None if raw is None else hashlib.sha256(raw).hexdigest()
    from lanser.configfiles import tomllib

    try:
        value: object = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return hashlib.sha256(raw).hexdigest()
    for part in table.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value
