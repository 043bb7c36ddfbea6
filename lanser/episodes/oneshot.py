"""The one-shot reward (``lanser reward``): one step from a before revision to an after state.

RL trainers that score a final patch rather than a trajectory want one number for
"this change, on this base". That is exactly one step of the functional
(``rewards/SPEC.md`` §4) from the state of the before snapshot to the state of the
after snapshot, taken by one ``patch`` action, so the one-shot reward and a recorded
episode that ends in the same tree agree component by component (Theorem 2: a
trajectory's potential components telescope to the same difference).

The after side is, in this order of precedence:

- ``patch``: the before *tree* with a unified diff applied (not the working tree: a
  trainer's patch is written against the task's base). It goes through the safety
  envelope in a scratch checkout, so a diff that does not match, leaves the jail or
  breaks the syntax of a file is a *scored refusal* (status ``refused``, reason = the
  envelope's error code, the after state is the before state, the profile's safety
  penalty applies), never an error: a trainer gets a number for every sample. Text
  that is not a unified diff is an invalid action (status ``invalid``, reason
  ``bad_diff``, the invalid-action penalty), as in an episode. An empty diff is the
  empty change (status ``ok``, every component 0).
- ``after``: the tree of a revision.
- neither: the working tree as it is now (what ``git diff BEFORE`` would show, untracked
  files git does not ignore included), so ``lanser reward`` alone scores the
  uncommitted work against ``HEAD``.

Both sides are observed in *one* scratch repository materialized from the before tree
(the user's working tree is never written), with one warm server following it as it
is reset to the after tree (``git read-tree -u --reset``, as ``replay --reexecute``
does). The after tree of a patch is built from the envelope's exact bytes in the
user's object store and kept alive by its snapshot ref, then checked out the same way,
so ``--patch P`` and ``--after REV`` with the same tree observe the very same
checkout and give the same reward. Diagnostics are always observed fresh, both sides
in the same place by the same server: a diagnostics bundle cached from the user's
working tree (where ignored files such as a ``.venv`` can change what resolves) is
not comparable with one from a scratch checkout, so nothing is reused (the observer
remembers nothing). Its bundles are filed in the user's store by hash, so the hashes
it reports can be looked up (``BundleStore.by_hash``) later.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lanser.bundles.store import BundleStore
from lanser.canonical import bytes_hash
from lanser.episodes import snapshots
from lanser.episodes.actions import InvalidAction
from lanser.episodes.observer import Observer
from lanser.episodes.patches import patch_changes
from lanser.episodes.recorder import task_globs, wants_tests
from lanser.episodes.snapshots import Snapshot
from lanser.episodes.states import base_state, next_state, task_of
from lanser.episodes.task import TaskSpec
from lanser.errors import UnreadableFile, UsageError
from lanser.findings import to_json as findings_to_json
from lanser.rewards import (
    ActionInfo,
    Goal,
    Profile,
    Reward,
    State,
    potentials,
    resolved,
    step_reward,
)
from lanser.rewards.profile import fraction_text
from lanser.runner.protected import Protect
from lanser.workspace import Workspace

#: Where the after side came from (``source`` in the JSON).
SOURCES = ("patch", "rev", "working_tree")


def read_patch(given: str | Path) -> str:
    """The text of a patch file (``-``: stdin), line breaks kept byte for byte.

    Not ``read_text``: universal newlines would turn a CRLF diff into an LF one, and
    its context lines would then no longer match a CRLF file.
    """
    if str(given) == "-":
        data = sys.stdin.buffer.read()
    else:
        from lanser.jsonio import read_bounded

        # bounded, a regular file: /dev/zero or a FIFO is exit 2, not a hang
        data = read_bounded(given, what="patch")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{given}: the patch is not UTF-8 ({exc.reason})",
                             path=str(given)) from None


@dataclass(frozen=True)
class Side:
    """One observed side: its snapshot and the bundles its state was built from."""

    rev: str | None
    snapshot: Snapshot
    diagnostics: dict[str, Any]
    tests: dict[str, Any] | None
    state: State

    def to_json(self, task: Goal, profile: Profile) -> dict[str, Any]:
        from lanser.queries.ops import diagnostics_summary

        phis = potentials(self.state, task, profile)
        return {
            "rev": self.rev, "tree": self.snapshot.tree, "commit": self.snapshot.commit,
            "diagnostics": {"bundle": self.diagnostics["hash"],
                            "summary": diagnostics_summary(self.diagnostics["facts"]["files"])},
            "tests": None if self.tests is None else
            {"bundle": self.tests["hash"], "summary": self.tests["facts"]["summary"],
             "missing": _missing(self.tests, task)},
            "potentials": {k: fraction_text(v) for k, v in sorted(phis.items())},
            "resolved": resolved(self.state, task),
        }


@dataclass(frozen=True)
class OneShot:
    """A scored change: the reward, and everything it was computed from."""

    profile: Profile
    task: TaskSpec
    functional_task: Goal
    source: str
    before: Side
    after: Side
    changed: list[str]
    info: ActionInfo
    reward: Reward
    edit: dict[str, Any] | None = None
    patch_hash: str | None = None
    #: the tree grading measured (the after tree with protected files restored and
    #: added suppressions stripped: issue 16); the after tree itself when clean
    graded: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``Reward.to_json()`` at the top (what trainers read), the evidence beside it.

        No clock, host or absolute path: the same change on the same base with the
        same server and profile prints the same bytes.
        """
        return {
            **self.reward.to_json(),
            "status": self.info.status, "reason": self.info.reason,
            "profile": {"name": self.profile.name, "hash": self.profile.hash},
            "task": self.task.to_json(),
            "server": self.before.diagnostics["server"],
            "source": self.source,
            "before": self.before.to_json(self.functional_task, self.profile),
            "after": self.after.to_json(self.functional_task, self.profile),
            "changed": list(self.changed),
            "graded": {"tree": self.graded or self.after.snapshot.tree},
            "integrity": findings_to_json(self.after.state.integrity),
            "edit": self.edit,
            "patch": None if self.patch_hash is None else {"sha256": self.patch_hash},
        }


async def score(workspace: Workspace, *, before: str = "HEAD", after: str | None = None,
                patch: str | None = None, profile: Profile, task: TaskSpec, spec: Any,
                timeout: float, test_timeout: float) -> OneShot:
    """Score the change from revision ``before`` to ``after`` / ``patch`` / the working tree.

    Raises :class:`UsageError` (exit 2) for what the caller got wrong: both ``after``
    and ``patch``, a workspace outside git, a revision git does not know. A patch
    the envelope refuses is not an error (module docstring).
    """
    if after is not None and patch is not None:
        raise UsageError("give --after or --patch, not both: the after side is one of "
                         "a revision, a patch on the before tree, or the working tree",
                         code="usage")
    async with Grader(workspace, before=before, profile=profile, task=task, spec=spec,
                      timeout=timeout, test_timeout=test_timeout) as grader:
        return await grader.score(after=after, patch=patch)


class Grader:
    """One base, many candidates: the before side observed once, one warm server.

    The scratch checkout is reset to the before tree between candidates (``git
    read-tree -u --reset`` and ``git clean``), so each candidate is graded exactly as
    :func:`score` alone would grade it (the same bundles, the same numbers); what is
    saved is the server's start and the before side's observation.
    """

    def __init__(self, workspace: Workspace, *, before: str = "HEAD", profile: Profile,
                 task: TaskSpec, spec: Any, timeout: float, test_timeout: float) -> None:
        if not workspace.is_git:
            raise UsageError(f"{workspace.root}: lanser reward needs a git repository (it "
                             "scores the change between two git trees); run `git init` and "
                             "commit the base there first", code="not_git")
        self.workspace, self.before, self.profile, self.task = workspace, before, profile, task
        self.spec, self.timeout, self.test_timeout = spec, timeout, test_timeout
        self.before_snap = snapshots.of_rev(workspace, before)
        self.run_tests = wants_tests(profile, task)
        self._tmp: Any = None
        self._observer: Any = None
        #: seconds spent on the integrity steps (restoring, stripping), for benchmarks
        self.integrity_seconds = 0.0

    async def __aenter__(self) -> Grader:
        self._tmp = tempfile.TemporaryDirectory(prefix="lanser-reward-")
        try:
            self.scratch = snapshots.materialize(self.workspace, self.before_snap.tree,
                                                 Path(self._tmp.name) / "ws")
            self.copy = Workspace.open(self.scratch)
            self._observer = Observer(self.copy, self.spec, timeout=self.timeout,
                                      test_timeout=self.test_timeout, remember=False)
            observer = await self._observer.__aenter__()
            observer.store = BundleStore(self.workspace)  # bundles filed by hash, for later
            # grading runs: a run the code under test ends early is a scored failure,
            # and the sandbox copy's protected files are checked once more
            observer.protect = Protect(self.before_snap.tree, repo=self.workspace.root,
                                       globs=task_globs(self.task),
                                       config_files=tuple(getattr(self.spec, "config_files",
                                                                  ())))
            self.b_diag = await observer.diagnostics(self.before_snap.tree)
            self.b_tests = (await observer.tests(self.task.test_args))[0] \
                if self.run_tests else None
        except BaseException:
            await self.__aexit__()
            raise
        self.functional_task = task_of(self.task.to_json(), self.b_diag, self.b_tests)
        self.b_state = base_state(self.b_diag, self.b_tests, self.functional_task)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._observer is not None:
            await self._observer.__aexit__(*exc)
            self._observer = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _reset(self) -> None:
        snapshots.git(self.scratch, "read-tree", "-u", "--reset", self.before_snap.tree)
        snapshots.git(self.scratch, "clean", "-fdq", "-e", ".lanser")

    async def score(self, *, after: str | None = None, patch: str | None = None) -> OneShot:
        """One candidate: a revision, a patch on the before tree, or the working tree."""
        import time

        workspace, before_snap, task = self.workspace, self.before_snap, self.task
        source = "patch" if patch is not None else "rev" if after is not None \
            else "working_tree"
        after_snap: Snapshot | None = None
        if source == "rev":
            after_snap = snapshots.of_rev(workspace, after or "")
        elif source == "working_tree":
            after_snap = snapshots.take(workspace)
        b_diag, b_tests = self.b_diag, self.b_tests
        observer = self._observer
        self._reset()
        info = ActionInfo("patch")
        edit = None
        if patch is not None:
            try:
                result, effects = _apply(self.copy, patch)
            except InvalidAction as exc:  # not a diff: the invalid-action penalty
                result, effects = None, ()
                info = ActionInfo("patch", "invalid", exc.code)
            edit = None if result is None else result.to_json()
            if result is not None and not result.ok:
                info = ActionInfo("patch", "refused", result.reason)
                after_snap = before_snap
            else:
                after_snap = _kept_tree(workspace, before_snap.tree, effects) \
                    if effects else before_snap
        assert after_snap is not None
        began = time.perf_counter()
        graded, found = grade_tree(workspace, before_snap.tree, after_snap.tree, task,
                                   self.spec)
        self.integrity_seconds += time.perf_counter() - began
        a_diag, a_tests = b_diag, b_tests
        if graded != before_snap.tree:
            snapshots.git(self.scratch, "read-tree", "-u", "--reset", graded)
            try:
                a_diag = await observer.diagnostics(graded)
            except UnreadableFile as exc:
                # a file no server can read (not UTF-8, too large): a scored refusal,
                # as the envelope would refuse it, never a missing number
                info = ActionInfo("patch", "refused", exc.code)
                after_snap, graded, found = before_snap, before_snap.tree, None
                a_diag = b_diag
            else:
                a_tests = (await observer.tests(task.test_args))[0] if self.run_tests \
                    else None
        # else nothing graded changed: the same bundles, so the no-op is exactly 0 even
        # with a flaky test (SPEC §5, corollary "no-op")
        changed, deleted = snapshots.tree_changes(workspace, before_snap.tree, graded)
        b_state, functional_task = self.b_state, self.functional_task
        a_state = next_state(b_state, info, a_diag, a_tests, changed, deleted,
                             task=functional_task,
                             tree_findings=found.findings if found else ())
        reward = step_reward(b_state, a_state, info, self.profile, functional_task)
        return OneShot(self.profile, task, functional_task, source,
                       Side(self.before, before_snap, b_diag, b_tests, b_state),
                       Side(after if source == "rev" else None, after_snap, a_diag, a_tests,
                            a_state),
                       changed, info, reward, edit,
                       None if patch is None else bytes_hash(patch.encode("utf-8")), graded)


def grade_tree(workspace: Workspace, base_tree: str, tree: str, task: TaskSpec,
               spec: Any) -> tuple[str, Any]:
    """The tree grading measures for ``tree`` (issue 16), kept by a snapshot ref, and
    what was caught: the task's tests (listed ids' files too), conftests, pytest's and
    the server's configuration restored from ``base_tree``, added suppressions
    stripped (:func:`lanser.rewards.integrity.graded_tree`)."""
    from lanser.rewards.integrity import graded_tree

    if tree == base_tree:
        return tree, None
    graded, found = graded_tree(workspace.root, tree, base_tree, task_globs(task),
                                config_files=getattr(spec, "config_files", ()))
    if graded != tree and graded != base_tree:
        snapshots.keep(workspace, graded)
    return graded, found


def _apply(copy: Workspace, patch: str) -> tuple[Any, tuple[Any, ...]]:
    """Apply ``patch`` in the scratch ``copy`` through the envelope.

    Returns the envelope's record (None for an empty diff: the empty change) and the
    file effects. A refusal (mismatch, jail, deny rule, new syntax error) is returned
    as a ``refused`` record, the same way the episode recorder scores a ``patch``
    action; text that is not a diff raises :class:`InvalidAction`. No
    verify-and-roll-back: new errors are what the diagnostics component measures,
    once, rather than a rollback erasing the change.
    """
    from lanser.edits import ApplyResult, Envelope
    from lanser.edits.verify import refuse_syntax_errors

    if not patch.strip():
        return None, ()
    envelope = Envelope(copy, allow_dirty=True)
    # The snapshot ref is the record; a per-apply history in a scratch repo is waste.
    envelope.settings = replace(envelope.settings, record=False)
    preview = None
    try:
        preview = envelope.preview(patch_changes(envelope, patch), origin="reward:patch")
        refuse_syntax_errors(preview)
        return envelope.apply(preview), preview.effects
    except InvalidAction:
        raise
    except UsageError as exc:
        return ApplyResult.refused(exc, preview), ()


def _git_mode(mode: int | None) -> str:
    return "100755" if mode is not None and mode & 0o111 else "100644"


def _kept_tree(workspace: Workspace, base_tree: str, effects: tuple[Any, ...]) -> Snapshot:
    """``base_tree`` with ``effects`` (exact bytes) applied, written to the user's repo.

    Built through a private index from the effects rather than by snapshotting the
    scratch directory, whose untracked files (ignored or not) are no part of the
    change; kept by a snapshot ref so the reported tree can be checked out, diffed or
    passed back as ``--after`` later.
    """
    root = workspace.root
    with tempfile.TemporaryDirectory(prefix="lanser-reward-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        snapshots.git(root, "read-tree", base_tree, env=env)
        written = [e for e in effects if e.after is not None]
        blobs: list[str] = []
        if written:
            names = []
            for n, effect in enumerate(written):
                name = Path(tmp) / f"blob-{n}"
                name.write_bytes(effect.after)
                names.append(str(name))
            blobs = snapshots.git(root, "hash-object", "-w", "--no-filters", "--stdin-paths",
                                  input="\n".join(names) + "\n").split()
        zero = "0" * len(base_tree)
        records = [f"{_git_mode(e.after_mode)} {sha}\t{e.path}"
                   for e, sha in zip(written, blobs, strict=True)]
        records += [f"0 {zero}\t{e.path}" for e in effects if e.after is None]
        if records:
            snapshots.git(root, "update-index", "-z", "--index-info",
                          input="".join(r + "\0" for r in records), env=env)
        tree = snapshots.git(root, "write-tree", env=env)
    return snapshots.keep(workspace, tree)


__all__ = ["SOURCES", "Grader", "OneShot", "Side", "grade_tree", "read_patch", "score"]


def _missing(tests: dict[str, Any], task: Goal) -> list[str]:
    """Listed ids no test of the run answered (misspelled, or gone): named, not just
    counted as failing (issue 15, defect 8). A module that failed to collect answers
    for its tests."""
    ran = {t["nodeid"] for t in tests["facts"]["tests"]}
    return sorted(i for i in {*task.fail_to_pass, *task.pass_to_pass}
                  if i not in ran and i.split("::", 1)[0] not in ran)
