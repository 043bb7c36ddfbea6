"""The identity of the workspace state an answer was computed on.

In a git repository it is git's tree hash of the working tree *as it is on disk*
(tracked files plus untracked files git does not ignore), computed with a private
index file so the user's index is never touched. The blobs are written to the
repository's object store, so the exact snapshot can be rebuilt from git objects
later (replay, relocation). Outside git it is a sorted manifest of file hashes:
the Python sources and the configuration files that change answers (see
:data:`MANIFEST_SUFFIXES`, :data:`MANIFEST_NAMES`).

``exclude`` names workspace files left out of the snapshot: the bundle file a
command writes into the workspace (``-o FILE``) or verifies (``verify FILE``), so
writing a bundle does not change the snapshot it records. ``.lanser/`` is always
left out (its ``.gitignore`` keeps it out of git; the manifest walk skips it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lanser import git
from lanser.canonical import content_hash
from lanser.workspace import _SKIP_DIRS, Workspace

#: Files a manifest snapshot covers, by suffix: sources and the configuration
#: formats tools read (pyproject.toml, lanser.toml, setup.cfg, tox.ini, mypy.ini ...).
MANIFEST_SUFFIXES = (".py", ".pyi", ".toml", ".ini", ".cfg")
#: ... and by exact name.
MANIFEST_NAMES = ("pyrightconfig.json", "py.typed")


def snapshot_identity(workspace: Workspace, exclude: Iterable[Path] = ()) -> dict[str, Any]:
    excluded = excluded_names(workspace, exclude)
    if workspace.is_git:
        return {"kind": "git-tree", "tree": working_tree_hash(workspace, excluded)}
    manifest = file_manifest(workspace, excluded)
    return {"kind": "manifest", "hash": content_hash(manifest), "files": manifest}


def excluded_names(workspace: Workspace, paths: Iterable[Path]) -> list[str]:
    """The workspace-relative names of ``paths`` that lie inside the workspace."""
    out = set()
    for path in paths:
        resolved = Path(os.path.abspath(path))
        try:
            out.add(resolved.relative_to(workspace.root).as_posix())
        except ValueError:
            continue
    return sorted(out)


def working_tree_hash(workspace: Workspace, exclude: Iterable[str] = ()) -> str:
    """``git write-tree`` of the working tree, through a private index.

    Each call works on its own copy of ``.lanser/snapshot.index`` (so concurrent
    calls never meet on git's ``index.lock``) and publishes it back atomically
    afterwards: the index is only a stat cache that keeps repeated snapshots of a
    large tree cheap, so whichever copy lands last is as good as any.
    """
    shared = workspace.state_dir / "snapshot.index"
    fd, name = tempfile.mkstemp(dir=shared.parent, prefix=".snapshot-", suffix=".index")
    os.close(fd)
    private = Path(name)
    try:
        try:
            shutil.copyfile(shared, private)
        except FileNotFoundError:
            private.unlink()  # git creates a fresh index where none exists
        env = {"GIT_INDEX_FILE": str(private)}
        steps = [["add", "-A", "--", "."]]
        names = list(exclude)
        if names:
            # A name the stat cache already holds stays there unless removed.
            steps.append(["rm", "-q", "--cached", "--ignore-unmatch", "--", *names])
        steps.append(["write-tree"])
        out = ""
        for args in steps:
            out = git.run(workspace.root, "-c", "core.quotepath=off", *args, env=env)
        tree = out.strip()
        os.replace(private, shared)
        return tree
    finally:
        private.unlink(missing_ok=True)


def file_manifest(workspace: Workspace, exclude: Iterable[str] = ()) -> list[dict[str, str]]:
    """Sorted ``[{path, sha256}]`` of the workspace's sources and configuration files."""
    skip = set(exclude)
    found = []
    for dirpath, dirnames, filenames in os.walk(workspace.root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        rel = Path(dirpath).relative_to(workspace.root)
        found.extend((rel / f).as_posix() for f in filenames
                     if f.endswith(MANIFEST_SUFFIXES) or f in MANIFEST_NAMES)
    out = []
    for name in sorted(set(found) - skip):
        digest = hashlib.sha256((workspace.root / name).read_bytes()).hexdigest()
        out.append({"path": name, "sha256": digest})
    return out
