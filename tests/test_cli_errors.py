"""Bad input: exit 2, a clear message, JSON errors in --json mode, never a traceback."""

from __future__ import annotations

import pytest

OK = "def f() -> int:\n    return 1\n"


@pytest.fixture
def root(workspace):
    return workspace({
        "mod.py": OK,
        "blob.py": b"\x00\x01binary",
        "latin.py": b"x = 'caf\xe9'\n",
        "sub/inner.py": OK,
    })


@pytest.mark.parametrize(("args", "code", "needle"), [
    (["definition", "../outside.py:1:1"], "outside_workspace", "outside the workspace"),
    (["definition", "/etc/hostname:1:1"], "outside_workspace", "outside the workspace"),
    (["definition", "nope.py:1:1"], "missing_file", "no such file"),
    (["definition", "mod.py:9:1"], "out_of_range", "line 9"),
    (["definition", "mod.py:1:99"], "out_of_range", "column 99"),
    (["hover", "blob.py:1:1"], "unreadable_file", "binary"),
    (["hover", "latin.py:1:1"], "unreadable_file", "not valid UTF-8"),
    (["symbols", "sub"], "not_a_file", "not a regular file"),
    (["definition", "mod.py:1:1", "--server", "nosuch"], "unknown_server", "unknown server"),
    (["diagnostics", "nope.py"], "missing_file", "no such file"),
    (["diagnostics", "--fail-on", "fatal"], "usage", "--fail-on"),
])
def test_bad_input_exits_2_with_a_message(root, cli, args, code, needle) -> None:
    human = cli(args, cwd=root)
    assert human.code == 2
    assert needle in human.stderr
    assert "Traceback" not in human.stderr + human.stdout
    machine = cli([*args, "--json"], cwd=root)
    assert machine.code == 2
    assert machine.json["error"]["code"] == code
    assert needle in machine.json["error"]["message"]


def test_symlink_leading_out_of_the_workspace_is_refused(workspace, tmp_path, cli) -> None:
    outside = tmp_path / "secret.py"
    outside.write_text(OK)
    root = workspace({"mod.py": OK})
    (root / "link.py").symlink_to(outside)
    result = cli(["hover", "link.py:1:5", "--json"], cwd=root)
    assert result.code == 2
    assert result.json["error"]["code"] == "outside_workspace"


def test_bad_config_is_a_usage_error(workspace, cli) -> None:
    root = workspace({"mod.py": OK, "lanser.toml": "server = [unclosed\n"})
    result = cli(["definition", "mod.py:1:5", "--json"], cwd=root)
    assert result.code == 2
    assert result.json["error"]["code"] == "bad_config"


def test_help_lists_exit_codes(cli, tmp_path) -> None:
    result = cli(["--help"], cwd=tmp_path)
    assert result.code == 0
    assert "Exit codes" in result.stdout and "4 the target did not resolve" in result.stdout


def test_a_json_lines_command_reports_errors_as_json(tmp_path, cli) -> None:
    """``episode serve`` speaks JSON lines without --json: its errors are JSON too (the
    one boundary is told so by the command, not guessed from a parameter name)."""
    result = cli(["episode", "serve", "--root", str(tmp_path / "gone")], cwd=tmp_path)
    assert result.code == 2
    assert result.json["error"]["code"] == "bad_root"
    assert result.stderr == ""
