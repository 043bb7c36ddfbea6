"""The cgroups of one sandbox: a process-count cap and a memory limit for its whole tree.

``RLIMIT_NPROC`` cannot cap processes (the kernel exempts uid 0) and ``RLIMIT_AS``
limits each process's address space, not the tree's memory: a test that forks four
workers gets four times the limit, and one that maps much and touches little is
refused early. So where cgroups can be made:

- **pids**: ``pids.max`` (v1: a ``lanser-<token>`` group under the pids hierarchy's
  root, as before; v2: the same group as memory);
- **memory**: ``memory.max`` and ``memory.swap.max = 0`` (v2), or
  ``memory.limit_in_bytes`` and ``memory.memsw.limit_in_bytes`` (v1), in a group made
  *under lanser's own memory cgroup* (``/proc/self/cgroup``) so that a limit set on
  lanser's environment keeps applying. The kernel's OOM killer then kills a process of
  the tree (SIGKILL) when the tree as a whole passes the limit; :meth:`oom_kills`
  tells that death apart from others.

The child joins every group before it remounts the host read-only; where no memory
group could be made it falls back to ``RLIMIT_AS`` and the result says which applied.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

ROOT = "/sys/fs/cgroup"


@dataclass
class Cgroups:
    paths: list[str] = field(default_factory=list)  #: groups the child joins
    pids: bool = False  #: a process-count limit is set in one of them
    memory: str | None = None  #: the group holding the memory limit

    @classmethod
    def make(cls, token: str, max_procs: int, memory_bytes: int) -> Cgroups:
        """The groups this platform lets us make; none at all is a valid answer."""
        groups = cls()
        if os.environ.get("LANSER_NO_NAMESPACES"):
            return groups
        name = f"lanser-{token}"
        if os.path.isfile(os.path.join(ROOT, "cgroup.controllers")):  # v2, unified
            path = os.path.join(ROOT, name)
            pids, memory = groups._add(path, [("pids.max", max_procs),
                                              ("memory.max", memory_bytes)])
            if memory:
                _write(path, "memory.swap.max", 0)
        else:
            pids, = groups._add(os.path.join(ROOT, "pids", name), [("pids.max", max_procs)])
            own = _own_v1_group("memory")
            path = os.path.join(ROOT, "memory", (own or "").lstrip("/"), name)
            memory, = groups._add(path, [("memory.limit_in_bytes", memory_bytes)]) \
                if own is not None else (False,)
            if memory:
                _write(path, "memory.memsw.limit_in_bytes", memory_bytes)  # no swap escape
        groups.pids = pids
        groups.memory = path if memory else None
        return groups

    def _add(self, path: str, limits: list[tuple[str, int]]) -> list[bool]:
        """Make the group and set ``limits``; keep it only if one of them took."""
        if not os.path.isfile(os.path.join(os.path.dirname(path), "cgroup.procs")):
            return [False] * len(limits)
        try:
            os.mkdir(path)
        except OSError:
            return [False] * len(limits)
        done = [_write(path, file, value) for file, value in limits]
        if any(done):
            self.paths.append(path)
        else:
            _rmdir(path)
        return done

    def oom_kills(self) -> int:
        """How many processes the memory limit has killed so far (0 without one)."""
        if self.memory is None:
            return 0
        for name in ("memory.events", "memory.oom_control"):
            try:
                with open(os.path.join(self.memory, name), encoding="ascii") as fh:
                    for line in fh:
                        key, _, value = line.partition(" ")
                        if key == "oom_kill":
                            return int(value)
            except (OSError, ValueError):
                continue
        return 0

    def remove(self) -> None:
        for path in self.paths:
            _rmdir(path)


def _own_v1_group(controller: str) -> str | None:
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as fh:
            for line in fh:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if controller in controllers.split(","):
                    return path
    except (OSError, ValueError):
        pass
    return None


def _write(path: str, name: str, value: int) -> bool:
    try:
        with open(os.path.join(path, name), "w", encoding="ascii") as fh:
            fh.write(str(value))
        return True
    except OSError:
        return False


def _rmdir(path: str) -> None:
    for _ in range(50):  # the namespace's processes take a moment to be reaped
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)
