"""Run an episode online: actions in, observations and step rewards out, all recorded.

:class:`Recorder` is the engine behind ``lanser episode serve|run`` and ``lanser demo``.
Per action: check it, carry it out (edits through the safety envelope, verified),
snapshot the working tree, observe (diagnostics, tests when they ran), build the next
state from the bundles (:mod:`lanser.episodes.states`, the same code replay uses),
score the step, append the step line. A bad action costs the invalid-action penalty
and leaves the workspace as it was; the episode goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lanser import __version__
from lanser.canonical import content_hash
from lanser.episodes import snapshots
from lanser.episodes.actions import MUTATING, Action, InvalidAction, parse_action
from lanser.episodes.format import SCHEMA, Writer
from lanser.episodes.observer import Observer
from lanser.episodes.states import base_state, confidence_text, next_state, task_of
from lanser.episodes.task import TaskSpec
from lanser.errors import NotResolved, UsageError
from lanser.lsp.facts import FileChange, TextEdit
from lanser.positions import Position, Span
from lanser.rewards import ActionInfo, Profile, Reward, State, episode_return, resolved, step_reward
from lanser.workspace import Workspace

#: ApplyResult status -> the functional's action status.
_STATUS = {"applied": "ok", "refused": "refused", "rolled_back": "rolled_back"}


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

    async def start(self) -> dict[str, Any]:
        """Observe the base snapshot and write the header."""
        snapshots.require_git(self.workspace)
        self.base = self.observer.snapshot()
        base_diag = await self.observer.diagnostics(self.base)
        base_tests = None
        if wants_tests(self.profile, self.task):
            base_tests, _ = await self.observer.tests(self.task.test_args)
        self.state: State = base_state(base_diag, base_tests)
        self.functional_task = task_of(self.task.to_json(), base_diag)
        self.diag = base_diag
        self.last_tree = self.base.tree
        self.tree_tested = self.base.tree if base_tests is not None else None
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
        """Carry out one action; return the observation (what the agent reads)."""
        began = time.perf_counter()
        if self.done:
            raise UsageError("the episode is over (submitted)", code="episode_over")
        index = self.steps + 1
        observation: dict[str, Any] = {}
        envelope = None
        tests = None
        query = None
        try:
            action = parse_action(raw)
        except InvalidAction as exc:
            info = ActionInfo("invalid", "invalid", exc.code)
            observation["error"] = exc.to_json()["error"]
        else:
            if action.kind in MUTATING:
                result, confidence = await self._mutate(action)
                envelope = result.to_json()
                info = ActionInfo(action.kind, _STATUS[result.status], result.reason,
                                  confidence)
                observation["edit"] = envelope
            elif action.kind == "query":
                info, query, answer = await self._query(action)
                observation.update(answer)
            else:
                info = ActionInfo(action.kind)
                if action.kind == "test" or (self._tests_stale() and
                                             wants_tests(self.profile, self.task)):
                    tests, result = await self.observer.tests(action.args or self.task.test_args)
                    observation["tests"] = {k: v for k, v in result.to_json().items()
                                            if k in ("summary", "tests")}
                if action.kind == "submit":
                    self.done = True
        snapshot = self.observer.snapshot()
        self.last_tree = snapshot.tree
        if tests is not None:
            self.tree_tested = snapshot.tree
        changed = snapshots.changed_paths(self.workspace, self.base.tree, snapshot.tree)
        self.diag = await self.observer.diagnostics(snapshot)
        prev, self.state = self.state, next_state(self.state, info, self.diag, tests, changed)
        reward = step_reward(prev, self.state, info, self.profile, self.functional_task)
        self.rewards.append(reward)
        self.writer.write({
            "type": "step", "index": index, "action": raw if isinstance(raw, dict)
            else {"invalid": raw}, "info": info.to_json(),
            "envelope": _portable(envelope, self.workspace.root),
            "snapshot": snapshot.to_json(), "changed": changed,
            "observed": {"diagnostics": self.diag["hash"],
                         "tests": tests["hash"] if tests else None,
                         "query": query["hash"] if query else None},
            "reward": reward.to_json(),
        })
        self.steps = index
        return {"step": index, "kind": info.kind, "status": info.status, "reason": info.reason,
                "reward": reward.to_json(), "done": self.done,
                "diagnostics": _summary(self.diag), **observation,
                "timings_ms": {"step": round((time.perf_counter() - began) * 1000, 3)}}

    def _tests_stale(self) -> bool:
        """No test run has seen the snapshot the last step left."""
        return self.tree_tested != self.last_tree

    async def _mutate(self, action: Action) -> tuple[Any, Any]:
        """Edit or patch through the envelope; a refusal is a result, not an error."""
        from lanser.edits import ApplyResult, Envelope
        from lanser.edits.verify import apply_verified, refuse_syntax_errors

        envelope = Envelope(self.workspace, allow_dirty=True)
        # Episode snapshots are the record; the per-apply git history would be a copy.
        envelope.settings = replace(envelope.settings, record=False)
        confidence = None
        preview = None
        try:
            changes, confidence = self._changes(action)
            preview = envelope.preview(changes, origin=f"episode:{action.kind}")
            refuse_syntax_errors(preview)
            if self.verify:
                return await apply_verified(envelope, preview, self.observer.service), confidence
            return envelope.apply(preview), confidence
        except (UsageError, NotResolved) as exc:
            return ApplyResult.refused(exc, preview), confidence

    def _changes(self, action: Action) -> tuple[list[FileChange], Any]:
        from lanser.edits.sources import from_unified_diff, read_text_or_none

        if action.kind == "patch":
            def read(rel: str) -> Any:
                return read_text_or_none(self.workspace.root / rel)

            return from_unified_diff(action.diff or "", read), None
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

    async def _query(self, action: Action) -> tuple[ActionInfo, Any, dict[str, Any]]:
        try:
            bundle, target = await self.observer.query(action.op or "", action.at or "",
                                                       self.observer.snapshot())
        except (UsageError, NotResolved) as exc:
            return (ActionInfo("query", "invalid", exc.code), None,
                    {"error": exc.to_json()["error"]})
        confidence = confidence_text(target.confidence)
        return (ActionInfo("query", confidence=confidence), bundle,
                {"answer": bundle["facts"][action.op], "target": bundle["request"]["target"]})

    # -- the end -----------------------------------------------------------------------

    def finish(self) -> dict[str, Any]:
        """Write the footer: the return, and whether the task was resolved."""
        footer = {"type": "footer", "steps": self.steps,
                  "return": episode_return(self.rewards).to_json(),
                  "outcome": {"submitted": self.done,
                              "resolved": resolved(self.state, self.functional_task)}}
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
    from lanser.query import diagnostics_summary

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


async def record(workspace: Workspace, actions: Iterable[Any], out: Path, *,
                 profile: Profile, task: TaskSpec, spec: Any, timeout: float,
                 test_timeout: float, verify: bool = True,
                 on_observation: Callable[[dict[str, Any]], Any] | None = None,
                 on_header: Callable[[dict[str, Any]], Any] | None = None,
                 on_footer: Callable[[dict[str, Any]], Any] | None = None) -> Path:
    """Run ``actions`` (decoded JSON, read lazily) as one episode written to ``out``.

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
                for raw in actions:
                    observation = await recorder.step(raw)
                    if on_observation is not None:
                        on_observation(observation)
                    if recorder.done:
                        break
            finally:
                footer = recorder.finish()
            if on_footer is not None:
                on_footer(footer)
    return out


__all__ = ["Recorder", "TaskSpec", "record", "wants_tests"]
