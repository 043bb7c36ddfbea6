"""The verify policy's notion of a *new* error: identities, not positions."""

from __future__ import annotations

import pytest

from lanser.edits.envelope import Settings
from lanser.edits.verify import new_errors
from lanser.errors import ConfigError
from lanser.lsp.facts import Diagnostic
from lanser.positions import Position, Span
from lanser.workspace import Workspace


def _diag(path: str, line: int, code: str, message: str, severity: str = "error") -> Diagnostic:
    return Diagnostic(path, Span(Position(line, 1), Position(line, 2)), severity, message,
                      "basedpyright", code)


def test_moved_errors_are_not_new_and_renamed_messages_match_loosely() -> None:
    before = [_diag("a.py", 3, "reportX", '"old" is bad'), _diag("a.py", 9, "reportY", "m")]
    after = [_diag("a.py", 5, "reportX", '"new" is bad'), _diag("a.py", 12, "reportY", "m")]
    assert new_errors(before, after) == []


def test_an_extra_error_of_a_known_kind_is_new() -> None:
    before = [_diag("a.py", 3, "reportX", "m")]
    after = [_diag("a.py", 3, "reportX", "m"), _diag("a.py", 7, "reportX", "m")]
    assert [d.span.start.line for d in new_errors(before, after)] == [7]


def test_warnings_do_not_count_and_renamed_files_keep_their_errors() -> None:
    before = [_diag("old.py", 1, "reportX", "m")]
    after = [_diag("new.py", 1, "reportX", "m"), _diag("new.py", 2, "reportW", "w", "warning")]
    assert len(new_errors(before, after)) == 1  # the warning never counts
    assert len(new_errors(before, after, renames={"other.py": "new.py"})) == 1
    assert new_errors(before, after, renames={"old.py": "new.py"}) == []


def test_policy_is_validated(workspace) -> None:
    root = workspace({"lanser.toml": '[edits]\nrollback_on = "sometimes"\n'})
    with pytest.raises(ConfigError):
        Settings.from_workspace(Workspace.open(root))
    ok = workspace({"lanser.toml": '[edits]\nrollback_on = "never"\nverify_scope = "workspace"\n'})
    assert Settings.from_workspace(Workspace.open(ok)) == Settings("never", "workspace", True)


def test_default_verify_sees_an_importer_the_edit_did_not_touch(workspace, cli) -> None:
    """Renaming a function in a.py breaks b.py's import: rolled back by default."""
    a = "def helper() -> int:\n    return 1\n"
    b = "from a import helper\n\nvalue: int = helper()\n"
    patch = ("--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n-def helper() -> int:\n"
             "+def assist() -> int:\n     return 1\n")
    root = workspace({"a.py": a, "b.py": b, "p.diff": patch}, git_repo=True)
    result = cli(["apply", "p.diff", "--verify", "--json"], cwd=root)
    assert result.code == 1, result.stdout + result.stderr
    record = result.json["result"]
    assert record["status"] == "rolled_back" and record["files"] == ["a.py"]
    assert {d["path"] for d in record["new_diagnostics"]} == {"b.py"}
    assert (root / "a.py").read_text() == a and (root / "b.py").read_text() == b
    # The narrower scope, asked for, only looks at a.py and keeps the apply.
    (root / "lanser.toml").write_text('[edits]\nverify_scope = "touched"\n')
    narrow = cli(["apply", "p.diff", "--verify", "--json"], cwd=root)
    assert narrow.code == 0, narrow.stdout
    assert narrow.json["result"]["status"] == "applied"
