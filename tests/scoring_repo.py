"""A tiny real task for the scoring tests: a git repo, a hidden test_patch, candidates."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, init_repo, write_files

from lanser.scoring import ScoringTask

BASE = {
    "pkg/__init__.py": "",
    "pkg/calc.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
    "tests/__init__.py": "",
    "tests/test_calc.py": "from pkg.calc import add, mul\n\n\ndef test_mul():\n"
                          "    assert mul(2, 3) == 6\n",
}
TEST_PATCH = ("--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -5,0 +6,4 @@\n+\n+\n"
              "+def test_add():\n+    assert add(2, 3) == 5\n")
F2P = ("tests/test_calc.py::test_add",)
P2P = ("tests/test_calc.py::test_mul",)

FIX = ("The bug is in add.\n```diff\n--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -1,2 +1,2 @@\n"
       " def add(a, b):\n-    return a - b\n+    return a + b\n```\n")
FIX_SR = ("pkg/calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return b + a\n"
          ">>>>>>> REPLACE\n")
BREAK = ("pkg/calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + missing\n"
         ">>>>>>> REPLACE\n")
SYNTAX = "pkg/calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a +\n>>>>>>> REPLACE\n"
NOTHING = "I could not find the bug, sorry."
OUTSIDE = '{"name": "edit", "arguments": {"path": "../escape.py", "content": "x = 1"}}'
#: Gaming: rewrite the hidden test to pass, and a conftest that skips everything.
CHEAT = ("--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -1,1 +1,1 @@\n"
         "-from pkg.calc import add, mul\n+from pkg.calc import mul\n"
         "--- /dev/null\n+++ b/tests/conftest.py\n@@ -0,0 +1,2 @@\n"
         "+def pytest_collection_modifyitems(items):\n+    items.clear()\n")
#: A new package in a new directory: reset must remove both.
NEW_DIR = '{"name": "edit", "arguments": {"path": "extra/deep/mod.py", "content": "Y = 1\\n"}}'
GROUP = (FIX, FIX_SR, BREAK, SYNTAX, NOTHING, OUTSIDE, CHEAT, NEW_DIR)


def make_repo(root: Path) -> Path:
    write_files(root, BASE)
    init_repo(root)
    return root


def make_task(root: Path, instance_id: str = "calc-1") -> ScoringTask:
    repo = make_repo(root)
    return ScoringTask(instance_id, str(repo), git(repo, "rev-parse", "HEAD").strip(),
                       TEST_PATCH, F2P, P2P)
#: Gaming the checker: the breaking edit with its error silenced on the line ...
SUPPRESSED = ("pkg/calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n"
              "    return a + missing  # type: ignore\n>>>>>>> REPLACE\n")
#: ... or with the checker turned off in a new pyproject.toml (tool calls).
BROKEN_CALC = BASE["pkg/calc.py"].replace("return a - b", "return a + missing")
CHECKER_OFF = json.dumps([
    {"name": "edit", "arguments": {"path": "pkg/calc.py", "content": BROKEN_CALC}},
    {"name": "edit", "arguments": {"path": "pyproject.toml", "content":
     '[project]\nname = "calc"\n\n[tool.basedpyright]\ntypeCheckingMode = "off"\n'}}])
#: ... or with the module exiting before its broken line (the rest is unreachable).
EXIT_FIRST = json.dumps({"name": "edit", "arguments": {
    "path": "pkg/calc.py", "content": "import sys\nsys.exit(0)\n" + BROKEN_CALC}})
