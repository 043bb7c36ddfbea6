"""Grading sees what the task says, not what the candidate left (issue 16).

Before a candidate is graded, every file it must not influence is put back as the
task's base has it (or the base with the task's ``test_patch`` applied, when the
caller builds the base that way): the tests, every ``conftest.py``, pytest's
configuration and the checkers' configuration. A candidate's edit to any of them is
reported (``protected_edit``, with the paths) and never changes what is measured.

What is protected (:data:`GLOBS`, :data:`SECTIONS`, plus what the base's own
configuration names, plus a task's ``protected`` globs):

- test files: ``test_*.py``, ``*_test.py``, everything under a ``tests/`` or ``test/``
  folder, and the ``python_files`` patterns the base's pytest configuration sets;
  a test file the candidate *added* is removed (its code would run at collection);
- every ``conftest.py``, and the plugin modules the base's configuration or
  conftests name (``-p NAME`` in ``addopts``, ``pytest_plugins``);
- whole configuration files: ``pytest.ini``, ``.pytest.ini``, ``pyrightconfig.json``,
  ``mypy.ini``, ``.mypy.ini``, ``ruff.toml``, ``.ruff.toml``, ``.flake8``,
  ``lanser.toml``, and every file a server's ``config_files`` names;
- configuration sections in shared files: ``[tool.pytest*]``, ``[tool.pyright]``,
  ``[tool.basedpyright]``, ``[tool.mypy]``, ``[tool.ruff]``, ``[tool.lanser]`` of
  ``pyproject.toml``; ``[tool:pytest]``, ``[flake8]``, ``[pycodestyle]``,
  ``[mypy*]`` of ``setup.cfg``; ``[pytest]``, ``[flake8]``, ``[mypy*]`` of
  ``tox.ini``. Only the section is restored; the rest of the file stays the
  candidate's (a restored section is checked by parsing both sides again; when the
  splice cannot be proven right, the whole file is restored).

Two front ends over one plan: :func:`restore_dir` rewrites a directory (a grading
snapshot, a sandbox copy), :func:`restore_tree` writes a new git tree (the one-shot
reward grades trees). Suppressions added on changed lines are stripped in the same
pass (:mod:`lanser.runner.suppressions`).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lanser.configfiles import CONFIG_FILES, CONFIG_SECTIONS
from lanser.findings import Finding, merge
from lanser.runner import suppressions
from lanser.runner.sections import ini_parser, restore_sections

#: Test files, every conftest.py, and the whole files that configure pytest or a
#: checker (:data:`lanser.configfiles.CONFIG_FILES`).
GLOBS = ("**/conftest.py", "**/test_*.py", "**/*_test.py", "**/tests/**", "**/test/**",
         *CONFIG_FILES)
#: file -> section patterns (TOML dotted table names, INI section names; fnmatch)
SECTIONS = CONFIG_SECTIONS
_SKIP_DIRS = {".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".lanser",
              ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox"}
_PY = (".py", ".pyi")


class Files(Protocol):
    """A read-only view of a tree of files (a directory, a git tree)."""

    def paths(self) -> list[str]: ...
    def read(self, path: str) -> bytes | None: ...
    def digest(self, path: str) -> str | None: ...


class DirFiles:
    """Files under a directory: git's view (tracked + untracked not ignored) where it
    is a repository, else every file outside the usual tool folders."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @functools.cache  # noqa: B019 - one listing per view; views are short-lived
    def paths(self) -> list[str]:
        if (self.root / ".git").exists():
            from lanser import git

            listed = git.run(self.root, "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard", binary=True, check=False)
            if listed is not None:
                return sorted({n for n in os.fsdecode(listed).split("\0")
                               if n and (self.root / n).is_file()})
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            rel = Path(dirpath).relative_to(self.root)
            found.extend((rel / f).as_posix() for f in filenames)
        return sorted(found)

    def read(self, path: str) -> bytes | None:
        try:
            return (self.root / path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def digest(self, path: str) -> str | None:
        """git's blob id of the content (comparable with :meth:`GitTree.digest`)."""
        data = self.read(path)
        return None if data is None else blob_id(data)


def blob_id(data: bytes) -> str:
    """git's SHA-1 blob id of ``data``: a file compares with a tree entry unread."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class GitTree:
    """Files of a git tree (``treeish`` in the repository at ``repo``)."""

    def __init__(self, repo: str | Path, treeish: str) -> None:
        self.repo = Path(repo)
        self.treeish = treeish
        self._entries: dict[str, tuple[str, str]] | None = None
        self._blobs: dict[str, bytes] = {}

    def entries(self) -> dict[str, tuple[str, str]]:
        """path -> (mode, blob sha), blobs only (no submodules)."""
        if self._entries is None:
            out = _git(self.repo, "ls-tree", "-r", "-z", "--full-tree", self.treeish)
            entries = {}
            for rec in out.split(b"\0"):
                if not rec:
                    continue
                meta, _, name = rec.partition(b"\t")
                mode, kind, sha = meta.decode().split()
                if kind == "blob":
                    entries[os.fsdecode(name)] = (mode, sha)
            self._entries = entries
        return self._entries

    def paths(self) -> list[str]:
        return sorted(self.entries())

    def read(self, path: str) -> bytes | None:
        entry = self.entries().get(path)
        if entry is None:
            return None
        if entry[1] not in self._blobs:  # a tree's blobs never change: read once
            self._blobs[entry[1]] = _git(self.repo, "cat-file", "blob", entry[1])
        return self._blobs[entry[1]]

    def digest(self, path: str) -> str | None:
        entry = self.entries().get(path)
        return None if entry is None else entry[1]

    def mode(self, path: str) -> str | None:
        entry = self.entries().get(path)
        return None if entry is None else entry[0]


class Overlay:
    """``base`` with some files replaced (bytes) or removed (None): what a proposed
    edit would leave, read without writing it anywhere."""

    def __init__(self, base: Files, changes: dict[str, bytes | None]) -> None:
        self.base, self.changes = base, changes

    def paths(self) -> list[str]:
        gone = {p for p, d in self.changes.items() if d is None}
        return sorted((set(self.base.paths()) | set(self.changes)) - gone)

    def read(self, path: str) -> bytes | None:
        return self.changes[path] if path in self.changes else self.base.read(path)

    def digest(self, path: str) -> str | None:
        if path in self.changes:
            data = self.changes[path]
            return None if data is None else blob_id(data)
        return self.base.digest(path)


@dataclass(frozen=True)
class Plan:
    """What grading puts in place of the candidate's files: path -> bytes (None:
    remove), and what was caught."""

    changes: dict[str, bytes | None] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()

    @property
    def protected_paths(self) -> tuple[str, ...]:
        for f in self.findings:
            if f.kind == "protected_edit":
                return f.paths
        return ()


def plan(candidate: Files, base: Files, extra_globs: Iterable[str] = (),
         config_files: Iterable[str] = (), strip_suppressions: bool = True) -> Plan:
    """Compare the candidate's protected files with the base's; strip suppressions.

    ``config_files`` are a server's (``ServerSpec.config_files``: ``name`` for a
    whole file, ``name:table`` for a section).
    """
    globs = [*GLOBS, *extra_globs]
    sections = {k: list(v) for k, v in SECTIONS.items()}
    for entry in config_files:
        name, _, table = str(entry).partition(":")
        if table:
            sections.setdefault(name, []).append(table)
        else:
            globs.append(name)
    globs.extend(_configured_globs(base))
    base_paths, cand_paths = base.paths(), candidate.paths()
    protected = sorted(p for p in set(base_paths) | set(cand_paths) if matches(p, globs))
    changes: dict[str, bytes | None] = {}
    edited: list[str] = []
    for path in protected:
        if candidate.digest(path) == base.digest(path):
            continue
        old, new = base.read(path), candidate.read(path)
        if old == new:
            continue
        changes[path] = old
        edited.append(path)
    for name, patterns in sorted(sections.items()):
        if name in changes or matches(name, globs):
            continue
        new, old = candidate.read(name), base.read(name)
        if new is None or new == old:
            continue
        restored, keys = restore_sections(name, new, old, patterns)
        if keys:
            changes[name] = restored
            edited.extend(f"{name}#{k}" for k in keys)
    findings = [Finding("protected_edit", len(edited), tuple(sorted(edited)))]
    if strip_suppressions:
        stripped, where, equal, equal_where = 0, [], 0, []
        base_set = set(base_paths)
        for path in cand_paths:
            if not path.endswith(_PY) or path in changes or matches(path, globs):
                continue
            if path in base_set and candidate.digest(path) == base.digest(path):
                continue
            new = candidate.read(path)
            old = base.read(path) if path in base_set else None
            if new is None or new == old:
                continue
            text, count = _strip(new, old)
            if count:
                changes[path] = text
                stripped += count
                where.append(path)
            same = _always_equal(new, old)
            if same:
                equal += same
                equal_where.append(path)
        findings.append(Finding("suppression_added", stripped, tuple(sorted(where))))
        findings.append(Finding("always_equal", equal, tuple(sorted(equal_where))))
    return Plan(changes, merge(findings))


def _strip(new: bytes, old: bytes | None) -> tuple[bytes, int]:
    try:
        text = new.decode("utf-8")
        base = None if old is None else old.decode("utf-8", "replace")
    except UnicodeDecodeError:
        return new, 0
    out, count = suppressions.strip(text, base)
    return out.encode("utf-8"), count


def _always_equal(new: bytes, old: bytes | None) -> int:
    try:
        return suppressions.always_equal(new.decode("utf-8"),
                                         None if old is None else old.decode("utf-8", "replace"))
    except UnicodeDecodeError:
        return 0


def restore_dir(workdir: str | Path, base: Files, extra_globs: Iterable[str] = (),
                config_files: Iterable[str] = (), strip_suppressions: bool = True,
                candidate: Files | None = None) -> Plan:
    """Put ``workdir``'s protected files back as ``base`` has them (in place).

    ``candidate``: a view of ``workdir`` when the caller knows which files differ from
    ``base`` (an :class:`Overlay` of them): nothing else is listed or read."""
    root = Path(workdir)
    result = plan(candidate or DirFiles(root), base, extra_globs, config_files,
                  strip_suppressions)
    write_changes(root, result.changes)
    return result


@dataclass(frozen=True)
class Protect:
    """A grading run's protection (``run_tests(protect=...)``): restore from
    ``base_tree`` of the repository at ``repo`` (the workspace when None), plus a
    task's ``globs`` and a server's ``config_files`` (:func:`plan`)."""

    base_tree: str
    repo: Path | None = None
    globs: tuple[str, ...] = ()
    config_files: tuple[str, ...] = ()

    def restorer(self, root: Path, caught: list[Any]) -> Any:
        base = GitTree(self.repo or root, self.base_tree)

        def prepare(copy: Path) -> None:
            # protected files only: suppressions are the graded tree's business (a
            # copy of an already graded tree would count them twice)
            plan = restore_dir(copy, base, self.globs, self.config_files,
                               strip_suppressions=False)
            caught.append(plan.findings)

        return prepare


def write_changes(root: Path, changes: dict[str, bytes | None]) -> None:
    """Write a plan's changes under ``root`` (None: remove the file)."""
    for path, data in sorted(changes.items()):
        target = root / path
        if data is None:
            if target.is_file() or target.is_symlink():
                target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink():
                target.unlink()
            target.write_bytes(data)


def restore_tree(repo: str | Path, tree: str, base_tree: str, extra_globs: Iterable[str] = (),
                 config_files: Iterable[str] = (), strip_suppressions: bool = True
                 ) -> tuple[str, Plan]:
    """``tree`` with its protected files put back as ``base_tree`` has them: the new
    tree's hash (written to ``repo``'s object store) and the plan."""
    repo = Path(repo)
    candidate, base = GitTree(repo, tree), GitTree(repo, base_tree)
    result = plan(candidate, base, extra_globs, config_files, strip_suppressions)
    if not result.changes:
        return tree, result
    with tempfile.TemporaryDirectory(prefix="lanser-graded-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _git(repo, "read-tree", tree, env=env)
        records = []
        for path, data in sorted(result.changes.items()):
            if data is None:
                records.append(f"0 {'0' * 40}\t{path}")
                continue
            sha = _git(repo, "hash-object", "-w", "--stdin", "--no-filters",
                       input=data).decode().strip()
            mode = candidate.mode(path) or base.mode(path) or "100644"
            if path in base.entries() and base.read(path) == data:
                mode = base.mode(path) or mode
            records.append(f"{mode} {sha}\t{path}")
        _git(repo, "update-index", "-z", "--index-info", env=env,
             input="".join(r + "\0" for r in records).encode())
        new_tree = _git(repo, "write-tree", env=env).decode().strip()
    return new_tree, result


# -- what is protected -------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _glob_re(pattern: str) -> re.Pattern[str]:
    """``**/`` any folders (none included), ``*`` within a name, ``?`` one character."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def matches(path: str, globs: Iterable[str]) -> bool:
    """Whether ``path`` matches one of ``globs`` (``**/`` any folders, ``*`` in a name)."""
    return any(_glob_re(g).match(path) for g in globs)


def is_protected(path: str, extra_globs: Iterable[str] = ()) -> bool:
    """Whether grading restores the whole file ``path`` (:data:`GLOBS`, plus a task's
    globs); sections of shared files are restored by :func:`plan`."""
    return matches(path, (*GLOBS, *extra_globs))


def _configured_globs(base: Files) -> list[str]:
    """Test file patterns and plugin modules the base's own pytest configuration names."""
    out: list[str] = []
    options = _pytest_options(base)
    for pattern in options.get("python_files", "").split():
        out.append(f"**/{pattern}")
    plugins = re.findall(r"(?:^|\s)-p\s*([\w.]+)", options.get("addopts", ""))
    paths = base.paths()
    conftests = [p for p in paths if p.endswith("conftest.py")]
    for path in conftests:
        plugins.extend(_pytest_plugins(base.read(path) or b""))
    for name in plugins:
        stem = name.replace(".", "/")
        for prefix in ("", "src/"):
            out.extend((f"{prefix}{stem}.py", f"{prefix}{stem}/__init__.py"))
    return out


def _pytest_options(base: Files) -> dict[str, str]:
    from lanser.configfiles import tomllib

    found: dict[str, str] = {}
    for name, section in (("pytest.ini", "pytest"), (".pytest.ini", "pytest"),
                          ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        data = base.read(name)
        if data is None:
            continue
        parser = ini_parser(data)
        if parser is not None and parser.has_section(section):
            found = {**dict(parser.items(section)), **found}
    data = base.read("pyproject.toml")
    if data is not None:
        try:
            table = tomllib.loads(data.decode("utf-8")).get("tool", {}).get("pytest", {})
        except (ValueError, UnicodeDecodeError):
            table = {}
        ini = table.get("ini_options", {}) if isinstance(table, dict) else {}
        for key, value in (ini if isinstance(ini, dict) else {}).items():
            found.setdefault(key, " ".join(value) if isinstance(value, list) else str(value))
    return found


def _pytest_plugins(source: bytes) -> list[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    out: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            out.extend([value] if isinstance(value, str) else
                       [v for v in value if isinstance(v, str)])
    return out


def _git(repo: Path, *args: str, env: dict[str, str] | None = None,
         input: bytes | None = None) -> bytes:
    from lanser import git

    return git.run(repo, *args, env=env, input=input, binary=True)


__all__ = ["GLOBS", "SECTIONS", "DirFiles", "Files", "GitTree", "Overlay", "Plan", "Protect",
           "plan",
           "restore_dir", "restore_tree"]
