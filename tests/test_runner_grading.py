"""Grading, flaky reruns, JUnit, bundles, revisions and the ``lanser test`` command."""

from __future__ import annotations

import json
import os
import uuid
import xml.etree.ElementTree as ET

import pytest

from lanser.bundles import check_bundle
from lanser.runner import RunnerError, TestLists, grade, run_tests
from lanser.runner.junit import junit_xml
from tests.conftest import git, init_repo, write_files

SUITE = {
    "calc.py": "def add(a, b):\n    return a - b\n",
    "test_calc.py": ("from calc import add\n"
                     "def test_add():\n    assert add(2, 2) == 4\n"
                     "def test_zero():\n    assert add(0, 0) == 0\n"),
}


@pytest.fixture
def repo(workspace):
    return workspace(SUITE, git_repo=True)


def test_grade_before_and_after_the_fix(repo):
    before = run_tests(repo)
    graded = grade(before, ["test_calc.py::test_add"], ["test_calc.py::test_zero"])
    assert graded["resolved"] is False
    assert graded["f2p"]["ratio_ppm"] == 0 and graded["p2p"]["ratio_ppm"] == 1_000_000
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    after = grade(run_tests(repo), ["test_calc.py::test_add"], ["test_calc.py::test_zero"])
    assert after["resolved"] is True and after["credit_ppm"] == 1_000_000


def test_missing_and_uncollectable_tests_fail_the_grade(workspace):
    root = workspace({"test_a.py": "import nope\ndef test_x():\n    pass\n",
                      "test_b.py": "def test_y():\n    pass\n"})
    graded = grade(run_tests(root), ["test_a.py::test_x", "test_b.py::test_gone"],
                   ["test_b.py::test_y"])
    assert graded["resolved"] is False
    assert graded["f2p"]["failing"] == [
        {"nodeid": "test_a.py::test_x", "outcome": "error", "phase": "collection"}]
    assert graded["f2p"]["missing"] == ["test_b.py::test_gone"]
    assert graded["p2p"]["passed"] == 1


def test_task_file_in_swe_bench_form(tmp_path):
    path = tmp_path / "task.json"
    path.write_text(json.dumps({"FAIL_TO_PASS": json.dumps(["a::b"]), "PASS_TO_PASS": ["c"]}))
    assert TestLists.load(path) == TestLists(("a::b",), ("c",))


def test_rev_runs_a_revision_without_touching_the_tree(repo):
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    at_head = run_tests(repo, rev="HEAD")
    assert at_head.by_id()["test_calc.py::test_add"].outcome == "failed"
    assert "a + b" in (repo / "calc.py").read_text()
    assert git(repo, "status", "--porcelain").strip() == "M calc.py"
    bundle = check_bundle(at_head.bundle(_ws(repo)))
    assert bundle["snapshot"]["tree"] == git(repo, "rev-parse", "HEAD^{tree}").strip()


def test_bundle_hash_is_stable_across_checkouts(tmp_path):
    a = write_files(tmp_path / "a", SUITE)
    b = write_files(tmp_path / "elsewhere" / "b", SUITE)
    ba, bb = run_tests(a).bundle(_ws(a)), run_tests(b).bundle(_ws(b))
    assert check_bundle(ba)["hash"] == check_bundle(bb)["hash"]
    assert ba["facts"]["tests"][0]["credit"] in ("0.200000", "1.000000")
    # absolute paths into the workspace are kept relative in the hashed request
    ra, rb = (run_tests(r, args=[f"{r}/test_calc.py::test_add", f"--confcutdir={r}"])
              for r in (a, b))
    assert ra.request()["args"] == ["./test_calc.py::test_add", "--confcutdir=."]
    assert [t.nodeid for t in ra.tests] == ["test_calc.py::test_add"]
    assert check_bundle(ra.bundle(_ws(a)))["hash"] == check_bundle(rb.bundle(_ws(b)))["hash"]


def test_flaky_tests_are_marked(workspace, tmp_path):
    # The attempts share state only without namespaces (a sandboxed run can write
    # nothing that outlives it, /dev/shm included: issue 17): the first attempt
    # fails, later ones pass.
    flag = str(tmp_path / f"lanser-flaky-{uuid.uuid4().hex}")
    root = workspace({"test_flaky.py": (
        "import os\n"
        "def test_sometimes():\n"
        f"    if not os.path.exists({flag!r}):\n"
        f"        open({flag!r}, 'w').close()\n"
        "        assert False, 'first time'\n"
        "def test_always_fails():\n    assert 0\n")})
    try:
        result = run_tests(root, reruns=2, isolation="none")
    finally:
        if os.path.exists(flag):
            os.unlink(flag)
    always = result.by_id()["test_flaky.py::test_always_fails"]
    assert always.outcome == "failed" and always.attempts == ("failed",) * 3
    sometimes = result.by_id()["test_flaky.py::test_sometimes"]
    assert sometimes.outcome == "flaky"
    assert sometimes.attempts == ("failed", "passed", "passed")
    assert sometimes.credit.ppm < 1_000_000


def test_reruns_keep_the_users_pytest_arguments(workspace):
    root = workspace({
        "conftest.py": "def pytest_addoption(parser):\n    parser.addoption('--magic')\n",
        "test_opt.py": (
            "import pytest\n"
            "def test_needs_magic(request):\n"
            "    magic = request.config.getoption('magic')\n"
            "    if magic is None:\n        pytest.skip('run without --magic')\n"
            "    assert magic == '0'\n")})
    result = run_tests(root, args=["--magic=1"], reruns=1)
    test = result.by_id()["test_opt.py::test_needs_magic"]
    assert (test.outcome, test.attempts) == ("failed", ("failed", "failed"))


def test_junit_xml(repo):
    root = ET.fromstring(junit_xml(run_tests(repo)))
    suite = root.find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    assert {c.get("name") for c in suite.iter("testcase")} == {"test_add", "test_zero"}


def test_missing_interpreter_is_a_runner_error(repo):
    with pytest.raises(RunnerError):
        run_tests(repo, python="/nonexistent/python3")


def test_cli_exit_codes_and_json(repo, cli, tmp_path):
    out = cli(["test", "--root", str(repo), "--json"], cwd=repo)
    assert out.code == 1, out.stderr
    tests = {t["nodeid"]: t for t in out.json["tests"]}
    assert tests["test_calc.py::test_add"]["outcome"] == "failed"
    assert {"nodeid", "outcome", "credit"} <= set(tests["test_calc.py::test_zero"])
    ok = cli(["test", "--root", str(repo), "--json", "-k", "zero",  # pytest's own options
              "-o", "console_output_style=classic"], cwd=repo)
    assert ok.code == 0 and [t["outcome"] for t in ok.json["tests"]] == ["passed"]
    task = tmp_path / "task.json"
    task.write_text(json.dumps({"FAIL_TO_PASS": [], "PASS_TO_PASS": ["test_calc.py::test_zero"]}))
    junit, bundle = tmp_path / "out.xml", tmp_path / "b.json"
    graded = cli(["test", "--root", str(repo), "--json", "--task", str(task), "--junit",
                  str(junit), "--bundle", str(bundle)], cwd=repo)
    assert graded.code == 0 and graded.json["grade"]["resolved"] is True
    assert junit.is_file() and check_bundle(json.loads(bundle.read_text()))
    bad = cli(["test", "--root", str(repo), "--json", "--rev", "no-such-rev"], cwd=repo)
    assert bad.code == 2 and bad.json["error"]["code"] == "bad_rev"


def test_cli_script_checkpoint_credit(workspace, cli):
    root = workspace({"job.py": "a = 1\nb = 2\nraise SystemExit(1)\n"})
    out = cli(["test", "--root", str(root), "--json", "--script", "job.py"], cwd=root)
    assert out.code == 1 and out.json["reached"] == 2 and out.json["checkpoints"] == 3


def _ws(root):
    from lanser.workspace import Workspace

    return Workspace(root)


def test_init_repo_helper_is_used(repo):
    assert (repo / ".git").exists() and init_repo


def test_broken_conftest_is_a_collection_outcome(workspace):
    root = workspace({"conftest.py": "import nosuch\n", "test_a.py": "def test_a():\n    pass\n"})
    result = run_tests(root)
    assert [(t.nodeid, t.outcome, t.phase) for t in result.tests] == [
        ("conftest.py", "error", "collection")]
    assert result.credit.ppm == 0


def test_bad_pytest_arguments_are_a_usage_error(workspace):
    from lanser.errors import UsageError

    root = workspace({"test_a.py": "def test_a():\n    pass\n"})
    with pytest.raises(UsageError) as caught:
        run_tests(root, args=["--no-such-pytest-flag"])
    assert caught.value.code == "pytest_usage"


def test_a_bundle_replays_to_the_same_facts_and_grade(repo):
    from lanser.runner import RunResult

    result = run_tests(repo)
    bundle = check_bundle(json.loads(json.dumps(result.bundle(_ws(repo)))))
    again = RunResult.from_bundle(bundle)
    assert again.facts() == result.facts()
    assert again.request() == result.request()
    ids = (["test_calc.py::test_add"], ["test_calc.py::test_zero"])
    assert grade(again, *ids) == grade(result, *ids)
