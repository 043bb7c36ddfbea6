"""A throw-away copy of a snapshot, and one child process run inside it, watched.

Isolation, strongest the platform allows (probed once per process, see
:func:`isolation_prefix`): ``unshare --mount --net --pid --fork --kill-child``
gives the child a private network namespace (no network), a PID namespace (when its
first process dies the kernel kills every process it spawned, double forks and
``setsid`` included) and a mount namespace in which ``child.py`` remounts the host
read-only outside the sandbox directory before dropping every capability. Cgroups,
where they can be made (``cgroups.py``), cap the number of processes (fork bombs) and
the memory of the whole process tree (else ``RLIMIT_AS`` per process). Where
``unshare`` is refused, the child runs in its own session, the tree is killed with
psutil (found by pid and by a marker in the environment, for daemons that escaped
the tree) and the result says the network and the filesystem were not isolated.

A child starts before the copy is made (``warm``): the interpreter starts, isolates
itself and imports pytest while the snapshot is copied (or, through
``lanser.runner.run.ready_sandbox``, while the caller still prepares the tree), then
waits for a go on a pipe of its own. Nothing of the copy is on its ``sys.path`` until
then.

Events are signed (``channel.py``): each child gets a fresh key through an inherited
pipe, and the watchdog keeps only lines that verify, so the code under test cannot
add events by writing to the file. The watchdog reads the events file as it grows:
a test (or a module's collection) running longer than the per-test limit, or the
run passing its own limit, kills the child; the caller restarts it on the tests left. Output is read
through a pipe and kept bounded (head and tail), so a test printing forever costs
memory for neither process and no disk.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanser import git
from lanser.errors import LanserError
from lanser.runner.cgroups import Cgroups
from lanser.runner.channel import KEY_BYTES, Verifier
from lanser.runner.copying import copy_files, put_back, snapshot_files, update_files
from lanser.runner.scratch import make_held, remove_tree

CHILD = Path(__file__).with_name("child.py")
#: stdlib-only modules the child imports from ``<sandbox>/site``, under private names
SITE_MODULES = {"_lanser_pytest_plugin.py": Path(__file__).with_name("plugin.py"),
                "_lanser_channel.py": Path(__file__).with_name("channel.py"),
                "_lanser_probes.py": Path(__file__).with_name("probes.py")}
POLL_SECONDS = 0.02
#: The events file is read in bounded chunks, and a run that writes more than the
#: limit to it (only a test scribbling on it can) is killed: lanser's memory is bounded.
EVENTS_CHUNK = 4 << 20
EVENTS_LIMIT = 256 << 20
#: what ``ChildRun.collecting`` says while pytest imports its initial conftest files
CONFTESTS = "conftest.py"


class RunnerError(LanserError):
    """The runner could not run the tests at all (exit 3): not a test outcome."""

    code = "runner_error"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run. Time is wall-clock seconds."""

    test_timeout: float = 60.0
    run_timeout: float = 1800.0
    memory_mb: int = 4096
    file_mb: int = 1024
    output_bytes: int = 64 * 1024
    max_procs: int = 512


@functools.lru_cache(maxsize=4)
def isolation_prefix(mode: str = "auto") -> tuple[str, ...]:
    """The ``unshare`` prefix that works here, strongest first; () when none does."""
    if mode == "none" or os.environ.get("LANSER_NO_NAMESPACES") or not shutil.which("unshare"):
        return ()
    user = () if os.geteuid() == 0 else ("--user", "--map-root-user")
    for extra in (("--mount",), ()):
        prefix = ("unshare", *user, *extra, "--net", "--pid", "--fork", "--kill-child")
        try:
            ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode
        except (OSError, subprocess.SubprocessError):
            continue
        if ok == 0:
            return prefix
    return ()


@dataclass
class ChildRun:
    """What one child process did: its events, how it ended, its bounded output."""

    events: list[dict[str, Any]]
    returncode: int | None
    output: str
    killed: str | None = None  #: test_/collect_/run_timeout, events_overflow
    running: str | None = None  #: node id started and not finished when it ended
    #: the innermost file or directory whose collection had not finished
    #: (:data:`CONFTESTS` while the initial conftests were being imported)
    collecting: str | None = None
    isolation: dict[str, Any] = field(default_factory=dict)
    rejected: int = 0  #: lines of the events file that were not signed by the run
    oom_killed: bool = False  #: the memory cgroup's limit killed a process of the run


@dataclass
class _Started:
    """A child started and waiting for its go: which run it is, its process, output
    pump, events file, signing key and the write end of its go pipe."""

    mode: str
    number: int
    proc: subprocess.Popen
    output: Any  # _Output
    events: Path
    key: bytes
    go: int


class _Output:
    """Bounded capture of a pipe: the first and the last bytes, a count of the rest."""

    def __init__(self, stream: Any, limit: int) -> None:
        self.head = bytearray()
        self.tail: collections.deque[bytes] = collections.deque()
        self.tail_size = self.dropped = 0
        self.limit = limit
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: Any) -> None:
        head_limit = self.limit // 4
        while chunk := stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536):
            if len(self.head) < head_limit:
                take = head_limit - len(self.head)
                self.head += chunk[:take]
                chunk = chunk[take:]
            if chunk:
                self.tail.append(chunk)
                self.tail_size += len(chunk)
                while self.tail_size - len(self.tail[0]) >= self.limit - head_limit:
                    self.dropped += len(self.tail[0])
                    self.tail_size -= len(self.tail.popleft())
        stream.close()

    def text(self) -> str:
        self.thread.join(timeout=5)
        middle = f"\n[... {self.dropped} bytes dropped ...]\n" if self.dropped else ""
        return (bytes(self.head).decode("utf-8", "replace") + middle
                + b"".join(self.tail).decode("utf-8", "replace"))


class Sandbox:
    """A temporary directory holding a copy of the snapshot; removed on exit.

    ``rev`` copies a git revision (``git archive``: the repository is only read);
    otherwise the working tree as the snapshot identity sees it: tracked and untracked
    files git does not ignore, or every file outside the usual tool directories.
    """

    def __init__(self, root: Path, *, rev: str | None = None, python: str | None = None,
                 limits: Limits = Limits(), isolation: str = "auto",
                 warm: str | None = None, fill: bool = True) -> None:
        """``warm`` ("pytest" or "script"): start the first child before copying, so
        its interpreter starts, isolates itself and imports pytest while the copy is
        made; it waits for :meth:`run` to say go (:class:`_Started`). ``fill=False``
        leaves the copy for :meth:`fill`: a sandbox made ready ahead of the tree it
        will test (``lanser.runner.run.ready_sandbox``)."""
        self.root = root
        self.rev = rev
        self.python = python or sys.executable
        found = shutil.which(self.python)
        if found is None:
            raise RunnerError(f"cannot start {self.python}: not an executable file")
        self.python = os.path.abspath(found)
        self.limits = limits
        self.prefix = isolation_prefix(isolation)
        self.dir, self._held = make_held()
        self.copy = self.dir / "ws"
        self.token = uuid.uuid4().hex
        self.cgroups = Cgroups.make(self.token, limits.max_procs, limits.memory_mb << 20)
        self._runs = 0
        #: called on the copy after each (re)population (a grading run restores
        #: protected files there, :class:`lanser.runner.run.Protect`)
        self.prepare: Any = None
        self._pending: _Started | None = None
        try:
            self.copy.mkdir()
            if warm is not None:
                self._pending = self._start(warm)
            self.copy_seconds = 0.0
            self.filled = self.prefilled = False
            if fill:
                self.fill()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pending is not None:  # started, never told to go
            os.close(self._pending.go)
            self._kill(self._pending.proc)
            self._pending = None
        self.cgroups.remove()
        if self._held >= 0:
            remove_tree(self.dir)
            os.close(self._held)
            self._held = -1

    # -- the copy -------------------------------------------------------------

    def refresh(self) -> None:
        """A fresh copy of the snapshot in place of the one a dead child used."""
        self._clear()
        self.copy_seconds += _timed(self._populate)
        if self.prepare is not None:
            self.prepare(self.copy)

    def prefill(self, put: Mapping[str, tuple[bytes | None, int | None]]) -> None:
        """Copy the working tree now, then ``put`` its files back as given (bytes and
        mode; None: absent): the tree the root will hold again, copied while the root
        still holds ``put``'s changes (a scorer copies its base during a candidate's
        run). :meth:`fill` then copies only what changed by then."""
        self._populate()
        self.prefilled = put_back(self.copy, put)
        if not self.prefilled:  # nothing put back: fill copies whole, into an empty copy
            self._clear()

    def fill(self, changed: Iterable[str] | None = None) -> None:
        """Copy the snapshot (once: a restart's fresh copy is :meth:`refresh`).
        ``changed``: after :meth:`prefill`, every file the root holds differently from
        the tree prefilled; only those are copied (a whole copy where they can change
        the listing rules)."""
        if self.filled:
            return
        start = time.perf_counter()
        if not (self.prefilled and changed is not None
                and update_files(self.root, self.copy, changed)):
            if self.prefilled:
                self._clear()
            self._populate()
        self.copy_seconds += time.perf_counter() - start
        self.filled = True

    def _clear(self) -> None:
        remove_tree(self.copy)
        self.copy.mkdir()

    def _populate(self) -> None:
        if self.rev is not None:
            self._archive(self.rev)
        else:
            copy_files(self.root, self.copy, snapshot_files(self.root))

    def _archive(self, rev: str) -> None:
        commit = git.resolve(self.root, rev, "commit")
        archive = git.popen(self.root, "archive", "--format=tar", commit, stderr=None)
        untar = subprocess.run(["tar", "-x", "-C", str(self.copy)], stdin=archive.stdout,
                               capture_output=True, check=False)
        archive.stdout.close()  # type: ignore[union-attr]
        if archive.wait() != 0 or untar.returncode != 0:
            raise RunnerError(f"git archive {rev} failed: {untar.stderr.decode()[-500:]}",
                              code="git_error")

    # -- running --------------------------------------------------------------

    def run(self, mode: str, argv: list[str], *, deadline: float,
            extra: dict[str, Any] | None = None) -> ChildRun:
        """Run the child once (``mode`` is "pytest" or "script") and watch it: the
        child started ahead (``warm``) when there is one of this mode, else a new one."""
        started, self._pending = self._pending, None
        if started is not None and started.mode != mode:
            os.close(started.go)
            self._kill(started.proc)
            started = None
        started = started or self._start(mode)
        if mode == "pytest":  # one token: a separate value would count for pytest's rootdir
            argv = [f"--lanser-events={started.events}", *argv]
        go = self.dir / f"go-{started.number}.json"
        go.write_text(json.dumps({"argv": argv, **(extra or {})}), encoding="utf-8")
        try:
            os.write(started.go, b"1")
        except BrokenPipeError:
            pass  # the child is gone already: the watch says how it ended
        finally:
            os.close(started.go)
        oom_before = self.cgroups.oom_kills()
        try:
            run = self._watch(started.proc, started.events, deadline, Verifier(started.key))
        finally:
            self._kill(started.proc)
        run.output = started.output.text()
        run.oom_killed = self.cgroups.oom_kills() > oom_before
        return run

    def _start(self, mode: str) -> _Started:
        """Start a child that isolates itself, gets ready for ``mode`` and waits for
        :meth:`run`'s go (a byte on its ``go_fd`` pipe; the arguments in a file)."""
        self._runs += 1
        events = self.dir / f"events-{self._runs}.jsonl"
        events.touch()
        for sub in ("home", "tmp", "site"):
            (self.dir / sub).mkdir(exist_ok=True)
        for name, source in SITE_MODULES.items():
            shutil.copyfile(source, self.dir / "site" / name)
        spec = {"mode": mode, "cwd": str(self.copy), "events": str(events),
                "go": str(self.dir / f"go-{self._runs}.json"),
                "site": str(self.dir / "site"), "sandbox": str(self.dir),
                "netns": "--net" in self.prefix, "mountns": "--mount" in self.prefix,
                "drop_caps": True, "cgroups": self.cgroups.paths,
                "pids_limited": self.cgroups.pids, "memory_cgroup": self.cgroups.memory,
                "max_procs": self.limits.max_procs,
                "memory_bytes": self.limits.memory_mb << 20,
                "file_bytes": self.limits.file_mb << 20, "python": self.python}
        key = os.urandom(KEY_BYTES)  # fresh per child: lines of one never verify in another
        key_read, key_write = os.pipe()
        os.write(key_write, key)
        os.close(key_write)
        go_read, go_write = os.pipe()
        spec["key_fd"], spec["go_fd"] = key_read, go_read
        spec_path = self.dir / f"spec-{self._runs}.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.dir / "home"),
               "TMPDIR": str(self.dir / "tmp"), "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "NO_COLOR": "1",
               "COLUMNS": "120", "LANSER_SANDBOX": self.token}
        try:
            # lanser's own interpreter isolates; the run's starts inside (child.py step 8).
            proc = subprocess.Popen([*self.prefix, sys.executable, str(CHILD), str(spec_path)],
                                    cwd=self.copy, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True, pass_fds=(key_read, go_read))
        except OSError as exc:
            os.close(go_write)
            raise RunnerError(f"cannot start {self.python}: {exc}") from None
        finally:
            os.close(key_read)
            os.close(go_read)
        return _Started(mode, self._runs, proc, _Output(proc.stdout, self.limits.output_bytes),
                        events, key, go_write)

    def _watch(self, proc: subprocess.Popen, path: Path, deadline: float,
               verifier: Verifier) -> ChildRun:
        run = ChildRun(events=[], returncode=None, output="")
        since = time.monotonic()
        offset, partial = 0, b""
        collecting: list[str] = []  # nested: a directory, then a file in it
        with open(path, "rb") as fh:
            while True:
                done = proc.poll() is not None
                fh.seek(offset)
                chunk = fh.read(EVENTS_CHUNK)
                offset += len(chunk)
                *lines, partial = (partial + chunk).split(b"\n")
                for line in lines:
                    event = verifier.record(line)
                    run.rejected = verifier.rejected
                    if event is None:
                        continue  # not signed by this run: forged, replayed or garbled
                    run.events.append(event)
                    kind = event.get("e")
                    nodeid = event.get("nodeid")
                    if kind in ("start", "collectstart", "configuring", "collectdone",
                                "configured"):
                        since = time.monotonic()  # each step gets the per-test limit
                    if kind == "start":
                        run.running = nodeid
                    elif kind == "finish" and nodeid == run.running:
                        run.running = None
                    elif kind in ("collectstart", "configuring"):
                        collecting.append(nodeid if kind == "collectstart" else CONFTESTS)
                    elif kind in ("collectdone", "configured"):
                        done_with = nodeid if kind == "collectdone" else CONFTESTS
                        if done_with in collecting:
                            collecting.reverse()
                            collecting.remove(done_with)  # the innermost one
                            collecting.reverse()
                    elif kind == "isolation":
                        run.isolation = event
                    run.collecting = collecting[-1] if collecting else None
                if offset > EVENTS_LIMIT or len(partial) > EVENTS_CHUNK:
                    run.killed = "events_overflow"  # a test flooding our channel
                    return run
                if done and not chunk:
                    run.returncode = proc.returncode
                    return run
                now = time.monotonic()
                if now > deadline:
                    run.killed = "run_timeout"
                    return run
                if (run.running or run.collecting) and now - since > self.limits.test_timeout:
                    run.killed = "test_timeout" if run.running else "collect_timeout"
                    return run
                if len(chunk) < EVENTS_CHUNK and not done:  # caught up: wait for more,
                    try:  # or for the child's exit, whichever comes first
                        proc.wait(timeout=POLL_SECONDS)
                    except subprocess.TimeoutExpired:
                        pass

    def _kill(self, proc: subprocess.Popen) -> None:
        """Kill the child and everything it spawned, however it tried to get away."""
        import psutil

        try:
            tree = psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            tree = []
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        for child in tree:
            try:
                child.kill()
            except psutil.Error:
                pass
        if "--pid" not in self.prefix:  # no PID namespace to tear the rest down for us
            for escaped in psutil.process_iter():
                try:
                    if escaped.environ().get("LANSER_SANDBOX") == self.token:
                        escaped.kill()
                except psutil.Error:
                    continue
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _timed(func: Any) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start
