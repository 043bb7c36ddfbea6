"""``lanser doctor`` and ``lanser --version``, in process (typer's CliRunner)."""

from __future__ import annotations

import importlib.metadata
import json

from typer.testing import CliRunner

from lanser.cli.app import app

GHOST = '''server = "ghost"

[servers.ghost]
command = ["/nonexistent/ghost-language-server", "--stdio"]
languages = ["python"]
'''


def _doctor(*args: str):
    result = CliRunner().invoke(app, ["doctor", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def _checks(payload: dict) -> dict[str, dict]:
    return {c["name"]: c for c in payload["checks"]}


def test_a_missing_default_server_is_exit_1_with_a_fix(workspace):
    root = workspace({"lanser.toml": GHOST, "app.py": "x = 1\n"})
    code, payload = _doctor("--root", str(root), "--server", "ghost")
    assert code == 1 and payload["ok"] is False
    ghost = _checks(payload)["server ghost (default)"]
    assert ghost["status"] == "fail" and "not found" in ghost["detail"]
    assert "[servers.ghost]" in ghost["fix"]
    # an unknown name is a miss too, not a crash
    code, payload = _doctor("--root", str(root), "--server", "nosuch")
    assert code == 0  # not the workspace's default: a warning
    assert _checks(payload)["server nosuch"]["status"] == "warn"


def test_an_untrusted_server_command_is_a_miss_not_a_crash(workspace):
    root = workspace({"lanser.toml": GHOST}, trusted=False)
    code, payload = _doctor("--root", str(root), "--server", "ghost", "--quick")
    ghost = _checks(payload)["server ghost (default)"]
    assert code == 1 and ghost["status"] == "fail"
    assert "not trusted" in ghost["detail"] and "lanser trust" in ghost["fix"]


def test_quick_doctor_on_a_healthy_machine_is_exit_0(workspace):
    root = workspace({"app.py": "x = 1\n"})
    code, payload = _doctor("--root", str(root), "--quick")
    checks = _checks(payload)
    assert code == 0 and payload["ok"] is True, payload
    assert checks["python"]["status"] == "ok" and checks["git"]["status"] == "ok"
    assert checks["server basedpyright (default)"]["status"] == "ok"
    for name in ("sandbox namespaces", "sandbox memory limit", "daemon sockets",
                 "bundle store", "extra torch", "extra ray"):
        assert name in checks
    assert not (root / ".lanser").exists()  # doctor looks, it does not create


def test_the_default_server_starts(workspace):
    root = workspace({"app.py": "x = 1\n"})
    code, payload = _doctor("--root", str(root), "--server", "basedpyright")
    assert code == 0, payload
    assert _checks(payload)["server basedpyright (default)"]["detail"].endswith("starts")


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"lanser {importlib.metadata.version('lanser')}\n"
