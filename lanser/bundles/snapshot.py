"""The identity of the workspace state an answer was computed on.

In a git repository it is git's tree hash of the working tree *as it is on disk*
(tracked files plus untracked files git does not ignore), computed with a private
index file so the user's index is never touched. The blobs are written to the
repository's object store, so the exact snapshot can be rebuilt from git objects
later (replay, relocation). Outside git it is a sorted manifest of file hashes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from typing import Any

from lanser.canonical import content_hash
from lanser.errors import LanserError
from lanser.workspace import Workspace


def snapshot_identity(workspace: Workspace) -> dict[str, Any]:
    if workspace.is_git:
        return {"kind": "git-tree", "tree": working_tree_hash(workspace)}
    manifest = file_manifest(workspace)
    return {"kind": "manifest", "hash": content_hash(manifest), "files": manifest}


def working_tree_hash(workspace: Workspace) -> str:
    """``git write-tree`` of the working tree, through a private index under .lanser/.

    The private index persists between calls so git's stat cache makes repeated
    snapshots of a large tree cheap.
    """
    index = workspace.state_dir / "snapshot.index"
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    for args in (["add", "-A", "--", "."], ["write-tree"]):
        out = subprocess.run(["git", *args], cwd=workspace.root, env=env,
                             capture_output=True, text=True, check=False, timeout=120)
        if out.returncode != 0:
            raise LanserError(f"git {args[0]} failed: {out.stderr.strip()}", code="git_error")
    return out.stdout.strip()


def file_manifest(workspace: Workspace) -> list[dict[str, str]]:
    """Sorted ``[{path, sha256}]`` of the workspace's Python files."""
    out = []
    for path in workspace.python_files():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        out.append({"path": workspace.relative(path), "sha256": digest})
    return out
