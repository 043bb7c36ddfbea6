"""Git awareness: dirty files refused, applies recorded on refs/lanser/applies, exact undo."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.conftest import git

FILES = {"a.py": "x = 1\n", "b.py": "y = 2\n", "c.py": "z = 3\n"}


def _patch(path: str, old: str, new: str) -> str:
    return f"--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-{old}\n+{new}\n"


def _write_patch(root: Path, name: str, text: str) -> str:
    """Edit files live outside the repository's tracked set (untracked is fine)."""
    (root / ".git" / "info" / "exclude").write_text("*.diff\n")
    (root / name).write_text(text)
    return name


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.py"))}


def test_dirty_files_the_edit_does_not_touch_do_not_matter(workspace, cli) -> None:
    root = workspace(FILES, git_repo=True)
    patch = _write_patch(root, "p.diff", _patch("a.py", "x = 1", "x = 10"))
    (root / "c.py").write_text("z = 30\n")  # modified, not touched by the edit
    (root / "b.py").write_text("y = 20\n")
    git(root, "add", "b.py")  # staged, not touched either
    result = cli(["apply", patch, "--json"], cwd=root)
    assert result.code == 0, result.stdout
    assert (root / "a.py").read_text() == "x = 10\n"


def test_modified_staged_and_untracked_files_are_dirty(workspace, cli) -> None:
    root = workspace(FILES, git_repo=True)
    cases = {
        "modified": lambda: (root / "a.py").write_text("x = 1\nextra = 0\n"),
        "staged": lambda: ((root / "a.py").write_text("x = 1\nextra = 0\n"),
                           git(root, "add", "a.py")),
    }
    patch_text = "--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n-x = 1\n+x = 10\n extra = 0\n"
    for name, make_dirty in cases.items():
        git(root, "reset", "-q", "--hard")
        make_dirty()
        patch = _write_patch(root, "p.diff", patch_text)
        result = cli(["apply", patch, "--json"], cwd=root)
        assert result.code == 2, name
        assert result.json["error"]["code"] == "dirty"
        assert "a.py" in result.json["error"]["message"]
        assert (root / "a.py").read_text() == "x = 1\nextra = 0\n"
        assert cli(["apply", patch, "--allow-dirty", "--json"], cwd=root).code == 0, name
        assert (root / "a.py").read_text() == "x = 10\nextra = 0\n"
        git(root, "update-ref", "-d", "refs/lanser/applies")
    git(root, "reset", "-q", "--hard")
    (root / "new.py").write_text("n = 1\n")  # untracked
    patch = _write_patch(root, "p.diff", _patch("new.py", "n = 1", "n = 2"))
    result = cli(["apply", patch, "--json"], cwd=root)
    assert result.code == 2 and result.json["error"]["code"] == "dirty"


def test_apply_is_recorded_on_lanser_ref_and_leaves_branch_and_index_alone(workspace, cli):
    root = workspace(FILES, git_repo=True)
    head = git(root, "rev-parse", "HEAD")
    branch = git(root, "symbolic-ref", "HEAD")
    patch = _write_patch(root, "p.diff", _patch("a.py", "x = 1", "x = 10"))
    assert cli(["apply", patch], cwd=root).code == 0
    assert git(root, "rev-parse", "HEAD") == head
    assert git(root, "symbolic-ref", "HEAD") == branch
    assert git(root, "diff", "--cached", "--name-only") == ""
    assert git(root, "status", "--porcelain", "--untracked-files=no") == " M a.py\n"
    diff = git(root, "diff", "refs/lanser/applies^", "refs/lanser/applies")
    assert "-x = 1\n+x = 10\n" in diff
    assert git(root, "diff", "--stat", "refs/lanser/applies^", "refs/lanser/applies").count(
        "|") == 1
    assert git(root, "branch", "--list") == "* main\n"


def test_second_apply_on_lanser_written_file_is_not_dirty_and_undo_twice(workspace, cli):
    root = workspace({**FILES, "w.py": b"a = 1\r\nb = 2\r\n"}, git_repo=True)
    (root / "c.py").chmod(0o755)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "exec bit")
    original = _snapshot(root)
    first = _write_patch(root, "one.diff", _patch("a.py", "x = 1", "x = 10")
                         + "--- a/w.py\n+++ b/w.py\n@@ -1 +1 @@\n-a = 1\n+a = 100\n"
                         + "--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1 @@\n+n = 1\n")
    assert cli(["apply", first], cwd=root).code == 0
    after_first = _snapshot(root)
    second = _write_patch(root, "two.diff", _patch("a.py", "x = 10", "x = 11")
                          + _patch("c.py", "z = 3", "z = 33")
                          + "--- a/b.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-y = 2\n")
    result = cli(["apply", second, "--json"], cwd=root)
    assert result.code == 0, result.stdout  # a.py is "dirty" only with lanser's own bytes
    assert stat.S_IMODE((root / "c.py").stat().st_mode) == 0o755
    assert not (root / "b.py").exists()

    undo = cli(["undo", "--json"], cwd=root)
    assert undo.code == 0, undo.stdout
    assert undo.json["files"] == ["a.py", "b.py", "c.py"] and undo.json["remaining"] == 1
    assert _snapshot(root) == after_first
    assert stat.S_IMODE((root / "c.py").stat().st_mode) == 0o755
    assert cli(["undo"], cwd=root).code == 0
    assert _snapshot(root) == original
    assert (root / "w.py").read_bytes() == b"a = 1\r\nb = 2\r\n"
    assert git(root, "for-each-ref", "refs/lanser/") == ""
    nothing = cli(["undo", "--json"], cwd=root)
    assert nothing.code == 2 and nothing.json["error"]["code"] == "nothing_to_undo"


def test_undo_refuses_to_clobber_later_changes(workspace, cli) -> None:
    root = workspace(FILES, git_repo=True)
    patch = _write_patch(root, "p.diff", _patch("a.py", "x = 1", "x = 10"))
    assert cli(["apply", patch], cwd=root).code == 0
    (root / "a.py").write_text("x = 10\n# edited by hand\n")
    result = cli(["undo", "--json"], cwd=root)
    assert result.code == 2 and result.json["error"]["code"] == "stale"
    assert (root / "a.py").read_text() == "x = 10\n# edited by hand\n"


def test_dirty_after_lanser_wrote_then_human_edited(workspace, cli) -> None:
    root = workspace(FILES, git_repo=True)
    assert cli(["apply", _write_patch(root, "p.diff", _patch("a.py", "x = 1", "x = 10"))],
               cwd=root).code == 0
    (root / "a.py").write_text("x = 12\n")
    result = cli(["apply", _write_patch(root, "q.diff", _patch("a.py", "x = 12", "x = 13")),
                  "--json"], cwd=root)
    assert result.code == 2 and result.json["error"]["code"] == "dirty"


def test_undo_outside_git_takes_back_what_apply_wrote(workspace, tmp_path) -> None:
    """No git: applies are recorded under .lanser/applies/ (issue 15, defect 9)."""
    import json

    from typer.testing import CliRunner

    from lanser.cli.app import app

    root = workspace(FILES)
    before = _snapshot(root)

    def run(*args: str):
        out = CliRunner().invoke(app, [*args, "--root", str(root), "--json"])
        return out.exit_code, json.loads(out.stdout)

    assert run("undo")[1]["error"]["code"] == "nothing_to_undo"
    for name, (old, new) in (("p.diff", ("x = 1", "x = 10")), ("q.diff", ("x = 10", "x = 11"))):
        (tmp_path / name).write_text(_patch("a.py", old, new))
        assert run("apply", str(tmp_path / name))[0] == 0
    (root / "b.py").unlink()  # files the applies did not touch do not matter
    tip = run_tip(root, 2)
    assert run("undo") == (0, {"status": "undone", "record": tip, "files": ["a.py"],
                               "remaining": 1})
    assert (root / "a.py").read_text() == "x = 10\n"
    assert run("undo")[0] == 0
    assert _snapshot(root) == {k: v for k, v in before.items() if k != "b.py"}
    assert run("undo")[1]["error"]["code"] == "nothing_to_undo"


def run_tip(root: Path, depth: int) -> str:
    from lanser.edits.filehistory import FileHistory

    history = FileHistory(root)
    assert history.depth() == depth
    return str(history.tip())
