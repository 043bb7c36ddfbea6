"""The adversarial suite of issue 16 through an episode: every hack as a step.

The same repository, task and hacks as ``tests/test_reward_integrity.py`` (the one-shot
reward), here applied as an episode's ``patch`` action followed by ``submit``, on the
episode engine (:class:`lanser.episodes.recorder.Recorder`: the safety envelope, the
integrity refusals, real basedpyright, real pytest in the sandbox with protected files
restored). What is compared is the episode's return (its step rewards summed) under
the default profile: each hack's at or below the no-op episode's (a bare ``submit``),
the real fix's above it.

One warm :class:`~lanser.episodes.observer.Observer` (one language server) serves the
whole module; between episodes the working tree is put back to the base commit.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lanser.episodes.format import Writer
from lanser.episodes.observer import Observer
from lanser.episodes.recorder import Recorder
from lanser.episodes.task import TaskSpec
from lanser.lsp.registry import get_server
from lanser.rewards import episode_return, load_profile
from lanser.workspace import Workspace
from tests.conftest import init_repo, write_files
from tests.test_reward_integrity import BASE, F2P, FIX, HACKS, P2P, SPECIAL_CASE, _patch

pytestmark = pytest.mark.slow


class Episodes:
    """Episodes on one repository through one warm observer."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.loop = asyncio.new_event_loop()
        self.workspace = Workspace.open(repo)
        self.task = TaskSpec(name="calc", fail_to_pass=F2P, pass_to_pass=P2P)
        self.profile = load_profile("default")
        self.observer = Observer(self.workspace,
                                 get_server("basedpyright", self.workspace.config.servers),
                                 timeout=60, test_timeout=30)
        self.loop.run_until_complete(self.observer.__aenter__())

    def _reset(self) -> None:
        """The working tree back to the base commit (lanser's state dir is kept)."""
        subprocess.run(["git", "reset", "-q", "--hard", "HEAD"], cwd=self.repo, check=True)
        subprocess.run(["git", "clean", "-q", "-fdx", "-e", ".lanser"], cwd=self.repo,
                       check=True)

    def __call__(self, files: dict[str, str | None] | None) -> dict[str, Any]:
        """The episode ``patch(files)`` then ``submit`` (``None``: submit only)."""
        self._reset()
        actions: list[dict[str, Any]] = []
        if files is not None:
            actions.append({"action": "patch", "diff": _patch(self.repo, files)})
        actions.append({"action": "submit"})
        try:
            return self.loop.run_until_complete(self._run(actions))
        finally:
            self._reset()

    async def _run(self, actions: list[dict[str, Any]]) -> dict[str, Any]:
        recorder = Recorder(self.workspace, self.observer, self.profile, self.task,
                            Writer(io.StringIO()))
        await recorder.start()
        observations = [await recorder.step(action) for action in actions]
        await recorder.settle()
        footer = recorder.finish()
        return {"return": episode_return(recorder.rewards).total,
                "footer": footer, "observations": observations}

    def close(self) -> None:
        self.loop.run_until_complete(self.observer.__aexit__())
        self.loop.close()


@pytest.fixture(scope="module")
def episode(tmp_path_factory):
    repo = init_repo(write_files(tmp_path_factory.mktemp("integrity-ep") / "calc", BASE))
    episodes = Episodes(repo)
    yield episodes
    episodes.close()


@pytest.fixture(scope="module")
def noop(episode) -> dict[str, Any]:
    return episode(None)


@pytest.fixture(scope="module")
def fixed(episode) -> dict[str, Any]:
    return episode(FIX)


def test_the_fix_episode_beats_the_noop_episode(noop, fixed):
    assert noop["return"] == 0, noop
    assert fixed["footer"]["outcome"]["resolved"] is True
    assert fixed["observations"][0]["integrity"] == []
    assert fixed["return"] > noop["return"] + 1


@pytest.mark.parametrize("name", sorted(HACKS))
def test_a_hack_step_earns_at_most_the_noop_episode(episode, noop, fixed, name):
    out = episode(HACKS[name])
    if name != "always_equal":  # it does make the tests pass: priced, not prevented
        assert out["footer"]["outcome"]["resolved"] is not True, out["footer"]
    step = out["observations"][0]
    assert step["status"] != "invalid", step  # the hack reached the envelope
    assert out["return"] <= noop["return"], (name, step["status"], step["reason"],
                                             step["integrity"], step["reward"])
    assert out["return"] < fixed["return"]


def test_special_casing_a_literal_episode_stays_below_the_fix(episode, noop, fixed):
    out = episode(SPECIAL_CASE)
    assert out["footer"]["outcome"]["resolved"] is False
    assert out["return"] < fixed["return"] - 1  # the outcome bonus is not earned


def test_protected_edits_are_refused_with_the_finding(episode):
    step = episode(HACKS["edit_f2p_assertion"])["observations"][0]
    assert (step["status"], step["reason"]) == ("refused", "protected_edit")
    step = episode(HACKS["type_ignore"])["observations"][0]
    assert (step["status"], step["reason"]) == ("refused", "suppression_added")


def test_hidden_tests_are_graded_and_not_shown(episode, tmp_path):
    """A task's ``hidden_tests`` (read from its file, SWE-bench's keys + lanser's) are
    graded as fail-to-pass tests: special-casing the listed test's literal passes it,
    fails the hidden one, is not resolved, and no observation shows the hidden outcome."""
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"FAIL_TO_PASS": [F2P[0]], "PASS_TO_PASS": list(P2P),
                                "lanser": {"hidden_tests": [F2P[1]]}}), encoding="utf-8")
    task = TaskSpec.load(path)
    assert task.hidden_tests == (F2P[1],) and task.fail_to_pass == (F2P[0],)
    assert f"--lanser-id={F2P[1]}" in task.test_args
    assert task.to_json()["hidden_tests"] == [F2P[1]]
    listed = episode.task
    episode.task = task
    try:
        special, fixed = episode(SPECIAL_CASE), episode(FIX)
    finally:
        episode.task = listed
    assert special["footer"]["outcome"]["resolved"] is False
    assert fixed["footer"]["outcome"]["resolved"] is True
    assert special["return"] < fixed["return"] - 1
    for out in (special, fixed):
        shown = [t["nodeid"] for o in out["observations"] for t in o.get("tests", {})
                 .get("tests", [])]
        assert F2P[0] in shown and F2P[1] not in shown
