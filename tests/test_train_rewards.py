"""The trainer's reward source on lanser's real one-shot reward, and its prompts."""

from __future__ import annotations

from pathlib import Path

import pytest

from lanser.errors import UsageError
from lanser.train import prompting, tasks
from lanser.train.rewards import WorkspaceSource, extract_patch
from tests.conftest import init_repo, write_files

# Whole-module slow: the quick loop (-m 'not slow') leaves it to the full suite.
pytestmark = pytest.mark.slow

FILES = {
    "calc/__init__.py": "",
    "calc/ops.py": "def helper():\n    return 1\n\n\ndef add(a, b):\n    return a - b\n",
    "tests/test_ops.py": "from calc.ops import add\n\n\ndef test_add():\n"
                         "    assert add(2, 3) == 5\n\n\ndef test_other():\n    assert True\n",
    "task.toml": 'name = "calc-add"\nproblem_statement = "add(2, 3) returns -1, not 5."\n'
                 'FAIL_TO_PASS = ["tests/test_ops.py::test_add"]\n'
                 'PASS_TO_PASS = ["tests/test_ops.py::test_other"]\n',
}

RIGHT = ("calc/ops.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n"
         ">>>>>>> REPLACE\n")
WRONG = ("calc/ops.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a * b\n"
         ">>>>>>> REPLACE\n")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "calc-add"
    write_files(root, FILES)
    return init_repo(root)


def test_task_toml_workspaces_load_as_train_tasks(workspace):
    [task] = tasks.load(workspace.parent)
    assert task.instance_id == "calc-add"
    assert task.fail_to_pass == ("tests/test_ops.py::test_add",)
    assert task.root == workspace.resolve()
    with pytest.raises(UsageError, match=r"no task\.toml"):
        tasks.load(workspace / "calc")


def test_prompt_puts_the_imported_definition_first_within_budget(workspace):
    [task] = tasks.load(workspace)
    sections = prompting.gather(task)
    assert (sections[0].path, sections[0].start, sections[0].end) == ("calc/ops.py", 5, 6)
    assert sections[0].text == "def add(a, b):\n    return a - b\n"
    assert "   6     return a - b" in sections[0].render(numbered=True)
    assert sections[1].path == "tests/test_ops.py" and "def test_add" in sections[1].text

    def words(text: str) -> int:
        return len(text.split())

    chat = prompting.messages(task, count=words, budget=60)
    assert "SEARCH/REPLACE" in chat[0]["content"]
    user = chat[1]["content"]
    assert "add(2, 3) returns -1" in user and "return a - b" in user
    assert words(user) <= 60
    full = prompting.messages(task, count=words, budget=10_000, fmt="diff")[1]["content"]
    assert "def helper" in full and "   1 def helper" in full and "```diff" in prompting.messages(
        task, count=words, fmt="diff")[0]["content"]


def test_extract_patch_reads_search_replace_and_diffs(workspace):
    diff = extract_patch(RIGHT, workspace)
    assert diff is not None and "-    return a - b\n+    return a + b\n" in diff
    assert diff.startswith("--- a/calc/ops.py\n+++ b/calc/ops.py\n")
    assert extract_patch(f"Here:\n```diff\n{diff}```\nDone.", workspace) == diff
    assert extract_patch("calc/ops.py\n<<<<<<< SEARCH\nnot there\n=======\nx\n"
                         ">>>>>>> REPLACE\n", workspace) is None
    assert extract_patch("../outside.py\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n",
                         workspace) is None
    assert extract_patch("I think you should add them.", workspace) is None
    whole = extract_patch("### calc/ops.py (lines 1-6)\n```python\ndef helper():\n    return 1\n"
                          "\n\ndef add(a, b):\n    return a + b\n```\n", workspace)
    assert whole == diff
    assert extract_patch(f"calc/ops.py\n```python\n{FILES['calc/ops.py']}```", workspace) == ""
    assert extract_patch("../x.py\n```python\npass\n```\n", workspace) is None


@pytest.mark.slow  # three real one-shot rewards (server + pytest each): ~10 s idle, more loaded
def test_the_right_edit_outscores_the_wrong_one_and_prose(workspace):
    [task] = tasks.load(workspace)
    source = WorkspaceSource([task], test_timeout=30)
    right, wrong, prose, again, other = source.score_group(
        "calc-add", [RIGHT, WRONG, "Just add the numbers.", RIGHT, "No idea."])
    assert right.resolved and not wrong.resolved and not prose.resolved
    assert right.reward > wrong.reward
    assert right.reward > prose.reward
    assert again is right  # the same patch on the same base is scored once
    assert other is prose  # so is every completion without a patch
    assert prose.reason == "bad_diff" and prose.reward < 0
    assert set(right.components) >= {"tests"}
