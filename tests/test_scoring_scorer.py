"""The Scorer on a real repository, real basedpyright and real pytest (issue 19)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from scoring_repo import (
    BREAK,
    CHEAT,
    FIX,
    FIX_SR,
    GROUP,
    NEW_DIR,
    NOTHING,
    OUTSIDE,
    SYNTAX,
    make_task,
)

from lanser.rewards import load_profile
from lanser.scoring import Scorer
from lanser.scoring.worker import Job, Worker, WorkerConfig


def _run(coro):
    return asyncio.run(coro)


def test_a_warm_worker_scores_every_kind_of_completion_and_resets_exactly(tmp_path: Path):
    """Diagnostics-only, in process: rewards, reasons, integrity; after every candidate
    the workspace's tree hash is the rest tree's and no new file or directory is left."""
    from lanser.bundles.snapshot import working_tree_hash

    task = make_task(tmp_path / "repo")
    config = WorkerConfig({task.instance_id: task}, load_profile("diagnostics-only"))

    async def go():
        worker = Worker(config)
        try:
            out = []
            for n, text in enumerate(GROUP):
                out.append(await worker.score(Job(n, task.instance_id, text)))
                grader = worker.graders[task.instance_id]
                assert working_tree_hash(grader.workspace) == grader.rest_tree
                assert not (grader.root / "extra").exists()
                assert not (grader.root / "tests" / "conftest.py").exists()
            return out
        finally:
            await worker.close()

    results = dict(zip(GROUP, _run(go()), strict=True))
    ok = results[FIX]
    assert (ok.status, ok.reward, ok.format, ok.changed) == ("ok", 0.0, "diff", ("pkg/calc.py",))
    assert results[FIX_SR].status == "ok" and results[FIX_SR].format == "search-replace"
    broke = results[BREAK]
    assert broke.status == "ok" and broke.reward < 0 and broke.diagnostics["added"] >= 1
    assert (results[SYNTAX].status, results[SYNTAX].reason) == ("refused", "syntax_error")
    assert (results[NOTHING].status, results[NOTHING].reason) == ("invalid", "no_edit_found")
    assert results[NOTHING].reward == -0.1  # the diagnostics-only profile's invalid penalty
    assert (results[OUTSIDE].status, results[OUTSIDE].reason) == ("refused",
                                                                  "outside_workspace")
    cheat = results[CHEAT]
    # Editing the hidden test and adding a conftest is restored, and alone is no work.
    assert (cheat.status, cheat.reason) == ("invalid", "no_change")
    assert cheat.integrity == ({"kind": "protected_edit", "count": 2,
                                "paths": ["tests/conftest.py", "tests/test_calc.py"]},)
    assert results[NEW_DIR].status == "ok" and results[NEW_DIR].changed == ("extra/deep/mod.py",)



def test_a_test_run_takes_the_sandbox_made_ready_during_the_last_one(tmp_path: Path):
    """With tests, the grader keeps the next run's sandbox ready (its child isolated,
    pytest imported, no copy yet); the same candidate scores the same bytes through
    it, and closing the worker leaves no waiting child behind."""
    task = make_task(tmp_path / "repo")
    config = WorkerConfig({task.instance_id: task}, load_profile("default"))

    async def go():
        worker = Worker(config)
        try:
            first = await worker.score(Job(0, task.instance_id, BREAK))
            grader = worker.graders[task.instance_id]
            spare = grader._spare
            assert spare is not None and not spare.filled
            waiting = spare._pending.proc
            assert waiting.poll() is None  # started, waiting for its go
            again = await worker.score(Job(1, task.instance_id, BREAK))
            assert waiting.poll() is not None and grader._spare is not spare  # used
            last = grader._spare._pending.proc
            return first, again, last
        finally:
            await worker.close()

    first, again, last = _run(go())
    assert json.dumps(first.to_json(), sort_keys=True) == json.dumps(again.to_json(),
                                                                      sort_keys=True)
    assert first.tests == {"fail_to_pass": [0, 1], "pass_to_pass": [1, 1]}
    assert last.poll() is not None

@pytest.mark.slow
def test_tests_pay_for_the_fix_and_not_for_the_cheat(tmp_path: Path):
    """The default profile runs F2P + P2P: the fix resolves the task; rewriting the
    hidden test (and a conftest that empties the run) earns nothing beside the fix."""
    task = make_task(tmp_path / "repo")
    cheat_and_fix = CHEAT + FIX.split("```diff\n")[1].split("```")[0]
    exit_early = ('{"name": "edit", "arguments": {"path": "pkg/__init__.py", "content": '
                  '"import sys\\nsys.exit(0)\\n"}}')
    with Scorer([task], "default", workers=1) as scorer:
        fix, cheat, both, exited = scorer.score_group(
            task.instance_id, [FIX, CHEAT, cheat_and_fix, exit_early])
    assert fix.resolved and fix.tests == {"fail_to_pass": [1, 1], "pass_to_pass": [1, 1]}
    assert fix.components["outcome"] == 1.0 and fix.reward > 1
    assert not cheat.resolved and cheat.reward < 0
    assert both.reward == fix.reward and both.integrity and both.changed == ("pkg/calc.py",)
    # sys.exit(0) at import: the run produced nothing, a scored failure (issue 16)
    assert exited.status == "ok" and not exited.resolved and exited.reward < 0


def test_shadowing_a_module_the_tests_import_is_a_scored_failure(tmp_path: Path):
    """A ``pytest.py`` at the root names a module the tests import from the
    interpreter: the run cannot be the revision's, and that is scored (below the
    no-op), never a ``failed`` sample a trainer would drop or count as 0 (issue 16)."""
    task = make_task(tmp_path / "repo")
    shadow = ('{"name": "edit", "arguments": {"path": "pytest.py", "content": '
              '"def main(*a, **k):\\n    return 0\\n"}}')
    fix_edit = FIX.split("```diff\n")[1].split("```")[0]
    shadow_and_fix = json.dumps([
        json.loads(shadow),
        {"name": "edit", "arguments": {"path": "pkg/calc.py", "content":
                                       "def add(a, b):\n    return a + b\n\n\n"
                                       "def mul(a, b):\n    return a * b\n"}}])
    with Scorer([task], "default", workers=1) as scorer:
        fix, alone, both = scorer.score_group(task.instance_id, [fix_edit, shadow, shadow_and_fix])
    assert fix.resolved
    for result in (alone, both):
        assert result.status == "ok", result.to_json()
        assert not result.resolved and result.reward < 0
        assert result.tests == {"fail_to_pass": [0, 1], "pass_to_pass": [0, 1]}


@pytest.mark.slow
def test_results_do_not_depend_on_worker_count_or_order(tmp_path: Path):
    task = make_task(tmp_path / "repo")
    group = list(GROUP) * 2

    def run(workers: int, items: list[str]) -> dict[str, bytes]:
        with Scorer([task], "diagnostics-only", workers=workers) as scorer:
            results = scorer.score_group(task.instance_id, items)
        return {r.completion_sha256: json.dumps(r.to_json(), sort_keys=True).encode()
                for r in results}

    one = run(1, group)
    two = run(2, list(reversed(group)))
    assert one == two and len(one) == len(GROUP)


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_its_candidate_retried_then_failed(tmp_path: Path):
    import psutil

    task = make_task(tmp_path / "repo")
    with Scorer([task], "diagnostics-only", workers=1) as scorer:
        expected = json.dumps(scorer.score(task.instance_id, FIX).to_json(), sort_keys=True)
        executor = scorer.executor

        def kill_busy(times: int, future) -> int:
            killed: set[int] = set()
            deadline = time.monotonic() + 120
            while not future.done() and time.monotonic() < deadline:
                for pid in executor.busy_pids():
                    if pid not in killed and len(killed) < times:
                        psutil.Process(pid).kill()
                        killed.add(pid)
                time.sleep(0.005)
            return len(killed)

        # Killed once mid-candidate: a fresh worker prepares the task and scores it.
        future = executor.submit(Job(1000, task.instance_id, FIX))
        assert kill_busy(1, future) == 1
        assert json.dumps(future.result().to_json(), sort_keys=True) == expected
        # Killed on both tries: scored as failed, and the executor goes on working.
        future = executor.submit(Job(1001, task.instance_id, FIX))
        assert kill_busy(2, future) == 2
        failed = future.result()
        assert (failed.status, failed.reason, failed.reward) == ("failed", "scoring_failed", 0.0)
        assert scorer.score(task.instance_id, NOTHING).reason == "no_edit_found"


def test_unknown_task_and_format(tmp_path: Path):
    task = make_task(tmp_path / "repo")
    config = WorkerConfig({task.instance_id: task}, load_profile("diagnostics-only"))

    async def go():
        worker = Worker(config)
        try:
            return await worker.score(Job(0, "nope", FIX))
        finally:
            await worker.close()

    result = _run(go())
    assert (result.status, result.reason) == ("failed", "unknown_task")
    with Scorer([task], "diagnostics-only", workers=1) as scorer, pytest.raises(ValueError):
        scorer.score(task.instance_id, FIX, "yaml")


def test_silencing_the_checker_earns_what_the_breaking_edit_earns(tmp_path: Path):
    """The Scorer grades by the one-shot reward's rule (issue 16): a suppression added
    on the changed line is stripped, and a checker section in pyproject.toml is put
    back as the task's base has it; both are reported; neither pays."""
    from scoring_repo import BREAK, CHECKER_OFF, EXIT_FIRST, SUPPRESSED

    task = make_task(tmp_path / "repo")
    config = WorkerConfig({task.instance_id: task}, load_profile("diagnostics-only"))

    async def go():
        worker = Worker(config)
        try:
            return [await worker.score(Job(n, task.instance_id, text))
                    for n, text in enumerate((BREAK, SUPPRESSED, CHECKER_OFF, EXIT_FIRST))]
        finally:
            await worker.close()

    broke, suppressed, off, exited = _run(go())
    # sys.exit(0) first: the checker would call the broken line unreachable and say
    # nothing; the exit is guarded for the checker (it still runs), so the error counts.
    assert exited.reward <= broke.reward, exited
    assert [f["kind"] for f in exited.integrity] == ["suppression_added"]
    assert broke.reward < 0
    assert suppressed.reward == broke.reward
    assert [f["kind"] for f in suppressed.integrity] == ["suppression_added"]
    # The jail refuses a checker section outright (issue 17); scored, never above the no-op.
    assert (off.status, off.reason) == ("refused", "denied") and off.reward < 0


@pytest.mark.slow
def test_a_hidden_test_catches_special_casing_the_listed_input(tmp_path: Path):
    """hidden_tests (issue 16) are graded with FAIL_TO_PASS but never shown: a candidate
    that special-cases the listed test's literal passes it and still fails the hidden
    one, so it neither resolves the task nor earns what the fix earns."""
    from scoring_repo import F2P, P2P, TEST_PATCH

    from lanser.scoring import ScoringTask
    from lanser.tasks import Task, TaskMeta

    base = make_task(tmp_path / "repo")
    hidden = TEST_PATCH.replace("@@ -5,0 +6,4 @@", "@@ -5,0 +6,8 @@") + (
        "+\n+\n+def test_add_more():\n+    assert add(10, 5) == 15\n")
    task = Task("calc-h", "calc", base.base_commit, "", hidden, "add subtracts", F2P, P2P,
                lanser=TaskMeta(hidden_tests=("tests/test_calc.py::test_add_more",)))
    scoring = ScoringTask.of(task, base.repo_dir)
    assert scoring.fail_to_pass == (*F2P, "tests/test_calc.py::test_add_more")
    assert scoring.hidden_tests == ("tests/test_calc.py::test_add_more",)  # episodes hide them
    special = ("pkg/calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n"
               "    if (a, b) == (2, 3):\n        return 5\n    return a - b\n"
               ">>>>>>> REPLACE\n")
    with Scorer([scoring], "default", workers=1) as scorer:
        fix, cheat = scorer.score_group("calc-h", [FIX, special])
    assert fix.resolved and fix.tests["fail_to_pass"] == [2, 2]
    assert not cheat.resolved and cheat.tests["fail_to_pass"] == [1, 2]
    assert cheat.reward < fix.reward
