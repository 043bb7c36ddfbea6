"""Rename, code actions and verify-after-apply against real basedpyright.

One workspace and one warm server for most of the module (each test leaves the
files as it found them, through undo or rollback); the CLI tests start their own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lanser.edits import flows
from lanser.lsp.registry import get_server
from lanser.lsp.service import LanguageService
from lanser.positions import Position, Span
from lanser.workspace import Workspace
from tests.conftest import git, init_repo, write_files

LIB = "def helper() -> int:\n    return 1\n\n\nclass Box:\n    size: int = 0\n"
USE = "from lib import Box, helper\n\nvalue: int = helper()\nbox = Box()\nprint(box.size)\n"
EMOJI = 's = "😀😀"; count = 1\nprint(s, count)\n'
CRLF = b"total = 1\r\nprint(total)\r\n"
CLASH = ('def first() -> int:\n    return 1\n\n\ndef second() -> str:\n    return "s"\n\n\n'
         "n: int = first()\n")
FILES: dict[str, str | bytes] = {"lib.py": LIB, "use.py": USE, "emoji.py": EMOJI,
                                 "crlf.py": CRLF, "clash.py": CLASH,
                                 "broken.py": 'bad: int = "already wrong"\nok = 1\n'}


class Warm:
    """A workspace with a started server, driven from a module-lived event loop."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ws = Workspace.open(root)
        self.spec = get_server("basedpyright")
        self.loop = asyncio.new_event_loop()
        self.service = LanguageService(self.ws, self.spec, timeout=60, track_disk=True)
        self.run(self.service.start())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def rename(self, path: str, line: int, col: int, new: str, **kw: Any) -> flows.Outcome:
        return self.run(flows.rename(self.ws, self.spec, self.root / path, Position(line, col),
                                     new, service=self.service, **kw))

    def snapshot(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self.root.glob("*.py"))}

    def close(self) -> None:
        self.run(self.service.close())
        self.loop.close()


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warm]:
    root = (tmp_path_factory.mktemp("rename") / "ws").resolve()
    root.mkdir()
    write_files(root, FILES)
    init_repo(root)
    state = Warm(root)
    yield state
    state.close()


def test_preview_covers_every_file_and_writes_nothing(warm: Warm) -> None:
    before = warm.snapshot()
    outcome = warm.rename("lib.py", 1, 5, "assist")
    assert outcome.result is None
    assert warm.snapshot() == before
    preview = outcome.preview
    assert preview.paths == ("lib.py", "use.py")
    assert preview.summary() == {"files": 2, "edits": 3, "symbols": ["helper -> assist"]}
    assert "+from lib import Box, assist\n" in preview.diff
    assert "+value: int = assist()\n" in preview.diff


def test_apply_verify_then_undo(warm: Warm) -> None:
    before = warm.snapshot()
    outcome = warm.rename("lib.py", 5, 7, "Crate", apply=True, verify=True)
    result = outcome.result
    assert result is not None and result.status == "applied", result
    assert result.verified and result.new_diagnostics == ()
    assert "from lib import Crate, helper" in (warm.root / "use.py").read_text()
    assert git(warm.root, "diff", "--name-only", "refs/lanser/applies^",
               "refs/lanser/applies").split() == ["lib.py", "use.py"]
    from lanser.edits import Envelope

    Envelope(warm.ws).undo()
    assert warm.snapshot() == before


def test_rename_after_emoji_uses_code_points(warm: Warm) -> None:
    before = warm.snapshot()
    outcome = warm.rename("emoji.py", 1, 11, "tally", apply=True)
    assert outcome.result is not None and outcome.result.ok
    assert (warm.root / "emoji.py").read_text() == 's = "😀😀"; tally = 1\nprint(s, tally)\n'
    from lanser.edits import Envelope

    Envelope(warm.ws).undo()
    assert warm.snapshot() == before


def test_rename_in_crlf_file_keeps_crlf(warm: Warm) -> None:
    outcome = warm.rename("crlf.py", 1, 1, "grand_total", apply=True)
    assert outcome.result is not None and outcome.result.ok
    assert (warm.root / "crlf.py").read_bytes() == b"grand_total = 1\r\nprint(grand_total)\r\n"
    from lanser.edits import Envelope

    Envelope(warm.ws).undo()
    assert (warm.root / "crlf.py").read_bytes() == CRLF


def test_rename_that_breaks_code_is_rolled_back(warm: Warm) -> None:
    before = warm.snapshot()
    outcome = warm.rename("clash.py", 1, 5, "second", apply=True, verify=True)
    result = outcome.result
    assert result is not None and result.status == "rolled_back"
    assert result.reason == "new_errors"
    found = {(d["path"], d["line"], d["code"]) for d in result.new_diagnostics}
    assert ("clash.py", 9, "reportAssignmentType") in found
    assert warm.snapshot() == before
    assert git(warm.root, "for-each-ref", "refs/lanser/") == ""
    data = result.to_json()
    assert data["status"] == "rolled_back" and data["files"] == ["clash.py"]
    assert json.loads(json.dumps(data, sort_keys=True)) == data


def test_existing_errors_are_not_new(warm: Warm) -> None:
    before = warm.snapshot()
    outcome = warm.rename("broken.py", 2, 1, "fine", apply=True, verify=True)
    result = outcome.result
    assert result is not None and result.status == "applied", result
    assert result.new_diagnostics == ()
    from lanser.edits import Envelope

    Envelope(warm.ws).undo()
    assert warm.snapshot() == before


def test_refused_rename_is_an_error_not_an_empty_edit(warm: Warm) -> None:
    from lanser.errors import UsageError

    with pytest.raises(UsageError) as info:
        warm.rename("use.py", 2, 1, "anything")  # an empty line: nothing to rename
    assert info.value.code == "rename_refused"
    with pytest.raises(UsageError) as bad:
        warm.rename("lib.py", 1, 5, "not valid")
    assert bad.value.code == "bad_name"


def test_code_action_preview_and_apply(warm: Warm) -> None:
    before = warm.snapshot()
    span = Span(Position(1, 12), Position(1, 12))  # inside the error
    listed = warm.run(flows.actions(warm.ws, warm.spec, warm.root / "broken.py", span,
                                    service=warm.service))
    titles = [a.title for a in listed.actions]
    assert any("ignore" in t for t in titles), titles
    assert warm.snapshot() == before
    chosen = warm.run(flows.actions(warm.ws, warm.spec, warm.root / "broken.py", span,
                                    choose="1", apply=True, service=warm.service))
    from lanser.errors import NotFound

    with pytest.raises(NotFound):
        warm.run(flows.actions(warm.ws, warm.spec, warm.root / "broken.py", span,
                               choose="99", apply=True, service=warm.service))
    assert chosen.chosen is not None and chosen.chosen.result is not None
    assert chosen.chosen.result.ok
    assert "# pyright: ignore" in (warm.root / "broken.py").read_text()
    from lanser.edits import Envelope

    Envelope(warm.ws).undo()
    assert warm.snapshot() == before


# -- through the CLI ------------------------------------------------------------------


def test_cli_rename_preview_apply_and_refusal(workspace, cli) -> None:
    root = workspace({"lib.py": LIB, "use.py": USE}, git_repo=True)
    preview = cli(["rename", "lib.py:1:5", "assist"], cwd=root)
    assert preview.code == 0, preview.stderr
    assert "+value: int = assist()" in preview.stdout and "nothing written" in preview.stdout
    assert (root / "use.py").read_text() == USE
    applied = cli(["rename", "lib.py:1:5", "assist", "--apply", "--json"], cwd=root)
    assert applied.code == 0, applied.stdout
    assert applied.json["result"]["status"] == "applied"
    assert "assist()" in (root / "use.py").read_text()
    refused = cli(["rename", "use.py:2:1", "x", "--json"], cwd=root)
    assert refused.code == 2 and refused.json["error"]["code"] == "rename_refused"


def test_cli_apply_verify_rolls_back_and_policy_never_keeps(workspace, cli) -> None:
    patch = "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x: int = 1\n+x: int = 'one'\n"
    root = workspace({"m.py": "x: int = 1\n", "p.diff": patch}, git_repo=True)
    result = cli(["apply", "p.diff", "--verify", "--json"], cwd=root)
    assert result.code == 1, result.stdout
    assert result.json["result"]["status"] == "rolled_back"
    assert (root / "m.py").read_text() == "x: int = 1\n"
    write_files(root, {"lanser.toml": '[edits]\nrollback_on = "never"\n'})
    kept = cli(["apply", "p.diff", "--verify", "--json"], cwd=root)
    assert kept.code == 0, kept.stdout
    assert kept.json["result"]["status"] == "applied"
    assert kept.json["result"]["new_diagnostics"][0]["code"] == "reportAssignmentType"
    assert (root / "m.py").read_text() == "x: int = 'one'\n"


def test_cli_actions_lists_and_applies(workspace, cli) -> None:
    root = workspace({"m.py": "print(undefined_thing)\n"})
    listed = cli(["actions", "m.py:1:7", "--json"], cwd=root)
    assert listed.code == 0, listed.stderr
    assert listed.json["actions"][0]["id"] == 1
    applied = cli(["actions", "m.py:1:7", "--apply", "1", "--json"], cwd=root)
    assert applied.code == 0, applied.stdout
    assert "# pyright: ignore" in (root / "m.py").read_text()

