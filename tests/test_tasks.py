"""Tasks (issue 18): mined from a real git history, validated, imported, shown and scored
with real pytest in lanser's sandbox; every rejection reason met on a real commit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lanser.runner.settings import RunnerSettings
from lanser.tasks import Task, agent_view, append_task, load_tasks, mine, validate_task
from lanser.tasks.mine import mine_commit
from lanser.tasks.record import BadTask
from lanser.tasks.validate import SideRun, judge
from tests.conftest import git, write_files

# Whole-module slow: the quick loop (-m 'not slow') leaves it to the full suite.
pytestmark = pytest.mark.slow

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = "from pkg.calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
FAST = RunnerSettings(timeout=20.0, run_timeout=120.0)


def _commit(root: Path, files: dict[str, str | bytes], message: str) -> str:
    write_files(root, files)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> dict[str, str]:
    """A repository whose commits each meet one outcome of mining."""
    root = tmp_path_factory.mktemp("hist") / "calc"
    root.mkdir()
    git(root, "init", "-q")
    out = {"root": str(root)}
    out["base"] = _commit(root, {"pkg/__init__.py": "", "pkg/calc.py": CALC,
                                 "tests/__init__.py": "", "tests/test_calc.py": TESTS},
                          "base")
    out["fix"] = _commit(root, {
        "pkg/calc.py": CALC.replace("a - b", "a + b"),
        "tests/test_calc.py": TESTS.replace("import mul", "import add, mul")
        + "\n\ndef test_add():\n    assert add(2, 3) == 5\n"},
        "add() subtracted instead of adding\n\nSigned-off-by: someone <x@y>")
    out["docs"] = _commit(root, {"README.md": "calc\n"}, "docs only")
    out["tests_only"] = _commit(root, {"tests/test_more.py":
                                       "def test_true():\n    assert True\n"}, "a test only")
    out["refactor"] = _commit(root, {
        "pkg/calc.py": CALC.replace("a - b", "a + b").replace(
            "return a * b", "product = a * b\n    return product"),
        "tests/test_mul_more.py": "from pkg.calc import mul\n\n\ndef test_mul_zero():\n"
                                  "    assert mul(0, 3) == 0\n"}, "mul refactored, already right")
    out["breaks"] = _commit(root, {
        "pkg/calc.py": CALC.replace("a - b", "a + b").replace("a * b", "a * b + 1")
        + "\n\ndef sub(a, b):\n    return a - b\n",
        "tests/test_calc.py": (root / "tests/test_calc.py").read_text()
        + "\n\ndef test_add_again():\n    assert add(1, 1) == 2\n",
        "tests/test_sub.py": "from pkg.calc import sub\n\n\ndef test_sub():\n"
                             "    assert sub(3, 1) == 2\n"}, "sub, and mul broken")
    out["binary"] = _commit(root, {"pkg/data.bin": b"\x00\x01\x02",
                                   "pkg/calc.py": (root / "pkg/calc.py").read_text() + "\n#\n",
                                   "tests/test_bin.py": "def test_bin():\n    assert 1\n"},
                            "a binary file")
    return out


@pytest.fixture(scope="module")
def mined(history) -> list:
    return list(mine(Path(history["root"]), settings=FAST))


def _by_commit(mined: list, commit: str):
    return next(c for c in mined if c.source == commit)


def test_a_fix_with_its_test_becomes_a_task(history, mined):
    task = _by_commit(mined, history["fix"]).task
    assert task is not None
    assert task.fail_to_pass == ("tests/test_calc.py::test_add",)
    assert task.pass_to_pass == ("tests/test_calc.py::test_mul",)
    assert task.base_commit == history["base"]
    assert task.problem_statement == "add() subtracted instead of adding"  # trailer dropped
    assert "a + b" in task.patch and "test_add" not in task.patch
    assert "test_add" in task.test_patch and "a + b" not in task.test_patch
    validation = task.lanser.validation
    assert validation.before["tests/test_calc.py::test_add"] == "failed"
    assert validation.after["tests/test_calc.py::test_add"] == "passed"


def test_each_rejection_reason_on_a_real_commit(history, mined):
    reasons = {name: _by_commit(mined, history[name]).reason
               for name in ("base", "docs", "tests_only", "refactor", "breaks", "binary")}
    assert reasons == {"base": "root_commit", "docs": "no_test_change",
                       "tests_only": "no_code_change", "refactor": "no_f2p",
                       "breaks": "p2p_broken", "binary": "binary"}
    assert "test_mul" in _by_commit(mined, history["breaks"]).detail


def test_a_merged_branch_is_one_candidate_unless_merges_are_off(history, tmp_path):
    root = Path(history["root"])
    git(root, "checkout", "-q", "-b", "side", history["base"])
    _commit(root, {"notes.txt": "x\n"}, "side")
    git(root, "checkout", "-q", "-")
    git(root, "merge", "-q", "--no-ff", "-m", "merge", "side")
    merge = git(root, "rev-parse", "HEAD").strip()
    try:
        assert mine_commit(root, merge, "calc", FAST).reason == "no_test_change"  # docs only
        assert mine_commit(root, merge, "calc", FAST, merges=False).reason == "merge_commit"
    finally:
        git(root, "reset", "-q", "--hard", "HEAD~1")


def test_a_test_that_hangs_is_a_timeout(tmp_path):
    root = tmp_path / "slow"
    root.mkdir()
    git(root, "init", "-q")
    _commit(root, {"m.py": "def f():\n    while True:\n        pass\n"}, "base")
    commit = _commit(root, {"m.py": "def f():\n    return 1\n",
                            "test_m.py": "from m import f\n\n\ndef test_f():\n"
                                         "    assert f() == 1\n"}, "f returns")
    found = mine_commit(root, commit, "slow", RunnerSettings(timeout=2.0, run_timeout=60.0))
    assert (found.reason, found.detail) == ("timeout", "test_m.py::test_f")


def test_flaky_outcomes_are_dropped_and_a_task_left_without_f2p_is_rejected():
    stable = SideRun({"t::a": "failed", "t::b": "passed", "t::c": "passed"})
    wobbly = SideRun({"t::a": "failed", "t::b": "failed", "t::c": "passed"})
    after = SideRun({"t::a": "passed", "t::b": "passed", "t::c": "passed"})
    verdict = judge([stable, wobbly], [after, after])
    assert (verdict.fail_to_pass, verdict.pass_to_pass) == (("t::a",), ("t::c",))
    assert verdict.validation.flaky == ("t::b",)
    only_flaky = judge([stable, SideRun({**stable.outcomes, "t::a": "passed"})], [after, after])
    assert only_flaky.reason == "flaky"


def test_files_round_trip_resume_and_reject_bad_records(history, mined, tmp_path):
    out = tmp_path / "tasks.jsonl"
    kept = [c.task for c in mined if c.task is not None]
    for task in kept:
        append_task(out, task)
    again = load_tasks(out)
    assert [t.to_json() for t in again] == [t.to_json() for t in kept]
    line = json.loads(out.read_text().splitlines()[0])
    assert isinstance(line["FAIL_TO_PASS"], list) and "lanser" in line
    # Resumed: a second run skips what is written and appends nothing new.
    seen = {t.instance_id for t in again}
    assert [c for c in mine(Path(history["root"]), settings=FAST, seen=seen)
            if c.task is not None] == []
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**line, "FAIL_TO_PASS": "not a list"}) + "\n")
    with pytest.raises(BadTask, match=r"bad\.jsonl:1"):
        load_tasks(bad)
    bad.write_text(out.read_text() * 2)
    with pytest.raises(BadTask, match="repeats"):
        load_tasks(bad)


def test_validate_again_and_a_missing_base_is_a_clear_error(history, mined, tmp_path):
    task = _by_commit(mined, history["fix"]).task
    root = Path(history["root"])
    assert validate_task(task, root, FAST).reason is None
    gone = Task.from_json({**task.to_json(), "base_commit": "0" * 40})
    from lanser.errors import UsageError

    with pytest.raises(UsageError):
        validate_task(gone, root, FAST)


def test_the_agent_view_has_the_base_and_no_history(history, mined, tmp_path):
    task = _by_commit(mined, history["fix"]).task
    view = agent_view(task, history["root"], tmp_path / "view")
    assert (view / "pkg/calc.py").read_text() == CALC  # the bug, not the fix
    assert "test_add" not in (view / "tests/test_calc.py").read_text()  # test_patch hidden
    assert git(view, "rev-list", "--all").split().__len__() == 1
    assert not (view / ".git" / "objects" / "info" / "alternates").exists()
    objects = git(view, "cat-file", "--batch-all-objects", "--batch-check")
    assert history["fix"] not in objects and history["breaks"] not in objects


def test_cli_mine_show_import_and_score(history, mined, tmp_path, cli):
    root = Path(history["root"])
    out = tmp_path / "t.jsonl"
    result = cli(["tasks", "mine", str(root), "-o", str(out), "--json",
                  "--test-timeout", "20"], cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.json["kept"] == 1
    assert result.json["rejected"]["no_test_change"] >= 1
    again = cli(["tasks", "mine", str(root), "-o", str(out), "--json"], cwd=tmp_path)
    assert (again.json["looked_at"], again.json["skipped_seen"]) == (0, 1)  # all settled
    task = load_tasks(out)[0]
    shown = cli(["tasks", "show", str(out), task.instance_id], cwd=tmp_path)
    assert "FAIL_TO_PASS (1):" in shown.stdout and "tests/test_calc.py::test_add" in shown.stdout
    unknown = cli(["tasks", "show", str(out), "calc-nope", "--json"], cwd=tmp_path)
    assert (unknown.code, unknown.json["error"]["code"]) == (2, "unknown_instance")
    # SWE-bench's own shape (lists JSON-encoded) imports to the same task lists.
    swe = {**{k: v for k, v in task.to_json().items() if k != "lanser"},
           "FAIL_TO_PASS": json.dumps(list(task.fail_to_pass)),
           "PASS_TO_PASS": json.dumps(list(task.pass_to_pass))}
    (tmp_path / "swe.json").write_text(json.dumps([swe, {**swe, "instance_id": "x-1",
                                                         "base_commit": "1" * 40}]))
    imported = cli(["tasks", "import", str(tmp_path / "swe.json"), "--repo-dir", str(root),
                    "-o", str(tmp_path / "i.jsonl"), "--json"], cwd=tmp_path)
    assert imported.code == 0, imported.stderr
    assert imported.json["imported"] == 1
    assert imported.json["rejected"][0]["reason"] == "base_missing"
    assert load_tasks(tmp_path / "i.jsonl")[0].fail_to_pass == task.fail_to_pass
    predictions = tmp_path / "preds.jsonl"
    predictions.write_text("".join(json.dumps(p) + "\n" for p in [
        {"instance_id": task.instance_id, "model_patch": task.patch, "model_name_or_path": "ref"},
        {"instance_id": task.instance_id, "model_patch": "", "model_name_or_path": "empty"},
        {"instance_id": task.instance_id, "model_patch": "--- a/x\n+++ b/x\n@@ nonsense",
         "model_name_or_path": "junk"},
        {"instance_id": "nope-1", "model_patch": task.patch, "model_name_or_path": "ref"}]))
    scored = cli(["tasks", "score", str(out), str(predictions), "--repo", str(root),
                  "--profile", "tests-only", "--json"], cwd=tmp_path)
    assert scored.code == 0, scored.stderr
    lines = scored.json["results"]
    assert [line["resolved"] for line in lines] == [True, False, False, False]
    assert lines[0]["tests"]["fail_to_pass"] == [1, 1]
    assert lines[0]["reward"] > lines[1]["reward"]
    assert lines[1]["reason"] and lines[2]["reason"]
    assert lines[3]["reason"] == "unknown_instance"
    assert scored.json["summary"]["resolved_rate"] == 0.25


def test_mutations_are_minimal_edits_the_same_for_a_seed():
    from lanser.tasks.mutations import OPERATORS, mutants, sample

    source = (b"def clamp(x, lo, hi):  # keep me\n    if x < lo:\n        return lo\n"
              b"    total = max(lo, x)\n    return min(total, hi)\n\n\n"
              b"def first(xs):\n    return xs[0] if xs else None\n")
    found = mutants("m.py", source)
    assert {m.operator for m in found} >= {"flip_comparison", "negate_condition",
                                            "swap_arguments", "drop_statement", "remove_guard",
                                            "return_early", "off_by_one"}
    assert set(m.operator for m in found) <= set(OPERATORS)
    for mutant in found:
        changed = mutant.apply(source)
        compile(changed, "m.py", "exec")  # every mutant still parses
        assert b"# keep me" in changed  # nothing outside the span moves
    flip = next(m for m in found if m.operator == "flip_comparison")
    assert (flip.old, flip.new) == ("<", ">=")
    assert sample(found, 3, seed=7) == sample(found, 3, seed=7)
    assert sample(found, 3, seed=7) != sample(found, 3, seed=8) or len(found) <= 3


def test_synth_keeps_mutants_the_tests_catch_the_same_for_a_seed(history, tmp_path, cli):
    root = Path(history["root"])
    first = tmp_path / "a.jsonl"
    args = ["tasks", "synth", str(root), "--seed", "3", "--per-file", "2", "--paths", "pkg",
            "--test-timeout", "20", "--json"]
    result = cli([*args, "-o", str(first)], cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.json["kept"] >= 1, result.json
    tasks = load_tasks(first)
    task = tasks[0]
    assert task.lanser.source == "synth" and task.test_patch == ""
    assert task.problem_statement.startswith("These tests fail")
    assert "@@" not in task.problem_statement  # never the diff
    assert validate_task(task, root, FAST).reason is None
    second = tmp_path / "b.jsonl"
    assert cli([*args, "-o", str(second)], cwd=tmp_path).code == 0
    assert second.read_bytes() == first.read_bytes()


def test_an_environment_key_follows_the_dependency_files_and_a_bad_one_fails_clearly(
        tmp_path, monkeypatch):
    """Offline (pip --no-index): an environment needing pytest from an index cannot be
    built here, and says so with pip's own words, as env_failed."""
    from lanser.tasks.envs import EnvFailed, ensure_env, env_key

    monkeypatch.setenv("LANSER_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "proj"
    root.mkdir()
    git(root, "init", "-q")
    first = _commit(root, {"pyproject.toml": '[project]\nname = "proj"\nversion = "1"\n',
                           "proj.py": "X = 1\n"}, "one")
    second = _commit(root, {"proj.py": "X = 2\n"}, "code only")
    third = _commit(root, {"pyproject.toml": '[project]\nname = "proj"\nversion = "1"\n'
                                             'dependencies = ["nothing-here-xyz"]\n'}, "deps")
    assert env_key(root, first) == env_key(root, second) != env_key(root, third)
    with pytest.raises(EnvFailed) as caught:
        ensure_env(root, third, pip_args=("--no-index",))
    assert caught.value.code == "env_failed"
    assert "pytest" in caught.value.message or "nothing-here-xyz" in caught.value.message
