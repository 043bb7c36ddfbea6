"""WorkspaceEdit ranges count UTF-16 units in the text *as the edit's earlier steps left it*.

The envelope's own logic (no server): real WorkspaceEdit JSON through
:func:`lanser.edits.sources.from_json` and the planner, with emoji so that a
conversion against the wrong text lands on the wrong characters.
"""

from __future__ import annotations

import pytest

from lanser.edits.jail import Jail
from lanser.edits.plan import plan
from lanser.edits.sources import from_json
from lanser.errors import UsageError
from lanser.lsp.facts import Normalizer, PathNames, Texts


def _range(line: int, start: int, end: int) -> dict:
    return {"start": {"line": line, "character": start}, "end": {"line": line, "character": end}}


def _doc_edit(uri: str, *edits: tuple[int, int, int, str], version: int | None = None) -> dict:
    return {"textDocument": {"uri": uri, "version": version},
            "edits": [{"range": _range(line, s, e), "newText": t} for line, s, e, t in edits]}


def _plan(root, raw: dict):
    return plan(Jail(root, ()), from_json(raw, root).changes, origin="test")


def test_edit_of_a_file_created_by_the_same_edit_counts_in_its_new_text(workspace) -> None:
    root = workspace({"a.py": "x = 1\n"})
    uri = (root / "new.py").as_uri()
    raw = {"documentChanges": [
        {"kind": "create", "uri": uri},
        _doc_edit(uri, (0, 0, 0, "s = '😀'\n")),
        # The closing quote is UTF-16 unit 7 (the emoji is two units) of the text above.
        _doc_edit(uri, (0, 7, 8, "😀'")),
    ]}
    preview = _plan(root, raw)
    assert preview.effects[0].after == "s = '😀😀'\n".encode()


def test_second_edit_of_one_file_counts_in_the_first_ones_result(workspace) -> None:
    root = workspace({"m.py": "a = 1; b = 2\n"})
    uri = (root / "m.py").as_uri()
    raw = {"documentChanges": [
        _doc_edit(uri, (0, 0, 0, "😀")),
        # In "😀a = 1; b = 2" the b is code point 8 but UTF-16 unit 9.
        _doc_edit(uri, (0, 9, 10, "beta")),
    ]}
    preview = _plan(root, raw)
    assert preview.effects[0].after == "😀a = 1; beta = 2\n".encode()
    # The preview keeps code points, so replaying its JSON gives the same bytes.
    replay = from_json(preview.to_json(), root)
    assert plan(Jail(root, ()), replay.changes, origin="replay").effects == preview.effects


def test_edit_after_a_rename_in_the_same_edit_counts_in_the_moved_text(workspace) -> None:
    root = workspace({"old.py": 'x = "😀"; y = 1\n'})
    new_uri = (root / "new.py").as_uri()
    raw = {"documentChanges": [
        {"kind": "rename", "oldUri": (root / "old.py").as_uri(), "newUri": new_uri},
        _doc_edit(new_uri, (0, 10, 11, "why")),  # y: code point 9, UTF-16 unit 10
    ]}
    preview = _plan(root, raw)
    assert {e.path: e.after for e in preview.effects} == {
        "new.py": 'x = "😀"; why = 1\n'.encode(), "old.py": None}


def test_document_version_other_than_the_synced_one_is_stale(workspace) -> None:
    root = workspace({"m.py": "a = 1\n"})
    raw = {"documentChanges": [_doc_edit((root / "m.py").as_uri(), (0, 0, 1, "b"), version=2)]}
    normalizer = Normalizer(PathNames(root), Texts())
    with pytest.raises(UsageError) as caught:
        normalizer.workspace_edit(raw, version_of=lambda path: 3)
    assert caught.value.code == "stale" and "m.py" in caught.value.message
    assert len(normalizer.workspace_edit(raw, version_of=lambda path: 2)) == 1
    assert len(normalizer.workspace_edit(raw, version_of=lambda path: None)) == 1
