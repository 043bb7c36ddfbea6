"""The sandbox's copy of a working tree: which files a snapshot covers, what it is
(its identity), copied how, and brought up to date file by file.

A whole copy lists the tree (``git ls-files``: tracked and untracked files git does
not ignore; without git, every file outside the usual tool directories) and copies
bytes and permission bits. A scorer tests many candidates of one base tree: it copies
the base once, ahead, and then only the files a candidate changed
(:func:`update_files`), by the same listing rule, so both give the same tree.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lanser import git

#: Directories never copied when the root is not a git repository.
SKIP_DIRS = {".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".lanser",
             ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox"}
#: A changed file of this name can change what the listing keeps anywhere below it.
LISTING_RULES = ".gitignore"


def snapshot_files(root: Path, only: Iterable[str] | None = None) -> list[str]:
    """Files of the working tree a snapshot covers, relative, sorted; ``only``: of
    these paths, the ones the whole listing would hold."""
    names = None if only is None else sorted(set(only))
    if names == []:
        return []
    if (root / ".git").exists():
        spec = ["--", *names] if names is not None else []
        out = git.run(root, "--literal-pathspecs", "ls-files", "-z", "--cached", "--others",
                      "--exclude-standard", *spec, check=False)
        if out is not None:
            # never stale bytecode: a cached rewritten test module would skip our rewrite
            return sorted({n for n in out.split("\0")
                           if n and "__pycache__/" not in n and not n.endswith(".pyc")})
    if names is not None:
        return [n for n in names if not set(Path(n).parts[:-1]) & SKIP_DIRS]
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        rel = Path(dirpath).relative_to(root)
        found.extend((rel / f).as_posix() for f in filenames)
    return sorted(found)


def snapshot_identity(root: Path, rev: str | None) -> dict[str, Any] | None:
    """The snapshot identity, taken with the copy: the bundle must describe what was
    tested, not the tree as it is when someone asks for the bundle."""
    if rev is not None:
        tree = _tree_of(root, rev)
        return {"kind": "git-tree", "tree": tree} if tree else None
    from lanser.bundles.snapshot import snapshot_identity as identity
    from lanser.errors import LanserError
    from lanser.workspace import Workspace

    try:
        return identity(Workspace(root))
    except (LanserError, OSError):
        return None  # make_bundle takes it again


def _tree_of(root: Path, rev: str) -> str:
    """``rev``'s tree, or ``""`` when git cannot say (the sandbox reports a bad one)."""
    out = git.run(root, "rev-parse", f"{rev}^{{tree}}", check=False)
    return (out or "").strip()


def copy_files(root: Path, dest: Path, files: list[str]) -> None:
    """``files`` (relative, sorted) from ``root`` into ``dest``: bytes and permission
    bits, symlinks as links, anything else (a socket, a dangling name) left out. Not
    ``shutil.copy2``: its timestamps and extended attributes cost ~0.5 ms a file (5x the
    copy on a 200-file workspace) and nothing in a run reads them."""
    made: set[str] = set()
    for rel in files:
        # an index entry the tree no longer has (a deleted file, a folder now a file)
        # makes no folder: a file of that name may be copied in its place
        if not os.path.lexists(root / rel):
            continue
        parent = os.path.dirname(rel)
        if parent not in made:
            os.makedirs(dest / parent, exist_ok=True)
            made.add(parent)
        _copy_one(root / rel, dest / rel)


def update_files(root: Path, dest: Path, changed: Iterable[str]) -> bool:
    """Bring ``dest``, a whole copy of ``root`` before ``changed`` were written,
    up to date: each changed path copied again, or removed (with the folders it
    leaves empty) where the listing no longer holds it. False, and nothing done,
    when a change can move the listing's rules (a ``.gitignore``): copy it whole.

    A path the copy holds was listed, and still is while it exists (the rules did
    not move); only a path new to the tree asks git whether it is ignored."""
    paths = sorted(set(changed))
    if any(Path(p).name == LISTING_RULES or not _inside(dest, p) for p in paths):
        return False
    new = [p for p in paths if not os.path.lexists(dest / p)]
    listed = set(snapshot_files(root, [p for p in new if os.path.lexists(root / p)]))
    for rel in paths:
        keep = rel in listed if rel in new else os.path.lexists(root / rel)
        _remove(dest, rel)
        if keep:
            os.makedirs((dest / rel).parent, exist_ok=True)
            _copy_one(root / rel, dest / rel)
    return True


def put_back(dest: Path, files: Mapping[str, tuple[bytes | None, int | None]]) -> bool:
    """Write ``files`` (relative path -> bytes and mode; None bytes: absent) into
    ``dest``: a copy of a tree that differs from the wanted one in these files only.
    False, and nothing done, when a path leads out of ``dest`` or is a listing rule
    (the copy was listed by the rules being put back)."""
    if any(Path(p).name == LISTING_RULES or not _inside(dest, p) for p in files):
        return False
    for rel, (data, mode) in sorted(files.items()):
        _remove(dest, rel)
        if data is None:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if mode is not None:
            os.chmod(target, stat.S_IMODE(mode))
    return True


def _inside(dest: Path, rel: str) -> bool:
    """``rel``'s folder is ``dest`` or in it once links are followed (a copied link
    never takes a write out of the copy)."""
    if os.path.isabs(rel) or ".." in Path(rel).parts:
        return False
    top = os.path.realpath(dest)
    folder = os.path.realpath((dest / rel).parent)
    return folder == top or folder.startswith(top + os.sep)


def _copy_one(src: Path, dst: Path) -> None:
    try:
        info = os.lstat(src)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(info.st_mode):
        shutil.copyfile(src, dst)
        os.chmod(dst, stat.S_IMODE(info.st_mode))


def _remove(dest: Path, rel: str) -> None:
    """``rel`` gone from ``dest``, and the folders that leaves empty (a whole copy
    makes no empty folder: one would still import as a namespace package)."""
    target = dest / rel
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif os.path.lexists(target):  # not when a folder on the way is now a file
        target.unlink()
    parent = target.parent
    while parent != dest and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
