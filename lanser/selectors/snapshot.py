"""Snapshots: the files a selector is resolved against (the working tree or a git revision).

Relocation reads two snapshots, the one a selector was captured on and the one it
must be found in; resolution reads one. Both speak workspace-relative ``/`` paths and
hand out parsed :class:`~lanser.selectors.pytree.PyDoc` objects, cached per snapshot
because one resolution may look at a file many times. git is called through
:mod:`lanser.git` (one ``cat-file --batch`` process per revision), which turns a
revision that does not resolve into ``bad_rev``.
"""

from __future__ import annotations

import subprocess

from lanser import git
from lanser.errors import MissingFile, UnreadableFile
from lanser.positions import MAX_SOURCE_BYTES, decode_source
from lanser.selectors.pytree import PyDoc
from lanser.workspace import Workspace


class Snapshot:
    """A read-only view of the workspace's files at one moment."""

    label = "snapshot"

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._docs: dict[str, PyDoc | None] = {}

    def read(self, rel: str) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def files(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def exists(self, rel: str) -> bool:
        return self.read(rel) is not None

    def doc(self, rel: str) -> PyDoc | None:
        """The parsed file, or None when it does not exist or cannot be read as text."""
        if rel not in self._docs:
            try:
                text = self.read(rel)
            except UnreadableFile:
                text = None
            self._docs[rel] = PyDoc(text) if text is not None else None
        return self._docs[rel]

    def normalize(self, given: str) -> str:
        """A user-given path as a workspace-relative path (jailed; need not exist)."""
        return self.workspace.relative(self.workspace.resolve(given, must_exist=False))

    def require(self, given: str) -> str:
        rel = self.normalize(given)
        if not self.exists(rel):
            raise MissingFile(f"{given}: no such file in {self.label}", path=given)
        return rel


class WorkingTree(Snapshot):
    """The files on disk now."""

    label = "the working tree"

    def read(self, rel: str) -> str | None:
        path = self.workspace.root / rel
        if not path.is_file():
            return None
        if path.stat().st_size > MAX_SOURCE_BYTES:
            raise UnreadableFile(f"{rel}: too large")
        return decode_source(path.read_bytes(), rel)

    def files(self) -> list[str]:
        if not hasattr(self, "_files"):
            self._files = [self.workspace.relative(p) for p in self.workspace.python_files()]
        return self._files


class GitRevision(Snapshot):
    """The files of one commit, read with git (never checked out)."""

    def __init__(self, workspace: Workspace, rev: str) -> None:
        super().__init__(workspace)
        self.rev = rev
        self.commit = git.resolve(workspace.root, rev, "commit")
        self.label = f"revision {rev}"
        self._texts: dict[str, str | None] = {}
        self._batch: subprocess.Popen[bytes] | None = None
        self._listing: list[str] | None = None

    def all_files(self) -> list[str]:
        if self._listing is None:
            out = git.run(self.workspace.root, "ls-tree", "-r", "-z", "--name-only",
                          self.commit)
            self._listing = sorted(n for n in out.split("\0") if n)
        return self._listing

    def files(self) -> list[str]:
        return [n for n in self.all_files() if n.endswith((".py", ".pyi"))]

    def read(self, rel: str) -> str | None:
        if rel in self._texts:
            return self._texts[rel]
        data = self._cat(f"{self.commit}:{rel}")
        text = None if data is None else decode_source(data, rel)
        self._texts[rel] = text
        return text

    def _cat(self, spec: str) -> bytes | None:
        if "\n" in spec:
            return None
        if self._batch is None:
            self._batch = git.popen(self.workspace.root, "cat-file", "--batch",
                                    stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self._batch.stdin is not None and self._batch.stdout is not None
        self._batch.stdin.write(spec.encode("utf-8") + b"\n")
        self._batch.stdin.flush()
        header = self._batch.stdout.readline().split()
        if len(header) != 3 or header[1] != b"blob":
            return None
        size = int(header[2])
        data = self._batch.stdout.read(size)
        self._batch.stdout.read(1)
        if size > MAX_SOURCE_BYTES:
            return None
        return data

    def close(self) -> None:
        if self._batch is not None:
            if self._batch.stdin is not None:
                self._batch.stdin.close()
            self._batch.wait(timeout=10)
            self._batch = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def open_snapshot(workspace: Workspace, rev: str | None) -> Snapshot:
    """The working tree when ``rev`` is None, else that git revision."""
    return WorkingTree(workspace) if rev is None else GitRevision(workspace, rev)
