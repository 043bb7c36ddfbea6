"""kill -9 at every step of a many-file apply (and of undo): recovery restores exact bytes.

The crash hook (``LANSER_EDITS_CRASH_AT=N``) makes the N-th crash point of the
process ``os._exit(137)``: no cleanup, no flush, as a SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lanser.edits import Envelope
from lanser.edits.journal import CRASH_ENV, CRASH_STATUS
from lanser.workspace import Workspace
from tests.conftest import git, init_repo, write_files

# Whole-module slow: the quick loop (-m 'not slow') leaves it to the full suite.
pytestmark = pytest.mark.slow

FILES: dict[str, str | bytes] = {
    f"pkg/m{i}.py": f"def f{i}() -> int:\n    return {i}\n" for i in range(5)
}
FILES["win.py"] = b"a = 1\r\nb = 2\r\n"
FILES["gone.py"] = "old = True\n"


def _patch() -> str:
    parts = []
    for i in range(5):
        parts.append(f"--- a/pkg/m{i}.py\n+++ b/pkg/m{i}.py\n@@ -1,2 +1,2 @@\n"
                     f" def f{i}() -> int:\n-    return {i}\n+    return {i * 10}\n")
    parts.append("--- a/win.py\n+++ b/win.py\n@@ -1 +1 @@\n-a = 1\n+a = 100\n")
    parts.append("--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-old = True\n")
    parts.append("--- /dev/null\n+++ b/pkg/sub/deep/new.py\n@@ -0,0 +1 @@\n+created = 1\n")
    return "".join(parts)


def _state(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file outside .git/.lanser: exact bytes and mode; and the tree of lanser's ref."""
    out: dict[str, tuple[bytes, int]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith((".git/", ".lanser/")) or rel in (".git", ".lanser", "p.diff"):
            continue
        if path.is_file():
            out[rel] = (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
        elif path.is_dir():
            out[rel + "/"] = (b"", 0)  # directories a rolled-back apply created must go
    ref = git(root, "for-each-ref", "--format=%(tree)", "refs/lanser/")
    out["<ref>"] = (ref.strip().encode(), 0)
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash") / "template"
    root.mkdir()
    write_files(root, FILES)
    (root / "pkg" / "m0.py").chmod(0o755)
    init_repo(root)
    (root / "p.diff").write_text(_patch())
    return root


# What `lanser apply p.diff` and `lanser undo` run, without the CLI's start-up cost
# (the named-point tests below go through the real CLI).
APPLY = ("import asyncio, pathlib; from lanser.edits import flows; "
         "from lanser.workspace import Workspace; "
         "asyncio.run(flows.apply_file(Workspace.open('.'), "
         "pathlib.Path('p.diff').read_text(), origin='apply p.diff'))")
RECOVER = ("from lanser.edits import Envelope; from lanser.workspace import Workspace; "
           "Envelope(Workspace.open('.')).recover()")
UNDO = ("from lanser.edits import Envelope; from lanser.workspace import Workspace; "
        "Envelope(Workspace.open('.')).undo()")


def _library(root: Path, code: str, step: int) -> int:
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                            text=True, timeout=120, env={**os.environ, CRASH_ENV: str(step)})
    assert result.returncode in (0, CRASH_STATUS), result.stderr
    return result.returncode


def _fresh(template: Path, tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(template, root, symlinks=True)
    return root.resolve()


def test_kill_at_every_step_then_recover_gives_exact_prior_bytes(template, tmp_path, cli):
    original = _state(template)
    done = _fresh(template, tmp_path, "done")
    assert cli(["apply", "p.diff"], cwd=done).code == 0
    applied = _state(done)
    assert applied != original
    outcomes = []
    mixed_seen = False
    for step in range(1, 200):
        root = _fresh(template, tmp_path, f"step{step}")
        code = _library(root, APPLY, step)
        if code == 0:
            break  # past the last crash point: the apply simply completed
        assert code == CRASH_STATUS, step
        crashed = _state(root)
        mixed_seen |= crashed not in (original, applied)
        # Some steps through `lanser recover`; the rest through the library.
        if step % 4 == 1:
            assert cli(["recover", "--json"], cwd=root).code == 0
        else:
            Envelope(Workspace.open(root)).recover()
        after = _state(root)
        assert after in (original, applied), f"step {step}: mixed state after recovery"
        assert not (root / ".lanser" / "journal").exists()
        assert not list(root.rglob("*.lanser-*.tmp")), step
        outcomes.append(after == applied)
    else:
        pytest.fail("the apply never completed")
    assert len(outcomes) >= 2 * 8, "expected a crash point per backup, temp file and rename"
    assert mixed_seen, "no crash left a half-applied workspace: the test proves nothing"
    # All-or-nothing in time: crashes before the commit roll back, later ones keep it.
    first_applied = outcomes.index(True) if True in outcomes else len(outcomes)
    assert not any(outcomes[:first_applied]) and all(outcomes[first_applied:])
    assert first_applied >= len(outcomes) - 2


@pytest.mark.parametrize("point", ["backup", "journal", "replace", "written", "recorded",
                                   "commit"])
def test_named_crash_points_roll_back_and_reset_the_ref(template, tmp_path, cli, point):
    root = _fresh(template, tmp_path, point)
    original = _state(root)
    result = cli(["apply", "p.diff"], cwd=root, env={CRASH_ENV: point})
    assert result.code == CRASH_STATUS
    recovered = cli(["recover", "--json"], cwd=root)
    assert recovered.code == 0, recovered.stdout
    assert _state(root) == original


def test_next_mutating_command_recovers_automatically(template, tmp_path, cli):
    root = _fresh(template, tmp_path, "auto")
    original = _state(root)
    assert cli(["apply", "p.diff"], cwd=root, env={CRASH_ENV: "written"}).code == CRASH_STATUS
    assert _state(root) != original
    # A preview is the next command: it must see (and show) the recovered files.
    preview = cli(["apply", "p.diff", "--check", "--json"], cwd=root)
    assert preview.code == 0, preview.stdout
    assert _state(root) == original
    assert cli(["apply", "p.diff"], cwd=root).code == 0
    assert (root / "pkg" / "m3.py").read_text().endswith("return 30\n")


def test_crash_during_recovery_is_recovered_again(template, tmp_path, cli):
    root = _fresh(template, tmp_path, "twice")
    original = _state(root)
    assert cli(["apply", "p.diff"], cwd=root, env={CRASH_ENV: "recorded"}).code == CRASH_STATUS
    crashed = cli(["recover"], cwd=root, env={CRASH_ENV: "recover-history"})
    assert crashed.code == CRASH_STATUS
    assert cli(["recover"], cwd=root).code == 0
    assert _state(root) == original


def test_kill_at_every_step_of_recovery(template, tmp_path, cli):
    original = _state(template)
    crashed = _fresh(template, tmp_path, "rec-base")
    assert cli(["apply", "p.diff"], cwd=crashed, env={CRASH_ENV: "recorded"}).code == CRASH_STATUS
    for step in range(1, 100):
        root = _fresh(crashed, tmp_path, f"rec{step}")
        if _library(root, RECOVER, step) == 0:
            break
        Envelope(Workspace.open(root)).recover()
        assert _state(root) == original, f"recovery step {step}"
    else:
        pytest.fail("recovery never completed")
    assert step > 8  # a crash point per restored file, and one before the ref reset


def test_file_changed_after_the_crash_is_kept_not_clobbered(template, tmp_path, cli):
    root = _fresh(template, tmp_path, "conflict")
    assert cli(["apply", "p.diff"], cwd=root, env={CRASH_ENV: "written"}).code == CRASH_STATUS
    (root / "pkg" / "m2.py").write_text("someone else's work\n")
    result = cli(["recover", "--json"], cwd=root)
    assert result.code == 1
    assert result.json["conflicts"] == ["pkg/m2.py"]
    assert (root / "pkg" / "m2.py").read_text() == "someone else's work\n"
    kept = list((root / ".lanser" / "conflicts").rglob("m2.py"))
    assert [p.read_text() for p in kept] == [FILES["pkg/m2.py"]]
    assert (root / "pkg" / "m1.py").read_text() == FILES["pkg/m1.py"]


def test_kill_at_every_step_of_undo(template, tmp_path, cli):
    base = _fresh(template, tmp_path, "undo-base")
    assert cli(["apply", "p.diff"], cwd=base).code == 0
    applied = _state(base)
    for step in range(1, 200):
        root = _fresh(base, tmp_path, f"undo{step}")
        code = _library(root, UNDO, step)
        if code == 0:
            break
        assert code == CRASH_STATUS, step
        Envelope(Workspace.open(root)).recover()
        after = _state(root)
        if after != applied:  # only a crash after the undo's commit point
            original = {k: v for k, v in _state(template).items()}
            assert after == original, f"undo step {step}: mixed state"
    else:
        pytest.fail("undo never completed")
    assert _state(root) == _state(template)


def test_a_query_command_recovers_before_it_reads_the_tree(template, tmp_path, cli):
    root = _fresh(template, tmp_path, "query")
    original = _state(root)
    assert cli(["apply", "p.diff"], cwd=root, env={CRASH_ENV: "written"}).code == CRASH_STATUS
    assert not (root / "gone.py").exists()  # half-applied: the crashed apply deleted it
    found = cli(["selector", "resolve", "gone.py::old", "--json"], cwd=root)
    assert found.code == 0, found.stderr
    assert found.json  # stdout is still one JSON document; the note went to stderr
    assert "recovered an interrupted apply" in found.stderr
    assert _state(root) == original
    again = cli(["selector", "resolve", "gone.py::old", "--json"], cwd=root)
    assert again.code == 0 and "recovered" not in again.stderr
