"""Queries against real servers: exact code-point positions, stable bytes."""

from __future__ import annotations

import pytest

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


def test_hover_and_references_use_code_point_columns(workspace, cli) -> None:
    root = workspace({"mod.py": SOURCE})
    where = f"mod.py:6:{col(LINE6, 'value')}"
    hover = cli(["hover", where, "--json"], cwd=root).json
    assert "value: int" in hover["hover"]["contents"]
    assert (hover["hover"]["line"], hover["hover"]["col"]) == (6, col(LINE6, "value"))
    refs = cli(["references", where, "--include-declaration", "--json"], cwd=root).json
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


def test_two_fresh_runs_give_identical_bytes(workspace, cli) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/core.py": "def helper(x: int) -> int:\n    return x + 'a'\n",
        "pkg/use.py": "from pkg.core import helper\n\nprint(helper(1), missing)\n",
        "app.py": "from pkg.core import helper\nhelper(2)\n",
    }
    root = workspace(files, git_repo=True)
    for args in (["diagnostics", "--json"], ["references", "pkg/core.py:1:5", "--json"],
                 ["hover", "pkg/use.py:3:7", "--json"]):
        first = cli(args, cwd=root)
        second = cli(args, cwd=root)
        assert first.code == 0, first.stderr
        assert first.stdout == second.stdout
    refs = cli(["references", "pkg/core.py:1:5", "--json"], cwd=root).json
    assert [r["path"] for r in refs["locations"]] == ["app.py", "app.py", "pkg/use.py",
                                                      "pkg/use.py"]
