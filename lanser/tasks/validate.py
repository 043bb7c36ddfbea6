"""Validation: a task's tests fail on base + test_patch and pass with the reference patch.

:func:`run_side` runs tests on one side (a commit of base + patches, see
:func:`lanser.tasks.trees.side`) in lanser's sandbox and returns each test's outcome.
:func:`judge` turns the two sides into the task's lists, or the reason there is no
task: ``no_f2p`` (nothing goes fail -> pass), ``p2p_broken`` (a test that passed
before fails with the patch), ``env_failed`` (a side could not run: no test ran, a
collection error, the runner failed), ``timeout``; with ``runs`` > 1 every side runs
again and a test whose outcome changes is ``flaky``: dropped from the lists, and a
task left without a fail -> pass test is rejected as ``flaky``.
:func:`validate_task` re-checks a stored task the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from lanser.errors import LanserError
from lanser.git import PatchDoesNotApply
from lanser.runner.run import run_tests
from lanser.runner.settings import RunnerSettings
from lanser.tasks.envs import EnvFailed, ensure_env, env_python
from lanser.tasks.record import Task, Validation
from lanser.tasks.trees import side

#: Outcomes that count as passing (SWE-bench's harness: passed and xfailed).
PASSING = ("passed", "xpassed", "xfailed")
#: Why a candidate is not a task.
REASONS = ("no_test_change", "no_code_change", "merge_commit", "root_commit", "binary",
           "submodule", "no_f2p",
           "p2p_broken", "env_failed", "timeout", "flaky", "patch_does_not_apply")


@dataclass(frozen=True)
class SideRun:
    """One side's outcomes by node id, or why it could not run."""

    outcomes: dict[str, str]
    failure: str | None = None
    detail: str = ""
    #: each failing test's message (its assertion, its exception)
    messages: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """The lists a candidate's runs give, or the reason it is rejected."""

    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    validation: Validation | None = None
    reason: str | None = None
    detail: str = ""
    #: the F2P tests' failure messages on the before side (what a bug report says)
    messages: dict[str, str] = field(default_factory=dict)


def run_side(repo: Path, commit: str, targets: tuple[str, ...], settings: RunnerSettings,
             test_args: tuple[str, ...] = ()) -> SideRun:
    """Run ``targets`` (test files or node ids) at ``commit`` in the sandbox."""
    try:
        result = run_tests(repo, rev=commit, args=(*test_args, *targets),
                           timeout=settings.timeout, run_timeout=settings.run_timeout,
                           memory_mb=settings.memory_mb, python=settings.python)
    except LanserError as exc:
        return SideRun({}, failure="env_failed", detail=_tail(exc.message))
    outcomes = {t.nodeid: t.outcome for t in result.tests}
    messages = {t.nodeid: _stable(t.message) for t in result.tests
                if t.failing and t.message}
    if any(o == "timeout" for o in outcomes.values()):
        return SideRun(outcomes, "timeout",
                       ", ".join(sorted(n for n, o in outcomes.items() if o == "timeout")))
    if not outcomes and result.exitstatus != NO_TESTS_COLLECTED:
        return SideRun({}, failure="env_failed", detail=_tail(result.output))
    return SideRun(outcomes, messages=messages)


#: pytest's exit status when the files held no test (then nothing goes fail -> pass).
NO_TESTS_COLLECTED = 5


_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
_RUN_DIR = re.compile(r"/\S*?/lanser-run-[^/\s]+/ws/")


def _stable(message: str) -> str:
    """A failure message without what changes from run to run (object addresses, the
    sandbox's directory)."""
    return _ADDRESS.sub("0x…", _RUN_DIR.sub("", message))


def _tail(text: str, lines: int = 12) -> str:
    """The last lines of an error or a run's output: where the cause is."""
    return "\n".join(text.strip().splitlines()[-lines:])[-2000:]


def judge(before: list[SideRun], after: list[SideRun]) -> Verdict:
    """The task's lists from ``runs`` runs of each side (module docstring)."""
    for runs in (before, after):
        for run in runs:
            if run.failure is not None:
                return Verdict(reason=run.failure, detail=run.detail)
    # A module that failed to collect after the patch broke what it held.
    flaky = sorted(_unstable(before) | _unstable(after))
    first_before, first_after = before[0].outcomes, after[0].outcomes
    ids = sorted((set(first_before) | set(first_after)) - set(flaky))
    f2p = tuple(n for n in ids if first_before.get(n) not in PASSING
                and first_after.get(n) in PASSING and "::" in n)
    p2p = tuple(n for n in ids if first_before.get(n) in PASSING
                and first_after.get(n) in PASSING)
    broken = [n for n in ids if first_before.get(n) in PASSING
              and first_after.get(n) not in PASSING]
    # No durations in the record: a task file is the same bytes every time it is made.
    validation = Validation({n: first_before.get(n, "missing") for n in (*f2p, *p2p)},
                            {n: first_after.get(n, "missing") for n in (*f2p, *p2p)},
                            runs=len(before), flaky=tuple(flaky))
    if broken:
        return Verdict(reason="p2p_broken", detail=", ".join(broken[:5]))
    if not f2p:
        return Verdict(reason="flaky" if flaky else "no_f2p",
                       detail=", ".join(flaky[:5]))
    return Verdict(f2p, p2p, validation,
                   messages={n: before[0].messages.get(n, "") for n in f2p})


def _unstable(runs: list[SideRun]) -> set[str]:
    """Tests whose outcome is not the same in every run."""
    if len(runs) < 2:
        return set()
    ids = set().union(*(r.outcomes for r in runs))
    return {n for n in ids if len({r.outcomes.get(n) for r in runs}) > 1}


def check_sides(repo: Path, base: str, test_patch: str, patch: str,
                targets: tuple[str, ...], settings: RunnerSettings, *, runs: int = 1,
                test_args: tuple[str, ...] = ()) -> Verdict:
    """Run ``targets`` on base + test_patch and on base + test_patch + patch."""
    try:
        before_rev = side(repo, base, test_patch)
        after_rev = side(repo, base, test_patch, patch)
    except PatchDoesNotApply as exc:
        return Verdict(reason="patch_does_not_apply", detail=exc.message)
    before = [run_side(repo, before_rev, targets, settings, test_args) for _ in range(runs)]
    after = [run_side(repo, after_rev, targets, settings, test_args) for _ in range(runs)]
    return judge(before, after)


def validate_task(task: Task, repo: Path, settings: RunnerSettings, *,
                  runs: int = 1) -> Verdict:
    """Re-run a stored task on both sides; the verdict says whether its lists still hold
    (each F2P test fails then passes, each P2P test passes both times).

    The test files holding the listed tests run whole, as mining ran them: a module's
    outcome can depend on what ran before it in the same process, and a list is only
    reproducible the way it was made."""
    listed = (*task.fail_to_pass, *task.pass_to_pass)
    files = tuple(sorted({nodeid.split("::", 1)[0] for nodeid in listed}))
    if task.lanser.environment:  # validated in a cached environment: the same one again
        python = env_python(task.lanser.environment)
        if not python.exists():
            try:
                python = ensure_env(repo, task.base_commit, repo_name=task.repo)[1]
            except EnvFailed as exc:
                return Verdict(reason="env_failed", detail=exc.message)
        settings = replace(settings, python=str(python))
    verdict = check_sides(repo, task.base_commit, task.test_patch, task.patch, files,
                          settings, runs=runs, test_args=task.lanser.test_args)
    if verdict.reason is not None or verdict.validation is None:
        return verdict
    lost = sorted(set(task.fail_to_pass) - set(verdict.fail_to_pass))
    if lost:
        return Verdict(reason="no_f2p", detail="no longer fail -> pass: " + ", ".join(lost[:5]))
    broken = sorted(set(task.pass_to_pass) - set(verdict.pass_to_pass))
    if broken:
        return Verdict(reason="p2p_broken", detail="no longer pass: " + ", ".join(broken[:5]))
    keep = set(listed)
    validation = verdict.validation
    return Verdict(task.fail_to_pass, task.pass_to_pass, Validation(
        {n: o for n, o in validation.before.items() if n in keep},
        {n: o for n, o in validation.after.items() if n in keep}, validation.runs,
        validation.flaky))
