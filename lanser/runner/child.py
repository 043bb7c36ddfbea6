"""The sandbox child: the first Python code that runs inside a test run's sandbox.

Run as a script (``python child.py SPEC.json``), never imported by lanser itself, so it
uses the standard library only and nothing under the ``lanser`` package is imported
into the process that executes untrusted code: a workspace that *is* lanser (or has a
package of that name) sees its own copy, not ours.

In order, it:

1. reads the run's signing key from the pipe the parent passed (``key_fd``) and closes
   it, before anything else: from here on the key lives only in an HMAC context, and
   every event line is signed (see ``channel.py``);
2. joins the run's cgroups (``cgroups.py``: pids, so a fork bomb hits its limit;
   memory, so the whole process tree shares one limit), first, while it still can;
3. brings the loopback interface up when it runs in a private network namespace
   (tests that talk to ``127.0.0.1`` keep working; nothing else is reachable);
4. when it runs in a private mount namespace, remounts every filesystem read-only
   except the sandbox directory (the copy, its HOME and TMPDIR), /dev and /proc;
5. drops every capability (bounding set included) and sets ``no_new_privs``, so the
   test code, although uid 0, cannot undo step 4, reconfigure the network, or regain
   privileges through a setuid binary;
6. sets resource limits: core dumps off, file size, and the address space of each
   process (``RLIMIT_AS``) only where no memory cgroup could be joined;
7. forks, when it is PID 1 of its namespace, and stays behind as a reaping init;
8. execs the run's interpreter (``spec["python"]``, when it is not this one) on this
   script's second stage: a program the user named starts only inside, isolated;
9. gets ready (pytest and the plugin imported, in pytest mode) and waits for the
   parent's go: the parent starts the child before it copies the snapshot, so both
   happen at once (:func:`await_go`);
10. runs pytest in-process (the plugin, copied under a private module name onto the
   end of ``sys.path``, is handed to pytest as an object; a src layout's ``src/`` goes
   on ``sys.path`` right after the copy's root), or a script it instruments and compiles
   itself with ``probes.py`` (checkpoint credit), as ``__main__`` with the script's
   folder first on ``sys.path``.

A step that the platform refuses is reported on stderr and in the ``isolation`` line
of the events file, never fatal: the parent says in the result what was not isolated.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys

PLUGIN_MODULE = "_lanser_pytest_plugin"
CHANNEL_MODULE = "_lanser_channel"
PROBES_MODULE = "_lanser_probes"

# <linux/mount.h>
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC = 32, 4096, 8192, 16384
#: The devices a private /dev holds (bound from the host's), and its symlinks.
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
             "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}
#: Size of the private /dev/shm (it counts against the memory limit too).
SHM_SIZE = "64m"
#: Parts of a fresh /proc bound read-only: kernel knobs a uid-0 test could still write.
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
_FLAG_NAMES = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC,
               "noatime": MS_NOATIME, "nodiratime": MS_NODIRATIME,
               "relatime": MS_RELATIME, "strictatime": MS_STRICTATIME}
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 38, 24
#: SIOCGIFFLAGS / SIOCSIFFLAGS (<linux/sockios.h>) and IFF_UP: the loopback brought up
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def _libc() -> ctypes.CDLL:
    """glibc by its soname; ``find_library`` (~15 ms of imports and a scan per run)
    only where that name is not it (musl, say)."""
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        from ctypes.util import find_library

        return ctypes.CDLL(find_library("c") or "libc.so.6", use_errno=True)


_LIBC = _libc()


def _emit(events: str, signer, record: dict) -> None:
    fd = os.open(events, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, signer.line(record))
    finally:
        os.close(fd)


def _mount(source: str | None, target: str, flags: int, fstype: str | None = None,
           data: str | None = None) -> None:
    if _LIBC.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                   flags, data and data.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _private_dev(sandbox: str) -> None:
    """A fresh /dev: a tmpfs with the host's :data:`DEVICES` bound in, the usual
    symlinks, and a private /dev/shm; moved over the host's /dev, then read-only."""
    import tempfile

    # a fresh name per run: a Sandbox runs its child again after a crash (the host
    # sees the last run's staging folder, empty, where this one would go)
    staging = tempfile.mkdtemp(prefix="dev-", dir=sandbox)
    os.chmod(staging, 0o755)
    _mount("tmpfs", staging, MS_NOSUID | MS_NOEXEC, "tmpfs", "mode=755,size=1m")
    for name in DEVICES:
        if not os.path.exists("/dev/" + name):
            continue
        node = os.path.join(staging, name)
        open(node, "w").close()
        try:
            _mount("/dev/" + name, node, MS_BIND)
        except OSError:
            os.unlink(node)  # tty without a terminal, say: absent rather than fake
    for name, target in DEV_LINKS.items():
        os.symlink(target, os.path.join(staging, name))
    shm = os.path.join(staging, "shm")
    os.mkdir(shm, 0o1777)
    _mount("tmpfs", shm, MS_NOSUID | MS_NODEV | MS_NOEXEC, "tmpfs",
           f"mode=1777,size={SHM_SIZE}")
    _mount(staging, "/dev", MS_MOVE)
    _mount(None, "/dev", MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC)


def _private_proc() -> None:
    """A /proc of this PID namespace only (no host command lines), with the kernel's
    knobs (:data:`PROC_READ_ONLY`) bound read-only. Call as PID 1 of a new namespace."""
    _mount("proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "proc")
    for name in PROC_READ_ONLY:
        path = "/proc/" + name
        if not os.path.exists(path):
            continue
        _mount(path, path, MS_BIND | MS_REC)
        _mount(None, path, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
               | MS_NOEXEC)


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


def _loopback_up() -> None:
    """``ip link set lo up``, as the ioctl it is (no program started per run); the
    ``ip`` program where the ioctl is refused. No loopback: still no network, which is
    the point."""
    import fcntl
    import socket
    import struct

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            request = struct.pack("16sH14x", b"lo", 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
        return
    except OSError:
        pass
    import subprocess

    try:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True, capture_output=True,
                       timeout=10)
    except (OSError, subprocess.SubprocessError):
        pass


def _limit(kind: int, value: int) -> None:
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        pass


def isolate(spec: dict) -> dict:
    """Apply the isolation ``spec`` asks for; return what actually took effect."""
    done = {"network": False, "filesystem": False, "capabilities": False, "max_procs": None,
            "memory": "rlimit", "devices": False, "proc": False, "sys": False}
    joined = []
    for path in spec.get("cgroups") or ():
        try:  # first: once the host is read-only and capabilities gone, it cannot be left
            with open(os.path.join(path, "cgroup.procs"), "w") as fh:
                fh.write("0")
            joined.append(path)
        except OSError as exc:
            print(f"lanser sandbox: joining cgroup {path} failed: {exc}", file=sys.stderr)
    if spec.get("pids_limited") and len(joined) == len(spec.get("cgroups") or ()):
        done["max_procs"] = spec.get("max_procs")
    if spec.get("memory_cgroup") and spec["memory_cgroup"] in joined:
        done["memory"] = "cgroup"
    if spec.get("netns"):
        _loopback_up()
        done["network"] = True
    if spec.get("mountns"):
        try:
            _read_only_host(spec["sandbox"])
            done["filesystem"] = True
        except OSError as exc:
            print(f"lanser sandbox: read-only remount failed: {exc}", file=sys.stderr)
        # Each step below is reported apart: a platform refusing one keeps the others.
        try:
            _private_dev(spec["sandbox"])
            done["devices"] = True
        except OSError as exc:
            print(f"lanser sandbox: private /dev failed: {exc}", file=sys.stderr)
        if os.getpid() == 1:  # our own PID namespace: a /proc that shows only it
            try:
                _private_proc()
                done["proc"] = True
            except OSError as exc:
                print(f"lanser sandbox: private /proc failed: {exc}", file=sys.stderr)
        done["sys"] = bool(os.statvfs("/sys").f_flag & os.ST_RDONLY)
    if spec.get("drop_caps"):
        try:
            _drop_capabilities()
            done["capabilities"] = True
        except OSError as exc:
            print(f"lanser sandbox: dropping capabilities failed: {exc}", file=sys.stderr)
    _limit(resource.RLIMIT_CORE, 0)
    if spec.get("memory_bytes") and done["memory"] == "rlimit":
        _limit(resource.RLIMIT_AS, int(spec["memory_bytes"]))  # per process: the fallback
    if spec.get("file_bytes"):
        _limit(resource.RLIMIT_FSIZE, int(spec["file_bytes"]))
    return done


def run_pytest(spec: dict, signer) -> int:
    # The parent copied plugin.py to <sandbox>/site/_lanser_pytest_plugin.py (last on
    # sys.path: the name shadows nothing). It is handed to pytest as an object
    # (``plugins=``), not by name with ``-p``: a plugin named with ``-p`` but imported
    # before pytest starts draws "Module already imported so cannot be rewritten",
    # fatal in a project that turns warnings into errors (issue 15, defect 1).
    import importlib

    import pytest

    plugin = importlib.import_module(PLUGIN_MODULE)
    plugin.use_signer(signer)
    plugin.use_project(spec["cwd"], project_modules(spec["cwd"]))
    return int(pytest.main(list(spec["argv"]), plugins=[plugin]))


def source_roots(copy: str) -> list[str]:
    """Where the snapshot's own modules are imported from: the copy's root, and its
    ``src/`` when that holds Python packages or modules (the src layout). ``src/`` goes
    on ``sys.path`` so the tests import the revision being scored rather than a copy of
    the package installed in the interpreter (issue 15, defect 2)."""
    roots = [copy]
    src = os.path.join(copy, "src")
    if _top_level_names(src):
        roots.append(src)
    return roots


def project_modules(copy: str) -> list[str]:
    """Top-level module names the snapshot provides: each must be imported from it."""
    names: set[str] = set()
    for root in source_roots(copy):
        names |= _top_level_names(root)
    return sorted(names | _installed_names(copy))


def _installed_names(copy: str) -> set[str]:
    """Top-level names of the project's own distribution when it is installed in this
    interpreter (``[project] name`` of the snapshot's pyproject.toml): a layout we do
    not put on ``sys.path`` ourselves (``lib/pkg``) must not fall back to it unseen."""
    try:
        import importlib.metadata

        import tomllib

        with open(os.path.join(copy, "pyproject.toml"), "rb") as fh:
            name = tomllib.load(fh).get("project", {}).get("name")
        dist = importlib.metadata.distribution(str(name)) if name else None
    except Exception:  # no pyproject, no tomllib (< 3.11), not installed, unreadable
        return set()
    if dist is None:
        return set()
    top = (dist.read_text("top_level.txt") or "").split()
    for file in dist.files or ():
        parts = file.parts
        if len(parts) > 1 and not parts[0].endswith((".dist-info", ".egg-info", ".data")):
            top.append(parts[0])
        elif len(parts) == 1 and parts[0].endswith(".py"):
            top.append(parts[0][:-3])
    return {n for n in top if n.isidentifier() and not n.startswith("__editable__")}


def _top_level_names(folder: str) -> set[str]:
    """Importable top-level names in ``folder``: ``*.py`` modules, packages (regular
    or namespace: a folder holding Python files)."""
    try:
        entries = os.listdir(folder)
    except OSError:
        return set()
    names = set()
    for entry in entries:
        path = os.path.join(folder, entry)
        if entry.endswith(".py") and entry[:-3].isidentifier() and os.path.isfile(path):
            names.add(entry[:-3])
        elif entry.isidentifier() and os.path.isdir(path) and _holds_python(path):
            names.add(entry)
    return names - {"conftest", "setup", "__main__"}


def _holds_python(folder: str) -> bool:
    try:
        return any(e.endswith(".py") or os.path.isfile(os.path.join(folder, e, "__init__.py"))
                   for e in os.listdir(folder))
    except OSError:
        return False


def run_script(spec: dict, signer) -> int:
    """Instrument, compile and execute the script as ``__main__``; probes are signed."""
    import importlib
    import types

    channel = importlib.import_module(CHANNEL_MODULE)
    probes = importlib.import_module(PROBES_MODULE)
    path = spec["script"]
    with open(path, encoding="utf-8") as fh:
        code, _total = probes.instrumented_code(fh.read(), path)
    sites = channel.call_sites(code, probes.PROBE)
    fd = os.open(spec["events"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def probe(kind: str, index: int, name: str = "") -> None:
        # only the calls the instrumentation inserted count, not the script's own
        if channel.at_site(sites, sys._getframe(1), (kind, index, name)):
            os.write(fd, signer.line({"e": "probe", "kind": kind, "index": index,
                                      "name": name}))

    sys.argv = [path, *spec["argv"]]
    sys.path[0] = os.path.dirname(os.path.abspath(path))  # as ``python script.py`` does
    main = types.ModuleType("__main__")
    main.__dict__.update({"__file__": path, "__builtins__": __builtins__,
                          "__cached__": None, probes.PROBE: probe})
    sys.modules["__main__"] = main  # pickle, multiprocessing, ``import __main__``
    try:
        exec(code, main.__dict__)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def await_go(spec: dict) -> dict | None:
    """Get ready, then wait for the parent's go: a byte on ``go_fd`` once the copy is
    made, and the run's arguments (``argv``, the script) in the ``go`` file; None
    when the pipe closes without one. Getting ready is importing pytest and our plugin
    (installed code only: neither the copy, still being made, nor the script's folder
    is on ``sys.path`` meanwhile), the bulk of a short run's start-up."""
    if spec["mode"] == "pytest":
        import importlib

        saved, sys.path[0] = sys.path[0], spec["site"]
        try:
            import pytest  # noqa: F401

            importlib.import_module(PLUGIN_MODULE)
        except Exception:
            pass  # the run itself reports what cannot be imported
        finally:
            sys.path[0] = saved
    fd = int(spec["go_fd"])
    try:
        signal = os.read(fd, 1)
    finally:
        os.close(fd)
    if not signal:
        return None
    with open(spec["go"], encoding="utf-8") as fh:
        return json.load(fh)


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


def _exec_interpreter(python: str, key: bytes) -> None:
    """Replace this (isolated) process by the run's interpreter running this script's
    second stage; the key travels through a fresh inherited pipe. Never returns."""
    read, write = os.pipe()
    os.write(write, key)
    os.close(write)
    os.set_inheritable(read, True)
    argv = [python, os.path.abspath(__file__), sys.argv[1], "--stage2", str(read)]
    try:
        os.execv(python, argv)
    except OSError as exc:
        print(f"lanser sandbox: cannot start {python}: {exc}", file=sys.stderr)
        os._exit(127)


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as fh:
        spec = json.load(fh)
    sys.path.append(spec["site"])  # our private modules, last: they shadow nothing
    import importlib

    channel = importlib.import_module(CHANNEL_MODULE)
    stage2 = len(sys.argv) > 3 and sys.argv[2] == "--stage2"
    key = channel.read_key(int(sys.argv[3] if stage2 else spec["key_fd"]))
    signer = channel.Signer(key)
    if not stage2:
        done = isolate(spec)
        _emit(spec["events"], signer, {"e": "isolation", **done})
        if os.getpid() == 1:
            _reap_as_init()
        python = spec.get("python")
        # The run's interpreter (the user's choice) starts only now: inside the
        # namespaces, after the remount and the capability drop (issue 17).
        if python and os.path.realpath(python) != os.path.realpath(sys.executable):
            _exec_interpreter(python, key)
    del key
    go = await_go(spec)
    if go is None:
        return 0  # the parent closed the sandbox without running this child
    spec.update(go)
    os.chdir(spec["cwd"])
    sys.path[0] = spec["cwd"]  # as ``python -m pytest`` would: the project is importable
    if spec["mode"] == "pytest":
        sys.path[1:1] = source_roots(spec["cwd"])[1:]  # src/ before site-packages
    if spec["mode"] == "script":
        return run_script(spec, signer)
    return run_pytest(spec, signer)


if __name__ == "__main__":
    sys.exit(main())
