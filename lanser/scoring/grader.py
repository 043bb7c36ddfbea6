"""One task's warm grading workspace: prepared once, then apply → observe → reward → reset.

:meth:`TaskGrader.start` materializes the task's base tree from its clone (objects
borrowed, not copied), lays the test_patch over it and commits that as the
workspace's rest state R, starts the language server and caches R's diagnostics and
test outcomes: the before side of every candidate. Then for each completion:

1. parse it (:mod:`lanser.scoring.parse`) and locate its blocks
   (:mod:`lanser.scoring.patching`) in the files *as the agent saw them*: the base,
   or R when the task shows its test_patch;
2. drop what the candidate may not influence (:func:`restore_paths`): the files the
   test_patch touches and every file the one protected rule names (tests, every
   ``conftest.py``, pytest's and the checkers' files, the task's ``protected``
   globs: :mod:`lanser.runner.protected`). They stay as R has them, listed under
   ``integrity`` (``protected_edit``); after the apply, protected sections of shared
   files are restored and added suppressions stripped the same way;
3. apply the rest through the safety envelope (jail, syntax check, journaled
   write); a refusal is a scored ``refused`` result;
4. observe the whole workspace's diagnostics incrementally (the warm service pulls
   only the files that may differ) and run the listed tests in the sandbox;
5. compute one ``patch`` step of the functional (``rewards/SPEC.md``) from R;
6. put back the exact bytes the envelope recorded, and check the working tree's git
   tree hash is R's again (else a hard reset, checked again, or the worker fails).

A completion with no edit, one that does not fit, or one that changes nothing is
``invalid`` (the profile's invalid-action penalty) and touches nothing.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from lanser import git, rewards
from lanser.errors import LanserError, ServerTimeout, UsageError
from lanser.rewards import ActionInfo, DiagnosticKey, Profile, State, TestCredit
from lanser.runner.protected import is_protected
from lanser.scoring.completion import parse_completion
from lanser.scoring.parse import Parsed
from lanser.scoring.patching import changes, resolve
from lanser.scoring.result import ScoreResult, completion_hash
from lanser.scoring.tasks import ScoringTask

#: The functional's task record (``Goal`` once issue 18's rename lands on main).
_Goal = rewards.Goal
PPM = 1_000_000


def restore_paths(task: ScoringTask, test_paths: frozenset[str], path: str) -> bool:
    """Whether ``path`` is a whole file grading restores (module docstring, step 2):
    the test_patch's files and the one protected rule of
    :func:`lanser.runner.protected.is_protected` (tests, conftests, the checkers' and
    pytest's files, the task's ``protected`` globs)."""
    return path in test_paths or is_protected(path, task.protected)


def _git(root: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None
         ) -> str:
    from lanser.episodes.snapshots import git

    return git(root, *args, input=input, env=env)


def _norm(path: str) -> str:
    """Lexically normal: ``./a//b`` is ``a/b``; ``..`` and absolute paths are kept for
    the jail to refuse."""
    if not path or path.startswith("/"):
        return path
    return posixpath.normpath(path)


class TaskGrader:
    """The warm grading workspace of one task in one worker (module docstring)."""

    def __init__(self, task: ScoringTask, profile: Profile, *, scratch: Path,
                 server: str | None = None, timeout: float = 60.0,
                 test_timeout: float = 60.0) -> None:
        self.task = task
        self.profile = profile
        self.scratch = scratch
        self.server = server
        self.timeout = timeout
        self.test_timeout = test_timeout
        self.service: Any = None
        self._spare: Any = None  # the next test run's sandbox, made ready (_tests)
        self.root = Path()
        self.rest_tree = ""
        self.agent_tree = ""
        self.test_paths: frozenset[str] = frozenset()
        self.run_tests = bool(profile.weights.get("tests") or (
            profile.weights.get("outcome") and task.lists_tests))
        self.see_diagnostics = bool(profile.weights.get("diagnostics"))

    # -- preparation ----------------------------------------------------------------

    async def start(self) -> TaskGrader:
        from lanser.edits import Envelope
        from lanser.episodes import snapshots
        from lanser.workspace import Workspace

        repo = Workspace.open(self.task.repo_dir)
        try:
            base_tree = _git(repo.root, "rev-parse", "--verify",
                             f"{self.task.base_commit}^{{tree}}")
        except LanserError:
            raise UsageError(f"{self.task.instance_id}: base commit "
                             f"{self.task.base_commit[:12]} is not in {repo.root.name}",
                             code="bad_task") from None
        self.root = Path(tempfile.mkdtemp(prefix="ws-", dir=self.scratch))
        snapshots.materialize(repo, base_tree, self.root / "ws")
        self.root = self.root / "ws"
        rest = base_tree
        if self.task.test_patch.strip():
            rest = self._tree_with(base_tree, self.task.test_patch)
            _git(self.root, "read-tree", "-u", "--reset", rest)
            commit = _git(self.root, "commit-tree", rest, "-m", "test_patch",
                          env=snapshots._FIXED)
            _git(self.root, "update-ref", "HEAD", commit)
        self.rest_tree = rest
        self._rest_files: Any = None  # R as a git tree view, made at the first restore
        self.agent_tree = rest if self.task.test_patch_visible else base_tree
        names = _git(self.root, "diff-tree", "-r", "--no-renames", "--name-only", "-z",
                     base_tree, rest) if rest != base_tree else ""
        self.test_paths = frozenset(p for p in names.split("\0") if p)
        self.workspace = Workspace.open(self.root)
        self.envelope = Envelope(self.workspace, allow_dirty=True)
        # The snapshot of R is the record; a per-apply history here is waste.
        self.envelope.settings = replace(self.envelope.settings, record=False)
        self.base_diagnostics: tuple[DiagnosticKey, ...] = ()
        if self.see_diagnostics:
            from lanser.lsp.registry import get_server
            from lanser.lsp.service import LanguageService

            # Never the workspace's own server config: task content chooses no program.
            spec = get_server(self.server, None) if self.server else get_server("basedpyright")
            self.service = await LanguageService(self.workspace, spec, timeout=self.timeout,
                                                 track_disk=True).start()
            self.base_diagnostics = await self._diagnostics()
        self.base_tests = await self._tests() if self.run_tests else ()
        self.goal = _Goal(self.base_diagnostics, frozenset(self.task.targets),
                          self.task.fail_to_pass, self.task.pass_to_pass)
        self.base_state = State(self.base_diagnostics, self.base_tests)
        self.verify_reset()
        return self

    def _tree_with(self, tree: str, patch: str) -> str:
        try:
            return git.tree_with_patch(self.root, tree, patch)
        except git.PatchDoesNotApply as exc:
            raise UsageError(f"{self.task.instance_id}: the test_patch does not apply "
                             f"to the base ({exc.message})", code="bad_task") from None

    async def close(self) -> None:
        if self._spare is not None:
            self._spare.close()
            self._spare = None
        if self.service is not None:
            await self.service.close()
            self.service = None

    # -- observation -----------------------------------------------------------------

    async def _diagnostics(self) -> tuple[DiagnosticKey, ...]:
        files = await self.service.diagnostics()
        late = [f.path for f in files if not f.ready]
        if late:
            raise ServerTimeout(f"no diagnostics in time for {', '.join(late[:5])}",
                                paths=late)
        return tuple(DiagnosticKey.from_diagnostic(d) for f in files for d in f.diagnostics)

    async def _tests(self, effects: Any = ()) -> tuple[TestCredit, ...]:
        from lanser.runner import run_tests
        from lanser.runner.protected import Protect
        from lanser.runner.run import ready_sandbox

        # A grading run: protected files put back in the sandbox copy, and a run that
        # produced nothing (sys.exit at import) is a scored failure, not a lost sample.
        protect = Protect(self.rest_tree, globs=self.task.protected)
        # This run takes the sandbox made ready during the last one (its child already
        # isolated, pytest imported, R copied: only this candidate's files are left),
        # and the next candidate's starts now, on the core this run's pytest leaves
        # free: R is this tree with the candidate's files put back.
        box, self._spare = self._spare, None
        result, spare = await asyncio.gather(
            asyncio.to_thread(run_tests, self.workspace, args=self.task.test_run_args(),
                              timeout=self.test_timeout, protect=protect, sandbox=box,
                              changed=[e.path for e in effects]),
            asyncio.to_thread(ready_sandbox, self.workspace, timeout=self.test_timeout,
                              put={e.path: (e.before, e.before_mode) for e in effects}),
            return_exceptions=True)
        if not isinstance(spare, BaseException):
            self._spare = spare
        if isinstance(result, BaseException):
            raise result
        return tuple(TestCredit.from_json(t.to_json(volatile=False)) for t in result.tests)

    # -- one candidate ---------------------------------------------------------------

    def _agent_text(self, rel: str) -> str | None:
        """``rel`` as the agent saw it (git's blob in the agent tree; None: absent)."""
        from lanser.positions import decode_source

        try:
            data = _git_bytes(self.root, self.agent_tree, rel)
        except FileNotFoundError:
            return None
        return decode_source(data, Path(rel))

    def _read(self, rel: str) -> str | None:
        """What a block is located in: a restored path as the agent saw it, any other
        through the jail (outside the workspace: refused before any read)."""
        from lanser.edits.sources import read_text_or_none

        if restore_paths(self.task, self.test_paths, rel) and not rel.startswith(("../", "/")):
            return self._agent_text(rel)
        if self.agent_tree != self.rest_tree and rel in self.test_paths:
            return self._agent_text(rel)
        source = read_text_or_none(self.envelope.jail.check(rel).path)
        return None if source is None else source.text

    def _disk(self, rel: str) -> str | None:
        from lanser.edits.sources import read_text_or_none

        source = read_text_or_none(self.root / rel)
        return None if source is None else source.text

    async def score(self, completion: str, fmt: str = "auto") -> ScoreResult:
        parsed = parse_completion(completion, fmt)
        if parsed.ok:
            parsed = Parsed(parsed.format, tuple(replace(op, path=_norm(op.path))
                                                 for op in parsed.ops), notes=parsed.notes)
        found = resolve(parsed, self._read)
        base = dict(instance_id=self.task.instance_id,
                    completion_sha256=completion_hash(completion), format=parsed.format,
                    notes=parsed.notes, profile=self.profile.hash)
        if not found.ok:
            return self._penalized(base, found.status, found.reason, found.detail)
        kept = {p: c for p, c in found.contents.items()
                if not restore_paths(self.task, self.test_paths, p)}
        restored = sorted(p for p, c in found.contents.items()
                          if p not in kept and c != self._agent_text(p))
        integrity = ({"kind": "protected_edit", "count": len(restored),
                      "paths": restored},) if restored else ()
        edits = changes(kept, self._disk)
        if not edits:
            return self._penalized(base, "invalid", "no_change",
                                   "the completion changes no file grading looks at",
                                   integrity=integrity, fuzz=found.fuzz)
        from lanser.edits.verify import refuse_syntax_errors

        try:
            preview = self.envelope.preview(edits, origin="score")
            refuse_syntax_errors(preview)
            self.envelope.apply(preview)
        except UsageError as exc:
            self.verify_reset()
            return self._penalized(base, "refused", exc.code, self._scrub(exc.message),
                                   integrity=integrity, fuzz=found.fuzz)
        try:
            integrity = (*integrity, *self._restore_protected(preview.effects))
            return await self._observe(base, preview.effects, integrity, found.fuzz)
        finally:
            self.reset(preview.effects)

    def _restore_protected(self, effects: Any) -> tuple[dict[str, Any], ...]:
        """After the apply: the protected sections of shared files (pyproject's
        ``[tool.pytest*]``, ``[tool.pyright]``, ...) put back as R has them and the
        suppressions the candidate added stripped (rewards/SPEC.md §12), by the same
        rule as the one-shot reward; what was caught, for the record. Only the files
        the apply wrote are read (the rest is R, checked at every reset)."""
        from lanser.rewards.integrity import restore_protected
        from lanser.runner.protected import GitTree, Overlay

        if self._rest_files is None:
            self._rest_files = GitTree(self.root, self.rest_tree)
        before = Overlay(self._rest_files, {e.path: e.before for e in effects})
        changed = {e.path: e.after for e in effects}
        caught = restore_protected(self.root, before, self.task.protected, changed=changed)
        return tuple(caught.to_json())

    async def _observe(self, base: dict[str, Any], effects: Any,
                       integrity: tuple[dict[str, Any], ...], fuzz: int) -> ScoreResult:
        info = ActionInfo("patch")
        diagnostics, tests = await self._observe_both(effects)
        changed = sorted(e.path for e in effects)
        deleted = sorted(e.path for e in effects if e.after is None)
        state = rewards.advance(self.base_state, info, diagnostics=diagnostics, tests=tests,
                                changed=changed, deleted=deleted)
        reward = rewards.step_reward(self.base_state, state, info, self.profile, self.goal)
        before, after = Counter(self.base_diagnostics), Counter(diagnostics)
        return ScoreResult(**base, status="ok", reward_value=reward, fuzz=fuzz,
                           changed=tuple(changed), integrity=integrity,
                           resolved=rewards.resolved(state, self.goal),
                           tests=self._test_summary(state) if tests is not None else None,
                           diagnostics={"added": sum((after - before).values()),
                                        "removed": sum((before - after).values())}
                           if self.see_diagnostics else None)

    async def _observe_both(self, effects: Any) -> tuple[tuple[DiagnosticKey, ...],
                                          tuple[TestCredit, ...] | None]:
        """The diagnostics and the test run side by side (the server and the sandboxed
        pytest are separate processes): a candidate costs the longer of the two, not the
        sum. Both finish before anything else happens (the reset must not race the
        sandbox's copy of the workspace); the first failure is raised after."""
        async def nothing() -> None:
            return None

        diagnostics, tests = await asyncio.gather(
            self._diagnostics() if self.see_diagnostics else nothing(),
            self._tests(effects) if self.run_tests else nothing(), return_exceptions=True)
        for outcome in (diagnostics, tests):
            if isinstance(outcome, BaseException):
                raise outcome
        return diagnostics or (), tests  # type: ignore[return-value]

    def _test_summary(self, state: State) -> dict[str, Any]:
        credit = {t.nodeid: t.credit_ppm or 0 for t in state.tests}

        def count(ids: tuple[str, ...]) -> list[int]:
            ids = tuple(sorted(set(ids)))
            return [sum(credit.get(i, 0) >= PPM for i in ids), len(ids)]

        return {"fail_to_pass": count(self.task.fail_to_pass),
                "pass_to_pass": count(self.task.pass_to_pass)}

    def _penalized(self, base: dict[str, Any], status: str, reason: str | None, detail: str,
                   *, integrity: tuple[dict[str, Any], ...] = (), fuzz: int = 0
                   ) -> ScoreResult:
        info = ActionInfo("patch", "invalid" if status == "invalid" else "refused", reason)
        reward = rewards.step_reward(self.base_state, self.base_state, info, self.profile,
                                     self.goal)
        return ScoreResult(**base, status=status, reward_value=reward, reason=reason,
                           detail=detail, fuzz=fuzz, integrity=integrity)

    def _scrub(self, text: str) -> str:
        return text.replace(str(self.root), "<workspace>")

    # -- reset ---------------------------------------------------------------------

    def reset(self, effects: Any) -> None:
        """The exact bytes and modes from before the apply, then the tree hash checked."""
        for effect in reversed(effects):
            target = self.root / effect.path
            if effect.before is None:
                target.unlink(missing_ok=True)
                parent = target.parent
                while parent != self.root and parent.is_dir() and not any(parent.iterdir()):
                    parent.rmdir()
                    parent = parent.parent
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(effect.before)
            if effect.before_mode is not None:
                os.chmod(target, effect.before_mode)
        self.verify_reset()

    def verify_reset(self) -> None:
        """R's tree hash, or a hard reset to R; a reset that does not hold is fatal."""
        from lanser.bundles.snapshot import working_tree_hash

        if working_tree_hash(self.workspace) == self.rest_tree:
            return
        if self._spare is not None:  # prefilled with R as the tree before this one
            self._spare.close()
            self._spare = None
        _git(self.root, "read-tree", "-u", "--reset", self.rest_tree)
        _git(self.root, "clean", "-ffdqx", "-e", "/.lanser")
        if working_tree_hash(self.workspace) != self.rest_tree:
            raise LanserError(f"{self.task.instance_id}: the grading workspace did not "
                              "reset to its base tree", code="reset_failed")


def _git_bytes(root: Path, tree: str, rel: str) -> bytes:
    from lanser import git

    out = git.run(root, "cat-file", "blob", f"{tree}:{rel}", binary=True, check=False,
                  timeout=60)
    if out is None:
        raise FileNotFoundError(rel)
    return out


__all__ = ["TaskGrader", "restore_paths"]
