"""A copy brought up to date file by file is the copy a whole listing makes.

The scorer copies its base tree ahead (``prefill``: the tree as it is, the candidate's
files put back) and then only the files the next candidate changed. Each case below
changes a real git workspace, brings a prefilled copy up to date and compares it with
a fresh whole copy, byte for byte, mode for mode, link for link.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import git

from lanser.runner.copying import copy_files, put_back, snapshot_files, update_files
from lanser.runner.run import ready_sandbox, run_tests
from lanser.runner.sandbox import isolation_prefix


def tree(root: Path) -> dict[str, object]:
    """Every entry under ``root``: folders, links (target), files (bytes, mode)."""
    found: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                found[rel] = "dir"
            else:
                found[rel] = (path.read_bytes(), path.stat().st_mode & 0o777)
    return found


def whole_copy(root: Path, dest: Path) -> Path:
    dest.mkdir()
    copy_files(root, dest, snapshot_files(root))
    return dest


def state(root: Path, paths: list[str]) -> dict[str, tuple[bytes | None, int | None]]:
    """What ``paths`` hold in ``root`` now, as ``put_back`` takes it."""
    held: dict[str, tuple[bytes | None, int | None]] = {}
    for rel in paths:
        path = root / rel
        held[rel] = ((path.read_bytes(), path.stat().st_mode) if path.is_file()
                     else (None, None))
    return held


@pytest.fixture
def base(workspace) -> Path:
    root = workspace({
        "pkg/__init__.py": "",
        "pkg/core.py": "def f():\n    return 1\n",
        "pkg/deep/util.py": "X = 1\n",
        "tests/test_core.py": "from pkg.core import f\n\ndef test_f():\n    assert f() == 1\n",
        ".gitignore": "*.log\nbuild/\n",
        "run.sh": "#!/bin/sh\necho hi\n",
    }, git_repo=True)
    os.chmod(root / "run.sh", 0o755)
    return root


def candidate_round(root: Path, tmp: Path, change) -> tuple[dict, dict]:
    """As the scorer does: ``change`` writes a candidate in the root; the spare is
    copied meanwhile with the candidate's files put back (the base again); then the
    spare is brought up to date for a candidate writing the same files. Returns it
    beside a whole copy of that candidate."""
    before = tree(whole_copy(root, tmp / "base"))
    paths = change(root)
    prefilled = whole_copy(root, tmp / "prefilled")
    assert put_back(prefilled, state(tmp / "base", paths))
    assert tree(prefilled) == before
    assert update_files(root, prefilled, paths)
    return tree(prefilled), tree(whole_copy(root, tmp / "fresh"))


def edit_modify(root: Path) -> list[str]:
    (root / "pkg/core.py").write_text("def f():\n    return 2\n")
    return ["pkg/core.py"]


def edit_create_in_new_folders(root: Path) -> list[str]:
    (root / "pkg/new/inner").mkdir(parents=True)
    (root / "pkg/new/inner/mod.py").write_text("Y = 2\n")
    return ["pkg/new/inner/mod.py"]


def edit_delete_last_file_of_folder(root: Path) -> list[str]:
    (root / "pkg/deep/util.py").unlink()
    (root / "pkg/deep").rmdir()
    return ["pkg/deep/util.py"]


def edit_mode(root: Path) -> list[str]:
    os.chmod(root / "run.sh", 0o644)
    os.chmod(root / "pkg/core.py", 0o755)
    return ["run.sh", "pkg/core.py"]


def edit_symlink(root: Path) -> list[str]:
    (root / "pkg/alias.py").symlink_to("core.py")
    return ["pkg/alias.py"]


def edit_ignored_file(root: Path) -> list[str]:
    (root / "debug.log").write_text("noise\n")
    (root / "build").mkdir()
    (root / "build/out.py").write_text("Z = 3\n")
    (root / "pkg/core.py").write_text("def f():\n    return 3\n")
    return ["debug.log", "build/out.py", "pkg/core.py"]


def edit_file_becomes_folder(root: Path) -> list[str]:
    (root / "pkg/core.py").unlink()
    (root / "pkg/core.py").mkdir()
    (root / "pkg/core.py/x.py").write_text("W = 4\n")
    return ["pkg/core.py", "pkg/core.py/x.py"]


def edit_folder_becomes_file(root: Path) -> list[str]:
    (root / "pkg/deep/util.py").unlink()
    (root / "pkg/deep").rmdir()
    (root / "pkg/deep").write_text("not a folder\n")
    return ["pkg/deep", "pkg/deep/util.py"]


@pytest.mark.parametrize("change", [
    edit_modify, edit_create_in_new_folders, edit_delete_last_file_of_folder, edit_mode,
    edit_symlink, edit_ignored_file, edit_file_becomes_folder, edit_folder_becomes_file,
], ids=lambda f: f.__name__.removeprefix("edit_"))
def test_a_copy_updated_file_by_file_equals_a_whole_copy(base, tmp_path, change):
    updated, fresh = candidate_round(base, tmp_path, change)
    assert updated == fresh


def test_a_changed_gitignore_asks_for_a_whole_copy(base, tmp_path):
    copy = whole_copy(base, tmp_path / "copy")
    before = tree(copy)
    (base / ".gitignore").write_text("*.log\n")
    assert not update_files(base, copy, [".gitignore", "pkg/core.py"])
    assert not put_back(copy, {"pkg/.gitignore": (b"*.py\n", 0o644)})
    assert tree(copy) == before  # nothing done: the caller copies whole


@pytest.mark.parametrize("path", ["../escape.py", "/etc/passwd", "link/inside.py"])
def test_a_path_out_of_the_copy_is_refused_and_nothing_written(base, tmp_path, path):
    outside = tmp_path / "outside"
    outside.mkdir()
    copy = whole_copy(base, tmp_path / "copy")
    (copy / "link").symlink_to(outside)
    before = tree(copy)
    assert not put_back(copy, {path: (b"owned\n", 0o644), "pkg/core.py": (b"x\n", 0o644)})
    assert not update_files(base, copy, [path])
    assert tree(copy) == before
    assert list(outside.iterdir()) == []


def test_the_listing_of_only_some_paths_agrees_with_the_whole_listing(base):
    (base / "debug.log").write_text("x\n")
    (base / "pkg/extra.py").write_text("x\n")
    asked = ["debug.log", "pkg/extra.py", "pkg/core.py", "[weird]*.py"]
    (base / "[weird]*.py").write_text("x\n")
    whole = set(snapshot_files(base))
    assert set(snapshot_files(base, asked)) == whole & set(asked)
    assert "[weird]*.py" in whole and "debug.log" not in whole
    assert snapshot_files(base, []) == []


def test_a_prefilled_sandbox_runs_the_candidate_not_the_base(base):
    """ready_sandbox(put=...) then run_tests(changed=...): the run sees the tree in
    the root, exactly as a sandbox copied whole at run time would."""
    git(base, "add", "-A")
    # the scorer's state: a candidate (returns 2) in the root while the spare is made
    (base / "pkg/core.py").write_text("def f():\n    return 2\n")
    box = ready_sandbox(base, put={"pkg/core.py": (b"def f():\n    return 1\n", 0o100644)})
    try:
        assert box.prefilled
        assert (box.copy / "pkg/core.py").read_text() == "def f():\n    return 1\n"
    except BaseException:
        box.close()
        raise
    # the next candidate: the base back in place, a new test file created
    (base / "pkg/core.py").write_text("def f():\n    return 1\n")
    (base / "tests/test_more.py").write_text("def test_more():\n    assert False\n")
    changed = ["pkg/core.py", "tests/test_more.py"]
    warm = run_tests(base, sandbox=box, changed=changed)
    cold = run_tests(base)
    assert {t.nodeid: t.outcome for t in warm.tests} == {
        "tests/test_core.py::test_f": "passed", "tests/test_more.py::test_more": "failed"}
    warm_tests, cold_tests = ([{k: v for k, v in t.items() if k != "duration_ms"}
                               for t in r.to_json()["tests"]] for r in (warm, cold))
    assert warm_tests == cold_tests
    assert warm.snapshot == cold.snapshot


def test_a_sandbox_that_cannot_put_back_copies_whole_at_the_run(base):
    """A candidate that changed the listing rules: the spare is not prefilled, its copy
    left empty, and the run's whole copy (links included) is the candidate's tree."""
    (base / "pkg/alias.py").symlink_to("core.py")
    (base / ".gitignore").write_text("*.log\n")
    box = ready_sandbox(base, put={".gitignore": (b"*.log\nbuild/\n", 0o100644)})
    try:
        assert not box.prefilled and list(box.copy.iterdir()) == []
    except BaseException:
        box.close()
        raise
    result = run_tests(base, sandbox=box, changed=[".gitignore"])
    assert {t.nodeid: t.outcome for t in result.tests} == {
        "tests/test_core.py::test_f": "passed"}


@pytest.mark.skipif("--mount" not in isolation_prefix("auto"),
                    reason="unshare --mount --net not allowed here")
def test_a_run_cannot_write_into_the_next_candidates_prefilled_copy(base):
    """The spare holds the next candidate's tree while this candidate's tests run: a
    test that writes there (a planted conftest, a patched module) would grade the next
    candidate by this one's code. The run's filesystem is read-only outside its own
    sandbox, so the write fails and the spare is as prefilled."""
    spare = ready_sandbox(base, put={})
    try:
        before = tree(spare.copy)
        target = spare.copy / "pkg" / "core.py"
        (base / "tests/test_plant.py").write_text(
            "def test_plant():\n"
            f"    open({str(target)!r}, 'w').write('def f():\\n    return 99\\n')\n"
            f"    open({str(spare.copy / 'conftest.py')!r}, 'w').write('')\n")
        result = run_tests(base, args=("tests/test_plant.py",))
        planted = result.by_id()["tests/test_plant.py::test_plant"]
        assert planted.outcome == "failed" and "Read-only file system" in planted.message
        assert tree(spare.copy) == before
    finally:
        spare.close()
