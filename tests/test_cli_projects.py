"""The CLI on the shapes real projects have (issue 15): non-Python files next to the
code, folders as arguments, output read by people and by CI logs. In-process
through typer's CliRunner, on real git repositories made in temp dirs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lanser.cli.app import app

PROJECT = {
    "README.md": "# a project\n\nSome *prose*, not Python: def (\n",
    "pyproject.toml": '[project]\nname = "pkg"\nversion = "0"\n',
    "docs/index.rst": "Title\n=====\n",
    "src/pkg/__init__.py": "from pkg.core import run\n",
    "src/pkg/core.py": "def run() -> int:\n    return 'not an int'\n",
    "tests/test_core.py": "from pkg import run\n\ndef test_run():\n    x: str = 1\n",
}


def invoke(root, *args):
    out = CliRunner().invoke(app, [*args, "--root", str(root), "--json"])
    return out.exit_code, json.loads(out.stdout) if out.stdout.strip() else None


@pytest.mark.parametrize("args", [["diagnostics", "README.md"], ["symbols", "pyproject.toml"],
                                  ["hover", "docs/index.rst:1:1"]])
def test_non_python_files_are_refused(workspace, args):
    root = workspace(PROJECT, git_repo=True)
    code, payload = invoke(root, *args)
    assert code == 2 and payload["error"]["code"] == "not_python"


def test_a_folder_without_python_files_is_nothing_to_check(workspace):
    root = workspace(PROJECT, git_repo=True)
    code, payload = invoke(root, "diagnostics", "docs")
    assert code == 2 and payload["error"]["code"] == "no_python_files"


@pytest.mark.slow
def test_diagnostics_of_a_folder_are_its_python_files(workspace):
    root = workspace(PROJECT, git_repo=True)
    code, payload = invoke(root, "diagnostics", "src", "--no-daemon")
    assert code == 0, payload
    assert [f["path"] for f in payload["files"]] == ["src/pkg/__init__.py", "src/pkg/core.py"]
    assert payload["summary"]["error"] == 1  # core.py's return, not the tests' error
