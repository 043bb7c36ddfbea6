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
    assert Settings.from_workspace(Workspace.open(ok)) == \
        Settings("never", "workspace", True, "rollback")


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


class _Loaded:
    """The real service, answering as under load: ``late`` files are "not ready" in
    the first diagnostics call (the verify's *before* side)."""

    def __init__(self, service, late: set[str]) -> None:
        self.service, self.late, self.calls = service, late, 0

    def __getattr__(self, name):
        return getattr(self.service, name)

    async def diagnostics(self, paths=None, **kwargs):
        from dataclasses import replace

        files = await self.service.diagnostics(paths, **kwargs)
        self.calls += 1
        if self.calls > 1:
            return files
        return [replace(f, ready=False, diagnostics=()) if f.path in self.late else f
                for f in files]


def _rename_under_load(root, keep):
    import asyncio

    from lanser.edits import flows
    from lanser.lsp.registry import get_server
    from lanser.lsp.service import LanguageService

    ws = Workspace.open(root)

    async def go():
        async with LanguageService(ws, get_server("basedpyright"), timeout=60,
                                   track_disk=True) as service:
            return await flows.rename(ws, get_server("basedpyright"), root / "a.py",
                                      Position(1, 5), "assist", apply=True, verify=True,
                                      service=_Loaded(service, {"b.py"}),
                                      keep_unverified=keep)
    return asyncio.run(go()).result


def test_a_file_not_ready_before_is_compared_on_neither_side(workspace) -> None:
    """b.py's old error must not count as new because the server was slow on it
    before the edit (issue 15, defect 3); the verify was incomplete, and says so."""
    a = "def helper() -> int:\n    return 1\n"
    b = "from a import helper\n\nvalue: int = helper()\nbad: int = 'x'\n"
    root = workspace({"a.py": a, "b.py": b}, git_repo=True)
    kept = _rename_under_load(root, keep=True)
    assert (kept.status, kept.reason, kept.verified) == ("applied", "unverified", False)
    assert kept.new_diagnostics == ()
    assert "b.py" in kept.message and "--timeout" in kept.message
    assert "assist" in (root / "b.py").read_text()


def test_an_incomplete_verify_rolls_back_by_default(workspace, tmp_path) -> None:
    """A verify that did not happen is not a pass (issue 15, defect 4)."""
    a = "def helper() -> int:\n    return 1\n"
    b = "from a import helper\n\nvalue: int = helper()\n"
    root = workspace({"a.py": a, "b.py": b}, git_repo=True)
    rolled = _rename_under_load(root, keep=None)
    assert (rolled.status, rolled.reason) == ("rolled_back", "unverified")
    assert (root / "a.py").read_text() == a and (root / "b.py").read_text() == b
