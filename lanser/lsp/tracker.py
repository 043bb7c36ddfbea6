"""What changed on disk since a server last looked: the daemon's freshness guarantee.

A warm server must answer exactly as a cold one would on the files as they are now.
Before every request the daemon asks the tracker which Python files were created,
changed or deleted (by anyone) since the previous request; stat() finds candidates
cheaply and a content hash confirms them, so touching a file without changing it
costs no re-analysis.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path


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


class DiskTracker:
    def __init__(self) -> None:
        self._seen: dict[Path, _Seen] = {}

    def scan(self, files: list[Path]) -> Changes:
        """Compare ``files`` (the workspace's Python files now) with the last scan."""
        changes = Changes()
        current: dict[Path, _Seen] = {}
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            old = self._seen.get(path)
            if old is not None and old.mtime_ns == stat.st_mtime_ns and old.size == stat.st_size:
                current[path] = old
                continue
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                continue
            current[path] = _Seen(stat.st_mtime_ns, stat.st_size, digest)
            if old is None:
                changes.created.append(path)
            elif old.digest != digest:
                changes.changed.append(path)
        changes.deleted = sorted(
            p for p in self._seen if p not in current and not os.path.exists(p)
        )
        self._seen = current
        return changes
