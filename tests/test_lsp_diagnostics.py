"""Fresh diagnostics from real servers: exact positions, cross-file effects, no staleness."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lanser.lsp.registry import get_server
from lanser.lsp.service import LanguageService
from lanser.workspace import Workspace

BROKEN = 'def f(x: int) -> str:\n    return x\n\n\nprint(undefined_name)\n'


def _errors(answer: dict) -> list[dict]:
    return [d for f in answer["files"] for d in f["diagnostics"] if d["severity"] == "error"]


def test_basedpyright_reports_type_error_and_undefined_name(workspace, cli) -> None:
    root = workspace({"mod.py": BROKEN})
    result = cli(["diagnostics", "mod.py", "--json"], cwd=root)
    assert result.code == 0, result.stderr
    answer = result.json
    assert answer["files"][0]["status"] == "ready"
    errors = {(d["code"], d["line"], d["col"], d["end_line"], d["end_col"])
              for d in _errors(answer)}
    assert errors == {
        ("reportReturnType", 2, 12, 2, 13),
        ("reportUndefinedVariable", 5, 7, 5, 21),
    }
    assert answer["summary"]["error"] == 2


def test_pylsp_reports_undefined_name_at_exact_position(workspace, cli) -> None:
    root = workspace({"mod.py": BROKEN})
    result = cli(["diagnostics", "mod.py", "--json", "--server", "pylsp"], cwd=root)
    assert result.code == 0, result.stderr
    (error,) = _errors(result.json)
    assert (error["line"], error["col"]) == (5, 7)
    assert "undefined_name" in error["message"]
    assert error["source"] == "pyflakes"


def test_whole_workspace_skips_git_ignored_files(workspace, cli) -> None:
    root = workspace({"a.py": "x: int = 'no'\n", "build/gen.py": "y: int = 'no'\n",
                      ".gitignore": "build/\n"}, git_repo=True)
    result = cli(["diagnostics", "--json"], cwd=root)
    assert [f["path"] for f in result.json["files"]] == ["a.py"]


def test_fail_on_error_exits_1(workspace, cli) -> None:
    root = workspace({"mod.py": BROKEN})
    assert cli(["diagnostics", "--fail-on", "error"], cwd=root).code == 1
    clean = workspace({"ok.py": "x = 1\n"})
    assert cli(["diagnostics", "--fail-on", "error"], cwd=clean).code == 0


A_GOOD = "def helper() -> int:\n    return 1\n"
A_RENAMED = "def helper2() -> int:\n    return 1\n"
B = "from a import helper\n\nvalue: int = helper()\n"


def test_cross_file_edit_shows_in_importer_and_fix_clears_it(workspace, cli) -> None:
    root = workspace({"a.py": A_GOOD, "b.py": B})
    assert _errors(cli(["diagnostics", "b.py", "--json"], cwd=root).json) == []
    (root / "a.py").write_text(A_RENAMED)
    broken = _errors(cli(["diagnostics", "b.py", "--json"], cwd=root).json)
    assert [(d["path"], d["line"]) for d in broken] == [("b.py", 1)]
    assert '"helper" is unknown import symbol' in broken[0]["message"]
    (root / "a.py").write_text(A_GOOD)
    assert _errors(cli(["diagnostics", "b.py", "--json"], cwd=root).json) == []


async def _warm_sequence(root: Path) -> list[list[dict]]:
    """One long-lived session that tracks the disk, as the daemon does."""
    ws = Workspace.open(root)
    seen = []
    async with LanguageService(ws, get_server("basedpyright"), track_disk=True) as service:
        async def errors() -> list[dict]:
            files = await service.diagnostics([root / "b.py"])
            return [d.to_json() for f in files for d in f.diagnostics if d.severity == "error"]

        seen.append(await errors())
        (root / "a.py").write_text(A_RENAMED)           # a file the server never opened
        seen.append(await errors())
        (root / "a.py").write_text(A_GOOD)
        seen.append(await errors())
        (root / "a.py").unlink()                         # deleted
        seen.append(await errors())
        (root / "a.py").write_text(A_GOOD)               # created again
        seen.append(await errors())
    return seen


def test_warm_session_follows_disk_changes_like_a_cold_one(workspace) -> None:
    root = workspace({"a.py": A_GOOD, "b.py": B})
    seen = asyncio.run(_warm_sequence(root))
    assert seen[0] == [] and seen[2] == [] and seen[4] == []
    assert len(seen[1]) == 1 and "unknown import symbol" in seen[1][0]["message"]
    assert len(seen[3]) == 1 and seen[3][0]["code"] == "reportMissingImports"


@pytest.mark.parametrize("server", ["basedpyright", "pylsp"])
def test_not_ready_is_explicit_never_an_empty_list(workspace, server) -> None:
    root = workspace({"mod.py": BROKEN})

    async def run() -> dict:
        ws = Workspace.open(root)
        async with LanguageService(ws, get_server(server)) as service:
            files = await service.diagnostics([root / "mod.py"], timeout=0.000001)
            return files[0].to_json()

    answer = asyncio.run(run())
    assert answer["status"] == "not_ready"
    assert answer["diagnostics"] == []
