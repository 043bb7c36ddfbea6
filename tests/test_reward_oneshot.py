"""``lanser reward``: the one-shot reward of a change, end to end.

Real basedpyright, real pytest in the sandbox, real git repositories (the demo
workspace: a type error in inventory/report.py, a bug in Stock.remove and the tests
that catch both), the real CLI in a subprocess. No mocks: what is checked is the
number a trainer would get.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from lanser.episodes.demo import prepare_workspace
from lanser.rewards import load_profile
from tests.conftest import git

REPORT_FIX = (
    "--- a/inventory/report.py\n+++ b/inventory/report.py\n@@ -14,2 +14,2 @@\n"
    "     count: int = stock.total()\n"
    '-    return "items on hand: " + count\n'
    '+    return f"items on hand: {count}"\n')
STOCK_FIX = (
    "--- a/inventory/stock.py\n+++ b/inventory/stock.py\n@@ -18,2 +18,2 @@\n"
    "         # Bug: removing stock adds it instead.\n"
    "-        self._levels[item] = self.level(item) + quantity\n"
    "+        self._levels[item] = self.level(item) - quantity\n")
#: Context that is not in the file: the envelope refuses it (patch_mismatch).
MISMATCH = REPORT_FIX.replace("stock.total()", "stock.count()")
ESCAPE = "--- /dev/null\n+++ b/../escape.py\n@@ -0,0 +1 @@\n+print('out')\n"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return prepare_workspace(tmp_path / "demo")


def _reward(cli, root: Path, *args: str) -> dict:
    result = cli(["reward", "--json", *args], cwd=root)
    assert result.code == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.json


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def _exact(payload: dict, component: str) -> Fraction:
    return Fraction(payload["components"][component]["exact"])


def test_a_comment_in_a_source_file_scores_exactly_zero(demo, cli):
    """The working tree is the default after side; a change nothing looks at is 0."""
    source = demo / "inventory" / "stock.py"
    source.write_text(source.read_text(encoding="utf-8") + "# a note\n", encoding="utf-8")
    out = _reward(cli, demo)
    assert out["source"] == "working_tree" and out["status"] == "ok"
    assert out["changed"] == ["inventory/stock.py"]
    assert out["after"]["tree"] != out["before"]["tree"]
    assert out["after"]["tests"] is not None  # tests did run on both sides
    assert out["total_exact"] == "0" and out["total"] == 0.0
    assert {c["exact"] for c in out["components"].values()} == {"0"}
    assert out["integrity"] == []


def test_a_comment_in_a_test_file_is_restored_and_priced(demo, cli):
    """A test file is the task's (issue 16): the edit is undone before grading,
    reported, and costs the profile's protected_edit price; nothing else moves."""
    test_file = demo / "tests" / "test_stock.py"
    test_file.write_text(test_file.read_text(encoding="utf-8") + "# a note\n",
                         encoding="utf-8")
    out = _reward(cli, demo)
    assert out["changed"] == [] and out["graded"]["tree"] == out["before"]["tree"]
    assert out["integrity"] == [{"kind": "protected_edit", "count": 1,
                                 "paths": ["tests/test_stock.py"]}]
    price = load_profile("default").integrity["protected_edit"]
    assert _exact(out, "integrity") == -price
    assert Fraction(out["total_exact"]) == -price


def test_a_type_error_fix_scores_on_diagnostics_and_after_rev_agrees(demo, cli, tmp_path):
    """--patch P and --after REV with the same change: same tree, same reward; the
    user's working tree is never written by --patch."""
    original = (demo / "inventory" / "report.py").read_bytes()
    patched = _reward(cli, demo, "--before", "HEAD",
                      "--patch", _write(tmp_path / "fix.diff", REPORT_FIX))
    assert patched["status"] == "ok" and patched["source"] == "patch"
    assert patched["changed"] == ["inventory/report.py"]
    assert _exact(patched, "diagnostics") > 0
    assert patched["before"]["diagnostics"]["summary"]["error"] == 1
    assert patched["after"]["diagnostics"]["summary"]["error"] == 0
    assert patched["edit"]["status"] == "applied"
    assert (demo / "inventory" / "report.py").read_bytes() == original
    assert git(demo, "status", "--porcelain") == ""

    base = git(demo, "rev-parse", "HEAD").strip()
    git(demo, "apply", str(tmp_path / "fix.diff"))
    git(demo, "commit", "-qam", "fix summary")
    committed = _reward(cli, demo, "--before", base, "--after", "HEAD")
    assert committed["source"] == "rev"
    assert committed["after"]["tree"] == patched["after"]["tree"]
    for key in ("total_exact", "components", "changed"):
        assert committed[key] == patched[key]
    assert committed["after"]["diagnostics"] == patched["after"]["diagnostics"]
    assert committed["after"]["tests"] == patched["after"]["tests"]


def test_making_the_fail_to_pass_tests_pass_scores_tests_and_outcome(demo, cli, tmp_path):
    task = {"name": "fix remove",
            "FAIL_TO_PASS": ["tests/test_stock.py::test_remove_lowers_level"],
            "PASS_TO_PASS": ["tests/test_stock.py::test_add_then_level"]}
    out = _reward(cli, demo, "--task", _write(tmp_path / "task.json", json.dumps(task)),
                  "--patch", _write(tmp_path / "fix.diff", STOCK_FIX))
    assert out["status"] == "ok"
    assert out["task"]["fail_to_pass"] == task["FAIL_TO_PASS"]
    assert not out["before"]["resolved"] and out["after"]["resolved"]
    assert _exact(out, "tests") > 0
    assert _exact(out, "outcome") == 1
    assert _exact(out, "diagnostics") == 0  # the type error elsewhere is untouched
    assert Fraction(out["total_exact"]) == sum(_exact(out, c) for c in out["components"])


def test_refused_patches_are_scored_with_the_safety_penalty(demo, cli, tmp_path):
    """A diff that does not apply is a score (exit 0, JSON), not an error: the after
    state is the before state and only the safety component moves."""
    profile = load_profile("diagnostics-only")  # no test runs: refusals need none
    for name, diff, reason in (("mismatch", MISMATCH, "patch_mismatch"),
                               ("escape", ESCAPE, "outside_workspace")):
        out = _reward(cli, demo, "--profile", "diagnostics-only",
                      "--patch", _write(tmp_path / f"{name}.diff", diff))
        assert (out["status"], out["reason"]) == ("refused", reason)
        assert out["after"]["tree"] == out["before"]["tree"] and out["changed"] == []
        assert _exact(out, "safety") == -profile.penalty("refused", reason) < 0
        assert Fraction(out["total_exact"]) == _exact(out, "safety")
        assert out["edit"]["reason"] == reason and out["edit"]["message"]
    assert not (tmp_path / "escape.py").exists()
    assert git(demo, "status", "--porcelain") == ""


def test_text_that_is_not_a_diff_is_an_invalid_action(demo, cli, tmp_path):
    """Priced by the invalid-action penalty, as a malformed ``patch`` action in an
    episode is, not as a refusal of a well-formed edit."""
    profile = load_profile("diagnostics-only")
    out = _reward(cli, demo, "--profile", "diagnostics-only",
                  "--patch", _write(tmp_path / "junk.diff", "fix the bug, please\n"))
    assert (out["status"], out["reason"]) == ("invalid", "bad_diff")
    assert out["edit"] is None and out["changed"] == []
    assert out["after"]["tree"] == out["before"]["tree"]
    assert Fraction(out["total_exact"]) == _exact(out, "safety") == \
        -profile.penalty("invalid", None) != -profile.penalty("refused", "bad_edit")


def test_bad_input_is_a_clear_error_with_exit_2(demo, cli, tmp_path):
    fix = _write(tmp_path / "fix.diff", REPORT_FIX)
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    cases = [
        (demo, ["--before", "no-such-rev", "--patch", fix], "bad_rev"),
        (demo, ["--after", "no-such-rev"], "bad_rev"),
        (demo, ["--patch", str(tmp_path / "missing.diff")], "missing_file"),
        (demo, ["--after", "HEAD", "--patch", fix], "usage"),
        (elsewhere, ["--root", str(elsewhere), "--patch", fix], "not_git"),
    ]
    for cwd, args, code in cases:
        result = cli(["reward", "--json", *args], cwd=cwd)
        assert result.code == 2, (args, result.stdout, result.stderr)
        assert result.json["error"]["code"] == code, args
        assert "Traceback" not in result.stderr
