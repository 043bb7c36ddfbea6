"""Workspace config cannot start programs on the host until the user approves it.

Issue 17, findings 1 and 2: a patch that puts a server ``command`` or a test
interpreter into the workspace's config ran it on the host, as the invoking user.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from typer.testing import CliRunner

from lanser.cli.app import app
from lanser.workspace import Workspace

RUNNER = CliRunner()


def invoke(*args: str):
    result = RUNNER.invoke(app, list(args))
    return result.exit_code, result.stdout


def payload_command(marker: Path) -> str:
    """A `command = [...]` TOML value that proves it ran by creating ``marker``."""
    return json.dumps([sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"])


def test_a_server_command_in_pyproject_is_refused_until_trusted(workspace, tmp_path) -> None:
    marker = tmp_path / "ran"
    root = workspace({"m.py": "x = 1\n"}, git_repo=True)
    # What an agent's patch did: redefine the default server in [tool.lanser].
    (root / "pyproject.toml").write_text(
        f"[project]\nname = 'm'\n\n[tool.lanser.servers.basedpyright]\n"
        f"command = {payload_command(marker)}\n")
    code, out = invoke("diagnostics", "m.py", "--root", str(root), "--json")
    assert code == 2, out
    error = json.loads(out)["error"]
    assert error["code"] == "untrusted_config"
    assert "servers.basedpyright.command in pyproject.toml" in error["message"]
    assert "lanser trust" in error["message"]
    assert str(tmp_path) not in error["message"]
    assert not marker.exists()
    # `lanser servers` lists it without starting it, and says why.
    code, out = invoke("servers", "--root", str(root), "--json")
    row = {r["name"]: r for r in json.loads(out)["servers"]}["basedpyright"]
    assert code == 0 and not row["available"] and "lanser trust" in row["reason"]
    assert not marker.exists()


def test_trust_status_revoke_and_a_changed_config_is_untrusted_again(workspace) -> None:
    root = workspace({"lanser.toml": '[servers.mine]\ncommand = ["mine-ls"]\n'},
                     trusted=False)
    code, out = invoke("trust", "--status", "--root", str(root), "--json")
    status = json.loads(out)
    assert code == 0 and status["file"] == "lanser.toml" and not status["trusted"]
    assert status["programs"] == ["servers.mine.command"]
    assert Workspace(root).config.untrusted == ("servers.mine.command",)

    code, out = invoke("trust", "--root", str(root), "--json")
    assert code == 0 and json.loads(out)["trusted"]
    assert Workspace(root).config.untrusted == ()
    assert Workspace(root).config.servers["mine"]["command"] == ["mine-ls"]

    # One changed byte of meaning: a new approval is needed.
    (root / "lanser.toml").write_text('[servers.mine]\ncommand = ["mine-ls", "--x"]\n')
    assert Workspace(root).config.untrusted == ("servers.mine.command",)
    code, out = invoke("trust", "--status", "--root", str(root), "--json")
    assert not json.loads(out)["trusted"]

    invoke("trust", "--root", str(root))
    code, out = invoke("trust", "--revoke", "--root", str(root), "--json")
    assert code == 0 and json.loads(out)["revoked"] == 2  # both contents approved
    assert not json.loads(out)["trusted"]


def test_an_approved_config_copied_elsewhere_is_not_approved(workspace, tmp_path) -> None:
    """A scratch copy of a revision being scored never supplies program settings,
    even with the very bytes the user approved at the workspace's own path."""
    root = workspace({"lanser.toml": '[runner]\npython = "/usr/bin/python3"\n'})
    assert Workspace(root).config.program("runner", "python") == "/usr/bin/python3"
    copy = tmp_path / "scratch"
    shutil.copytree(root, copy)
    config = Workspace(copy).config
    assert config.untrusted == ("runner.python",)
    assert "python" not in config.section("runner")


def test_the_test_interpreter_from_an_untrusted_config_never_runs(workspace, tmp_path) -> None:
    marker = tmp_path / "evil-ran"
    evil = f"#!/bin/sh\ntouch {marker}\nexec {sys.executable} \"$@\"\n"
    root = workspace({"test_a.py": "def test_a():\n    pass\n", "evil.sh": evil,
                      "lanser.toml": '[runner]\npython = "./evil.sh"\n'}, trusted=False)
    (root / "evil.sh").chmod(0o755)
    code, out = invoke("test", "--root", str(root), "--json")
    assert code == 2, out
    error = json.loads(out)["error"]
    assert error["code"] == "untrusted_config"
    assert "runner.python in lanser.toml" in error["message"]
    assert not marker.exists()


def test_the_user_config_chooses_the_interpreter(workspace, tmp_path, monkeypatch) -> None:
    """~/.config/lanser/config.toml is the user's: its [runner] python is honoured,
    and it wins over nothing an untrusted workspace says."""
    user = tmp_path / "user-config"
    user.mkdir()
    (user / "config.toml").write_text(f'[runner]\npython = "{sys.executable}"\n')
    monkeypatch.setenv("LANSER_CONFIG_DIR", str(user))
    root = workspace({"lanser.toml": '[runner]\npython = "./evil.sh"\n'}, trusted=False)
    assert Workspace(root).config.program("runner", "python") == sys.executable


def test_the_daemon_does_not_start_a_changed_untrusted_server(workspace, tmp_path) -> None:
    """The daemon re-reads the config when it changes: a command an agent put there
    after the user's approval is refused, not started."""
    import asyncio

    from lanser.queries.daemon import daemon_for

    first, second = tmp_path / "first", tmp_path / "second"
    root = workspace({"m.py": "x = 1\n", "lanser.toml":
                      f"[servers.mine]\ncommand = {payload_command(first)}\n"})

    async def run() -> dict:
        daemon = daemon_for(root)
        (root / "lanser.toml").write_text(
            f"[servers.mine]\ncommand = {payload_command(second)}\n")
        line = json.dumps({"method": "query", "server": "mine", "queries": []}).encode()
        return await daemon._dispatch(line)

    reply = asyncio.run(run())
    assert reply["exit_code"] == 2 and reply["error"]["code"] == "untrusted_config", reply
    assert not first.exists() and not second.exists()
