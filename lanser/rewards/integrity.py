"""Reward integrity (issue 16): grading measures what the task says, not what the candidate left.

The contract other packages use (``lanser.tasks.grading_snapshot``, the Scorer):

- :func:`restore_protected` puts a grading directory's protected files back as the
  task's base has them (tests, every ``conftest.py``, pytest's and the checkers'
  configuration, a task's ``protected`` globs) and strips the checker suppressions
  the candidate added; it returns the :class:`IntegrityFindings` caught.
- :func:`graded_tree` does the same to a git tree (the one-shot reward grades trees).
- :func:`run_findings` reads what a graded test run caught (tests that did not run,
  an early exit, an ``xfail``/skip the base did not have, forged channel lines).
- :data:`Finding` / :data:`KINDS`: the ``integrity`` list of every reward record
  (``rewards/SPEC.md`` §12). The functional prices them (``[integrity]`` of a
  profile, :func:`lanser.rewards.functional.phi_integrity`).

The file work lives in :mod:`lanser.runner.protected` (under the runner, which
restores the same files in a grading run's sandbox copy); this module is the
rewards-side face of it and the pure reading of test runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser.findings import KINDS, Finding, merge
from lanser.findings import to_json as findings_to_json
from lanser.rewards.functional import XFAIL_OUTCOMES, Goal, TestCredit
from lanser.runner.protected import (
    GLOBS,
    SECTIONS,
    DirFiles,
    Files,
    GitTree,
    Overlay,
    restore_dir,
    restore_tree,
)

#: The finding kinds a tree shows (the rest come from a test run).
TREE_KINDS = ("protected_edit", "suppression_added", "always_equal")


@dataclass(frozen=True)
class IntegrityFindings:
    """What grading caught, and the paths it rewrote (restored or stripped)."""

    findings: tuple[Finding, ...] = ()
    restored: tuple[str, ...] = ()

    def __iter__(self) -> Any:
        return iter(self.findings)

    def __bool__(self) -> bool:
        return bool(self.findings)

    def to_json(self) -> list[dict[str, Any]]:
        """The ``integrity`` list of a reward record."""
        return findings_to_json(self.findings)


def base_source(source: Files | str | Path | tuple[str | Path, str]) -> Files:
    """A base to restore from: a directory (a checkout of the base, with the task's
    ``test_patch`` applied when it has one), ``(repo, tree-ish)`` of a git
    repository, or a :class:`~lanser.runner.protected.Files` view."""
    if isinstance(source, tuple):
        return GitTree(Path(source[0]), source[1])
    if isinstance(source, (str, Path)):
        return DirFiles(Path(source))
    return source


def restore_protected(workdir: str | Path,
                      base_tree_source: Files | str | Path | tuple[str | Path, str],
                      extra_globs: Iterable[str] = (), *, config_files: Iterable[str] = (),
                      strip_suppressions: bool = True,
                      changed: dict[str, bytes | None] | None = None) -> IntegrityFindings:
    """Restore ``workdir``'s protected files from the base, in place; what was caught.

    ``extra_globs`` are a task's ``protected`` globs (``**/`` any folders, ``*``
    within a name); ``config_files`` a server's (``ServerSpec.config_files``).
    ``changed``: when the caller knows the only files that differ from the base (path
    -> their bytes in ``workdir``, None: removed), only those are read (the Scorer's
    hot path: listing and hashing a whole workspace per candidate cost ~70 ms).
    """
    base = base_source(base_tree_source)
    candidate = None if changed is None else Overlay(base, dict(changed))
    plan = restore_dir(workdir, base, tuple(extra_globs), tuple(config_files),
                       strip_suppressions, candidate=candidate)
    return IntegrityFindings(plan.findings, tuple(sorted(plan.changes)))


def graded_tree(repo: str | Path, tree: str, base_tree: str, extra_globs: Iterable[str] = (),
                *, config_files: Iterable[str] = ()) -> tuple[str, IntegrityFindings]:
    """The tree grading measures for candidate ``tree`` on ``base_tree`` (same repo)."""
    new_tree, plan = restore_tree(repo, tree, base_tree, tuple(extra_globs),
                                  tuple(config_files))
    return new_tree, IntegrityFindings(plan.findings, tuple(sorted(plan.changes)))


def listed_test_files(task_ids: Iterable[str]) -> tuple[str, ...]:
    """The files of listed node ids (``tests/test_x.py::test_y`` -> the file): the
    task's own tests are protected whatever they are named."""
    return tuple(sorted({i.split("::", 1)[0] for i in task_ids if "::" in i}))


def run_findings(tests: Iterable[TestCredit], task: Goal,
                 recorded: Iterable[Finding] = ()) -> tuple[Finding, ...]:
    """What a graded run shows about the task's tests, plus what the runner recorded.

    ``outcome_missing``: a graded test with no record of its own (not collected,
    deselected, the process ended first); ``xfail_added``/``skip_added``: one that
    xfailed/xpassed or was skipped although the base run did not do that to it
    (the code under test can call ``pytest.xfail()``/``pytest.skip()``).
    """
    by_id = {t.nodeid: t for t in tests}
    missing, xfail, skipped = [], [], []
    known_base = bool(task.base_graded)
    for nodeid in task.universe:
        test = by_id.get(nodeid)
        if test is None:
            missing.append(nodeid)
        elif test.outcome in XFAIL_OUTCOMES and nodeid not in task.base_xfail:
            xfail.append(nodeid)
        elif test.credit_ppm is None and (nodeid in task.base_graded or not known_base):
            skipped.append(nodeid)
    return merge([*recorded, Finding("outcome_missing", len(missing), tuple(missing)),
                  Finding("xfail_added", len(xfail), tuple(xfail)),
                  Finding("skip_added", len(skipped), tuple(skipped))])


__all__ = ["GLOBS", "KINDS", "SECTIONS", "TREE_KINDS", "Finding", "IntegrityFindings",
           "base_source", "graded_tree", "listed_test_files", "restore_protected",
           "run_findings"]
