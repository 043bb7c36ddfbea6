"""lanser score (resumable JSONL) and lanser tools, through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import git
from scoring_repo import FIX, NOTHING, OUTSIDE, TEST_PATCH, make_repo
from typer.testing import CliRunner

from lanser.cli.app import app


def _tasks(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "clone")
    line = {"instance_id": "calc-1", "repo": "clone",
            "base_commit": git(repo, "rev-parse", "HEAD").strip(), "patch": "",
            "test_patch": TEST_PATCH, "problem_statement": "add subtracts",
            "FAIL_TO_PASS": ["tests/test_calc.py::test_add"],
            "PASS_TO_PASS": ["tests/test_calc.py::test_mul"]}
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(line) + "\n")
    return path


def test_tools_json_lists_the_episode_actions():
    out = CliRunner().invoke(app, ["tools", "--json"])
    assert out.exit_code == 0
    names = [t["function"]["name"] for t in json.loads(out.stdout)["tools"]]
    assert names == ["edit", "patch", "query", "submit", "test"]


def test_a_bad_completions_line_is_exit_2_with_a_json_error(tmp_path: Path):
    tasks = _tasks(tmp_path)
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"instance_id": "calc-1", "completion": "x"}\n{oops\n')
    out = CliRunner().invoke(app, ["score", str(tasks), str(bad), "-o",
                                   str(tmp_path / "r.jsonl"), "--json"])
    assert out.exit_code == 2
    assert json.loads(out.stdout)["error"]["code"] == "bad_completions"
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.slow
def test_score_writes_one_line_per_completion_and_resumes(tmp_path: Path):
    tasks = _tasks(tmp_path)
    completions = tmp_path / "c.jsonl"
    rows = [{"instance_id": "calc-1", "completion": c} for c in (FIX, NOTHING, OUTSIDE)]
    rows.append({"instance_id": "calc-1", "completion": FIX, "format": "diff"})
    completions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "rewards.jsonl"
    args = ["score", str(tasks), str(completions), "-o", str(out), "--profile",
            "diagnostics-only", "--workers", "2", "--json"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.stdout
    full = out.read_bytes()
    lines = [json.loads(x) for x in full.splitlines()]
    assert [x["line"] for x in lines] == [1, 2, 3, 4]
    assert [x["status"] for x in lines] == ["ok", "invalid", "refused", "ok"]
    # Cut after two lines and inside the third: resumed to the very same bytes.
    kept = full.splitlines(keepends=True)
    out.write_bytes(b"".join(kept[:2]) + kept[2][:40])
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0
    assert json.loads(again.stdout)["counts"]["resumed"] == 2
    assert out.read_bytes() == full
