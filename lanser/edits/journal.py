"""Crash-safe, all-or-nothing writes: a journal under ``.lanser/``, temp files, os.replace.

The protocol of one transaction (each step is a crash point, see :func:`crash_point`):

1. under an exclusive lock (``.lanser/edits.lock``), finish any earlier crashed
   transaction first (:func:`recover`);
2. write the journal into ``.lanser/journal.tmp/``: a backup of every file's old
   bytes and ``manifest.json`` (paths, old/new hashes and modes, temp names, the
   history token), each fsynced; then rename the directory to ``.lanser/journal/``.
   From that rename on, the transaction is *in flight*;
3. for each file: write the new bytes to a temp file beside it, fsync, set the
   mode, and ``os.replace`` it into place (or unlink a deleted file); fsync the
   directories;
4. the caller may verify, then *commit* (record history, rename the journal away,
   delete it) or *roll back* (which is recovery).

Recovery (``lanser recover``, and the start of every mutating command) puts every
file of an in-flight transaction back to its exact old bytes and mode, removes
temp files and resets the history ref to the token the manifest holds. A file that
matches neither its old nor its new hash was changed by someone after the crash:
it is left alone and its backup kept under ``.lanser/conflicts/`` (reported, never
clobbered). Recovery is idempotent, so a crash during recovery is recovered too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanser.edits.model import ABSENT, FileEffect, StaleContent, state_hash
from lanser.files import fsync_dir, write_synced

#: ``LANSER_EDITS_CRASH_AT=N`` makes the N-th crash point of this process exit at once.
CRASH_ENV = "LANSER_EDITS_CRASH_AT"
#: The exit status of a simulated crash (what ``kill -9`` gives a shell).
CRASH_STATUS = 137

_crash_counter = 0


def crash_point(name: str) -> None:
    """A place where a real crash could happen; tests make the process die here.

    The hook exits with :func:`os._exit` (no cleanup, no flush: as ``kill -9``).
    """
    global _crash_counter
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    _crash_counter += 1
    if wanted in (str(_crash_counter), name):
        os._exit(CRASH_STATUS)


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def edit_lock(state_dir: Path) -> Iterator[None]:
    """One mutating lanser command at a time per workspace (an flock, freed on death)."""
    import fcntl

    fd = os.open(state_dir / "edits.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Recovery:
    """What recovery did: files restored to their old bytes, files left in conflict."""

    transaction: str | None
    restored: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    history: Any = None

    @property
    def happened(self) -> bool:
        return self.transaction is not None

    def to_json(self) -> dict[str, Any]:
        return {"transaction": self.transaction, "restored": list(self.restored),
                "conflicts": list(self.conflicts)}


@dataclass
class Transaction:
    """An in-flight apply: the files are written, the journal still on disk."""

    root: Path
    state_dir: Path
    id: str
    effects: tuple[FileEffect, ...]
    history: Any = None
    done: bool = field(default=False)

    @property
    def journal(self) -> Path:
        return self.state_dir / "journal"

    def commit(self) -> None:
        """Make the apply final: the journal goes (atomically, by rename, then deleted)."""
        crash_point("commit")
        trash = self.state_dir / f"journal.done-{self.id}"
        os.replace(self.journal, trash)
        fsync_dir(self.state_dir)
        crash_point("committed")
        shutil.rmtree(trash, ignore_errors=True)
        self.done = True

    def rollback(self, reset_history: Callable[[Any], None] | None = None) -> Recovery:
        """Undo the writes of this transaction: recovery of its own journal."""
        result = recover(self.root, self.state_dir, reset_history)
        self.done = True
        return result


def _temp_name(target: Path, txid: str) -> Path:
    return target.with_name(f".{target.name}.lanser-{txid}.tmp")


def begin(root: Path, state_dir: Path, effects: tuple[FileEffect, ...], *,
          history: Any = None) -> Transaction:
    """Check, journal and write ``effects``; the caller then commits or rolls back.

    Must run under :func:`edit_lock` after :func:`recover`. Raises
    :class:`StaleContent` (writing nothing) when any file's bytes differ from what
    the preview saw.
    """
    modes: dict[str, int | None] = {}
    for effect in effects:
        current = _read(root / effect.path)
        # The mode on disk now, not the planned one: recovery restores exactly this.
        modes[effect.path] = (stat.S_IMODE((root / effect.path).stat().st_mode)
                              if current is not None else None)
        if current is not None and effect.before_mode is not None and \
                modes[effect.path] != effect.before_mode:
            raise StaleContent(f"{effect.path}: its mode changed since the preview "
                               f"({effect.before_mode:o} -> {modes[effect.path]:o}); preview "
                               "again", path=effect.path)
        if state_hash(current) != effect.before_hash:
            raise StaleContent(
                f"{effect.path}: changed since the preview (expected {effect.before_hash}, "
                f"found {state_hash(current)}); preview again", path=effect.path)
    txid = uuid.uuid4().hex[:16]
    staging = state_dir / "journal.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "backup").mkdir(parents=True)
    entries = []
    for index, effect in enumerate(effects):
        crash_point("backup")
        backup = None
        if effect.before is not None:
            backup = f"backup/{index}"
            write_synced(staging / backup, effect.before)
        entries.append({
            "path": effect.path, "before": effect.before_hash, "after": effect.after_hash,
            "before_mode": modes[effect.path], "after_mode": effect.after_mode,
            "backup": backup, "temp": _temp_name(root / effect.path, txid).name,
        })
    # Directories the apply will create, so recovery can take them away again.
    created_dirs = sorted({
        parent.relative_to(root).as_posix()
        for effect in effects if effect.after is not None
        for parent in (root / effect.path).parents
        if root in parent.parents and not parent.exists()
    })
    manifest = {"id": txid, "entries": entries, "history": history,
                "created_dirs": created_dirs}
    write_synced(staging / "manifest.json", json.dumps(manifest, sort_keys=True).encode())
    fsync_dir(staging / "backup")
    fsync_dir(staging)
    crash_point("journal")
    os.replace(staging, state_dir / "journal")
    fsync_dir(state_dir)
    txn = Transaction(root, state_dir, txid, effects, history)
    try:
        _write_effects(root, txid, effects)
    except BaseException:
        # A write failed (disk full, permissions, Ctrl-C): put everything back now.
        # The history was not touched yet, so there is nothing to reset.
        recover(root, state_dir)
        raise
    return txn


def _write_effects(root: Path, txid: str, effects: tuple[FileEffect, ...]) -> None:
    parents: set[Path] = set()
    default_mode = _default_mode()
    for effect in effects:
        target = root / effect.path
        parents.add(target.parent)
        if effect.after is None:
            crash_point("delete")
            _check_parent(target, effect.path)
            target.unlink(missing_ok=True)
            _prune(root, target.parent)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        _check_parent(target, effect.path)
        temp = _temp_name(target, txid)
        crash_point("temp")
        mode = effect.after_mode if effect.after_mode is not None else default_mode
        write_synced(temp, effect.after, mode)
        crash_point("replace")
        _check_parent(target, effect.path)
        os.replace(temp, target)
    for parent in sorted(parents):
        fsync_dir(parent)
    crash_point("written")


def _check_parent(target: Path, rel: str) -> None:
    """Refuse to write through a directory that became a symlink since it was jailed.

    The envelope jails every path again under the lock; this closes the gap between
    that check and each write (a realpath: a few lstat calls). ``target`` is the
    real path the jail gave, so its directory must still resolve to itself.
    """
    if os.path.realpath(target.parent) != str(target.parent):
        raise StaleContent(f"{rel}: its directory now resolves elsewhere (a symlink "
                           "appeared during the apply); nothing was changed", path=rel)


def _prune(root: Path, directory: Path) -> None:
    """Remove directories a deletion left empty, as git does (recovery recreates them)."""
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def pending(state_dir: Path) -> bool:
    """Whether a crashed transaction waits for recovery (cheap; creates nothing)."""
    return (state_dir / "journal").exists() or (state_dir / "journal.tmp").exists()


def recover(root: Path, state_dir: Path,
            reset_history: Callable[[Any], None] | None = None) -> Recovery:
    """Restore the exact old bytes of an in-flight transaction, if there is one.

    Call under :func:`edit_lock`. ``reset_history`` gets the history token the
    manifest recorded before the apply, and runs before the journal goes, so a
    crash here leaves the journal for the next recovery.
    """
    for trash in state_dir.glob("journal.done-*"):
        shutil.rmtree(trash, ignore_errors=True)
    # A journal still being staged means no file was touched yet.
    shutil.rmtree(state_dir / "journal.tmp", ignore_errors=True)
    journal = state_dir / "journal"
    if not journal.exists():
        return Recovery(None)
    manifest = json.loads((journal / "manifest.json").read_text(encoding="utf-8"))
    restored, conflicts = [], []
    for entry in manifest["entries"]:
        target = root / entry["path"]
        temp = target.with_name(entry["temp"])
        temp.unlink(missing_ok=True)
        current = _read(target)
        now = state_hash(current)
        old = None if entry["backup"] is None else (journal / entry["backup"]).read_bytes()
        if now == entry["before"]:
            if old is not None and entry["before_mode"] is not None:
                os.chmod(target, entry["before_mode"])
            continue
        if now != entry["after"]:
            keep = state_dir / "conflicts" / manifest["id"] / entry["path"]
            keep.parent.mkdir(parents=True, exist_ok=True)
            if old is not None:
                keep.write_bytes(old)
            conflicts.append(entry["path"])
            continue
        crash_point("recover-file")
        if old is None:
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            mode = entry["before_mode"]
            # Its own named temp, not atomic_write's: a crash here leaves a temp file
            # the next recovery knows by name (the manifest's) and removes.
            write_synced(temp, old, mode if mode is not None else _default_mode())
            os.replace(temp, target)
        fsync_dir(target.parent)
        restored.append(entry["path"])
    for rel in sorted(manifest.get("created_dirs", []), key=len, reverse=True):
        with contextlib.suppress(OSError):  # not empty: someone put files there
            (root / rel).rmdir()
    if reset_history is not None:
        crash_point("recover-history")
        reset_history(manifest.get("history"))
    trash = state_dir / f"journal.done-{manifest['id']}"
    os.replace(journal, trash)
    fsync_dir(state_dir)
    shutil.rmtree(trash, ignore_errors=True)
    return Recovery(manifest["id"], tuple(sorted(restored)), tuple(sorted(conflicts)),
                    manifest.get("history"))


__all__ = ["ABSENT", "Recovery", "Transaction", "begin", "crash_point", "edit_lock",
           "pending", "recover"]
