"""The jail protects configuration by default (issue 17, finding 3).

With no lanser.toml, ``[tool.lanser]`` in pyproject.toml is the config, and a patch
could lift the deny list through it (``[tool.lanser.edits] default_deny = false``),
then write ``.env`` and ``lanser.toml``. Each test is a real ``lanser apply``.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lanser.cli.app import app

PYPROJECT = "[project]\nname = \"m\"\ndependencies = []\n"


def apply(root, patch: str) -> tuple[int, dict]:
    (root.parent / "edit.patch").write_text(patch)
    result = CliRunner().invoke(app, ["apply", str(root.parent / "edit.patch"), "--root",
                                      str(root), "--json"])
    return result.exit_code, json.loads(result.stdout)


def append_patch(name: str, old: str, added: str) -> str:
    lines = old.splitlines()
    new = added.splitlines()
    body = "".join(f" {line}\n" for line in lines) + "".join(f"+{line}\n" for line in new)
    return (f"--- a/{name}\n+++ b/{name}\n@@ -1,{len(lines)} +1,{len(lines) + len(new)} @@\n"
            + body)


def create_patch(name: str, text: str) -> str:
    lines = text.splitlines()
    return (f"--- /dev/null\n+++ b/{name}\n@@ -0,0 +1,{len(lines)} @@\n"
            + "".join(f"+{line}\n" for line in lines))


def test_a_patch_lifting_the_deny_list_through_pyproject_is_refused(workspace) -> None:
    root = workspace({"pyproject.toml": PYPROJECT, "m.py": "x = 1\n"})
    code, out = apply(root, append_patch(
        "pyproject.toml", PYPROJECT, "\n[tool.lanser.edits]\ndefault_deny = false\n"))
    assert code == 2, out
    assert out["error"]["code"] == "denied"
    assert "[tool.lanser]" in out["error"]["message"]
    assert (root / "pyproject.toml").read_text() == PYPROJECT
    code, out = apply(root, create_patch(".env", "TOKEN=x\n"))
    assert code == 2 and not (root / ".env").exists()


def test_other_parts_of_pyproject_stay_editable(workspace) -> None:
    root = workspace({"pyproject.toml": PYPROJECT + "\n[tool.lanser]\nserver = \"pylsp\"\n"})
    old = (root / "pyproject.toml").read_text()
    patch = ("--- a/pyproject.toml\n+++ b/pyproject.toml\n@@ -1,3 +1,3 @@\n"
             " [project]\n name = \"m\"\n-dependencies = []\n+dependencies = [\"attrs\"]\n")
    code, out = apply(root, patch)
    assert code == 0, out
    assert (root / "pyproject.toml").read_text() == old.replace("[]", '["attrs"]')


@pytest.mark.parametrize("table", ["tool.pytest.ini_options", "tool.basedpyright",
                                   "tool.pyright"])
def test_checker_and_pytest_tables_of_pyproject_are_protected(workspace, table) -> None:
    root = workspace({"pyproject.toml": PYPROJECT})
    code, out = apply(root, append_patch("pyproject.toml", PYPROJECT,
                                         f"\n[{table}]\nx = 1\n"))
    assert code == 2 and out["error"]["code"] == "denied", out


@pytest.mark.parametrize("name", ["lanser.toml", "pyrightconfig.json", "pytest.ini", "tox.ini",
                                  "setup.cfg", "conftest.py", "tests/conftest.py"])
def test_config_files_are_protected(workspace, name) -> None:
    root = workspace({"m.py": "x = 1\n"})
    code, out = apply(root, create_patch(name, "x = 1\n"))
    assert code == 2 and out["error"]["code"] == "denied", out
    assert not (root / name).exists()


def test_the_switch_lives_in_protected_config(workspace) -> None:
    """``protect_config = false`` (in lanser.toml, itself protected) lifts the rule;
    ``default_deny = false`` alone does not."""
    root = workspace({"lanser.toml": "[edits]\ndefault_deny = false\n", "m.py": ""})
    code, _ = apply(root, create_patch("conftest.py", "x = 1\n"))
    assert code == 2
    root = workspace({"lanser.toml": "[edits]\nprotect_config = false\n", "m.py": ""})
    code, out = apply(root, create_patch("conftest.py", "x = 1\n"))
    assert code == 0, out
