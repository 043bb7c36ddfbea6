"""Preview and apply without a server: diffs, WorkspaceEdits, bytes, modes, stale content."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from lanser.edits import ApplyResult, EditConflict, Envelope, StaleContent
from lanser.lsp.facts import FileChange, TextEdit
from lanser.positions import Position, Span
from lanser.workspace import Workspace

A = "def helper() -> int:\n    return 1\n"
B = "from a import helper\n\nvalue: int = helper()\n"
PATCH = """\
--- a/a.py
+++ b/a.py
@@ -1,2 +1,2 @@
-def helper() -> int:
+def helper2() -> int:
     return 1
--- a/b.py
+++ b/b.py
@@ -1,3 +1,3 @@
-from a import helper
+from a import helper2
{blank}
-value: int = helper()
+value: int = helper2()
""".format(blank=" ")


def _lsp_range(line: int, start: int, end: int) -> dict:
    return {"start": {"line": line, "character": start}, "end": {"line": line, "character": end}}


def _edit(path: str, line: int, col: int, end_col: int, text: str) -> FileChange:
    return FileChange("edit", path, (TextEdit(Span(Position(line, col), Position(line, end_col)),
                                              text),))


def test_check_previews_and_writes_nothing(workspace, cli) -> None:
    root = workspace({"a.py": A, "b.py": B, "p.diff": PATCH})
    result = cli(["apply", "p.diff", "--check", "--json"], cwd=root)
    assert result.code == 0, result.stderr
    preview = result.json["preview"]
    # One edit per changed run of lines: the two changes in b.py are two edits.
    assert preview["summary"] == {"files": 2, "edits": 3, "symbols": ["helper -> helper2"]}
    assert "+value: int = helper2()" in preview["diff"]
    assert result.json["result"] is None
    assert (root / "a.py").read_text() == A and (root / "b.py").read_text() == B
    assert not (root / ".lanser" / "journal").exists()
    human = cli(["apply", "p.diff", "--check"], cwd=root)
    assert "2 file(s), 3 edit(s)" in human.stdout and "nothing written" in human.stdout


def test_apply_patch_writes_all_files(workspace, cli) -> None:
    root = workspace({"a.py": A, "b.py": B, "p.diff": PATCH})
    result = cli(["apply", "p.diff", "--json"], cwd=root)
    assert result.code == 0, result.stderr
    record = result.json["result"]
    assert record["status"] == "applied" and record["files"] == ["a.py", "b.py"]
    assert (root / "a.py").read_text() == A.replace("helper", "helper2")
    assert (root / "b.py").read_text() == B.replace("helper", "helper2")
    # Applying the same patch again no longer fits the files.
    again = cli(["apply", "p.diff", "--json"], cwd=root)
    assert again.code == 2 and again.json["error"]["code"] == "patch_mismatch"


def test_patch_from_stdin_with_create_delete_and_rename(workspace) -> None:
    import subprocess
    import sys

    root = workspace({"old.py": "x = 1\n", "gone.py": "y = 2\n"})
    patch = ("diff --git a/old.py b/new.py\nsimilarity index 50%\nrename from old.py\n"
             "rename to new.py\n--- a/old.py\n+++ b/new.py\n@@ -1 +1 @@\n-x = 1\n+x = 10\n"
             "--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-y = 2\n"
             "--- /dev/null\n+++ b/pkg/fresh.py\n@@ -0,0 +1,2 @@\n+a = 1\n+b = 2\n")
    proc = subprocess.run([sys.executable, "-m", "lanser", "apply", "-", "--json"], cwd=root,
                          input=patch, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py")) == [
        "new.py", "pkg/fresh.py"]
    assert (root / "new.py").read_text() == "x = 10\n"
    assert (root / "pkg" / "fresh.py").read_text() == "a = 1\nb = 2\n"


def test_workspace_edit_with_file_operations(workspace, cli) -> None:
    root = workspace({"a.py": "x = 1\n", "b.py": "y = 2\n"})
    new_uri = (root / "c.py").as_uri()
    edit = {"documentChanges": [
        {"kind": "create", "uri": new_uri},
        {"textDocument": {"uri": new_uri, "version": None},
         "edits": [{"range": _lsp_range(0, 0, 0), "newText": "z = 3\n"}]},
        {"kind": "rename", "oldUri": (root / "a.py").as_uri(), "newUri": (root / "d.py").as_uri()},
        {"kind": "delete", "uri": (root / "b.py").as_uri()},
    ]}
    (root / "edit.json").write_text(json.dumps(edit))
    result = cli(["apply", "edit.json", "--json"], cwd=root)
    assert result.code == 0, result.stdout + result.stderr
    statuses = {f["path"]: f["status"] for f in result.json["preview"]["files"]}
    assert statuses == {"a.py": "deleted", "b.py": "deleted", "c.py": "created",
                        "d.py": "created"}
    assert (root / "c.py").read_text() == "z = 3\n" and (root / "d.py").read_text() == "x = 1\n"
    assert not (root / "a.py").exists() and not (root / "b.py").exists()


def test_utf16_positions_after_an_emoji_edit_the_right_characters(workspace, cli) -> None:
    """LSP columns are UTF-16: after 😀 (two units) a str index would be off by one."""
    root = workspace({"m.py": 's = "😀"; name = 1\nprint(s, name)\n'})
    # "name" starts at code point 9, UTF-16 unit 10, on line 0.
    edit = {"changes": {(root / "m.py").as_uri(): [
        {"range": _lsp_range(0, 10, 14), "newText": "label"},
        {"range": _lsp_range(1, 9, 13), "newText": "label"}]}}
    (root / "edit.json").write_text(json.dumps(edit))
    result = cli(["apply", "edit.json", "--json"], cwd=root)
    assert result.code == 0, result.stderr
    assert (root / "m.py").read_text() == 's = "😀"; label = 1\nprint(s, label)\n'


def test_crlf_stays_crlf_and_bom_and_mode_survive(workspace) -> None:
    root = workspace({"w.py": b"\xef\xbb\xbfa = 1\r\nb = 2\r\n", "run.py": "x = 1\n"})
    os.chmod(root / "w.py", 0o600)
    os.chmod(root / "run.py", 0o755)
    envelope = Envelope(Workspace.open(root))
    insert = FileChange("edit", "w.py", (
        TextEdit(Span(Position(2, 1), Position(2, 1)), "import os\nimport sys\n"),))
    preview = envelope.preview([insert, _edit("run.py", 1, 5, 6, "2")], origin="test")
    assert envelope.apply(preview).ok
    assert (root / "w.py").read_bytes() == (
        b"\xef\xbb\xbfa = 1\r\nimport os\r\nimport sys\r\nb = 2\r\n")
    assert stat.S_IMODE((root / "w.py").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "run.py").stat().st_mode) == 0o755
    assert (root / "run.py").read_text() == "x = 2\n"


def test_lf_patch_on_crlf_file_keeps_crlf(workspace, cli) -> None:
    root = workspace({"w.py": b"a = 1\r\nb = 2\r\nc = 3\r\n"})
    (root / "p.diff").write_text(
        "--- a/w.py\n+++ b/w.py\n@@ -2 +2,2 @@\n-b = 2\n+b = 20\n+bb = 2\n")
    result = cli(["apply", "p.diff", "--json"], cwd=root)
    assert result.code == 0, result.stdout
    assert (root / "w.py").read_bytes() == b"a = 1\r\nb = 20\r\nbb = 2\r\nc = 3\r\n"


def test_context_lines_keep_their_exact_bytes(workspace, cli) -> None:
    root = workspace({"m.py": b"a = 1\nb = 2\r\nc = 3\n"})  # one CRLF line among LF
    (root / "p.diff").write_text(
        "--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n a = 1\n b = 2\n-c = 3\n+c = 30\n")
    assert cli(["apply", "p.diff"], cwd=root).code == 0
    assert (root / "m.py").read_bytes() == b"a = 1\nb = 2\r\nc = 30\n"


def test_binary_file_is_refused(workspace, cli) -> None:
    root = workspace({"blob.py": b"x = 1\n\x00\x01\x02\n"})
    edit = {"changes": {(root / "blob.py").as_uri(): [
        {"range": _lsp_range(0, 4, 5), "newText": "2"}]}}
    (root / "edit.json").write_text(json.dumps(edit))
    result = cli(["apply", "edit.json", "--json"], cwd=root)
    assert result.code == 2 and result.json["error"]["code"] == "unreadable_file"
    assert "blob.py" in result.json["error"]["message"]
    assert (root / "blob.py").read_bytes() == b"x = 1\n\x00\x01\x02\n"


def test_stale_preview_is_refused(workspace, cli) -> None:
    root = workspace({"a.py": A, "b.py": B, "p.diff": PATCH})
    preview = cli(["apply", "p.diff", "--check", "--json"], cwd=root)
    (root / "preview.json").write_text(json.dumps(preview.json["preview"]))
    (root / "b.py").write_text(B + "other = 1\n")  # someone else edits b.py meanwhile
    result = cli(["apply", "preview.json", "--json"], cwd=root)
    assert result.code == 2 and result.json["error"]["code"] == "stale"
    assert "b.py" in result.json["error"]["message"]
    assert (root / "a.py").read_text() == A
    # Unchanged files: the preview JSON applies as it was previewed.
    (root / "b.py").write_text(B)
    assert cli(["apply", "preview.json", "--json"], cwd=root).code == 0
    assert (root / "b.py").read_text() == B.replace("helper", "helper2")


def test_stale_between_preview_and_apply_in_process(workspace) -> None:
    root = workspace({"a.py": A})
    envelope = Envelope(Workspace.open(root))
    preview = envelope.preview([_edit("a.py", 1, 5, 11, "helper2")], origin="test")
    (root / "a.py").write_text(A + "# edited\n")
    with pytest.raises(StaleContent):
        envelope.apply(preview)
    record = envelope.attempt(lambda: envelope.apply(preview), preview)
    assert record.status == "refused" and record.reason == "stale"
    assert record.to_json()["files"] == ["a.py"]
    assert (root / "a.py").read_text() == A + "# edited\n"
    assert not (root / ".lanser" / "journal").exists()


def test_overlapping_edits_and_empty_edits_are_refused(workspace) -> None:
    root = workspace({"a.py": A})
    envelope = Envelope(Workspace.open(root))
    both = FileChange("edit", "a.py", (
        TextEdit(Span(Position(1, 1), Position(1, 8)), "x"),
        TextEdit(Span(Position(1, 5), Position(1, 11)), "y")))
    with pytest.raises(EditConflict):
        envelope.preview([both], origin="test")
    with pytest.raises(Exception) as info:
        envelope.preview([_edit("a.py", 1, 5, 11, "helper")], origin="test")
    assert info.value.code == "empty_edit"


def test_patch_context_mismatch_names_the_line(workspace, cli) -> None:
    root = workspace({"a.py": "def other() -> int:\n    return 1\n", "p.diff": PATCH})
    result = cli(["apply", "p.diff", "--json"], cwd=root)
    assert result.code == 2
    assert result.json["error"]["code"] == "patch_mismatch"
    assert "a.py:1" in result.json["error"]["message"]


def test_result_record_json_is_stable(workspace) -> None:
    root = workspace({"a.py": A})
    envelope = Envelope(Workspace.open(root))
    preview = envelope.preview([_edit("a.py", 1, 5, 11, "helper2")], origin="test")
    result = envelope.apply(preview)
    data = result.to_json()
    assert data == {"status": "applied", "preview_id": preview.id, "files": ["a.py"],
                    "edits": 1, "verified": False, "new_diagnostics": [],
                    "after": {"a.py": preview.effects[0].after_hash}}
    assert isinstance(result, ApplyResult)
    with pytest.raises(AttributeError):
        result.status = "x"  # type: ignore[misc]


def test_missing_edit_file_is_a_usage_error(workspace, cli) -> None:
    root = workspace({"a.py": A})
    result = cli(["apply", "nope.diff", "--json"], cwd=root)
    assert result.code == 2 and result.json["error"]["code"] == "missing_file"
    assert Path(root / "a.py").read_text() == A


def test_edit_through_symlink_inside_edits_the_real_file_and_keeps_the_link(workspace) -> None:
    root = workspace({"real.py": "x = 1\n"})
    (root / "alias.py").symlink_to("real.py")
    envelope = Envelope(Workspace.open(root))
    preview = envelope.preview([_edit("alias.py", 1, 5, 6, "2")], origin="test")
    assert preview.paths == ("real.py",)
    assert envelope.apply(preview).ok
    assert (root / "alias.py").is_symlink()
    assert (root / "real.py").read_text() == "x = 2\n"


def test_symlink_planted_after_preview_is_refused(workspace, tmp_path) -> None:
    root = workspace({"a.py": "x = 1\n", "pkg/b.py": "y = 1\n"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b.py").write_text("y = 1\n")
    envelope = Envelope(Workspace.open(root))
    preview = envelope.preview([_edit("pkg/b.py", 1, 5, 6, "2")], origin="test")
    (root / "pkg" / "b.py").unlink()
    (root / "pkg").rmdir()
    (root / "pkg").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(Exception) as info:
        envelope.apply(preview)
    assert info.value.code in ("outside_workspace", "stale")
    assert (elsewhere / "b.py").read_text() == "y = 1\n"


def test_failed_write_midway_restores_every_file(workspace, monkeypatch) -> None:
    from lanser.edits import journal

    root = workspace({f"m{i}.py": f"v = {i}\n" for i in range(4)})
    envelope = Envelope(Workspace.open(root))
    preview = envelope.preview([_edit(f"m{i}.py", 1, 5, 6, "9") for i in range(4)],
                               origin="test")
    real_replace = os.replace
    calls = {"n": 0}

    def failing_replace(src, dst):
        if str(dst).endswith(".py"):
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(journal.os, "replace", failing_replace)
    with pytest.raises(OSError):
        envelope.apply(preview)
    monkeypatch.setattr(journal.os, "replace", real_replace)
    assert [(root / f"m{i}.py").read_text() for i in range(4)] == [f"v = {i}\n" for i in range(4)]
    assert not (root / ".lanser" / "journal").exists()
    assert not list(root.glob(".*.tmp"))


def test_mode_change_since_preview_is_stale(workspace) -> None:
    root = workspace({"a.py": A})
    envelope = Envelope(Workspace.open(root))
    preview = envelope.preview([_edit("a.py", 1, 5, 11, "helper2")], origin="test")
    (root / "a.py").chmod(0o755)
    with pytest.raises(StaleContent):
        envelope.apply(preview)
    assert (root / "a.py").read_text() == A


def test_git_quoted_and_spaced_names_in_a_diff(workspace, cli) -> None:
    root = workspace({"café.py": "x = 1\n", "my file.py": "y = 1\n"})
    patch = ('diff --git "a/caf\\303\\251.py" "b/caf\\303\\251.py"\n'
             '--- "a/caf\\303\\251.py"\n+++ "b/caf\\303\\251.py"\n@@ -1 +1 @@\n-x = 1\n+x = 2\n'
             "diff --git a/my file.py b/my file.py\n"
             "--- a/my file.py\t\n+++ b/my file.py\t\n@@ -1 +1 @@\n-y = 1\n+y = 2\n")
    (root / "p.diff").write_text(patch)
    result = cli(["apply", "p.diff", "--json"], cwd=root)
    assert result.code == 0, result.stdout
    assert (root / "café.py").read_text() == "x = 2\n"
    assert (root / "my file.py").read_text() == "y = 2\n"


def test_preview_json_is_the_same_at_any_checkout_path(workspace) -> None:
    first = workspace({"a.py": A, "b.py": B})
    second = workspace({"a.py": A, "b.py": B})
    assert first != second
    out = []
    for root in (first, second):
        from lanser.edits.sources import parse_edit, read_text_or_none

        envelope = Envelope(Workspace.open(root))
        edit = parse_edit(PATCH, root, lambda rel, r=root: read_text_or_none(r / rel))
        preview = envelope.preview(edit.changes, origin="apply p.diff")
        out.append((preview.to_json(), envelope.apply(preview).to_json()))
    assert out[0] == out[1]
    assert str(first) not in json.dumps(out[0])


def test_lone_surrogate_in_new_text_is_refused(workspace, cli) -> None:
    root = workspace({"m.py": "x = 1\n"})
    (root / "edit.json").write_text('{"changes": {"' + (root / "m.py").as_uri() + '": [{"range":'
                                    ' {"start": {"line": 0, "character": 4}, "end": {"line": 0,'
                                    ' "character": 5}}, "newText": "\\ud83d"}]}}')
    result = cli(["apply", "edit.json", "--json"], cwd=root)
    assert result.code == 2 and result.json["error"]["code"] == "bad_edit"
    assert (root / "m.py").read_text() == "x = 1\n"


def test_file_operation_options_are_honoured(workspace, cli) -> None:
    root = workspace({"a.py": "x = 1\n", "b.py": "y = 2\n", "c.py": "z = 3\n"})

    def uri(name: str) -> str:
        return (root / name).as_uri()

    edit = {"documentChanges": [
        {"kind": "create", "uri": uri("a.py"), "options": {"ignoreIfExists": True}},
        {"kind": "create", "uri": uri("b.py"), "options": {"overwrite": True}},
        {"kind": "delete", "uri": uri("nope.py"), "options": {"ignoreIfNotExists": True}},
        {"kind": "rename", "oldUri": uri("a.py"), "newUri": uri("c.py"),
         "options": {"overwrite": True}},
    ]}
    (root / "edit.json").write_text(json.dumps(edit))
    result = cli(["apply", "edit.json", "--json"], cwd=root)
    assert result.code == 0, result.stdout
    assert (root / "b.py").read_text() == "" and (root / "c.py").read_text() == "x = 1\n"
    assert not (root / "a.py").exists()
    strict = {"documentChanges": [{"kind": "create", "uri": uri("b.py")}]}
    (root / "edit.json").write_text(json.dumps(strict))
    refused = cli(["apply", "edit.json", "--json"], cwd=root)
    assert refused.code == 2 and refused.json["error"]["code"] == "conflict"
