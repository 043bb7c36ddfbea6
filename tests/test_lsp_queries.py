"""Queries against real servers: exact code-point positions, stable bytes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from lanser.cli.output import dumps
from lanser.lsp.registry import get_server
from lanser.queries.ask import ask_in_process
from lanser.workspace import Workspace
from tests.conftest import init_repo, write_files

EMOJI = "\U0001f600"
SOURCE = (
    "def compute() -> int:\n"
    "    return 1\n"
    "\n"
    "\n"
    "def outer() -> int:\n"
    f'\tlabel = "{EMOJI}{EMOJI}"; value = compute()\n'
    "\treturn value + len(label)\n"
)
LINE6 = SOURCE.splitlines()[5]
LINE7 = SOURCE.splitlines()[6]


def col(line: str, needle: str) -> int:
    return line.index(needle) + 1


@pytest.mark.parametrize("server", ["basedpyright", "pyright", "pylsp", "jedi-language-server"])
def test_definition_after_tabs_and_emoji_round_trips(workspace, cli, server) -> None:
    root = workspace({"mod.py": SOURCE})
    result = cli(["definition", f"mod.py:6:{col(LINE6, 'compute')}", "--json",
                  "--server", server], cwd=root)
    assert result.code == 0, result.stderr
    assert result.json["locations"] == [
        {"path": "mod.py", "line": 1, "col": 5, "end_line": 1, "end_col": 12}
    ]
    # And the other way: a definition that lies after the emoji on its line.
    result = cli(["definition", f"mod.py:7:{col(LINE7, 'value')}", "--json",
                  "--server", server], cwd=root)
    (location,) = result.json["locations"]
    assert (location["line"], location["col"]) == (6, col(LINE6, "value"))
    assert location["end_col"] == col(LINE6, "value") + len("value")


def answer_all(root: Path, server: str, commands: list[tuple[str, dict]]) -> list[str]:
    """What ``lanser COMMAND ... --json`` prints for each command, from one fresh
    in-process server: the CLI's own plan, requests and bytes, one cold start."""
    ws = Workspace.open(root)
    queries = [{"op": command, **args} for command, args in commands]
    answers, _ = asyncio.run(ask_in_process(ws, get_server(server), queries, timeout=60))
    return [dumps(answer) for answer in answers]


#: What each server says when hovering ``value``: basedpyright its declared type
#: with the symbol's range; pylsp (jedi) the documentation of its type, no range.
HOVER = {"basedpyright": ("(variable) value: int", True), "pylsp": ("int([x]) -> integer", False)}


@pytest.mark.parametrize("server", sorted(HOVER))
def test_hover_and_references_use_code_point_columns(tmp_path, server) -> None:
    root = write_files(tmp_path, {"mod.py": SOURCE})
    where = f"mod.py:6:{col(LINE6, 'value')}"
    hover, refs = (json.loads(text) for text in answer_all(
        root, server, [("hover", {"loc": where}),
                       ("references", {"loc": where, "include_declaration": True})]))
    text, has_range = HOVER[server]
    assert text in hover["hover"]["contents"]
    if has_range:
        assert (hover["hover"]["line"], hover["hover"]["col"]) == (6, col(LINE6, "value"))
        assert hover["hover"]["end_col"] == col(LINE6, "value") + len("value")
    else:
        assert "line" not in hover["hover"]
    assert [(r["line"], r["col"]) for r in refs["locations"]] == [
        (6, col(LINE6, "value")), (7, col(LINE7, "value")),
    ]


def test_symbols_have_qualified_names(workspace, cli) -> None:
    root = workspace({"mod.py": "class Cache:\n    def get(self, key):\n        return key\n"})
    answer = cli(["symbols", "mod.py", "--json"], cwd=root).json
    names = {(s["qualname"], s["kind"]) for s in answer["symbols"]}
    assert {("Cache", "class"), ("Cache.get", "method")} <= names


def test_calls_incoming_and_outgoing(workspace, cli) -> None:
    root = workspace({"mod.py": SOURCE})
    incoming = cli(["calls", "mod.py:1:5", "--incoming", "--json"], cwd=root).json
    assert [(c["name"], c["line"]) for c in incoming["calls"]] == [("outer", 5)]
    assert incoming["calls"][0]["call_sites"][0]["col"] == col(LINE6, "compute")
    outgoing = cli(["calls", "mod.py:5:5", "--outgoing", "--json"], cwd=root).json
    assert "compute" in [c["name"] for c in outgoing["calls"]]


def test_unsupported_feature_is_a_clear_error(workspace, cli) -> None:
    root = workspace({"mod.py": SOURCE})
    result = cli(["calls", "mod.py:1:5", "--json", "--server", "pylsp"], cwd=root)
    assert result.code == 2
    assert result.json["error"]["code"] == "unsupported"


PACKAGE = {
    "pkg/__init__.py": "",
    "pkg/core.py": "def helper(x: int) -> int:\n    return x + 'a'\n",
    "pkg/use.py": "from pkg.core import helper\n\nprint(helper(1), missing)\n",
    "app.py": "from pkg.core import helper\nhelper(2)\n",
}
FRESH_COMMANDS = [("diagnostics", {"paths": []}), ("references", {"loc": "pkg/core.py:1:5"}),
                  ("hover", {"loc": "pkg/use.py:3:7"})]


#: Files of the references to ``helper`` (declaration excluded), as each server finds
#: them: basedpyright the import and the call in each file, pylsp (jedi) fewer.
FRESH_REFERENCES = {"basedpyright": ["app.py", "app.py", "pkg/use.py", "pkg/use.py"],
                    "pylsp": ["app.py", "pkg/use.py"]}


@pytest.fixture(scope="module", params=["basedpyright", "pylsp"])
def two_fresh_runs(request, tmp_path_factory) -> tuple[str, list[str], list[str]]:
    """Two cold starts of one server on one git workspace, each answering every
    command of FRESH_COMMANDS: the bytes ``--json`` prints, per run."""
    root = init_repo(write_files(tmp_path_factory.mktemp("fresh").resolve(), PACKAGE))
    first = answer_all(root, request.param, FRESH_COMMANDS)
    second = answer_all(root, request.param, FRESH_COMMANDS)
    return request.param, first, second


def test_two_fresh_runs_give_identical_bytes(two_fresh_runs) -> None:
    _, first, second = two_fresh_runs
    assert first == second


def test_fresh_runs_answer_what_the_workspace_says(two_fresh_runs) -> None:
    server, first, _ = two_fresh_runs
    diagnostics, refs, hover = (json.loads(text) for text in first)
    assert [f["path"] for f in diagnostics["files"]] == ["app.py", "pkg/__init__.py",
                                                         "pkg/core.py", "pkg/use.py"]
    assert all(f["status"] == "ready" for f in diagnostics["files"])
    undefined = [(f["path"], d["line"], d["col"]) for f in diagnostics["files"]
                 for d in f["diagnostics"] if "missing" in d["message"]]
    assert undefined == [("pkg/use.py", 3, 18)]
    assert [r["path"] for r in refs["locations"]] == FRESH_REFERENCES[server]
    assert hover["hover"] is not None and hover["server"]["name"] == server


@pytest.mark.cli_subprocess
def test_two_fresh_cli_runs_give_identical_bytes(workspace, cli) -> None:
    """The same through the real command in two fresh processes: nothing the CLI adds
    varies."""
    root = workspace(PACKAGE, git_repo=True)
    first = cli(["diagnostics", "--json"], cwd=root)
    second = cli(["diagnostics", "--json"], cwd=root)
    assert first.code == 0, first.stderr
    assert first.stdout == second.stdout
