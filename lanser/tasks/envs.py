"""Task environments: one cached virtualenv per (repository, dependency spec, Python).

A task's tests need the repository's own dependencies. :func:`ensure_env` builds a venv
for a revision from its dependency files (``pyproject.toml``, ``setup.cfg``,
``setup.py``, ``requirements*.txt`` at the root), keyed by :func:`env_key`: the
repository's name, a hash of those files' bytes, and the Python version. It installs
pytest and the project (so pip resolves its dependencies), then uninstalls the project
itself — the tests must import the revision under test from the sandbox copy, never an
installed copy (lanser refuses runs that do: ``foreign_imports``). Environments live
under the user cache dir (``$LANSER_CACHE_DIR``, else ``$XDG_CACHE_HOME/lanser``, else
``~/.cache/lanser``) in ``envs/KEY`` and are reused by every task with the same key;
``lanser tasks envs --clear`` removes them.

Building may download from the package index pip is configured with; running tests never
does (the sandbox has no network). A dependency that cannot be installed is
:class:`EnvFailed` (``env_failed``) carrying pip's last lines.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lanser import git
from lanser.errors import LanserError
from lanser.tasks.trees import untar
from lanser.userdirs import cache_dir

#: Files at a repository's root that say what it depends on.
SPEC_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "requirements.txt",
              "requirements-dev.txt", "requirements-test.txt", "test-requirements.txt")
#: Seconds one environment may take to build.
BUILD_TIMEOUT = 1800.0


class EnvFailed(LanserError):
    """An environment that could not be built (exit 3; a task candidate's ``env_failed``)."""

    code = "env_failed"


def env_key(repo: Path, rev: str, repo_name: str | None = None) -> str:
    """``NAME-SPECHASH-pyX.Y``: the same for every revision with the same dependency files."""
    digest = hashlib.sha256()
    for name in SPEC_FILES:
        data = git.run(repo, "show", f"{rev}:{name}", binary=True, check=False)
        if data is not None:
            digest.update(name.encode() + b"\0" + data + b"\0")
    version = f"py{sys.version_info.major}.{sys.version_info.minor}"
    name = (repo_name or repo.resolve().name).replace("/", "_")
    return f"{name}-{digest.hexdigest()[:12]}-{version}"


def env_python(key: str) -> Path:
    return cache_dir() / "envs" / key / "bin" / "python"


def ensure_env(repo: Path, rev: str, *, repo_name: str | None = None,
               pip_args: tuple[str, ...] = ()) -> tuple[str, Path]:
    """The environment for ``rev``: its key and interpreter, built once (module
    docstring). ``pip_args`` go to every ``pip install`` (``--no-index``, ``-i URL``)."""
    key = env_key(repo, rev, repo_name)
    python = env_python(key)
    ready = python.parent.parent / ".lanser-ready"
    if ready.is_file() and python.exists():
        return key, python
    target = python.parent.parent
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lanser-env-") as tmp:
        checkout = Path(tmp) / "src"
        checkout.mkdir()
        archive = git.run(repo, "archive", "--format=tar", rev, binary=True)
        untar(archive, checkout)
        _run([sys.executable, "-m", "venv", str(target)])
        _run([str(python), "-m", "pip", "install", "-q", *pip_args, "pytest"])
        if any((checkout / n).is_file() for n in ("pyproject.toml", "setup.py", "setup.cfg")):
            _run([str(python), "-m", "pip", "install", "-q", *pip_args, str(checkout)])
            name = _project_name(python, checkout)
            if name:
                _run([str(python), "-m", "pip", "uninstall", "-q", "-y", name])
        for requirements in sorted(checkout.glob("requirements*.txt")):
            _run([str(python), "-m", "pip", "install", "-q", *pip_args, "-r",
                  str(requirements)])
    ready.write_text(key + "\n", encoding="utf-8")
    return key, python


def clear() -> int:
    """Remove every cached environment; how many there were."""
    root = cache_dir() / "envs"
    found = sorted(root.iterdir()) if root.is_dir() else []
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return len(found)


def _project_name(python: Path, checkout: Path) -> str | None:
    """The distribution name pip installed from ``checkout`` (its metadata's Name)."""
    for info in checkout.glob("*.egg-info/PKG-INFO"):
        for line in info.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Name:"):
                return line.split(":", 1)[1].strip()
    try:
        from lanser.configfiles import tomllib

        data = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))
        name = data.get("project", {}).get("name")
        return str(name) if name else None
    except (OSError, ValueError):
        return None


def _run(argv: list[str]) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                              check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise EnvFailed(f"{' '.join(argv[:4])} took more than {BUILD_TIMEOUT:g} s") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise EnvFailed(f"{' '.join(argv[:5])} failed:\n{tail}")

