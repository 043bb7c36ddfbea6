"""The one git gateway: every git command lanser runs goes through here.

Built on GitPython's command layer (``git.cmd.Git.execute``): one timeout
(:data:`TIMEOUT`, GitPython's watchdog kills a command that outlives it), one
environment (:func:`environment`: the caller's, with git made non-interactive and
its messages untranslated) and one translation of git's failures into lanser's
error tree (:func:`translate`): a revision git cannot resolve is
:class:`BadRevision` (``bad_rev``, exit 2) wherever it was given, anything else
:class:`GitError` (``git_error``, exit 3).

GitPython is imported on first use, not at the top: ``import git`` runs
``git version`` in a subprocess and took longer than importing all of
:mod:`lanser.workspace` (measured: 3.5-5.0 s against 2.0-2.8 s on the loaded 2-core
machine of issue 14; the ratio is what matters), and most lanser commands never call
git. Long-lived streams (``cat-file --batch``, ``archive``) get a plain
:class:`subprocess.Popen` from :func:`popen`, with the same environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lanser.errors import LanserError, UsageError

#: The program every command here runs (and the name ``lanser doctor`` reports it by).
PROGRAM = "git"
#: Seconds any one git command may take.
TIMEOUT = 120.0
#: What the environment always says, whatever the caller's: never prompt (no
#: terminal to answer), messages in English (so :func:`translate` can read them).
FIXED_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "LANGUAGE": "C"}

#: git's ways of saying a revision does not resolve.
_BAD_REVISION = re.compile(
    r"unknown revision|bad revision|not a valid object name|invalid object name|"
    r"needed a single revision|ambiguous argument|not a tree object|not a commit|"
    r"does not point to a valid object|bad object|Not a valid object name", re.IGNORECASE)


class GitError(LanserError):
    """git failed (or is missing, or timed out): exit 3."""

    code = "git_error"


class BadRevision(UsageError):
    """A revision the user gave does not name a commit or tree here: exit 2."""

    code = "bad_rev"


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every git command: this process's, :data:`FIXED_ENV`, then
    ``extra`` (a temporary index, an author)."""
    return {**os.environ, **FIXED_ENV, **(extra or {})}


def translate(args: Sequence[str], status: int | None, stderr: str, *,
              revision: str | None = None) -> LanserError:
    """git's failure as lanser's error. ``revision``: the user's revision, if the
    command resolves one (then an unresolvable one is :class:`BadRevision`)."""
    message = stderr.strip() or f"exit status {status}"
    # ``rev-parse --verify --quiet`` says nothing and exits 1 for an unknown revision.
    quiet = args[:1] == ["rev-parse"] or tuple(args[:1]) == ("rev-parse",)
    if revision is not None and (status == 128 or quiet or _BAD_REVISION.search(message)):
        return BadRevision(f"{revision}: not a revision of this repository ({message})",
                           rev=revision)
    return GitError(f"git {' '.join(args[:2])} failed: {message}")


def run(cwd: Path | str, *args: str, input: bytes | str | None = None,
        env: Mapping[str, str] | None = None, timeout: float = TIMEOUT, binary: bool = False,
        revision: str | None = None, check: bool = True) -> Any:
    """Run ``git ARGS`` in ``cwd``; its stdout (``str``, or ``bytes`` with ``binary``),
    untouched (no newline stripped).

    ``check=False`` returns ``None`` on failure instead of raising. ``revision``: see
    :func:`translate`.
    """
    from git.cmd import Git
    from git.exc import GitCommandError, GitCommandNotFound

    stdin = None
    if input is not None:
        stdin = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
        stdin.write(input.encode("utf-8") if isinstance(input, str) else input)
        stdin.seek(0)
    try:
        status, out, err = Git(str(cwd)).execute(
            [PROGRAM, *args], istream=stdin, with_extended_output=True, with_exceptions=False,
            stdout_as_string=False, strip_newline_in_stdout=False,
            kill_after_timeout=timeout, env={**FIXED_ENV, **(env or {})})
    except GitCommandNotFound as exc:
        if not check:
            return None
        raise GitError(f"git is not installed or not runnable: {exc}") from None
    except (GitCommandError, OSError) as exc:
        if not check:
            return None
        raise GitError(f"git {' '.join(args[:2])} failed: {exc}") from None
    finally:
        if stdin is not None:
            stdin.close()
    if status != 0:
        if not check:
            return None
        error = err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)
        raise translate(args, status, error, revision=revision)
    if binary:
        return out
    return out.decode("utf-8", "surrogateescape")


def popen(cwd: Path | str, *args: str, stdin: int | None = subprocess.DEVNULL,
          stderr: int | None = subprocess.PIPE,
          env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A long-lived ``git ARGS`` (streams: ``cat-file --batch``, ``archive``), stdout
    piped, in the one environment; the caller owns and closes it."""
    try:
        return subprocess.Popen([PROGRAM, *args], cwd=str(cwd), stdin=stdin,
                                stdout=subprocess.PIPE, stderr=stderr, env=environment(env))
    except OSError as exc:
        raise GitError(f"git {' '.join(args[:2])} could not start: {exc}") from None


def toplevel(path: Path) -> Path | None:
    """The top of the git work tree holding ``path``, or ``None`` (not in one)."""
    out = run(path, "rev-parse", "--show-toplevel", check=False)
    return Path(out.strip()) if out and out.strip() else None


def resolve(root: Path, rev: str, kind: str = "commit") -> str:
    """The full id of ``rev``'s ``kind`` (``commit`` or ``tree``); :class:`BadRevision`
    when it names none."""
    if rev.startswith("-"):
        raise BadRevision(f"{rev}: not a revision (it starts with '-')", rev=rev)
    return run(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{{kind}}}",
               revision=rev).strip()


#: The identity and dates of the commits lanser writes itself (snapshots, task
#: trees): fixed, so the same tree gives the same commit id anywhere.
FIXED_IDENTITY = {"GIT_AUTHOR_NAME": "lanser", "GIT_AUTHOR_EMAIL": "lanser@localhost",
                  "GIT_COMMITTER_NAME": "lanser", "GIT_COMMITTER_EMAIL": "lanser@localhost",
                  "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
                  "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z"}


class PatchDoesNotApply(UsageError):
    """A patch that does not apply to the tree it was given (exit 2)."""

    code = "patch_does_not_apply"


def tree_with_patch(root: Path, tree: str, patch: str) -> str:
    """The tree ``tree`` with the unified diff ``patch`` applied, written to the object
    store of ``root``'s repository (a private index: no working tree is touched).
    :class:`PatchDoesNotApply` says why git refused it."""
    if not patch.strip():
        return tree
    with tempfile.TemporaryDirectory(prefix="lanser-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        run(root, "read-tree", tree, env=env)
        try:
            run(root, "apply", "--cached", "--whitespace=nowarn", "-",
                input=patch if patch.endswith("\n") else patch + "\n", env=env)
        except LanserError as exc:
            raise PatchDoesNotApply(f"the patch does not apply ({exc.message})") from None
        return run(root, "write-tree", env=env).strip()


def commit_tree(root: Path, tree: str, message: str, parent: str | None = None) -> str:
    """A commit of ``tree`` with lanser's fixed identity and dates (the same id
    everywhere for the same tree, parent and message)."""
    args = ["commit-tree", tree, "-m", message, *(["-p", parent] if parent else [])]
    return run(root, *args, env=FIXED_IDENTITY).strip()


#: Where :func:`bundle` names the commits it carries (temporary refs, removed after).
BUNDLE_REFS = "refs/lanser/bundle/"


def bundle(root: Path, commits: Sequence[str]) -> bytes:
    """A git bundle (``git bundle create``) of ``root``'s repository holding ``commits``
    and their history, each under ``BUNDLE_REFS<commit>``: the bytes a repository travels
    as when no filesystem is shared (the Ray executor's object store)."""
    wanted = sorted({resolve(root, c) for c in commits})  # BadRevision: not a commit here
    names = [f"{BUNDLE_REFS}{c}" for c in wanted]
    for name, commit in zip(names, wanted, strict=True):
        run(root, "update-ref", name, commit)
    try:
        with tempfile.TemporaryDirectory(prefix="lanser-bundle-") as tmp:
            out = Path(tmp) / "repo.bundle"
            run(root, "bundle", "create", "-q", str(out), *names)
            return out.read_bytes()
    finally:
        for name in names:
            run(root, "update-ref", "-d", name, check=False)


def unbundle(data: bytes, dest: Path) -> Path:
    """A new repository at ``dest`` holding the commits of :func:`bundle`'s ``data``."""
    dest.mkdir(parents=True)
    run(dest, "init", "-q")
    incoming = dest / ".git" / "incoming.bundle"
    incoming.write_bytes(data)
    try:
        run(dest, "fetch", "-q", str(incoming), f"{BUNDLE_REFS}*:{BUNDLE_REFS}*")
    finally:
        incoming.unlink()
    return dest
