"""Shared fixtures: tiny real workspaces, real git repos, the real CLI in a subprocess."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "lanser-tests", "GIT_AUTHOR_EMAIL": "tests@lanser.invalid",
    "GIT_COMMITTER_NAME": "lanser-tests", "GIT_COMMITTER_EMAIL": "tests@lanser.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": os.environ.get("HOME", "/tmp"),
}
# Subprocesses (the CLI, sandboxed pytest, servers) cache their bytecode, as on a
# user's machine: with PYTHONDONTWRITEBYTECODE set (some CI images, this sandbox) every
# `python -m lanser` of the suite compiled lanser's modules anew.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
# The user's lanser config dir (approvals of `lanser trust`, config.toml): a fresh one
# for the run, never the real user's; CLI subprocesses inherit it.
os.environ["LANSER_CONFIG_DIR"] = tempfile.mkdtemp(prefix="lanser-test-config-")
atexit.register(shutil.rmtree, os.environ["LANSER_CONFIG_DIR"], ignore_errors=True)


def trust(root: Path) -> None:
    """Approve ``root``'s lanser config, as the user would with `lanser trust`."""
    from lanser.errors import ConfigError
    from lanser.trust import trust_workspace, workspace_status

    try:
        if workspace_status(root)["file"] is not None:
            trust_workspace(root)
    except ConfigError:
        pass  # a test of a broken config: there is nothing to approve


def write_files(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create ``files`` (relative path -> text or bytes) under ``root``; text is written as-is."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
    return root


def git(root: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    out = subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false",
                          *args], cwd=root, env=env, capture_output=True, text=True, check=True)
    return out.stdout


def init_repo(root: Path, message: str = "base") -> Path:
    """Make ``root`` a git repository with everything committed."""
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)
    return root


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)


def run_cli(args: list[str], *, cwd: Path, timeout: float = 180,
            env: dict[str, str] | None = None) -> CliResult:
    """Run the real ``lanser`` command in a subprocess (as users and agents do)."""
    proc = subprocess.run(
        [sys.executable, "-m", "lanser", *args], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})},
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def workspace(tmp_path: Path) -> Callable[[dict[str, str | bytes]], Path]:
    """A factory: files -> a workspace directory (not a git repo)."""
    counter = iter(range(1000))

    def make(files: dict[str, str | bytes], *, git_repo: bool = False,
             trusted: bool = True) -> Path:
        root = tmp_path / f"ws{next(counter)}"
        root.mkdir()
        write_files(root, files)
        if git_repo:
            init_repo(root)
        if trusted and ("lanser.toml" in files or "pyproject.toml" in files):
            trust(root.resolve())  # the test's config is the user's own (`lanser trust`)
        return root.resolve()

    return make


def run_cli_in_process(args: list[str], *, cwd: Path, timeout: float = 180,
                       env: dict[str, str] | None = None) -> CliResult:
    """The same command through the same application, in this process (typer's runner):
    no interpreter start-up per call. Only for what a subprocess would show the same
    way: :func:`cli` sends calls with their own environment (crash injection, a private
    daemon runtime dir) and the daemon's fast path through :func:`run_cli`."""
    from typer.testing import CliRunner

    from lanser.cli.app import app

    here = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, args, catch_exceptions=False)
    finally:
        os.chdir(here)
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli(request: pytest.FixtureRequest) -> Callable[..., CliResult]:
    """Run the CLI: in process by default; in a subprocess for a call with its own
    environment, and for every call of a test marked ``cli_subprocess``."""
    if request.node.get_closest_marker("cli_subprocess"):
        return run_cli

    def run(args: list[str], *, cwd: Path, timeout: float = 180,
            env: dict[str, str] | None = None) -> CliResult:
        if env:
            return run_cli(args, cwd=cwd, timeout=timeout, env=env)
        return run_cli_in_process(args, cwd=cwd, timeout=timeout)

    return run
