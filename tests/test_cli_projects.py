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
                                  ["hover", "docs/index.rst:1:1"],
                                  ["bundle", "README.md:1:1", "--op", "hover"]])
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


def human(root, *args):
    out = CliRunner().invoke(app, [*args, "--root", str(root)])
    return out.exit_code, out.output


def test_plain_lines_when_stdout_is_not_a_terminal(capsys):
    from lanser.cli import render

    message = "Type \"Literal['not an int']\" is not assignable\n  to return type \"int\""
    long_path = "src/" + "deeply/" * 12 + "core.py"
    render.answer({"op": "diagnostics", "files": [
        {"path": long_path, "status": "ready", "diagnostics": [
            {"path": long_path, "line": 2, "col": 12, "severity": "error",
             "code": "reportReturnType", "message": message}]},
        {"path": "src/late.py", "status": "not_ready", "diagnostics": []}],
        "summary": {"error": 1, "not_ready": 1}})
    render.answer({"op": "hover", "hover": None})
    markdown = "```python\nx: int\n```\n---\nA&nbsp;value"
    render.answer({"op": "hover", "hover": {"contents": markdown}})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (f"{long_path}:2:12: error reportReturnType: Type \"Literal['not an "
                        "int']\" is not assignable to return type \"int\"")
    assert lines[1].startswith("src/late.py: not ready:") and "--timeout" in lines[1]
    assert "nothing to show" in lines and "[dim]" not in "".join(lines)
    assert "A value" in lines and "&nbsp;" not in "".join(lines)


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_timeout_that_is_not_positive_is_a_usage_error(workspace, value):
    root = workspace(PROJECT, git_repo=True)
    code, payload = invoke(root, "definition", "src/pkg/core.py:1:5", "--timeout", value)
    assert code == 2 and payload["error"]["code"] == "bad_timeout"


def test_selector_text_and_candidates_print_as_written(workspace):
    root = workspace({**PROJECT, "src/pkg/two.py": "def f():\n    return 1\n\n\n"
                      "def g():\n    return 2\n"}, git_repo=True)
    code, out = human(root, "definition", "src/pkg/core.py::run[kind=class]")
    assert code == 4 and "run[kind=class]" in out
    code, out = human(root, "definition", 'anchor://src/pkg/two.py#"return"')
    assert code == 4
    assert "candidate src/pkg/two.py:2:5" in out and "candidate src/pkg/two.py:6:5" in out
    code, out = human(root, "selector", "resolve", "ast://[module=pkg.core]/[def=run]")
    assert "ast://[module=pkg.core]/[def=run]" in out


def test_an_action_without_its_kind_names_the_missing_key():
    from lanser.episodes.actions import InvalidAction, parse_action

    with pytest.raises(InvalidAction) as caught:
        parse_action({"kind": "submit"})
    assert 'needs an "action" key' in caught.value.message and "'kind'" in caught.value.message


@pytest.mark.slow
def test_a_test_run_with_no_tests_is_not_a_pass(workspace):
    root = workspace({"test_nothing.py": "x = 1\n"}, git_repo=True)
    code, out = human(root, "test")
    assert code == 1 and "no tests ran" in out


def test_the_common_options_are_where_the_readme_says():
    import typer.main

    exceptions = {"daemon start": {"--timeout"}, "daemon status": {"--server", "--timeout"},
                  "daemon stop": {"--server", "--timeout"}, "demo": {"--root"},
                  "episode serve": {"--json"}, "replay": {"--server"},
                  "servers": {"--server", "--timeout"}, "trust": {"--server", "--timeout"},
                  # tasks name their own repositories; servers and tools speak JSON
                  "score": {"--root"}, "tools": {"--root", "--server", "--timeout"},
                  "serve env": {"--json", "--root", "--timeout"},
                  "serve reward": {"--json", "--root", "--timeout"},
                  "train": {"--root", "--server", "--timeout"},
                  # tasks name their repository and run tests, not a server
                  **{f"tasks {sub}": {"--root", "--server", "--timeout"} for sub in (
                      "envs", "import", "mine", "score", "show", "synth", "validate")}}

    def walk(command, prefix=""):
        if hasattr(command, "commands"):
            for name, sub in sorted(command.commands.items()):
                yield from walk(sub, f"{prefix}{name} ")
        else:
            yield prefix.strip(), command

    for name, command in walk(typer.main.get_command(app)):
        opts = {o for p in command.params for o in getattr(p, "opts", [])}
        missing = {"--root", "--json", "--server", "--timeout"} - opts
        allowed = {"--server", "--timeout"} if name.startswith("selector ") else \
            exceptions.get(name, set())
        assert missing <= allowed, (name, missing)
