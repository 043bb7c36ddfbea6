"""The jail: every escape route out of the workspace, and deny rules on every file touched."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lanser.edits import DEFAULT_DENY, Denied, Jail
from lanser.errors import OutsideWorkspace
from lanser.workspace import Workspace

FILES = {"pkg/mod.py": "x = 1\n", "ok.py": "y = 2\n"}


def _jail(root: Path, deny: tuple[str, ...] = DEFAULT_DENY) -> Jail:
    return Jail(root, deny)


def _replace_patch(path: str, old: str = "x = 1", new: str = "x = 2") -> str:
    return (f"--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-{old}\n+{new}\n")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside"
    target.mkdir()
    (target / "victim.py").write_text("x = 1\n")
    return target


@pytest.mark.parametrize("given", ["../outside/victim.py", "pkg/../../outside/victim.py",
                                   "pkg/../.."])
def test_dotdot_out_is_refused(workspace, given: str) -> None:
    root = workspace(FILES)
    with pytest.raises(OutsideWorkspace) as info:
        _jail(root).check(given)
    assert given in info.value.message


@pytest.mark.parametrize("given", ["<stdlib>/os/__init__.pyi",
                                   "<site-packages>/requests/api.py",
                                   "<basedpyright>/dist/typeshed-fallback/stdlib/builtins.pyi"])
def test_server_anchored_names_are_outside(workspace, given: str) -> None:
    root = workspace(FILES)
    with pytest.raises(OutsideWorkspace):
        _jail(root).check(given)


def test_an_edit_cannot_lift_its_own_deny_rules(workspace) -> None:
    root = workspace({**FILES, "lanser.toml": "[edits]\ndeny = []\n"})
    with pytest.raises(Denied):
        Jail.for_workspace(Workspace.open(root)).check("lanser.toml")


def test_dotdot_that_stays_inside_is_fine(workspace) -> None:
    root = workspace(FILES)
    assert _jail(root).check("pkg/../ok.py").rel == "ok.py"


def test_absolute_path_outside_is_refused_inside_is_fine(workspace, outside: Path) -> None:
    root = workspace(FILES)
    with pytest.raises(OutsideWorkspace):
        _jail(root).check(str(outside / "victim.py"))
    with pytest.raises(OutsideWorkspace):
        _jail(root).check("/etc/passwd")
    # A sibling whose name merely starts with the root's name is still outside.
    sibling = Path(str(root) + "-evil")
    sibling.mkdir()
    with pytest.raises(OutsideWorkspace):
        _jail(root).check(str(sibling / "x.py"))
    assert _jail(root).check(str(root / "pkg" / "mod.py")).rel == "pkg/mod.py"


def test_symlinked_file_pointing_out_is_refused(workspace, outside: Path) -> None:
    root = workspace(FILES)
    (root / "link.py").symlink_to(outside / "victim.py")
    with pytest.raises(OutsideWorkspace) as info:
        _jail(root).check("link.py")
    assert "symlink" in info.value.message


def test_symlinked_directory_pointing_out_is_refused_even_for_new_files(
        workspace, outside: Path) -> None:
    root = workspace(FILES)
    (root / "vendor").symlink_to(outside, target_is_directory=True)
    for given in ("vendor/victim.py", "vendor/new_file.py", "vendor/deeper/new.py"):
        with pytest.raises(OutsideWorkspace):
            _jail(root).check(given)


def test_symlink_inside_the_workspace_resolves_to_its_real_path(workspace) -> None:
    root = workspace(FILES)
    (root / "alias.py").symlink_to(root / "ok.py")
    target = _jail(root).check("alias.py")
    assert (target.rel, target.is_symlink) == ("ok.py", True)


@pytest.mark.parametrize("given", [".git/config", ".git/hooks/pre-commit", "sub/.git/HEAD",
                                   ".GIT/config",
                                   ".lanser/journal/manifest.json"])
def test_git_and_state_dirs_are_refused(workspace, given: str) -> None:
    root = workspace(FILES)
    with pytest.raises(Denied) as info:
        _jail(root).check(given)
    assert info.value.code == "denied"


def test_symlink_into_git_dir_is_refused(workspace) -> None:
    root = workspace(FILES, git_repo=True)
    (root / "cfg").symlink_to(root / ".git" / "config")
    with pytest.raises(Denied):
        _jail(root).check("cfg")


@pytest.mark.parametrize("given", [".env", "app/.env", ".env.production", "certs/server.pem",
                                   "deploy/id_rsa", "poetry.lock", "web/package-lock.json",
                                   "secrets/token.txt", "app/secrets/db.py", "uv.lock"])
def test_default_deny_globs(workspace, given: str) -> None:
    root = workspace(FILES)
    with pytest.raises(Denied) as info:
        _jail(root).check(given)
    assert given in info.value.message


@pytest.mark.parametrize("given", [".ENV", "app/.Env.local", "Poetry.lock", "SECRETS/t.txt",
                                   "certs/Server.PEM", "LANSER.TOML"])
def test_deny_globs_ignore_case(workspace, given: str) -> None:
    """On a case-insensitive filesystem .ENV is .env: the rules must not be dodged by case."""
    root = workspace(FILES)
    with pytest.raises(Denied):
        _jail(root).check(given)


def test_refusals_name_no_machine_path(workspace, outside: Path) -> None:
    root = workspace(FILES)
    (root / "link.py").symlink_to(outside / "victim.py")
    messages = []
    for given in (str(outside / "victim.py"), "link.py", "/etc/passwd", str(root / ".env")):
        with pytest.raises((OutsideWorkspace, Denied)) as info:
            _jail(root).check(given)
        messages.append(info.value.message)
    assert messages[:3] == ["<outside>/outside/victim.py: outside the workspace",
                            "link.py: resolves through a symlink to <outside>/outside/victim.py, "
                            "outside the workspace",
                            "<outside>/etc/passwd: outside the workspace"]
    assert messages[3].startswith(".env: denied")
    assert not any(str(root) in m or str(outside) in m for m in messages)


def test_a_directory_swapped_for_a_symlink_mid_apply_is_refused(workspace, outside: Path) -> None:
    """Jailed and checked, then pkg/ becomes a symlink to an identical copy outside:
    the write re-checks the directory, refuses, and rolls the earlier files back."""
    import shutil

    from lanser.edits import Envelope, StaleContent, journal
    from lanser.lsp.facts import FileChange, TextEdit
    from lanser.positions import Position, Span

    root = workspace({"a.py": "y = 2\n", "pkg/mod.py": "x = 1\n"})
    envelope = Envelope(Workspace.open(root))
    span = Span(Position(1, 5), Position(1, 6))
    preview = envelope.preview([FileChange("edit", "a.py", (TextEdit(span, "3"),)),
                                FileChange("edit", "pkg/mod.py", (TextEdit(span, "9"),))],
                               origin="test")
    shutil.copytree(root / "pkg", outside / "pkg")
    shutil.rmtree(root / "pkg")
    (root / "pkg").symlink_to(outside / "pkg", target_is_directory=True)
    with pytest.raises(StaleContent) as info:
        journal.begin(root, envelope.state_dir, preview.effects)
    assert "pkg/mod.py: its directory now resolves elsewhere" in info.value.message
    assert (outside / "pkg" / "mod.py").read_text() == "x = 1\n"
    assert sorted(os.listdir(outside / "pkg")) == ["mod.py"]  # no temp file left there
    assert (root / "a.py").read_text() == "y = 2\n"  # the first file was rolled back
    assert not journal.pending(envelope.state_dir)


@pytest.mark.parametrize("given", ["environment.py", "app/secret_sauce.py", "locks.py"])
def test_default_deny_does_not_overreach(workspace, given: str) -> None:
    root = workspace(FILES)
    assert _jail(root).check(given).rel == given


def test_config_adds_deny_globs_and_can_drop_defaults(workspace) -> None:
    root = workspace({**FILES, "lanser.toml": '[edits]\ndeny = ["generated/*", "*.min.js"]\n'})
    jail = Jail.for_workspace(Workspace.open(root))
    for given in ("generated/api.py", "static/app.min.js", ".env"):
        with pytest.raises(Denied):
            jail.check(given)
    root2 = workspace({**FILES, "lanser.toml": "[edits]\ndefault_deny = false\n"})
    assert Jail.for_workspace(Workspace.open(root2)).check(".env").rel == ".env"


# -- end to end: exit 2, the path named, nothing written -------------------------------


def _assert_refused(result, code: str, path: str) -> None:
    assert result.code == 2, (result.stdout, result.stderr)
    error = result.json["error"]
    assert error["code"] == code
    assert path in error["message"]


def test_cli_refuses_patch_escaping_via_dotdot(workspace, cli, outside: Path) -> None:
    root = workspace(FILES)
    (root / "p.diff").write_text(_replace_patch("../outside/victim.py"))
    result = cli(["apply", "p.diff", "--json"], cwd=root)
    _assert_refused(result, "outside_workspace", "../outside/victim.py")
    assert (outside / "victim.py").read_text() == "x = 1\n"


def test_cli_refuses_workspace_edit_through_symlinked_dir(workspace, cli, outside: Path) -> None:
    root = workspace(FILES)
    (root / "vendor").symlink_to(outside, target_is_directory=True)
    edit = {"changes": {(root / "vendor" / "victim.py").as_uri(): [
        {"range": {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 5}},
         "newText": "2"}]}}
    (root / "edit.json").write_text(json.dumps(edit))
    result = cli(["apply", "edit.json", "--json"], cwd=root)
    _assert_refused(result, "outside_workspace", "vendor/victim.py")
    assert (outside / "victim.py").read_text() == "x = 1\n"


def test_cli_deny_applies_to_every_file_of_an_edit(workspace, cli) -> None:
    """The published tool checked only the selector's file; a later file slipped through."""
    root = workspace({**FILES, "poetry.lock": "x = 1\n"})
    patch = _replace_patch("ok.py", "y = 2", "y = 3") + _replace_patch("poetry.lock")
    (root / "p.diff").write_text(patch)
    result = cli(["apply", "p.diff", "--json"], cwd=root)
    _assert_refused(result, "denied", "poetry.lock")
    # All or nothing: the allowed file was not written either.
    assert (root / "ok.py").read_text() == "y = 2\n"
    assert (root / "poetry.lock").read_text() == "x = 1\n"


def test_cli_refuses_git_dir_and_creating_files_there(workspace, cli) -> None:
    root = workspace(FILES, git_repo=True)
    before = (root / ".git" / "config").read_bytes()
    patch = "--- /dev/null\n+++ b/.git/hooks/post-checkout\n@@ -0,0 +1 @@\n+rm -rf /\n"
    (root / "p.diff").write_text(patch)
    result = cli(["apply", "p.diff", "--json"], cwd=root)
    _assert_refused(result, "denied", ".git/hooks/post-checkout")
    assert not (root / ".git" / "hooks" / "post-checkout").exists()
    assert (root / ".git" / "config").read_bytes() == before


def test_cli_refuses_rename_target_outside(workspace, cli, outside: Path) -> None:
    root = workspace(FILES)
    edit = {"documentChanges": [{"kind": "rename", "oldUri": (root / "ok.py").as_uri(),
                                 "newUri": (outside / "stolen.py").as_uri()}]}
    (root / "edit.json").write_text(json.dumps(edit))
    result = cli(["apply", "edit.json", "--json"], cwd=root)
    assert result.code == 2
    assert result.json["error"]["code"] == "outside_workspace"
    assert (root / "ok.py").exists() and not (outside / "stolen.py").exists()
    assert os.listdir(outside) == ["victim.py"]


def test_cli_refuses_an_absolute_path_outside(workspace, cli, outside: Path) -> None:
    root = workspace(FILES)
    (root / "p.diff").write_text(_replace_patch(str(outside / "victim.py")))
    result = cli(["apply", "p.diff", "--json"], cwd=root)
    _assert_refused(result, "outside_workspace", "<outside>/outside/victim.py")
    assert str(outside) not in result.json["error"]["message"]
    assert (outside / "victim.py").read_text() == "x = 1\n"


def test_cli_refuses_a_symlinked_file_pointing_out(workspace, cli, outside: Path) -> None:
    root = workspace(FILES)
    (root / "link.py").symlink_to(outside / "victim.py")
    (root / "p.diff").write_text(_replace_patch("link.py"))
    result = cli(["apply", "p.diff", "--json"], cwd=root)
    _assert_refused(result, "outside_workspace", "link.py")
    assert "symlink" in result.json["error"]["message"]
    assert (outside / "victim.py").read_text() == "x = 1\n"
