"""The sandbox child: the first Python code that runs inside a test run's sandbox.

Run as a script (``python child.py SPEC.json``), never imported by lanser itself, so it
uses the standard library only and nothing under the ``lanser`` package is imported
into the process that executes untrusted code: a workspace that *is* lanser (or has a
package of that name) sees its own copy, not ours.

In order, it:

1. brings the loopback interface up when it runs in a private network namespace
   (tests that talk to ``127.0.0.1`` keep working; nothing else is reachable);
0. joins the run's pids cgroup when the parent made one (a fork bomb hits its limit);
2. when it runs in a private mount namespace, remounts every filesystem read-only
   except the sandbox directory (the copy, its HOME and TMPDIR), /dev and /proc;
3. drops every capability (bounding set included) and sets ``no_new_privs``, so the
   test code, although uid 0, cannot undo step 2, reconfigure the network, or regain
   privileges through a setuid binary;
4. sets resource limits: address space (memory), core dumps off, file size;
5. forks, when it is PID 1 of its namespace, and stays behind as a reaping init;
6. runs pytest in-process (the plugin, copied under a private module name onto the
   end of ``sys.path``, is loaded with ``-p``), or an instrumented script (checkpoint credit).

A step that the platform refuses is reported on stderr and in the ``isolation`` line
of the events file, never fatal: the parent says in the result what was not isolated.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import resource
import subprocess
import sys

PLUGIN_MODULE = "_lanser_pytest_plugin"

# <linux/mount.h>
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
_FLAG_NAMES = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC,
               "noatime": MS_NOATIME, "nodiratime": MS_NODIRATIME,
               "relatime": MS_RELATIME, "strictatime": MS_STRICTATIME}
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 38, 24
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _emit(events: str, record: dict) -> None:
    fd = os.open(events, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode())
    finally:
        os.close(fd)


def _mount(source: str | None, target: str, flags: int) -> None:
    if _LIBC.mount(source and source.encode(), target.encode(), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _mounts() -> list[tuple[str, int]]:
    """(mount point, per-mount flags) of this mount namespace, from mountinfo."""
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            target = fields[4].encode().decode("unicode_escape")
            flags = 0
            for opt in fields[5].split(","):
                flags |= _FLAG_NAMES.get(opt, 0)
            out.append((target, flags))
    return out


def _read_only_host(keep_writable: str) -> None:
    """Every mount read-only except ``keep_writable`` (bound onto itself) and kernel fs."""
    _mount(keep_writable, keep_writable, MS_BIND | MS_REC)
    for target, flags in _mounts():
        # /sys too (cgroups included): the pids limit must not be undone from inside
        if target == keep_writable or target.startswith(("/proc", "/dev")):
            continue
        if target.startswith(keep_writable + "/"):
            continue
        try:
            _mount(None, target, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        except OSError:
            if target == "/":  # the one that matters: give up on the whole step
                raise


def _drop_capabilities() -> None:
    for cap in range(64):
        if _LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == 22:
            break  # EINVAL: past the last capability this kernel knows

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (Data * 2)()
    if _LIBC.capset(ctypes.byref(header), ctypes.byref(data)) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    if _LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "no_new_privs")


def _limit(kind: int, value: int) -> None:
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        pass


def isolate(spec: dict) -> dict:
    """Apply the isolation ``spec`` asks for; return what actually took effect."""
    done = {"network": False, "filesystem": False, "capabilities": False, "max_procs": None}
    if spec.get("cgroup"):
        try:  # first: once the host is read-only and capabilities gone, it cannot be left
            with open(os.path.join(spec["cgroup"], "cgroup.procs"), "w") as fh:
                fh.write("0")
            done["max_procs"] = spec.get("max_procs")
        except OSError as exc:
            print(f"lanser sandbox: joining the pids cgroup failed: {exc}", file=sys.stderr)
    if spec.get("netns"):
        try:
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True,
                           capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            pass  # no loopback: still no network, which is the point
        done["network"] = True
    if spec.get("mountns"):
        try:
            _read_only_host(spec["sandbox"])
            done["filesystem"] = True
        except OSError as exc:
            print(f"lanser sandbox: read-only remount failed: {exc}", file=sys.stderr)
    if spec.get("drop_caps"):
        try:
            _drop_capabilities()
            done["capabilities"] = True
        except OSError as exc:
            print(f"lanser sandbox: dropping capabilities failed: {exc}", file=sys.stderr)
    _limit(resource.RLIMIT_CORE, 0)
    if spec.get("memory_bytes"):
        _limit(resource.RLIMIT_AS, int(spec["memory_bytes"]))
    if spec.get("file_bytes"):
        _limit(resource.RLIMIT_FSIZE, int(spec["file_bytes"]))
    return done


def run_pytest(spec: dict) -> int:
    # The parent copied plugin.py to <sandbox>/site/_lanser_pytest_plugin.py: appended
    # last to sys.path, the name shadows nothing and pytest imports it itself via -p.
    sys.path.append(spec["site"])
    import pytest

    return int(pytest.main(["-p", PLUGIN_MODULE, *spec["argv"]]))


def run_script(spec: dict) -> int:
    """Execute an instrumented script as ``__main__``; probes write to the events file."""
    fd = os.open(spec["events"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def probe(kind: str, index: int, name: str = "") -> None:
        os.write(fd, (json.dumps({"e": "probe", "kind": kind, "index": index,
                                  "name": name}) + "\n").encode())

    path = spec["script"]
    sys.argv = [path, *spec["argv"]]
    with open(spec["instrumented"], encoding="utf-8") as fh:
        code = compile(fh.read(), path, "exec")
    scope = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__,
             "__lanser_probe__": probe}
    try:
        exec(code, scope)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def _reap_as_init() -> None:
    """As PID 1 of a fresh PID namespace, fork the worker and stay behind as its init.

    PID 1 ignores signals it has no handler for and inherits every orphan: a test run
    as PID 1 would survive its own ``os.kill(os.getpid(), SIGTERM)`` and collect
    zombies. The init reaps everything and exits with the worker's status (128 + N for
    a signal); its exit makes the kernel kill whatever is left in the namespace.
    Returns only in the worker.
    """
    worker = os.fork()
    if worker == 0:
        return
    status = 1
    while True:
        try:
            pid, raw = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == worker:
            code = os.waitstatus_to_exitcode(raw)
            status = code if code >= 0 else 128 - code
            break
    os._exit(status)


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as fh:
        spec = json.load(fh)
    done = isolate(spec)
    _emit(spec["events"], {"e": "isolation", **done})
    if os.getpid() == 1:
        _reap_as_init()
    os.chdir(spec["cwd"])
    sys.path[0] = spec["cwd"]  # as ``python -m pytest`` would: the project is importable
    if spec["mode"] == "script":
        return run_script(spec)
    return run_pytest(spec)


if __name__ == "__main__":
    sys.exit(main())
