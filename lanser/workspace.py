"""The workspace: its root, its files, and the rule that nothing leaves it.

Every path a user gives is resolved here, once: relative to the current directory
when that lies inside the root, else relative to the root; symlinks are followed
and the real path must stay inside the root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from lanser import git
from lanser.config import Config, load_config
from lanser.errors import MissingFile, OutsideWorkspace, UsageError
from lanser.positions import SourceText, read_source
from lanser.roots import find_root

PYTHON_SUFFIXES = (".py", ".pyi")
#: Directories never walked when the root is not a git repository.
_SKIP_DIRS = {".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".lanser",
              ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", "build", "dist"}


def path_to_uri(path: Path) -> str:
    return "file://" + quote(str(path))


def uri_to_path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


@dataclass(frozen=True)
class Workspace:
    root: Path
    #: The directory relative paths are read from (the caller's cwd; the daemon
    #: answers for clients whose cwd is not its own). ``None``: this process's cwd.
    cwd: Path | None = None

    @classmethod
    def open(cls, root: str | Path | None = None, cwd: Path | None = None) -> Workspace:
        return cls(find_root(root, cwd), cwd)

    @cached_property
    def config(self) -> Config:
        return load_config(self.root)

    @cached_property
    def is_git(self) -> bool:
        return (self.root / ".git").exists()

    # -- paths ----------------------------------------------------------------

    def resolve(self, given: str | Path, *, must_exist: bool = True) -> Path:
        """The real absolute path of a user-given path, jailed to the root."""
        if len(str(given).encode("utf-8", "surrogateescape")) >= 4096 or any(
                len(part.encode("utf-8", "surrogateescape")) > 255
                for part in str(given).split("/")):
            raise UsageError(f"{str(given)[:60]}...: path too long", code="bad_path")
        raw = Path(given).expanduser()
        if not raw.is_absolute():
            cwd = (self.cwd or Path.cwd()).resolve()
            base = cwd if cwd == self.root or self.root in cwd.parents else self.root
            raw = base / raw
        real = Path(os.path.realpath(raw))
        if real != self.root and self.root not in real.parents:
            raise OutsideWorkspace(
                f"{given}: outside the workspace {self.root}", path=str(given)
            )
        if must_exist and not real.exists():
            raise MissingFile(f"{given}: no such file", path=str(given))
        return real

    def resolve_file(self, given: str | Path) -> Path:
        path = self.resolve(given)
        if not path.is_file():
            raise UsageError(f"{given}: not a regular file", code="not_a_file")
        return path

    def check_python(self, path: Path, given: str | Path | None = None) -> Path:
        """``path`` itself, when a configured server can read it: a Python file, or any
        file when ``lanser.toml`` declares a server for another language. A README is
        not analysed as Python (issue 15, defect 6)."""
        if path.suffix in PYTHON_SUFFIXES or self._other_languages:
            return path
        raise UsageError(f"{given if given is not None else self.relative(path)}: not a "
                         "Python file (the servers analyse Python; declare a server for "
                         "another language under [servers.NAME] languages in lanser.toml)",
                         code="not_python")

    @cached_property
    def _other_languages(self) -> bool:
        return any(isinstance(t, dict) and set(t.get("languages", ["python"])) - {"python"}
                   for t in self.config.servers.values())

    def python_paths(self, given: str | Path) -> list[str]:
        """The relative Python files ``given`` names: a file (it must be Python), or a
        folder (its Python files not ignored by git; none is a usage error, not a
        clean bill)."""
        path = self.resolve(given)
        if not path.is_dir():
            return [self.relative(self.check_python(self.resolve_file(given), given))]
        prefix = "" if path == self.root else self.relative(path) + "/"
        found = [n for n in self.python_names() if n.startswith(prefix)]
        if not found:
            raise UsageError(f"{given}: no Python files to check in this folder",
                             code="no_python_files")
        return found

    def relative(self, path: Path) -> str:
        """Workspace-relative path with ``/`` separators (absolute if outside)."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def read(self, given: str | Path) -> SourceText:
        return read_source(self.resolve_file(given))

    # -- files ----------------------------------------------------------------

    def python_files(self) -> list[Path]:
        """All Python files of the workspace not ignored by git, sorted by relative path."""
        return [self.root / name for name in self.python_names()]

    def python_names(self) -> list[str]:
        """The relative names of :meth:`python_files`, sorted.

        Runs before every daemon request and several times in an episode step, so it
        sorts the names git prints rather than resolving each path, and tests them
        with plain ``os.path`` (pathlib objects cost more than the stat).
        """
        if self.is_git:
            out = git.run(self.root, "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard", "--", "*.py", "*.pyi", check=False)
            if out is not None:
                root = str(self.root)
                names = {n for n in out.split("\0") if n}
                return sorted(n for n in names if os.path.isfile(os.path.join(root, n)))
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            rel = Path(dirpath).relative_to(self.root)
            found.extend((rel / f).as_posix() for f in filenames if f.endswith((".py", ".pyi")))
        return sorted(found)

    @property
    def state_dir(self) -> Path:
        """``.lanser/`` under the root, created with a ``.gitignore`` keeping it out of git."""
        path = self.root / ".lanser"
        ignore = path / ".gitignore"
        if not ignore.is_file():  # also a .lanser/ made by hand or by an older lanser
            path.mkdir(parents=True, exist_ok=True)
            ignore.write_text("*\n", encoding="utf-8")
        return path
