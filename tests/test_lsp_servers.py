"""``lanser servers``: every known server with its pin, availability and command."""

from __future__ import annotations

import sys


def test_servers_json_lists_builtins_and_configured_ones(workspace, cli) -> None:
    config = (f'[servers.mine]\ncommand = ["{sys.executable}", "-m", "mine"]\n'
              '[servers.absent]\ncommand = ["no-such-lanser-server-binary"]\n')
    root = workspace({"lanser.toml": config})
    result = cli(["servers", "--json"], cwd=root)
    assert result.code == 0, result.stderr
    rows = {row["name"]: row for row in result.json["servers"]}
    assert list(rows) == sorted(rows)
    assert {"basedpyright", "pyright", "pylsp", "jedi-language-server", "mine",
            "absent"} <= set(rows)
    based = rows["basedpyright"]
    assert based["default"] and based["builtin"] and based["available"]
    assert based["pinned"] == based["installed"] and based["pin_ok"]
    assert based["command"][-1] == "--stdio" and based["reason"] is None
    assert [r["name"] for r in rows.values() if r["default"]] == ["basedpyright"]
    assert rows["mine"]["command"] == [sys.executable, "-m", "mine"]
    assert rows["mine"]["available"] and not rows["mine"]["builtin"]
    absent = rows["absent"]
    assert not absent["available"] and "not found" in absent["reason"]


def test_servers_json_bad_config_is_exit_2(workspace, cli) -> None:
    root = workspace({"lanser.toml": "[servers.broken]\nlanguages = ['python']\n"})
    result = cli(["servers", "--json"], cwd=root)
    assert result.code == 2
    assert result.json["error"]["code"] == "bad_config"
    assert "Traceback" not in result.stderr
