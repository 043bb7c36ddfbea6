"""Run an episode online: actions in, observations and step rewards out, all recorded.

:class:`Recorder` is the engine behind ``lanser episode serve|run`` and ``lanser demo``.
Per action: check it, carry it out (edits through the safety envelope, verified),
snapshot the working tree, observe (diagnostics, tests when they ran), build the next
state from the bundles (:mod:`lanser.episodes.states`, the same code replay uses),
score the step, append the step line. A bad action costs the invalid-action penalty
and leaves the workspace as it was; the episode goes on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lanser import __version__
from lanser.canonical import content_hash
from lanser.episodes import snapshots
from lanser.episodes.actions import MUTATING, Action, InvalidAction, parse_action
from lanser.episodes.format import SCHEMA, Writer
from lanser.episodes.observer import Observer
from lanser.episodes.patches import patch_changes
from lanser.episodes.states import (
    ENVELOPE_STATUS,
    base_state,
    confidence_text,
    next_state,
    task_of,
    test_credits,
    tested_tree,
)
from lanser.episodes.task import TaskSpec
from lanser.errors import NotResolved, UsageError
from lanser.findings import to_json as findings_to_json
from lanser.lsp.facts import FileChange, TextEdit
from lanser.positions import Position, Span
from lanser.rewards import ActionInfo, Profile, Reward, State, episode_return, resolved, step_reward
from lanser.runner.protected import Protect
from lanser.workspace import Workspace


def task_globs(task: TaskSpec) -> tuple[str, ...]:
    """A task's own ``protected`` globs and the files of its listed tests (issue 16)."""
    from lanser.rewards.integrity import listed_test_files

    return (*task.protected, *listed_test_files((*task.fail_to_pass, *task.pass_to_pass,
                                                 *task.hidden_tests)))


def wants_tests(profile: Profile, task: TaskSpec) -> bool:
    """Whether the profile looks at tests at all (else none run unless asked for)."""
    return bool(profile.weights.get("tests") or
                (profile.weights.get("outcome") and task.lists_tests))


@dataclass
class Recorder:
    workspace: Workspace
    observer: Observer
    profile: Profile
    task: TaskSpec
    writer: Writer
    verify: bool = True
    steps: int = 0
    done: bool = False
    rewards: list[Reward] = field(default_factory=list)
    #: The task's tests on the final tree, run by :meth:`settle` for the footer.
    final_tests: dict[str, Any] | None = None
    _base_files: Any = None

    async def start(self) -> dict[str, Any]:
        """Observe the base snapshot and write the header."""
        snapshots.require_git(self.workspace)
        self.base = self.observer.snapshot()
        base_diag = await self.observer.diagnostics(self.base.tree)
        base_tests = None
        if wants_tests(self.profile, self.task):
            base_tests, _ = await self.observer.tests(self.task.test_args)
        self.functional_task = task_of(self.task.to_json(), base_diag, base_tests)
        self.state: State = base_state(base_diag, base_tests, self.functional_task)
        self.diag = base_diag
        self.last = self.base
        #: The tree the state's tests were run on (None: no scored run yet).
        self.tree_tested = self.base.tree if base_tests is not None else None
        # issue 16: every later test run restores the task's protected files from the
        # base in its sandbox copy (edits to them are refused below, this is the rest)
        self.observer.protect = Protect(self.base.tree, repo=self.workspace.root,
                                        globs=task_globs(self.task),
                                        config_files=tuple(getattr(self.observer.spec,
                                                                   "config_files", ())))
        self._diffs: dict[str, tuple[list[str], list[str]]] = {self.base.tree: ([], [])}
        header: dict[str, Any] = {
            "type": "header", "schema": SCHEMA,
            "tool": {"name": "lanser", "version": __version__},
            "task": self.task.to_json(),
            "base": self.base.to_json(),
            "server": base_diag["server"],
            "profile": {"name": self.profile.name, "hash": self.profile.hash},
            "settings": {"verify": self.verify,
                         "test_timeout": f"{self.observer.test_timeout:g}"},
            "observed": {"diagnostics": base_diag["hash"],
                         "tests": base_tests["hash"] if base_tests else None},
        }
        header["id"] = content_hash(header)
        self.header = header
        self.writer.write(header)
        return header

    # -- steps -----------------------------------------------------------------------

    async def step(self, raw: Any) -> dict[str, Any]:
        """Carry out one action; return the observation (what the agent reads).

        At most one snapshot per step: an applied (or rolled-back) edit takes one, a
        test run uses the tree its runner saw, and a step that wrote nothing (a query,
        a refusal, an invalid action, a submit) keeps the last step's tree. Keeping
        the tree (its commit and ref) and diffing it against the base are git
        processes that need only the tree, so they run beside the observation.
        """
        began = time.perf_counter()
        if self.done:
            raise UsageError("the episode is over (submitted)", code="episode_over")
        index = self.steps + 1
        observation: dict[str, Any] = {}
        envelope = None
        runs: dict[str, dict[str, Any] | None] = {"tests": None, "unscored_tests": None}
        query = None
        tree = self.last.tree
        try:
            action = parse_action(raw)
        except InvalidAction as exc:
            info = ActionInfo("invalid", "invalid", exc.code)
            observation["error"] = exc.to_json()["error"]
        else:
            if action.kind in MUTATING:
                try:
                    result, confidence = await self._mutate(action)
                except InvalidAction as exc:  # a patch whose diff is not a diff
                    info = ActionInfo(action.kind, "invalid", exc.code)
                    observation["error"] = exc.to_json()["error"]
                else:
                    envelope = result.to_json()
                    info = ActionInfo(action.kind, ENVELOPE_STATUS[result.status],
                                      result.reason, confidence)
                    observation["edit"] = envelope
                    if result.status != "refused":
                        tree = self.observer.tree()
            elif action.kind == "query":
                info, query, answer = await self._query(action, tree)
                observation.update(answer)
            else:
                info = ActionInfo(action.kind)
                if action.kind == "test":
                    tree = await self._test(action.args or self.task.test_args, runs,
                                            observation)
                elif action.kind == "submit":
                    self.done = True
                    if self._final_run_needed():
                        tree = await self._test(self.task.test_args, runs, observation)
        snapshot, (changed, deleted), self.diag = await asyncio.gather(
            asyncio.to_thread(self.observer.keep, tree),
            asyncio.to_thread(self._changed, tree),
            self.observer.diagnostics(tree))
        self.last = snapshot
        prev, self.state = self.state, next_state(self.state, info, self.diag, runs["tests"],
                                                  changed, deleted, task=self.functional_task)
        reward = step_reward(prev, self.state, info, self.profile, self.functional_task)
        self.rewards.append(reward)
        self.writer.write({
            "type": "step", "index": index, "action": raw if isinstance(raw, dict)
            else {"invalid": raw}, "info": info.to_json(),
            "envelope": _portable(envelope, self.workspace.root),
            "snapshot": snapshot.to_json(), "changed": changed, "deleted": deleted,
            "integrity": findings_to_json(self.state.integrity),
            "observed": {"diagnostics": self.diag["hash"],
                         **{k: None if v is None else v["hash"] for k, v in runs.items()},
                         "query": query["hash"] if query else None},
            "reward": reward.to_json(),
        })
        self.steps = index
        return {"step": index, "kind": info.kind, "status": info.status, "reason": info.reason,
                "reward": reward.to_json(), "done": self.done,
                "integrity": findings_to_json(self.state.integrity),
                "diagnostics": _summary(self.diag), **observation,
                "timings_ms": {"step": round((time.perf_counter() - began) * 1000, 3)}}

    async def _test(self, args: tuple[str, ...], runs: dict[str, Any],
                    observation: dict[str, Any]) -> str:
        """Run tests; score the run only when it is the task's selection on a tree the
        state has no run for (SPEC §11). Returns the tree the run saw.

        A run with the agent's own arguments (a subset, ``-k passing``) is an
        observation only: reported, bundled, never scored, so choosing what runs
        cannot raise Phi_test. A second run on the tree of the state's run keeps
        the state, so a flaky test cannot score a step that changed nothing.
        """
        bundle, result = await self.observer.tests(tuple(args))
        tree = tested_tree(bundle) or self.observer.tree()
        scored = tuple(args) == tuple(self.task.test_args) and tree != self.tree_tested
        if scored:
            runs["tests"] = bundle
            self.tree_tested = tree
        else:
            runs["unscored_tests"] = bundle
        shown = result.to_json()
        hidden = set(self.task.hidden_tests)  # graded, never shown (issue 16)
        observation["tests"] = {"summary": shown["summary"],
                                "tests": [t for t in shown["tests"]
                                          if t.get("nodeid") not in hidden],
                                "scored": scored}
        return tree

    def _final_run_needed(self) -> bool:
        """The state's test run (if the profile wants one, or the agent made one) is
        not for the last tree: the end of the episode reruns the task's tests."""
        return self.tree_tested != self.last.tree and (
            wants_tests(self.profile, self.task) or self.tree_tested is not None)

    def _changed(self, tree: str) -> tuple[list[str], list[str]]:
        """Changed and deleted paths of ``tree`` against the base (one diff per tree)."""
        known = self._diffs.get(tree)
        if known is None:
            known = self._diffs[tree] = snapshots.tree_changes(self.workspace,
                                                                 self.base.tree, tree)
        return known

    async def _mutate(self, action: Action) -> tuple[Any, Any]:
        """Edit or patch through the envelope; a refusal is a result, not an error.

        A malformed diff raises :class:`InvalidAction` (the invalid-action penalty),
        before the envelope sees anything.
        """
        from lanser.edits import ApplyResult, Envelope
        from lanser.edits.verify import apply_verified, refuse_syntax_errors

        envelope = Envelope(self.workspace, allow_dirty=True)
        # Episode snapshots are the record; the per-apply git history would be a copy.
        envelope.settings = replace(envelope.settings, record=False)
        confidence = None
        preview = None
        try:
            changes, confidence = self._changes(action, envelope)
            preview = envelope.preview(changes, origin=f"episode:{action.kind}")
            refuse_syntax_errors(preview)
            self._refuse_integrity(preview)
            if self.verify:
                return await apply_verified(envelope, preview, self.observer.service), confidence
            return envelope.apply(preview), confidence
        except InvalidAction:
            raise
        except (UsageError, NotResolved) as exc:
            return ApplyResult.refused(exc, preview), confidence

    def _refuse_integrity(self, preview: Any) -> None:
        """Refuse an edit of a protected file or one that adds a checker suppression
        (issue 16). An episode's diagnostics come from the agent's own tree, so what
        the one-shot reward restores or strips before measuring, an episode keeps out
        of the tree: the two grade every tree an episode can reach alike."""
        from lanser.runner.protected import GitTree, Overlay, plan

        if self._base_files is None:
            self._base_files = GitTree(self.workspace.root, self.base.tree)
        found = plan(Overlay(self._base_files, {e.path: e.after for e in preview.effects}),
                     self._base_files, task_globs(self.task),
                     tuple(getattr(self.observer.spec, "config_files", ())))
        for finding in found.findings:
            if finding.count:
                raise UsageError(f"{finding.kind}: {', '.join(finding.paths)} (grading "
                                 "restores the task's tests and configuration and does not "
                                 "count suppressions; fix the code instead)",
                                 code=finding.kind)

    def _changes(self, action: Action, envelope: Any) -> tuple[list[FileChange], Any]:
        if action.kind == "patch":
            return patch_changes(envelope, action.diff or ""), None
        if action.at is None:  # whole content
            rel = action.path or ""
            path = self.workspace.root / rel
            if path.is_file():
                source = self.workspace.read(path)
                span = Span(Position(1, 1), source.position(len(source.text)))
                return [FileChange("edit", rel, (TextEdit(span, action.text or ""),))], None
            return [FileChange("create", rel),
                    FileChange("edit", rel, (TextEdit(Span(Position(1, 1), Position(1, 1)),
                                                      action.text or ""),))], None
        from lanser.selectors import resolve_target

        target = resolve_target(self.workspace, action.at)
        span = Span(target.position, target.end or target.position)
        rel = self.workspace.relative(target.path)
        return ([FileChange("edit", rel, (TextEdit(span, action.text or ""),))],
                confidence_text(target.confidence))

    async def _query(self, action: Action, tree: str
                     ) -> tuple[ActionInfo, Any, dict[str, Any]]:
        try:
            bundle, target = await self.observer.query(action.op or "", action.at, tree,
                                                       query=action.query)
        except (UsageError, NotResolved) as exc:
            return (ActionInfo("query", "invalid", exc.code), None,
                    {"error": exc.to_json()["error"]})
        # An unlocated query (workspace-symbols) targets nothing: no confidence term.
        confidence = confidence_text(target.confidence) if target is not None else None
        return (ActionInfo("query", confidence=confidence), bundle,
                {"answer": bundle["facts"][action.op],
                 "target": bundle["request"].get("target")})

    # -- the end -----------------------------------------------------------------------

    async def settle(self) -> None:
        """Before the footer of an episode that ended without a submit: the task's
        tests on the last tree when the state's run is for another one, so the
        footer's ``resolved`` describes the tree the episode left (no step scores it)."""
        if not self.done and self._final_run_needed():
            self.final_tests, _ = await self.observer.tests(self.task.test_args)

    def finish(self) -> dict[str, Any]:
        """Write the footer: the return, and whether the task was resolved.

        ``resolved`` is null when the task lists tests and no run of them saw the
        last tree (an episode cut short before :meth:`settle` could run them).
        """
        state = self.state
        fresh = self.tree_tested == self.last.tree
        if self.final_tests is not None:
            state, fresh = replace(state, tests=test_credits(self.final_tests)), True
        outcome = resolved(state, self.functional_task) \
            if fresh or not self.task.lists_tests else None
        footer = {"type": "footer", "steps": self.steps,
                  "return": episode_return(self.rewards).to_json(),
                  "outcome": {"submitted": self.done, "resolved": outcome},
                  "observed": {"tests": None if self.final_tests is None
                               else self.final_tests["hash"]}}
        self.writer.write(footer)
        return footer


def _portable(envelope: dict[str, Any] | None, root: Path) -> dict[str, Any] | None:
    """The envelope record as the file keeps it: a refusal's message that names the
    workspace's absolute root (the jail's, for an absolute path) names ``<workspace>``."""
    message = (envelope or {}).get("message")
    if envelope is None or not isinstance(message, str):
        return envelope
    for form in sorted({str(root), str(root.resolve())}, key=len, reverse=True):
        message = message.replace(form, "<workspace>")
    return {**envelope, "message": message}


def _summary(bundle: dict[str, Any]) -> dict[str, int]:
    from lanser.queries.ops import diagnostics_summary

    return diagnostics_summary(bundle["facts"]["files"])


def _check_out(workspace: Workspace, out: Path) -> None:
    """Refuse an episode file that would be part of the snapshots it records.

    Inside the workspace but outside ``.lanser/`` (which git ignores), the growing
    file would change every step's tree and show up as a changed path.
    """
    real = out.resolve()
    inside = real.is_relative_to(workspace.root)
    if inside and not real.is_relative_to(workspace.state_dir.resolve()):
        raise UsageError(f"{out}: an episode file inside the workspace would be part of every "
                         "snapshot it records; write it under .lanser/ or outside the "
                         "workspace", code="bad_out")


async def _each(actions: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(actions, AsyncIterable):
        async for raw in actions:
            yield raw
    else:
        for raw in actions:
            yield raw


async def record(workspace: Workspace, actions: Iterable[Any] | AsyncIterable[Any],
                 out: Path, *,
                 profile: Profile, task: TaskSpec, spec: Any, timeout: float,
                 test_timeout: float, verify: bool = True,
                 on_observation: Callable[[dict[str, Any]], Any] | None = None,
                 on_header: Callable[[dict[str, Any]], Any] | None = None,
                 on_footer: Callable[[dict[str, Any]], Any] | None = None) -> Path:
    """Run ``actions`` (decoded JSON, read lazily; an async iterable is awaited item by
    item) as one episode written to ``out``.

    The callbacks see the header, each observation and the footer as they happen
    (``episode serve`` prints them). The footer is written even when the actions
    stop early, so an interrupted episode still ends in a valid file.
    """
    _check_out(workspace, out)
    with out.open("w", encoding="utf-8") as stream:
        async with Observer(workspace, spec, timeout=timeout,
                            test_timeout=test_timeout) as observer:
            recorder = Recorder(workspace, observer, profile, task, Writer(stream), verify)
            header = await recorder.start()
            if on_header is not None:
                on_header(header)
            try:
                async for raw in _each(actions):
                    observation = await recorder.step(raw)
                    if on_observation is not None:
                        on_observation(observation)
                    if recorder.done:
                        break
                await recorder.settle()
            finally:
                footer = recorder.finish()
            if on_footer is not None:
                on_footer(footer)
    return out


__all__ = ["Recorder", "TaskSpec", "record", "wants_tests"]
