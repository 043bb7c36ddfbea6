"""Tasks (issue 18), bad input: renames, a submodule, tests that cannot be collected, a
repository without tests, and a mining run interrupted by Ctrl-C — each on a real git
history with real pytest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lanser.runner.settings import RunnerSettings
from lanser.tasks import load_tasks, mine, validate_task
from lanser.tasks.mine import (
    Found,
    log_rejection,
    mine_commit,
    rejections_file,
    settled_commits,
)
from tests.conftest import git, run_cli, write_files

# Whole-module slow: the quick loop (-m 'not slow') leaves it to the full suite.
pytestmark = pytest.mark.slow

FAST = RunnerSettings(timeout=20.0, run_timeout=120.0)
CALC = "def add(a, b):\n    return a - b\n"
TEST = "from pkg.{mod} import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def _commit(root: Path, files: dict[str, str | bytes], message: str) -> str:
    write_files(root, files)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def _repo(root: Path) -> Path:
    root.mkdir()
    git(root, "init", "-q")
    _commit(root, {"pkg/__init__.py": "", "pkg/calc.py": CALC}, "base")
    return root


def test_a_rename_with_its_fix_is_a_task_whose_patch_applies(tmp_path):
    """The module moves and is fixed; the test imports the new name, so it cannot even
    be collected before the patch (an error, not a pass) and passes after."""
    root = _repo(tmp_path / "ren")
    git(root, "mv", "pkg/calc.py", "pkg/arith.py")
    commit = _commit(root, {"pkg/arith.py": CALC.replace("a - b", "a + b"),
                            "tests/test_arith.py": TEST.format(mod="arith")},
                     "calc is arith now, and adds")
    found = mine_commit(root, commit, "ren", FAST)
    assert found.reason is None, found
    task = found.task
    assert task.fail_to_pass == ("tests/test_arith.py::test_add",)
    assert "deleted file mode" in task.patch and "pkg/arith.py" in task.patch
    assert validate_task(task, root, FAST).reason is None


def test_tests_that_cannot_be_collected_give_no_f2p(tmp_path):
    root = _repo(tmp_path / "broken")
    commit = _commit(root, {"pkg/calc.py": CALC.replace("a - b", "a + b"),
                            "tests/test_calc.py": "def test_add(:\n    pass\n"},
                     "a test module that does not parse")
    assert mine_commit(root, commit, "broken", FAST).reason == "no_f2p"


def test_a_submodule_change_is_its_own_reason(tmp_path):
    root = _repo(tmp_path / "sub")
    write_files(root, {"pkg/calc.py": CALC.replace("a - b", "a + b"),
                       "tests/test_calc.py": TEST.format(mod="calc")})
    git(root, "add", "-A")
    git(root, "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},vendor/dep")
    git(root, "commit", "-q", "-m", "vendored dep and a fix")
    found = mine_commit(root, git(root, "rev-parse", "HEAD").strip(), "sub", FAST)
    assert (found.reason, found.detail) == ("submodule", "vendor/dep")


def test_a_repository_without_tests_gives_no_task_and_says_why(tmp_path):
    root = _repo(tmp_path / "bare")
    _commit(root, {"pkg/calc.py": CALC.replace("a - b", "a + b")}, "fix without a test")
    reasons = [c.reason for c in mine(root, settings=FAST)]
    assert reasons == ["root_commit", "no_test_change"]


@pytest.mark.cli_subprocess
def test_ctrl_c_while_mining_keeps_every_written_line(tmp_path):
    """SIGINT to the whole process group (what a terminal's Ctrl-C sends) while a
    candidate's tests run: exit 130, the kept task already written is a whole line,
    and a resumed run skips it."""
    root = _repo(tmp_path / "long")
    _commit(root, {"pkg/calc.py": CALC.replace("a - b", "a + b"),
                   "tests/test_calc.py": TEST.format(mod="calc")}, "add adds")
    _commit(root, {"pkg/slow.py": "def slow():\n    return 1\n",
                   "tests/test_slow.py": "import time\n\nfrom pkg.slow import slow\n\n\n"
                                         "def test_slow():\n    time.sleep(60)\n"
                                         "    assert slow() == 1\n"}, "slow")
    out = tmp_path / "tasks.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "lanser", "tasks", "mine", str(root), "-o",
                             str(out), "--test-timeout", "90", "--json"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (out.exists() and out.read_text().endswith("\n")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        time.sleep(2.0)  # the slow candidate's sandboxed pytest is running now
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    [task] = load_tasks(out)
    assert task.fail_to_pass == ("tests/test_calc.py::test_add",)
    # Resumed: the kept commit and the logged rejection (the root) are both skipped.
    assert [json.loads(line)["reason"] for line in
            (tmp_path / "tasks.rejected.jsonl").read_text().splitlines()] == ["root_commit"]
    again = run_cli(["tasks", "mine", str(root), "-o", str(out), "--rev", "HEAD~1", "--json"],
                    cwd=tmp_path)
    assert again.code == 0, again.stderr
    assert (again.json["skipped_seen"], again.json["skipped_settled"],
            again.json["looked_at"]) == (1, 1, 0)


def test_the_rejection_log_settles_a_commit_unless_another_run_could_change_it(tmp_path):
    log = rejections_file(tmp_path / "t.jsonl")
    assert log == tmp_path / "t.rejected.jsonl"
    for commit, reason in (("a", "no_f2p"), ("b", "timeout"), ("c", "env_failed"),
                           ("d", "binary")):
        log_rejection(log, Found(commit, reason=reason))
    with log.open("a") as torn:
        torn.write('{"commit": "e", "rea')  # a line cut short is no rejection
    assert settled_commits(log) == {"a", "d"}
    assert settled_commits(tmp_path / "none.rejected.jsonl") == set()
