"""Rename and code-action answers the envelope must refuse, not half-apply (exit 2).

A stub server (tests/servers/edits_stub_server.py) gives the odd answers no real
server gives on cue: an error answer to prepareRename, a code action with an edit
*and* a command. Each test runs the real CLI.
"""

from __future__ import annotations

import sys
from pathlib import Path

STUB = Path(__file__).parent / "servers" / "edits_stub_server.py"
SOURCE = "value = 1\nprint(value)\n"


def _root(workspace) -> Path:
    config = (f'[servers.edits-stub]\ncommand = ["{sys.executable}", "{STUB}"]\n'
              'languages = ["python"]\n')
    return workspace({"m.py": SOURCE, "lanser.toml": config})


def test_a_server_error_answer_to_prepare_rename_is_a_refusal(workspace, cli) -> None:
    root = _root(workspace)
    result = cli(["rename", "m.py:1:1", "renamed", "--server", "edits-stub", "--json"],
                 cwd=root)
    assert result.code == 2, result.stdout + result.stderr
    error = result.json["error"]
    assert error["code"] == "rename_refused"
    assert "this symbol cannot be renamed" in error["message"]
    assert (root / "m.py").read_text() == SOURCE


def test_an_action_with_a_command_is_previewed_but_never_half_applied(workspace, cli) -> None:
    root = _root(workspace)
    listed = cli(["actions", "m.py:1:1", "--server", "edits-stub", "--json"], cwd=root)
    assert listed.code == 0, listed.stderr
    [action] = listed.json["actions"]
    assert "+# fixed" in action["preview"]["diff"]
    assert action["refused"]["code"] == "action_command"
    assert "stub.runAfterFix" in action["refused"]["message"]
    human = cli(["actions", "m.py:1:1", "--server", "edits-stub"], cwd=root)
    assert "refused" in human.stdout and "stub.runAfterFix" in human.stdout
    applied = cli(["actions", "m.py:1:1", "--apply", "1", "--server", "edits-stub", "--json"],
                  cwd=root)
    assert applied.code == 2, applied.stdout
    assert applied.json["error"]["code"] == "action_command"
    assert (root / "m.py").read_text() == SOURCE


def test_verify_without_apply_is_a_usage_error(workspace, cli) -> None:
    root = _root(workspace)
    (root / "p.diff").write_text("--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-value = 1\n+value = 2\n")
    for args in (["rename", "m.py:1:1", "renamed", "--verify"],
                 ["actions", "m.py:1:1", "--verify"],
                 ["apply", "p.diff", "--check", "--verify"]):
        result = cli([*args, "--server", "edits-stub", "--json"], cwd=root)
        assert result.code == 2, (args, result.stdout, result.stderr)
        assert "--apply" in result.json["error"]["message"], args
    assert (root / "m.py").read_text() == SOURCE
