"""Offline replay of a recorded episode, and its re-execution.

:func:`replay` rebuilds every state from the bundles the episode names (read from
the content-addressed store: no server starts, no test runs) through the same
:mod:`lanser.episodes.states` code the recorder used, and scores them. With the
recorded profile the numbers must equal the recorded ones exactly (fractions, not
floats); with another profile the episode is re-scored counterfactually.

:func:`reexecute` rebuilds each snapshot from git in a scratch repository, asks the
server again and re-runs the tests the episode ran, and reports per step whether
every bundle hash matched: the determinism check of the whole pipeline.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lanser.bundles.store import BundleStore
from lanser.episodes.format import Episode, MalformedEpisode
from lanser.episodes.states import (
    base_state,
    next_state,
    recorded_info,
    task_of,
    test_credits,
    tested_tree,
)
from lanser.errors import CheckFailed, UsageError
from lanser.findings import to_json as findings_to_json
from lanser.rewards import (
    ActionInfo,
    Profile,
    Reward,
    configured_profile,
    episode_return,
    load_profile,
    resolved,
    step_reward,
)
from lanser.workspace import Workspace


class MissingBundle(UsageError):
    code = "missing_bundle"


class ProfileChanged(UsageError):
    code = "profile_mismatch"


@dataclass
class Replayed:
    """Each step's replayed reward beside the recorded one."""

    profile: Profile
    counterfactual: bool
    steps: list[dict[str, Any]] = field(default_factory=list)
    total: Reward = field(default_factory=Reward)

    @property
    def matches(self) -> bool:
        return all(s["match"] for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {"profile": {"name": self.profile.name, "hash": self.profile.hash},
                "counterfactual": self.counterfactual, "matches": self.matches,
                "steps": self.steps, "return": self.total.to_json()}


class BundleSource:
    """Bundles by hash from the store, each read and checked once per replay."""

    def __init__(self, workspace: Workspace) -> None:
        self.store = BundleStore(workspace)
        self.cache: dict[str, dict[str, Any]] = {}

    def __call__(self, bundle_hash: str | None, op: str) -> dict[str, Any] | None:
        """The bundle ``bundle_hash`` names, which must answer a request of ``op``."""
        if bundle_hash is None:
            return None
        found = self.cache.get(bundle_hash)
        if found is None:
            found = self.store.by_hash(bundle_hash)
            if found is None:
                raise MissingBundle(f"bundle {bundle_hash} is not in the store of "
                                    f"{self.store.directory}: replay needs the bundles the "
                                    "episode recorded", bundle=bundle_hash)
            self.cache[bundle_hash] = found
        if found["request"].get("op") != op:
            raise MalformedEpisode(f"bundle {bundle_hash} answers a "
                                   f"{found['request'].get('op')!r} request where the episode "
                                   f"needs {op!r}: the file was edited", bundle=bundle_hash)
        return found


def choose_profile(episode: Episode, name: str | None, configured: str | None = None
                   ) -> tuple[Profile, bool]:
    """The profile to score with, and whether that is a counterfactual re-scoring.

    Without ``name`` the recorded profile is looked up by its recorded name, first as
    the workspace's ``configured`` profile (an episode recorded with the workspace's
    own profile file replays without ``--profile``), then among the shipped ones.
    """
    recorded = episode.header["profile"]
    profile = None
    if name is None and configured is not None:
        candidate = load_profile(configured)
        if candidate.name == recorded["name"]:
            profile = candidate
    if profile is None:
        profile = load_profile(name or recorded["name"])
    if profile.hash == recorded["hash"]:
        return profile, False
    if name is None:
        raise ProfileChanged(
            f"profile {recorded['name']!r} has changed since the episode was recorded "
            f"({recorded['hash']} then, {profile.hash} now): pass --profile to re-score "
            "it counterfactually", recorded=recorded["hash"], current=profile.hash)
    return profile, True


def replay(workspace: Workspace, episode: Episode, profile_name: str | None = None
           ) -> Replayed:
    """Rescore every step from its bundles; flag each step whose reward or whose
    checkable fields (``differed``: info, changed, tests) disagree with the file.

    What the recorded data determines is recomputed and used rather than trusted:
    the functional's reading of each action (:func:`states.recorded_info`), the
    changed paths of a tree seen before, and whether a test run may score (the
    task's own arguments, on the step's tree, a tree with no scored run yet).
    """
    profile, counterfactual = choose_profile(
        episode, profile_name,
        configured_profile(workspace.config.section("rewards"), workspace.root))
    bundle = BundleSource(workspace)
    header = episode.header
    base_diag = bundle(header["observed"]["diagnostics"], "diagnostics")
    assert base_diag is not None
    checks = _Checks(header)
    base_tests = bundle(header["observed"]["tests"], "test")
    task = task_of(header["task"], base_diag, base_tests)
    if base_tests is not None and checks.scored_run(base_tests, header["base"]["tree"]):
        raise MalformedEpisode("the header's test run is not the task's tests on the base "
                               "tree: the file was edited", bundle=header["observed"]["tests"])
    state = base_state(base_diag, base_tests, task)
    out = Replayed(profile, counterfactual)
    rewards = []
    for step in episode.steps:
        differed = []
        recorded = ActionInfo.from_json(step["info"])
        info = recorded_info(step["action"], step["envelope"],
                             bundle(step["observed"]["query"], "query"), recorded)
        if info != recorded:
            differed.append("info")
        changed, deleted = checks.changes(step)
        if (changed, deleted) != (step["changed"], step.get("deleted", [])):
            differed.append("changed")
        diag = bundle(step["observed"]["diagnostics"], "diagnostics")
        assert diag is not None
        tests = bundle(step["observed"]["tests"], "test")
        if tests is not None and checks.scored_run(tests, step["snapshot"]["tree"]):
            differed.append("tests")
            tests = None  # not a run the recorder would have scored
        prev, state = state, next_state(state, info, diag, tests, changed, deleted,
                                           task=task)
        if "integrity" in step and step["integrity"] != findings_to_json(state.integrity):
            differed.append("integrity")
        reward = step_reward(prev, state, info, profile, task)
        rewards.append(reward)
        replayed = reward.to_json()
        out.steps.append({"index": step["index"], "kind": info.kind, "status": info.status,
                          "recorded": step["reward"]["total_exact"], "reward": replayed,
                          "differed": differed,
                          "match": not differed and (counterfactual or
                                                     replayed == step["reward"])})
    out.total = episode_return(rewards)
    footer = episode.footer
    if footer is not None:
        _check_footer(footer, episode, checks, state, task, bundle, out, counterfactual)
    return out


class _Checks:
    """What replay can check of a step against the steps before it."""

    def __init__(self, header: dict[str, Any]) -> None:
        self.test_args = list(header["task"]["test_args"])
        base = header["base"]["tree"]
        #: Changed and deleted paths by tree, as first recorded (the base: none).
        self.diffs: dict[str, tuple[list[str], list[str]]] = {base: ([], [])}
        #: The tree of the latest scored run (the header's, once checked).
        self.tree_tested: str | None = None
        self.last_tree = base

    def changes(self, step: dict[str, Any]) -> tuple[list[str], list[str]]:
        """The step's changed and deleted paths: those of its tree when seen before
        (a tree has one diff against the base), else the recorded ones if coherent."""
        tree = step["snapshot"]["tree"]
        self.last_tree = tree
        recorded = (list(step["changed"]), list(step.get("deleted", [])))
        known = self.diffs.get(tree)
        if known is not None:
            return known
        if not set(recorded[1]) <= set(recorded[0]) or recorded[0] != sorted(set(recorded[0])):
            return sorted(set(recorded[0]) | set(recorded[1])), sorted(set(recorded[1]))
        self.diffs[tree] = recorded
        return recorded

    def scored_run(self, tests: dict[str, Any], tree: str) -> bool:
        """Whether a run recorded as scored could *not* have been: another selection
        than the task's, another tree than the step's, or a tree already tested.
        Records the tree as tested otherwise."""
        args = list(tests.get("request", {}).get("args") or [])
        bad = args != self.test_args or tested_tree(tests) not in (None, tree) \
            or tree == self.tree_tested
        if not bad:
            self.tree_tested = tree
        return bad


def _check_footer(footer: dict[str, Any], episode: Episode, checks: _Checks, state: Any,
                  task: Any, bundle: BundleSource, out: Replayed, counterfactual: bool
                  ) -> None:
    """The footer's return is the sum of the recorded steps, and its outcome follows
    from the steps: submitted iff the last action was a submit, resolved from the
    last state's tests (or the footer's own run of them on the last tree)."""
    differed = []
    if not counterfactual and out.total.to_json() != footer["return"]:
        differed.append("return")
    final = bundle((footer.get("observed") or {}).get("tests"), "test")
    fresh = checks.tree_tested == checks.last_tree
    if final is not None:
        args = list(final.get("request", {}).get("args") or [])
        if fresh or args != checks.test_args or \
                tested_tree(final) not in (None, checks.last_tree):
            differed.append("tests")
        else:
            state, fresh = replace(state, tests=test_credits(final)), True
    lists = bool(task.fail_to_pass or task.pass_to_pass)
    outcome = {"submitted": bool(episode.steps) and _is_submit(episode.steps[-1]["action"]),
               "resolved": resolved(state, task) if fresh or not lists else None}
    if outcome != footer["outcome"]:
        differed.append("outcome")
    if differed:
        out.steps.append({"index": None, "kind": "footer", "status": "ok",
                          "recorded": footer["return"]["total_exact"],
                          "reward": out.total.to_json(), "differed": differed,
                          "match": False})


def _is_submit(action: Any) -> bool:
    from lanser.episodes.actions import InvalidAction, parse_action

    try:
        return parse_action(action).kind == "submit"
    except InvalidAction:
        return False


# -- re-execution -----------------------------------------------------------------------

async def reexecute(workspace: Workspace, episode: Episode, *, timeout: float,
                    test_timeout: float | None = None) -> list[dict[str, Any]]:
    """Rebuild each recorded snapshot, observe it again, compare bundle hashes.

    One scratch repository is checked out to each step's tree in turn, with one warm
    server following it (as the recorder's did), and the store is bypassed. Tests run
    with the recorded per-test timeout unless ``test_timeout`` says otherwise (it is
    part of a test bundle's request, so another one cannot give the recorded hash).
    """
    if test_timeout is None:
        test_timeout = float(episode.header["settings"]["test_timeout"])
    from lanser.episodes import snapshots
    from lanser.episodes.observer import Observer
    from lanser.lsp.registry import get_server

    header = episode.header
    spec = get_server(header["server"]["name"], workspace.config.servers)
    bundle = BundleSource(workspace)
    with tempfile.TemporaryDirectory(prefix="lanser-reexecute-") as tmp:
        scratch = snapshots.materialize(workspace, header["base"]["tree"], Path(tmp) / "ws")
        copy = Workspace.open(scratch)
        report = []
        async with Observer(copy, spec, timeout=timeout, test_timeout=test_timeout,
                            remember=False) as observer:
            base = header["base"]["tree"]
            points = [(0, header["base"], header["observed"], None),
                      *((s["index"], s["snapshot"], s["observed"], s)
                        for s in episode.steps)]
            for index, snap, observed, step in points:
                snapshots.git(scratch, "read-tree", "-u", "--reset", snap["tree"])
                fresh: dict[str, Any] = {}
                fresh["diagnostics"] = (await observer.diagnostics(snap["tree"]))["hash"]
                for key in ("tests", "unscored_tests"):
                    if observed.get(key):
                        recorded = bundle(observed[key], "test")
                        asked = (recorded or {}).get("request", {})
                        args = tuple(asked.get("args") or ())
                        # a grading run restores protected files, as it was recorded
                        observer.protect = None if asked.get("protected_base") is None \
                            else _protect(workspace, header, asked["protected_base"], spec)
                        fresh[key] = (await observer.tests(args))[0]["hash"]
                if step is not None:
                    # The changed paths from git itself, not from the file.
                    changed, deleted = snapshots.tree_changes(workspace, base, snap["tree"])
                    fresh["changed"] = {"changed": changed, "deleted": deleted}
                    observed = {**observed, "changed": {
                        "changed": step["changed"], "deleted": step.get("deleted", [])}}
                if observed.get("query"):
                    recorded = bundle(observed["query"], "query") or {}
                    request = recorded["request"]
                    fresh["query"] = (await observer.query(request["ops"][0],
                                                           request["selector"],
                                                           snap["tree"]))[0]["hash"]
                differed = sorted(k for k, v in fresh.items() if observed.get(k) != v)
                tree_now = snapshots.working_tree_hash(copy)
                if tree_now != snap["tree"]:
                    differed.append("snapshot")
                report.append({"index": index, "match": not differed, "differed": differed,
                               "recorded": {k: observed.get(k) for k in fresh},
                               "reexecuted": fresh})
    return report


def require_match(replayed: Replayed) -> None:
    if not replayed.matches:
        bad = [str(s["index"]) for s in replayed.steps if not s["match"]]
        raise CheckFailed(f"replay differs from the recording at step(s) {', '.join(bad)}")


def _protect(workspace: Workspace, header: dict[str, Any], base_tree: str, spec: Any) -> Any:
    """The recorder's grading-run protection, rebuilt from the header (issue 16)."""
    from lanser.episodes.recorder import task_globs
    from lanser.episodes.task import TaskSpec
    from lanser.runner.protected import Protect

    task = header["task"]
    spec_task = TaskSpec(fail_to_pass=tuple(task.get("fail_to_pass", ())),
                         pass_to_pass=tuple(task.get("pass_to_pass", ())),
                         protected=tuple(task.get("protected", ())),
                         hidden_tests=tuple(task.get("hidden_tests", ())))
    return Protect(base_tree, repo=workspace.root, globs=task_globs(spec_task),
                   config_files=tuple(getattr(spec, "config_files", ())))
