"""``lanser tasks synth``: tasks from seeded bugs the project's own tests catch (SWE-smith).

From a clean revision, each non-test Python file's mutants (:mod:`lanser.tasks.mutations`)
are sampled (``per_file``, by ``seed``). A mutant is a candidate task whose base is the
clean tree with the bug (a commit under ``refs/lanser/synth/``, so it survives git's
garbage collection), whose reference patch is the bug's inverse, and whose test_patch is
empty (the tests are the project's own). The test files that name the mutated module run
first, else all of them (:func:`lanser.tasks.validate.check_sides`); the mutant is kept
when at least one test fails with the bug and passes without it, and no test that
passes with the bug fails without it. Then the rest of the suite runs on the bug once
(its clean run is made once per synth run and shared): a test there that passes clean
and fails with the bug joins the fail-to-pass list, so the list is the whole suite's
(:func:`widen`). A mutant the impact-selected files do not catch is ``no_test_fails``
without the rest running: a full run for every such mutant would double its cost.
(The impact map of :mod:`lanser.runner.impact` selects no fewer here: a package whose
``__init__`` imports every module, as toolz's does, puts every file in every test's
import closure, so it picks the whole suite for any mutant.)

The problem statement is what a bug report would say: the failing tests and their
assertion messages, never the diff. The same seed gives the same tasks, byte for byte.

A rejected mutant carries its reason: ``syntax`` (the edit does not compile; no test
runs), ``no_tests`` (the repository has none), ``no_test_fails`` (no test caught the
bug), ``p2p_broken`` (a test passing with the bug fails without it), ``timeout``,
``env_failed`` or ``flaky`` (:data:`lanser.tasks.validate.REASONS`).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from lanser import git
from lanser.runner.settings import RunnerSettings
from lanser.tasks.mutations import Mutant, mutants, sample
from lanser.tasks.record import Found, Task, TaskMeta
from lanser.tasks.trees import is_test_path, side
from lanser.tasks.validate import PASSING, SideRun, Verdict, check_sides, run_side

REF_PREFIX = "refs/lanser/synth/"


def python_files(repo: Path, rev: str, paths: tuple[str, ...] = ()) -> list[str]:
    listed = git.run(repo, "ls-tree", "-r", "-z", "--name-only", rev, "--", *paths)
    return sorted(p for p in listed.split("\0") if p.endswith(".py"))


def synth(repo: Path, *, rev: str = "HEAD", seed: int = 0, per_file: int = 3,
          limit: int | None = None, paths: tuple[str, ...] = (),
          settings: RunnerSettings | None = None, repo_name: str | None = None,
          seen: set[str] | None = None) -> Iterator[tuple[Mutant, Found]]:
    """Each sampled mutant judged (module docstring); stops after ``limit`` kept."""
    settings = settings or RunnerSettings()
    name = repo_name or repo.resolve().name
    clean = git.resolve(repo, rev)
    tests = [p for p in python_files(repo, clean)
             if is_test_path(p) and p.rsplit("/", 1)[-1].startswith("test")]
    kept = 0
    baseline: dict[tuple[str, ...], SideRun] = {}
    for path in (p for p in python_files(repo, clean, paths) if not is_test_path(p)):
        source = git.run(repo, "show", f"{clean}:{path}", binary=True)
        targets = _targets(path, tests, repo, clean)
        rest = tuple(t for t in tests if t not in targets)
        for mutant in sample(mutants(path, source), per_file, seed):
            ident = instance_id(name, mutant)
            if seen is not None and ident in seen:
                continue
            found = judge(repo, clean, source, mutant, targets, settings, name, rest=rest,
                          baseline=baseline)
            yield mutant, found
            kept += found.task is not None
            if limit is not None and kept >= limit:
                return


def instance_id(repo_name: str, mutant: Mutant) -> str:
    digest = hashlib.sha256(mutant.key().encode()).hexdigest()[:10]
    return f"{repo_name}-synth-{mutant.operator}-{digest}"


def _targets(path: str, tests: list[str], repo: Path, rev: str) -> tuple[str, ...]:
    """Test files naming the mutated module first (impact), else every test file."""
    module = path[:-3].rsplit("/", 1)[-1]
    if module == "__init__":
        module = path.rsplit("/", 2)[-2] if "/" in path else module
    naming = [t for t in tests
              if module in (git.run(repo, "show", f"{rev}:{t}", check=False) or "")]
    return tuple(naming or tests)


def judge(repo: Path, clean: str, source: bytes, mutant: Mutant, targets: tuple[str, ...],
          settings: RunnerSettings, repo_name: str, *, rest: tuple[str, ...] = (),
          baseline: dict[tuple[str, ...], SideRun] | None = None) -> Found:
    """One mutant: a task, or the reason there is none. ``targets`` (the impact-selected
    test files) run on both sides first; when they catch the bug, ``rest`` (the other
    test files) runs on the bug too (:func:`widen`); ``baseline`` keeps the clean
    tree's run of ``rest`` across mutants."""
    bug, fix = mutant.diffs(source)
    ident = instance_id(repo_name, mutant)
    try:
        compile(mutant.apply(source), mutant.path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return Found(ident, reason="syntax", detail=str(exc))
    if not targets:
        return Found(ident, reason="no_tests")
    base = side(repo, clean, bug)
    verdict = check_sides(repo, base, "", fix, targets, settings)
    if verdict.reason is not None:
        return Found(ident, reason="no_test_fails" if verdict.reason == "no_f2p"
                         else verdict.reason, detail=verdict.detail)
    if rest:
        verdict = widen(repo, clean, base, verdict, rest, settings,
                        {} if baseline is None else baseline)
        if verdict.reason is not None:
            return Found(ident, reason=verdict.reason, detail=verdict.detail)
    git.run(repo, "update-ref", f"{REF_PREFIX}{ident}", base)
    assert verdict.validation is not None
    meta = TaskMeta(source="synth", base_tree=git.resolve(repo, base, "tree"),
                    targets=(mutant.path,),
                    python=f"{sys.version_info.major}.{sys.version_info.minor}",
                    origin={"operator": mutant.operator, "path": mutant.path,
                            "line": mutant.line, "clean": clean})
    task = Task(ident, repo_name, base, fix, "", problem_statement(verdict), (), lanser=meta)
    return Found(ident, task.with_validation(verdict.validation, verdict.fail_to_pass,
                                                 verdict.pass_to_pass))


def widen(repo: Path, clean: str, base: str, verdict: Verdict, rest: tuple[str, ...],
          settings: RunnerSettings, baseline: dict[tuple[str, ...], SideRun]) -> Verdict:
    """The rest of the suite on the bug: a test there that passes on the clean tree and
    not with the bug (failing, or gone with its module) is caught too, so it joins the
    fail-to-pass list (the clean tree is the fixed side: base + the inverse has its
    tree). A side that cannot run (``timeout``, ``env_failed``) rejects the mutant."""
    if rest not in baseline:
        baseline[rest] = run_side(repo, clean, rest, settings)
    fixed, bug = baseline[rest], run_side(repo, base, rest, settings)
    for run in (fixed, bug):
        if run.failure is not None:
            return Verdict(reason=run.failure, detail=run.detail)
    extra = sorted(n for n, o in fixed.outcomes.items()
                   if "::" in n and o in PASSING and bug.outcomes.get(n) not in PASSING)
    if not extra or verdict.validation is None:
        return verdict
    validation = replace(verdict.validation, before={
        **verdict.validation.before, **{n: bug.outcomes.get(n, "missing") for n in extra}},
        after={**verdict.validation.after, **{n: fixed.outcomes[n] for n in extra}})
    return replace(verdict, fail_to_pass=tuple(sorted({*verdict.fail_to_pass, *extra})),
                   validation=validation,
                   messages={**verdict.messages, **{n: bug.messages.get(n, "") for n in extra}})


def problem_statement(verdict: Verdict) -> str:
    """What a bug report would say: which tests fail, and how."""
    lines = ["These tests fail and should pass:", ""]
    messages = verdict.messages
    for nodeid in verdict.fail_to_pass:
        message = (messages.get(nodeid) or "").strip().splitlines()
        lines.append(f"- {nodeid}" + (f": {message[0][:300]}" if message else ""))
    return "\n".join(lines)
