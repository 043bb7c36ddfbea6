"""Which directory is the workspace, and whether it has configuration: the few facts
every command needs first, with nothing heavier than ``os`` and ``pathlib`` imported.

The daemon's fast path (:mod:`lanser.cli.fast`) runs this on every warm call, where
an import of the workspace model (dataclasses, tomllib, the position maths) costs
more than the daemon takes to answer.
"""

from __future__ import annotations

from pathlib import Path

#: The workspace's own configuration file; else ``[tool.lanser]`` in pyproject.toml.
CONFIG_FILE = "lanser.toml"
#: Seconds a single language-server request may take before it is a timeout.
DEFAULT_TIMEOUT = 30.0


def find_root(root: str | Path | None = None, cwd: Path | None = None) -> Path:
    """``root`` if given, else the nearest directory at or above ``cwd`` holding a
    ``.git`` (the git top-level, found without running git: this runs on every
    call), else ``cwd`` itself."""
    if root is not None:
        path = Path(root).expanduser()
        if not path.is_dir():
            from lanser.errors import UsageError

            raise UsageError(f"--root {root}: not a directory", code="bad_root")
        return path.resolve()
    here = (cwd or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return here


def may_have_config(root: Path) -> bool:
    """Whether ``root`` holds a file lanser's configuration could be in."""
    return (root / CONFIG_FILE).is_file() or (root / "pyproject.toml").is_file()
