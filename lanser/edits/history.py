"""Git awareness: the dirty check, and every apply recorded on ``refs/lanser/applies``.

Each apply adds two commits to the ref, built with a private index file so the
user's branch, index and working tree are never touched. Files whose uncommitted
bytes are exactly what lanser last wrote are not *dirty*: those bytes are saved
on the ref, and undoable. The commits:

* *before*: the previous apply's tree (HEAD's for the first) with the touched
  files as they were before the apply (parent: the ref's previous tip);
* *after*: the same with the files as the apply left them (parent: *before*).

So ``git diff refs/lanser/applies^ refs/lanser/applies`` is exactly the last apply,
and the commit message carries a JSON manifest (paths, hashes, exact modes, which
git itself would round to 644/755). ``lanser undo`` restores the *before* blobs,
after checking the files still hold the *after* bytes, and moves the ref back to
the previous apply; undoing twice undoes two applies.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser import git
from lanser.edits.model import FileEffect, StaleContent, state_hash
from lanser.errors import UsageError
from lanser.git import GitError

REF = "refs/lanser/applies"
_IDENTITY = {"GIT_AUTHOR_NAME": "lanser", "GIT_AUTHOR_EMAIL": "lanser@localhost",
             "GIT_COMMITTER_NAME": "lanser", "GIT_COMMITTER_EMAIL": "lanser@localhost"}
_MARK = "lanser-apply-manifest:"


@dataclass(frozen=True)
class Record:
    """One recorded apply: its commits and manifest entries."""

    after: str
    before: str
    parent: str | None
    entries: tuple[dict[str, Any], ...]


class GitHistory:
    def __init__(self, root: Path, top: Path) -> None:
        self.root = root
        self.top = top
        self.prefix = root.relative_to(top).as_posix()

    @classmethod
    def open(cls, root: Path) -> GitHistory | None:
        """The history of the repository holding ``root``, or None outside git."""
        top = git.toplevel(root)
        return None if top is None else cls(root, top.resolve())

    def _git(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None,
             check: bool = True) -> bytes:
        out = git.run(self.top, *args, input=input, env={**_IDENTITY, **(env or {})},
                      binary=True, check=check)
        return b"" if out is None else out

    def repo_path(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix != "." else rel

    # -- dirty check -----------------------------------------------------------

    def dirty(self, rels: list[str]) -> list[str]:
        """Which of ``rels`` have uncommitted changes (modified, staged or untracked)."""
        if not rels:
            return []
        specs = [f":(literal){self.repo_path(r)}" for r in rels]
        out = self._git("status", "--porcelain=v1", "-z", "--untracked-files=all",
                        "--no-renames", "--", *specs)
        found = set()
        for item in out.decode("utf-8", "replace").split("\0"):
            if len(item) > 3:
                found.add(item[3:])
        dirty = [r for r in rels if self.repo_path(r) in found]
        if not dirty or self.tip() is None:
            return sorted(dirty)
        # Bytes lanser itself wrote are saved on the ref (and undoable): not at risk.
        paths = [self.repo_path(r) for r in dirty]
        ours = self._tree_blobs(REF, paths)
        now = self._git("hash-object", "--no-filters", "--stdin-paths",
                        input="".join(p + "\n" for p in paths).encode()).decode().split()
        return sorted(r for r, p, blob in zip(dirty, paths, now, strict=True)
                      if ours.get(p) != blob)

    def _tree_blobs(self, commit: str, paths: list[str]) -> dict[str, str]:
        out = self._git("ls-tree", "-r", "-z", "--full-tree", commit, "--",
                        *[f":(literal){p}" for p in paths])
        found = {}
        for item in out.decode("utf-8", "replace").split("\0"):
            meta, _, path = item.partition("\t")
            if path:
                found[path] = meta.split()[2]
        return found

    # -- the ref -------------------------------------------------------------------

    def tip(self) -> str | None:
        out = self._git("rev-parse", "--verify", "-q", REF + "^{commit}", check=False)
        return out.decode().strip() or None

    def depth(self) -> int:
        """How many applies the ref records (two commits each)."""
        if self.tip() is None:
            return 0
        return int(self._git("rev-list", "--count", REF).decode().strip()) // 2

    def reset(self, token: Any) -> None:
        """Point the ref back at ``token`` (a commit, or None for no ref)."""
        if token == self.tip():
            return
        if token is None:
            self._git("update-ref", "-d", REF)
        else:
            self._git("update-ref", "-m", "lanser: reset", REF, str(token))

    def record(self, effects: tuple[FileEffect, ...], message: str,
               token: str | None) -> str:
        """Add the before/after commits of an apply; returns the *after* commit."""
        blobs = self._blobs([e.before for e in effects] + [e.after for e in effects])
        manifest = [{"path": e.path, "before": e.before_hash, "after": e.after_hash,
                     "before_mode": e.before_mode, "after_mode": e.after_mode}
                    for e in effects]
        body = f"lanser: apply {message}\n\n{_MARK}{json.dumps(manifest, sort_keys=True)}\n"
        index = self.root / ".lanser" / f"index-{os.getpid()}"
        env = {"GIT_INDEX_FILE": str(index)}
        try:
            # Trees accumulate: each apply starts from the files as lanser last left
            # them (the first from HEAD), so the tip's tree holds every byte it wrote.
            base = f"{token}^{{tree}}" if token else "HEAD^{tree}"
            try:
                self._git("read-tree", base, env=env)
            except GitError:  # no commit yet: start from nothing
                self._git("read-tree", "--empty", env=env)
            # One git process wrote both halves: the before blobs, then the after ones.
            before_blobs, after_blobs = blobs[:len(effects)], blobs[len(effects):]
            before = self._commit(env, [(e.path, b, e.before_mode) for e, b in
                                        zip(effects, before_blobs, strict=True)],
                                  [token] if token else [], f"lanser: before {message}")
            after = self._commit(env, [(e.path, b, e.after_mode) for e, b in
                                       zip(effects, after_blobs, strict=True)],
                                 [before], body)
        finally:
            index.unlink(missing_ok=True)
        self._git("update-ref", "--create-reflog", "-m", f"lanser: apply {message}", REF,
                  after, token or "0" * 40)
        return after

    def _blobs(self, datas: list[bytes | None]) -> list[str | None]:
        """Write blobs for ``datas`` with one git process (None stays None)."""
        import tempfile

        present = [d for d in datas if d is not None]
        if not present:
            return [None] * len(datas)
        with tempfile.TemporaryDirectory(dir=self.root / ".lanser") as tmp:
            names = []
            for index, data in enumerate(present):
                name = Path(tmp) / str(index)
                name.write_bytes(data)
                names.append(str(name))
            out = self._git("hash-object", "-w", "--no-filters", "--stdin-paths",
                            input="".join(n + "\n" for n in names).encode())
        found = iter(out.decode().split())
        return [None if d is None else next(found) for d in datas]

    def _commit(self, env: dict[str, str], files: list[tuple[str, str | None, int | None]],
                parents: list[str], message: str) -> str:
        """Set ``files`` in the private index, write its tree, commit it."""
        lines = []
        for rel, blob, mode in files:
            path = self.repo_path(rel)
            if blob is None:
                lines.append(f"0 {'0' * 40}\t{path}")
                continue
            git_mode = "100755" if mode is not None and mode & 0o111 else "100644"
            lines.append(f"{git_mode} {blob}\t{path}")
        self._git("update-index", "-z", "--index-info",
                  input="".join(line + "\0" for line in lines).encode(), env=env)
        new_tree = self._git("write-tree", env=env).decode().strip()
        args = ["commit-tree", "--no-gpg-sign", new_tree, "-F", "-"]
        for parent in parents:
            args += ["-p", parent]
        return self._git(*args, input=message.encode()).decode().strip()

    # -- undo ----------------------------------------------------------------------

    def last(self) -> Record | None:
        tip = self.tip()
        if tip is None:
            return None
        raw = self._git("cat-file", "commit", tip).decode("utf-8", "replace")
        headers, _, message = raw.partition("\n\n")
        parents = [line.split()[1] for line in headers.splitlines() if line.startswith("parent ")]
        if _MARK not in message or len(parents) != 1:
            raise GitError(f"{REF} does not point at a lanser apply record ({tip})")
        entries = json.loads(message.split(_MARK, 1)[1])
        before = parents[0]
        raw_before = self._git("cat-file", "commit", before).decode("utf-8", "replace")
        grand = [line.split()[1] for line in raw_before.partition("\n\n")[0].splitlines()
                 if line.startswith("parent ")]
        return Record(tip, before, grand[0] if grand else None, tuple(entries))

    def undo_effects(self, record: Record) -> tuple[FileEffect, ...]:
        """The effects that take the files from *after* back to *before*, exactly."""
        effects = []
        for entry in record.entries:
            old = None
            if entry["before"] != "absent":
                old = self._git("cat-file", "blob",
                                f"{record.before}:{self.repo_path(entry['path'])}")
                if state_hash(old) != entry["before"]:
                    raise GitError(f"{entry['path']}: recorded bytes do not match their hash")
            current = self._current(entry["path"])
            if state_hash(current) != entry["after"]:
                raise StaleContent(
                    f"{entry['path']}: changed since the apply being undone; "
                    "undo would clobber that change", path=entry["path"])
            mode = None
            if current is not None:
                mode = stat.S_IMODE((self.root / entry["path"]).stat().st_mode)
            effects.append(FileEffect(entry["path"], current, old, mode, entry["before_mode"]))
        return tuple(sorted(effects, key=lambda e: e.path))

    def _current(self, rel: str) -> bytes | None:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            return None


def require(history: GitHistory | None) -> GitHistory:
    if history is None:
        raise UsageError("undo needs a git repository (applies are recorded on "
                         f"{REF})", code="not_git")
    return history
