"""Where configuration lives: one fact that the loader, the trust check, the jail and
grading all ask (issue 14).

lanser's own configuration is ``lanser.toml`` at the workspace root, else the
``[tool.lanser]`` table of ``pyproject.toml`` (:func:`read_lanser_source`). The
configuration of what checks and grades a workspace — pytest and the checkers —
lives in whole files (:data:`CONFIG_FILES`) and in sections of shared files
(:data:`CONFIG_SECTIONS`). The jail refuses edits to them
(:mod:`lanser.edits.jail`), grading restores them from the base
(:mod:`lanser.runner.protected`), and the trust check approves lanser's own file
(:mod:`lanser.trust`), each from these names.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lanser.errors import ConfigError
from lanser.roots import CONFIG_FILE

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

#: The shared project file whose ``[tool.lanser]`` table configures lanser when the
#: workspace has no :data:`~lanser.roots.CONFIG_FILE`.
PYPROJECT = "pyproject.toml"
#: Whole files that configure lanser, pytest or a checker.
CONFIG_FILES = (CONFIG_FILE, "pytest.ini", ".pytest.ini", "pyrightconfig.json", "mypy.ini",
                ".mypy.ini", "ruff.toml", ".ruff.toml", ".flake8")
#: Shared files -> the sections of them that configure pytest or a checker (TOML
#: dotted table names, INI section names; fnmatch patterns).
CONFIG_SECTIONS: dict[str, tuple[str, ...]] = {
    PYPROJECT: ("tool.pytest", "tool.pytest.*", "tool.pyright", "tool.basedpyright",
                "tool.mypy", "tool.ruff", "tool.lanser"),
    "setup.cfg": ("tool:pytest", "flake8", "pycodestyle", "pyflakes", "mypy", "mypy-*"),
    "tox.ini": ("pytest", "flake8", "pycodestyle", "mypy", "mypy-*"),
}


def read_lanser_source(root: Path) -> tuple[Path | None, dict[str, Any]]:
    """The workspace file lanser's configuration is read from, and its lanser table
    (``None, {}`` when there is none)."""
    own = root / CONFIG_FILE
    if own.is_file():
        return own, parse_toml(own)
    pyproject = root / PYPROJECT
    if pyproject.is_file():
        table = parse_toml(pyproject).get("tool", {}).get("lanser", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{PYPROJECT}: [tool.lanser] must be a table")
        return (pyproject if table else None), table
    return None, {}


def lanser_files(root: Path) -> tuple[Path, ...]:
    """Every file lanser's workspace configuration may be read from."""
    return (root / CONFIG_FILE, root / PYPROJECT)


def parse_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; a file that does not parse is a :class:`ConfigError`."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name}: {exc}") from None
