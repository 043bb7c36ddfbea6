"""Undo outside git: every apply recorded under ``.lanser/applies/`` (issue 15, defect 9).

The same interface as :class:`~lanser.edits.history.GitHistory`, for a workspace
that is not in a git repository: ``lanser undo`` must work wherever ``--apply``
wrote. Each apply is one JSON record file holding, per touched file, its exact bytes
before (base64), its hashes before and after, and its modes; ``TIP`` names the last
record, and each record names its parent, so undoing twice undoes two applies. A
record's name is the hash of its content: the same apply on the same parent is the
same record. Writes are atomic (temp file + ``os.replace``); a record whose bytes do
not match their hash is refused, never restored.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from lanser.edits.history import GitError, Record
from lanser.edits.model import FileEffect, StaleContent, state_hash

FOLDER = "applies"


class FileHistory:
    """Apply records of a workspace outside git, under ``.lanser/applies/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / ".lanser" / FOLDER

    def dirty(self, rels: list[str]) -> list[str]:
        return []  # without version control nothing says what is uncommitted

    def tip(self) -> str | None:
        try:
            return (self.dir / "TIP").read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def depth(self) -> int:
        count, token = 0, self.tip()
        while token is not None:
            count += 1
            token = self._load(token).get("parent")
        return count

    def reset(self, token: Any) -> None:
        """Point the tip back at ``token`` (a record, or None for no apply)."""
        if token != self.tip():
            self._write("TIP", "" if token is None else str(token))

    def record(self, effects: tuple[FileEffect, ...], message: str, token: str | None) -> str:
        entries = [{"path": e.path, "before": e.before_hash, "after": e.after_hash,
                    "before_mode": e.before_mode, "after_mode": e.after_mode,
                    "before_bytes": None if e.before is None
                    else base64.b64encode(e.before).decode("ascii")}
                   for e in effects]
        body = json.dumps({"message": message, "parent": token, "entries": entries},
                          sort_keys=True)
        name = hashlib.sha256(body.encode()).hexdigest()[:32]
        self._write(f"{name}.json", body)
        self._write("TIP", name)
        return name

    def last(self) -> Record | None:
        tip = self.tip()
        if tip is None:
            return None
        data = self._load(tip)
        return Record(tip, tip, data.get("parent"), tuple(data["entries"]))

    def undo_effects(self, record: Record) -> tuple[FileEffect, ...]:
        """The effects that take the files from *after* back to *before*, exactly."""
        effects = []
        for entry in record.entries:
            old = None
            if entry["before"] != "absent":
                old = base64.b64decode(entry["before_bytes"] or "")
                if state_hash(old) != entry["before"]:
                    raise GitError(f"{entry['path']}: recorded bytes do not match their hash")
            path = self.root / entry["path"]
            try:
                current: bytes | None = path.read_bytes()
            except FileNotFoundError:
                current = None
            if state_hash(current) != entry["after"]:
                raise StaleContent(f"{entry['path']}: changed since the apply being undone; "
                                   "undo would clobber that change", path=entry["path"])
            mode = stat.S_IMODE(path.stat().st_mode) if current is not None else None
            effects.append(FileEffect(entry["path"], current, old, mode, entry["before_mode"]))
        return tuple(sorted(effects, key=lambda e: e.path))

    def _load(self, name: str) -> dict[str, Any]:
        try:
            data = json.loads((self.dir / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GitError(f".lanser/{FOLDER}/{name}.json: unreadable apply record "
                           f"({exc})", code="history_error") from None
        if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
            raise GitError(f".lanser/{FOLDER}/{name}.json: not an apply record",
                           code="history_error")
        return data

    def _write(self, name: str, text: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.dir / name)
