"""``run_tests``: a sandboxed pytest run of a snapshot, folded into a :class:`RunResult`.

One run may take several child processes: when the watchdog kills a test that ran
past its limit, or a test takes the process down with it (``os._exit``, a segfault,
the memory limit), the outcome of that test is recorded from the last ``start``
event (``timeout``, or ``failed``/``error`` for a crash) and pytest is started again
on the tests not yet run (``--lanser-only``), in the same copy. A module whose import
hangs or kills the process is recorded as a collection outcome and ``--ignore``d.
We chose this over a ``SIGALRM`` in the plugin because an alarm cannot interrupt C
code, can be caught or reset by the test, and dies with the process it would report.

Results are sorted by node id; durations, timings and the sandbox description stay
out of the hashed facts (they go in ``provenance``).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanser import git
from lanser.errors import UsageError
from lanser.findings import Finding, merge
from lanser.runner.copying import snapshot_identity
from lanser.runner.credit import flaky_credit
from lanser.runner.impact import ImpactMap, impact_key
from lanser.runner.outcomes import Folder, TestOutcome
from lanser.runner.protected import Protect
from lanser.runner.result import RunResult
from lanser.runner.sandbox import (
    CONFTESTS,
    ChildRun,
    Limits,
    RunnerError,
    Sandbox,
    isolation_prefix,
)

if TYPE_CHECKING:
    from lanser.workspace import Workspace

#: Options lanser always adds: every module collected even when one fails to import
#: (a broken module is an outcome, not the end of the run).
BASE_ARGS = ("--continue-on-collection-errors",)


def run_tests(workspace: Workspace | str | Path, *, rev: str | None = None,
              args: tuple[str, ...] | list[str] = (), timeout: float = 60.0,
              run_timeout: float = 1800.0, memory_mb: int = 4096, reruns: int = 0,
              select: ImpactMap | None = None, python: str | None = None,
              isolation: str = "auto", coverage_map: Path | None = None,
              protect: Protect | None = None, sandbox: Sandbox | None = None,
              changed: Iterable[str] | None = None) -> RunResult:
    """Run pytest on ``workspace`` (or its git revision ``rev``) in a sandbox.

    ``timeout`` is the per-test wall-clock limit, ``run_timeout`` the whole run's.
    ``select`` (an :class:`~lanser.runner.impact.ImpactMap`) runs only the tests whose
    files changed since the map's base, and carries the others' base outcomes over.
    ``coverage_map`` asks the plugin to write a per-test coverage map there.
    ``protect`` makes it a grading run (issue 16): the copy's protected files are
    put back as the base tree has them before pytest starts (and again in the fresh
    copy each restart gets), and a run that produced nothing is a scored failure
    (one ``error`` record) rather than a runner error. ``sandbox``: one made ready
    ahead by :func:`ready_sandbox` with the same settings (its child already
    isolated, pytest imported); the copy is made now (of ``changed`` only, the files
    the workspace holds differently from a tree the sandbox was prefilled with). It
    is closed with the run.
    """
    root = root_of(workspace)
    limits = Limits(test_timeout=timeout, run_timeout=run_timeout, memory_mb=memory_mb)
    start = time.perf_counter()
    deadline = time.monotonic() + run_timeout
    extra: list[str] = []
    selection = None
    # the identity is taken beside the copy and the run (git reads the tree while
    # the child works); the caller leaves the tree alone until the run returns
    identity = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="snapshot")
    snapshot_job = identity.submit(snapshot_identity, root, rev)
    identity.shutdown(wait=False)
    box = _usable(sandbox, root, rev, python, limits, isolation)
    with box or Sandbox(root, rev=rev, python=python, limits=limits, isolation=isolation,
                        warm="pytest") as box:
        box.fill(changed)
        caught: list[Finding] = []
        if protect is not None:
            box.prepare = protect.restorer(root, caught)
            box.prepare(box.copy)
        if select is not None:
            selection = select.plan(box.copy)
            if not selection["full"]:
                skip = box.dir / "skip.txt"
                skip.write_text("".join(n + "\n" for n in selection["skip"]), encoding="utf-8")
                extra.append(f"--lanser-skip={skip}")
                if not args and selection["paths"]:  # collect only where tests will run
                    extra.extend(selection["paths"])
        if coverage_map is not None:
            extra.append(f"--lanser-coverage={box.dir / 'coverage.json'}")
        user_args = tuple(_rebase(a, root, box.copy) for a in args)
        extra.extend(_listed_files(user_args, box.copy))

        def lenient() -> bool:
            """A grading run of a candidate's tree (the base's own run is held to the
            plain rules: a base the runner cannot measure is no task to grade by)."""
            tested = (snapshot_job.result() or {})
            return protect is not None and \
                (tested.get("tree") or tested.get("hash")) != protect.base_tree

        folder, last = _run_pytest(box, [*extra, *user_args], deadline, lenient=lenient)
        if coverage_map is not None and (box.dir / "coverage.json").is_file():
            Path(coverage_map).write_bytes((box.dir / "coverage.json").read_bytes())
        timings = {"copy_seconds": box.copy_seconds}
    tests = {n: t.with_credit() for n, t in folder.done.items()}
    if reruns:
        tests = _rerun(root, rev, python, limits, isolation, tests, reruns, deadline,
                       tuple(args))
    if selection is not None and not selection["full"]:
        for nodeid in selection["skip"]:
            base = select.outcomes.get(nodeid) if select else None
            if base is not None and nodeid not in tests:
                tests[nodeid] = replace(base, reused=True).with_credit()
        selection = {k: v for k, v in selection.items() if k not in ("skip", "paths")} | {
            "skipped": len(selection["skip"])}
    snapshot = snapshot_job.result()
    timings["run_seconds"] = time.perf_counter() - start
    caught = caught[:1]  # the first copy's restoration; restarts repeat it
    caught.append(Finding("early_exit", len(folder.early), tuple(sorted(folder.early))))
    caught.append(Finding("forged_events", folder.rejected + folder.out_of_protocol))
    caught.append(Finding("shadowed_module", int(folder.shadowed)))
    return RunResult(tests=tuple(tests[n] for n in sorted(tests)),
                     exitstatus=_exitstatus(last), rev=rev,
                     args=tuple(_swap_root(a, root, ".") for a in args), limits=limits,
                     reruns=reruns, isolation=_isolation(box, last, folder.rejected),
                     output=last.output,
                     timings=timings, selection=selection, snapshot=snapshot,
                     integrity=merge(f for c in caught for f in
                                     (c if isinstance(c, tuple) else (c,))),
                     protected_base=None if protect is None else protect.base_tree)


def ready_sandbox(workspace: Workspace | str | Path, *, timeout: float = 60.0,
                  run_timeout: float = 1800.0, memory_mb: int = 4096,
                  python: str | None = None, isolation: str = "auto",
                  put: Mapping[str, tuple[bytes | None, int | None]] | None = None
                  ) -> Sandbox:
    """A sandbox for the next :func:`run_tests` of ``workspace`` with these settings,
    made now and filled then: its child starts, isolates itself and imports pytest
    while the caller still prepares the tree (a scorer's next candidate). The caller
    passes it to ``run_tests(sandbox=...)`` or closes it. ``put``: copy the workspace
    now, these files put back as given (bytes and mode; None: absent), and at the run
    only the files changed since (``run_tests(changed=...)``, :meth:`Sandbox.prefill`).
    """
    limits = Limits(test_timeout=timeout, run_timeout=run_timeout, memory_mb=memory_mb)
    box = Sandbox(root_of(workspace), python=python, limits=limits, isolation=isolation,
                  warm="pytest", fill=False)
    if put is not None:
        try:
            box.prefill(put)
        except BaseException:
            box.close()
            raise
    return box


def _usable(box: Sandbox | None, root: Path, rev: str | None, python: str | None,
            limits: Limits, isolation: str) -> Sandbox | None:
    """``box`` when it was made for exactly this run, else None (and closed)."""
    if box is None:
        return None
    wanted = os.path.abspath(shutil.which(python or sys.executable) or "")
    if (box.root == root and box.rev == rev and box.limits == limits and not box.filled
            and box.python == wanted and box.prefix == isolation_prefix(isolation)):
        return box
    box.close()
    return None


def _run_pytest(box: Sandbox, argv: list[str], deadline: float, *,
                lenient: Callable[[], bool] = lambda: False) -> tuple[Folder, ChildRun]:
    """Run, and restart after each kill or crash on what is left, until all is done.

    Each restart gets a fresh copy of the snapshot: the process that died may have
    rewritten the tests (or anything else) in the copy first, and the next process
    must collect what the snapshot holds, not what the dead one left (issue 16).
    """
    folder = Folder(roots=(str(box.copy), str(box.dir)))
    only: list[str] | None = None
    ignores: list[str] = []
    for attempt in range(10_000):
        done_before = len(folder.done)
        if attempt:
            box.refresh()
        run_argv = [*BASE_ARGS, *(f"--ignore={box.copy / i}" for i in ignores)]
        if only is not None:
            listing = box.dir / f"only-{attempt}.txt"
            listing.write_text("".join(n + "\n" for n in only), encoding="utf-8")
            run_argv.append(f"--lanser-only={listing}")
        child = box.run("pytest", [*run_argv, *argv], deadline=deadline)
        foreign = _foreign_imports(child)
        if foreign and lenient():
            # a grading run: the graded tree has a top-level module named like one the
            # tests import from the interpreter (a ``pytest.py`` at the root, say), so
            # nothing measured is the revision's: a scored failure, never "no score"
            # (a trainer would leave the sample out, or give it 0)
            folder.add(CONFTESTS, "error", "collection", "the tests imported "
                       f"{foreign} from outside the snapshot: the graded tree shadows it")
            folder.shadowed = True
            return folder, child
        if foreign:
            raise RunnerError(
                "the tests imported the project's own modules from outside the snapshot "
                f"being tested ({foreign}): their outcomes would not be the revision's. "
                "Make the snapshot importable from its root or src/ (or set "
                "[tool.pytest.ini_options] pythonpath), or use --python with an "
                "interpreter where the project is not installed", code="foreign_imports")
        folder.feed(child.events)
        folder.rejected += child.rejected
        finished = any(e.get("e") == "session" for e in child.events)
        if child.killed == "run_timeout":
            if child.running:
                folder.interrupted(child.running, "timeout", "the run's time limit was reached")
            for nodeid in folder.remaining():
                folder.add(nodeid, "timeout", "setup", "the run's time limit was reached "
                           "before this test started", started=False)
            return folder, child
        if child.killed == "test_timeout" and child.running:
            folder.interrupted(child.running, "timeout",
                               f"ran longer than the per-test limit of {box.limits.test_timeout}s")
        elif child.collecting == CONFTESTS and child.killed in (None, "collect_timeout"):
            # the initial conftests cannot be left out: without them nothing runs
            folder.add(CONFTESTS, "timeout" if child.killed else "error", "collection",
                       f"importing the initial conftest files took longer than "
                       f"{box.limits.test_timeout}s" if child.killed else
                       f"the process died importing the initial conftest files "
                       f"({_death(child)})")
            return folder, child
        elif child.killed == "collect_timeout" and child.collecting:
            folder.add(child.collecting, "timeout", "collection",
                       f"collecting took longer than {box.limits.test_timeout}s")
            ignores.append(child.collecting)
        elif child.killed == "events_overflow":
            folder.interrupted(child.running or "<session>", "crash",
                               "flooded lanser's events file")
            return folder, child
        elif not finished and child.running:
            folder.interrupted(child.running, "crash", _death(child))
        elif not finished and child.collecting:
            folder.add(child.collecting, "error", "collection",
                       f"the process died while collecting ({_death(child)})")
            ignores.append(child.collecting)
        elif not finished and child.killed is None and folder.remaining():
            # died between two tests (a hook, a thread, a signal): what is left runs
            # again, unless this child ran nothing at all (that would repeat forever)
            if len(folder.done) == done_before:
                for nodeid in folder.remaining():
                    folder.add(nodeid, "error", "setup", "the process died before this "
                               f"test started ({_death(child)})", started=False)
                    folder.early.add(nodeid)
                return folder, child
        else:
            if lenient() and not folder.done and not folder.collected and child.returncode != 4:
                # a grading run: the code under test ended the process (``sys.exit`` at
                # import) before anything was collected: a scored failure, not exit 3
                folder.add(CONFTESTS, "error", "collection", "the test process ended "
                           f"before collecting anything ({_death(child)})")
                folder.early.add(CONFTESTS)
                return folder, child
            _check_ran(folder, child, finished)
            # collected, never reported: a test must not vanish (pytest.exit from a
            # test, -x/--maxfail, a listing tampered with): it ran for nothing
            if child.running:
                folder.interrupted(child.running, "crash", "the session ended during "
                                   "this test (pytest.exit or an interrupt)")
            for nodeid in folder.remaining():
                folder.add(nodeid, "error", "setup", "never ran: the session ended "
                           "before it (pytest.exit, -x or --maxfail)", started=False)
                folder.early.add(nodeid)
            return folder, child
        if folder.collected:
            only = folder.remaining()
            if not only:
                return folder, child
    raise RunnerError("the test process kept dying without progress")  # pragma: no cover


#: the plugin's option naming one test to run (a task's F2P/P2P ids, see ``select_args``)
ID_OPTION = "--lanser-id="


def select_args(*id_lists: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """pytest arguments that run exactly the listed tests (sorted, once each): the
    plugin deselects every other test, and the runner collects only their files. An id
    that names no test is simply not run, and grading names it ``missing``."""
    ids = sorted({i for ids in id_lists for i in ids})
    return tuple(ID_OPTION + i for i in ids)


def _listed_files(args: tuple[str, ...], copy: Path) -> list[str]:
    """The files of ``--lanser-id`` tests, to collect only those (unless the user
    named paths to collect): a 3-test task must not collect a 2,000-test suite."""
    ids = [a[len(ID_OPTION):] for a in args if a.startswith(ID_OPTION)]
    if not ids or any(_names_path(a, copy) for a in args if not a.startswith("-")):
        return []
    files = sorted({i.split("::", 1)[0] for i in ids})
    return [f for f in files if f and not f.startswith("/") and ".." not in f.split("/")
            and (copy / f).exists()]


def _names_path(arg: str, copy: Path) -> bool:
    path = arg.split("::", 1)[0]
    try:
        return bool(path) and (copy / path).exists()
    except OSError:
        return False


def _foreign_imports(child: ChildRun) -> str:
    """The project's own modules the tests imported from outside the snapshot, named
    ("" when none): tests that did so did not test it (issue 15, defect 2)."""
    for event in child.events:
        if event.get("e") == "foreign_imports" and event.get("modules"):
            return ", ".join(f"{m.get('module')} from {m.get('file')}"
                             for m in event["modules"][:5])
    return ""


def _check_ran(folder: Folder, child: ChildRun, finished: bool) -> None:
    """A run that produced no outcome at all is the runner's failure, not a test's."""
    if folder.done or folder.collected:
        return
    tail = _failure_text(child.output, folder.roots)
    if child.returncode == 4:
        raise UsageError(f"pytest refused the arguments: {tail}", code="pytest_usage")
    if not finished or child.returncode == 3:
        raise RunnerError(f"pytest did not run ({_death(child)}): {tail}",
                          code="runner_failed")


def _failure_text(output: str, roots: tuple[str, ...]) -> str:
    """The exception's last line first (what the user needs to see), then the end of
    the output, cut at its start, never at its end (issue 15, defect 1)."""
    from lanser.pathtext import scrub_paths
    from lanser.runner.outcomes import MESSAGE_LIMIT

    text = scrub_paths(output, [(root, "") for root in roots])
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    last = next((line.strip() for line in reversed(lines)
                 if _EXCEPTION_LINE.match(line.strip())), lines[-1].strip() if lines else "")
    tail = "\n".join(lines)[-MESSAGE_LIMIT:]
    return f"{last}\n{tail}" if last and tail != last else tail


#: "SomeError: ...", "E   pytest.PytestWarning: ..." (pytest's own error lines)
_EXCEPTION_LINE = re.compile(r"^(E\s+)?[A-Za-z_][\w.]*(Error|Exception|Warning|Exit|"
                             r"Interrupt)\b.*")


def _rerun(root: Path, rev: str | None, python: str | None, limits: Limits, isolation: str,
           tests: dict[str, TestOutcome], reruns: int, deadline: float,
           args: tuple[str, ...]) -> dict[str, TestOutcome]:
    """Rerun failures ``reruns`` times, each in a fresh copy; a changed outcome is flaky.

    The user's pytest arguments go to every rerun (options, ``-p``, ``-o`` change how
    a test runs); ``--lanser-only`` narrows the run to the suspects."""
    suspects = sorted(n for n, t in tests.items() if t.failing and t.phase != "collection")
    history = {n: [tests[n]] for n in suspects}
    for _ in range(reruns if suspects else 0):
        with Sandbox(root, rev=rev, python=python, limits=limits, isolation=isolation) as box:
            listing = box.dir / "rerun.txt"
            listing.write_text("".join(n + "\n" for n in suspects), encoding="utf-8")
            user_args = [_rebase(a, root, box.copy) for a in args]
            folder, _child = _run_pytest(box, [f"--lanser-only={listing}", *user_args],
                                         deadline)
        for nodeid in suspects:
            again = folder.done.get(nodeid)
            if again is not None:
                history[nodeid].append(again.with_credit())
    out = dict(tests)
    for nodeid, runs in history.items():
        attempts = tuple(r.outcome for r in runs)
        first = runs[0]
        if len(set(attempts)) > 1:
            out[nodeid] = replace(first, outcome="flaky", attempts=attempts,
                                  credit=flaky_credit([r.credit for r in runs]))
        else:
            out[nodeid] = replace(first, attempts=attempts)
    return out


def _death(child: ChildRun) -> str:
    import signal

    if child.oom_killed:
        return "killed by the memory limit (the process tree used more than allowed)"
    code = child.returncode
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    if code is not None and 128 < code < 128 + signal.NSIG:  # the namespace's init says so
        try:
            return f"exit status {code}, killed by {signal.Signals(code - 128).name}"
        except ValueError:
            pass
    return f"exit status {code}"


def _exitstatus(child: ChildRun) -> int | None:
    for event in reversed(child.events):
        if event.get("e") == "session":
            return int(event["exitstatus"])
    return child.returncode


def _isolation(box: Sandbox, child: ChildRun, rejected: int) -> dict[str, Any]:
    done = child.isolation
    return {"network": "namespace" if done.get("network") else "host (not isolated)",
            "filesystem": "read-only outside the copy" if done.get("filesystem")
            else "copy only (not isolated)",
            "processes": ("pid namespace" if "--pid" in box.prefix else "process tree")
            + (f", at most {done['max_procs']}" if done.get("max_procs") else ", no count limit"),
            "capabilities": "dropped" if done.get("capabilities") else "kept",
            "devices": ("private /dev (null, zero, full, random, urandom, tty; own /dev/shm)"
                        if done.get("devices") else "host /dev (not isolated)"),
            "proc": ("private /proc (own PID namespace; /proc/sys read-only)"
                     if done.get("proc") else "host /proc (not isolated)"),
            "sys": "read-only" if done.get("sys") else "writable (not isolated)",
            "memory": (f"{box.limits.memory_mb} MiB for the whole process tree (cgroup)"
                       if done.get("memory") == "cgroup" else
                       f"{box.limits.memory_mb} MiB of address space per process (RLIMIT_AS)"),
            "memory_mb": box.limits.memory_mb,
            #: lines of the events files that were not signed by the run (CREDIT.md §7)
            "rejected_event_lines": rejected}


def map_impact(workspace: Workspace | str | Path, *, rev: str | None = None,
               args: tuple[str, ...] = (), **options: Any) -> ImpactMap:
    """Run the suite on ``rev`` (or the working tree) with coverage; its impact map
    (:mod:`lanser.runner.impact`). ``options`` are :func:`run_tests`'s."""
    root = root_of(workspace)
    with tempfile.TemporaryDirectory(prefix="lanser-impact-") as tmp:
        cov_path = Path(tmp) / "coverage.json"
        result = run_tests(root, rev=rev, args=args, coverage_map=cov_path, **options)
        raw = json.loads(cov_path.read_text(encoding="utf-8")) if cov_path.is_file() \
            else {"tests": {}, "imports": {}}
    return ImpactMap.from_coverage(raw, result.tests, base=rev, root=root, rev=rev)


def cached_map(workspace: Any, base: str, *, args: tuple[str, ...] = (),
               timeout: float = 60.0, python: str | None = None) -> ImpactMap:
    """The coverage map of revision ``base``, built once and kept under
    ``.lanser/impact/`` (``lanser test --base`` and ``lanser ci`` share it).
    ``fresh`` on the map says whether this call built it."""
    tree = git.resolve(workspace.root, base, "tree")
    path = workspace.state_dir / "impact" / f"{impact_key(tree, args, python)}.json"
    found = ImpactMap.load(path)
    if found is None:
        found = map_impact(workspace, rev=base, args=args, timeout=timeout, python=python)
        found.save(path)
        found.fresh = True
    return found


def root_of(workspace: Any) -> Path:
    """The root of a Workspace, or a path given as such (a Path's own ``.root`` is "/")."""
    root = workspace if isinstance(workspace, (str, Path)) else workspace.root
    return Path(root).resolve()


def _rebase(arg: str, root: Path, copy: Path) -> str:
    """An absolute path into the workspace, pointed at the copy instead."""
    return _swap_root(arg, root, str(copy))


def _swap_root(arg: str, root: Path, new: str) -> str:
    """``arg`` with a leading ``root`` (alone, or as an ``--option=`` value) made ``new``.

    With ``new="."`` it makes the arguments kept in the hashed request relative: the
    same run hashes the same at any checkout path.
    """
    prefix, sep, value = arg.partition("=") if arg.startswith("-") else ("", "", arg)
    if not sep:
        prefix, value = "", arg
    text = str(root)
    if value == text or value.startswith(text + "/"):
        value = new + value[len(text):]
    return prefix + sep + value
