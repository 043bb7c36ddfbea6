"""``lanser doctor``: is this machine ready for lanser, and how to fix what is not.

Each check is a :class:`Check` with a status (``ok``, ``warn``: works with a
fallback or an optional part is missing, ``fail``: something required is missing,
``info``: a fact) and, when not ok, how to fix it. Required: a supported Python,
git, and the workspace's language server (it must start). Optional, reported as
warnings: the other servers, the sandbox's parts (user and network namespaces,
cgroup v2 memory control: the runner falls back to no network isolation and a
per-process address-space limit without them), the daemon's socket directory.
Facts: the bundle store's size, the training and scaling extras when installed
(their version read from the package metadata: importing torch takes seconds).

Only built-in servers are started; a server a workspace's ``lanser.toml`` declares
is looked up, never run: a repository's files do not choose programs doctor runs.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OK, WARN, FAIL, INFO = "ok", "warn", "fail", "info"
MIN_PYTHON = (3, 10)
EXTRAS = (("torch", "train"), ("transformers", "train"), ("ray", "ray"))


@dataclass(frozen=True)
class Check:
    """One thing doctor looked at."""

    name: str
    status: str
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail,
                "fix": self.fix}


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """No required part is missing (warnings allowed)."""
        return all(c.status != FAIL for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.to_json() for c in self.checks]}


def diagnose(workspace: Any, *, servers: list[str] | None = None, start: bool = True,
             timeout: float = 30.0) -> Report:
    """Every check, in a fixed order. ``servers`` limits the server checks to those
    names (default: every known one; the workspace's default is required);
    ``start=False`` skips starting them."""
    checks = [python_check(), git_check()]
    checks += server_checks(workspace, servers, start=start, timeout=timeout)
    checks += sandbox_checks()
    checks += [runtime_dir_check(), store_check(workspace)]
    checks += extras_checks()
    return Report(tuple(checks))


def python_check() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] >= MIN_PYTHON:
        return Check("python", OK, f"Python {version} ({sys.executable})")
    return Check("python", FAIL, f"Python {version}: lanser needs 3.10 or newer",
                 "install Python 3.10+ and reinstall lanser in a venv made with it")


def git_check() -> Check:
    """git runs (through :mod:`lanser.git`, the one gateway that spawns it)."""
    from lanser import git

    if shutil.which(git.PROGRAM) is None:
        return Check(git.PROGRAM, FAIL, "git is not on PATH",
                     "install git (apt-get install git, brew install git)")
    try:
        out = git.run(tempfile.gettempdir(), "--version", timeout=10).strip()
    except git.GitError as exc:
        return Check(git.PROGRAM, FAIL, f"git does not run: {exc}", "reinstall git")
    return Check(git.PROGRAM, OK, out or git.PROGRAM)


def server_checks(workspace: Any, names: list[str] | None, *, start: bool,
                  timeout: float) -> list[Check]:
    from lanser.errors import ServerUnavailable
    from lanser.lsp.registry import all_servers
    from lanser.trust import UntrustedConfig

    config = workspace.config
    known = all_servers(config.servers)
    default = config.server
    wanted = sorted(names) if names else sorted(set(known) | {default})
    out: list[Check] = []
    to_start: list[tuple[int, str, str, Any]] = []  # (index in out, label, version, spec)
    for name in wanted:
        required = name == default
        label = f"server {name}" + (" (default)" if required else "")
        missing = FAIL if required else WARN
        spec = known.get(name)
        if spec is None:
            out.append(Check(label, missing, f"{name!r} is not a known server",
                             f"pick one of {', '.join(sorted(known))}, or declare it in "
                             f"lanser.toml as [servers.{name}] command = [...]"))
            continue
        fix = ("pip install 'lanser[servers]'" if spec.builtin else
               f"install the program [servers.{name}] names, or fix its command")
        try:
            spec.resolved_command()
        except ServerUnavailable as exc:
            out.append(Check(label, missing, exc.message, fix))
            continue
        except UntrustedConfig as exc:
            out.append(Check(label, missing, exc.message,
                             "review the workspace's lanser configuration, then run "
                             "`lanser trust` there"))
            continue
        installed = spec.installed_version()
        version = installed or "version unknown"
        if spec.pinned is not None and installed != spec.pinned:
            out.append(Check(label, WARN, f"{version} installed, lanser is pinned to "
                             f"{spec.pinned}: bundles will record another server",
                             f"pip install '{spec.package}=={spec.pinned}'"))
        elif not spec.builtin:
            out.append(Check(label, OK, f"{version}; declared by the workspace: found, "
                             "not started by doctor"))
        elif not start:
            out.append(Check(label, OK, f"{version} (not started: --quick)"))
        else:
            to_start.append((len(out), label, version, spec))
            out.append(Check(label, missing, fix))  # replaced below
    problems = _start_all([spec for *_, spec in to_start], timeout)
    for (index, label, version, spec), problem in zip(to_start, problems, strict=True):
        required = spec.name == default
        if problem is None:
            out[index] = Check(label, OK, f"{version}, starts")
        else:
            out[index] = Check(label, FAIL if required else WARN,
                               f"{version} does not start: {problem}",
                               "pip install 'lanser[servers]'; run `lanser servers` for its "
                               "command")
    return out


def _start_all(specs: list[Any], timeout: float) -> list[str | None]:
    """For each server, None when it initializes and shuts down in an empty folder, else
    why not. All at once: four cold starts in a row take four times as long."""
    from lanser.errors import LanserError
    from lanser.lsp.logs import silence_pygls
    from lanser.lsp.session import Session

    async def attempt(spec: Any, root: Path) -> str | None:
        try:
            session = await asyncio.wait_for(Session(spec, root, timeout=timeout).start(),
                                             timeout + 5)
            await asyncio.wait_for(session.close(), timeout + 5)
        except LanserError as exc:
            return exc.message
        except (OSError, asyncio.TimeoutError, RuntimeError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    async def every(root: Path) -> list[str | None]:
        return list(await asyncio.gather(*(attempt(s, root / s.name) for s in specs)))

    if not specs:
        return []
    silence_pygls()
    with tempfile.TemporaryDirectory(prefix="lanser-doctor-") as tmp:
        for spec in specs:
            (Path(tmp) / spec.name).mkdir()
        return asyncio.run(every(Path(tmp)))


def sandbox_checks() -> list[Check]:
    from lanser.runner.cgroups import Cgroups
    from lanser.runner.sandbox import isolation_prefix

    prefix = isolation_prefix("auto")
    out = []
    if not prefix:
        why = ("LANSER_NO_NAMESPACES is set" if os.environ.get("LANSER_NO_NAMESPACES")
               else "unshare is missing" if not shutil.which("unshare")
               else "unshare is refused here")
        out.append(Check("sandbox namespaces", WARN,
                         f"no namespaces ({why}): tests run with network access and see "
                         "the host's processes",
                         "allow unprivileged user namespaces (sysctl "
                         "kernel.unprivileged_userns_clone=1, or "
                         "kernel.apparmor_restrict_unprivileged_userns=0), or run in a "
                         "container that permits unshare"))
    else:
        parts = ["user" if "--user" in prefix else "root (no user namespace needed)",
                 "network", "pid", *(["mount"] if "--mount" in prefix else [])]
        fix = None if "--mount" in prefix else ("mount namespaces are refused: the host is "
                                                "not remounted read-only for tests")
        out.append(Check("sandbox namespaces", OK if fix is None else WARN,
                         "unshare: " + ", ".join(parts), fix))
    groups = Cgroups.make(f"doctor-{os.getpid()}", 16, 64 << 20)
    try:
        v2 = os.path.isfile("/sys/fs/cgroup/cgroup.controllers")
        kind = "cgroup v2" if v2 else "cgroup v1"
        if groups.memory:
            out.append(Check("sandbox memory limit", OK,
                             f"{kind} memory control: a limit on each test run's process tree"))
        else:
            out.append(Check("sandbox memory limit", WARN,
                             f"no memory cgroup can be made ({kind}): each test process gets "
                             "an address-space limit (RLIMIT_AS) instead",
                             "run lanser where it may create cgroups (a delegated cgroup v2 "
                             "subtree: systemd-run --user --scope -p Delegate=yes ...)"))
    finally:
        groups.remove()
    return out


def runtime_dir_check() -> Check:
    from lanser.errors import LanserError
    from lanser.lsp.daemon_client import check_runtime_dir, runtime_dir

    directory = runtime_dir()
    if directory.exists():
        try:
            check_runtime_dir(directory)
        except LanserError as exc:
            return Check("daemon sockets", WARN, exc.message,
                         f"remove {directory} or set LANSER_RUNTIME_DIR to a private folder")
        return Check("daemon sockets", OK, f"{directory} (private)")
    parent = directory.parent
    if os.access(parent, os.W_OK | os.X_OK):
        return Check("daemon sockets", OK, f"{directory} (made on first `lanser daemon start`)")
    return Check("daemon sockets", WARN, f"{parent} is not writable: the daemon cannot start",
                 "set LANSER_RUNTIME_DIR to a writable private folder")


def store_check(workspace: Any) -> Check:
    directory = workspace.root / ".lanser" / "bundles"
    files = size = 0
    if directory.is_dir():
        for dirpath, _dirs, names in os.walk(directory):
            for name in names:
                try:
                    size += (Path(dirpath) / name).stat().st_size
                    files += 1
                except OSError:
                    continue
    return Check("bundle store", INFO, f".lanser/bundles: {files} bundle(s), "
                 f"{size / (1 << 20):.1f} MiB", None if size < (1 << 30) else
                 "remove .lanser/bundles to reclaim space (bundles are a cache)")


def extras_checks() -> list[Check]:
    out = []
    for package, extra in EXTRAS:
        if importlib.util.find_spec(package) is None:
            out.append(Check(f"extra {package}", INFO, "not installed",
                             f"pip install 'lanser[{extra}]' to use it"))
            continue
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            version = "version unknown"
        out.append(Check(f"extra {package}", OK, version))
    return out


__all__ = ["Check", "Report", "diagnose"]
