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
