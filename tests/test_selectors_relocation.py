"""Relocation on real git histories built in temp dirs: each test commits a change that
real histories are made of and checks the selector is found where the code went, or
honestly lost -- never confidently somewhere else."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git, init_repo, run_cli, write_files

from lanser.errors import NotFound
from lanser.positions import Position
from lanser.selectors.api import capture_at, relocate
from lanser.workspace import Workspace

BASE = '''"""Shop."""
import os


def load(path):
    text = open(path).read()
    rows = [line.split(",") for line in text.splitlines()]
    return rows


def total(rows):
    count = 0
    for row in rows:
        count += int(row[1])
    return count


class Cache:
    def get(self, key):
        return self._data.get(key)
'''


def _repo(tmp_path: Path, files: dict[str, str]) -> tuple[Path, Workspace]:
    root = write_files(tmp_path / "repo", files)
    init_repo(root)
    return root, Workspace.open(root)


def _commit(root: Path, files: dict[str, str | None], message: str = "edit") -> str:
    for rel, text in files.items():
        if text is None:
            (root / rel).unlink()
        else:
            write_files(root, {rel: text})
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return git(root, "rev-parse", "HEAD").strip()


def _at(text: str, needle: str, nth: int = 0) -> Position:
    """The position of the ``nth`` occurrence of ``needle`` in ``text`` (1-based)."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    line = text.count("\n", 0, offset) + 1
    return Position(line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def _rc(pos: Position) -> tuple[int, int]:
    return pos.line, pos.col


def _capture(ws: Workspace, rel: str, text: str, needle: str, nth: int = 0) -> str:
    pos = _at(text, needle, nth)
    return capture_at(ws, f"{rel}:{pos.line}:{pos.col}").selector


def _found(ws: Workspace, selector: str, **revs: str | None):
    result = relocate(ws, selector, rev_from=revs.pop("rev_from", "HEAD~1"), **revs)
    assert result.status == "found" and result.confidence >= 0.8, result.to_json()
    return result


def test_function_moved_to_another_file_is_found_there(tmp_path: Path) -> None:
    root, ws = _repo(tmp_path, {"shop/a.py": BASE, "shop/b.py": '"""B."""\n'})
    sel = _capture(ws, "shop/a.py", BASE, "int(row[1])")
    moved = BASE[BASE.index("def total"):BASE.index("class Cache")]
    _commit(root, {"shop/a.py": BASE.replace(moved, ""),
                   "shop/b.py": '"""B."""\nimport sys\n\n\n' + moved})
    result = _found(ws, sel, rev_to="HEAD")
    new_b = (root / "shop/b.py").read_text()
    assert (result.path, result.position) == ("shop/b.py", _at(new_b, "int(row[1])"))
    assert "anchor-moved" in result.method


def test_reordered_definitions(tmp_path: Path) -> None:
    root, ws = _repo(tmp_path, {"a.py": BASE})
    sel = _capture(ws, "a.py", BASE, "rows = [line")
    load = BASE[BASE.index("def load"):BASE.index("def total")]
    total = BASE[BASE.index("def total"):BASE.index("class Cache")]
    swapped = BASE.replace(load + total, total + load)
    _commit(root, {"a.py": swapped})
    result = _found(ws, sel, rev_to="HEAD")
    assert result.position == _at(swapped, "rows = [line")


def _lost_or_at(ws: Workspace, sel: str, expected: Position) -> None:
    """Relocated from HEAD~1 to HEAD, ``sel`` is either lost (honest, where a copy
    looks alike) or exactly at ``expected``: never confidently elsewhere."""
    try:
        result = relocate(ws, sel, rev_from="HEAD~1", rev_to="HEAD")
    except NotFound:
        return
    assert result.position == expected


def test_copy_pasted_under_a_new_name_is_never_confidently_the_copy(tmp_path: Path) -> None:
    root, ws = _repo(tmp_path, {"a.py": BASE})
    sel = _capture(ws, "a.py", BASE, "count += int")
    total = BASE[BASE.index("def total"):BASE.index("class Cache")]
    copied = BASE.replace(total, total + total.replace("def total", "def total_again"))
    _commit(root, {"a.py": copied})
    _lost_or_at(ws, sel, _at(copied, "count += int"))  # the original, not the copy


def test_copy_pasted_then_original_edited_is_not_confidently_the_copy(tmp_path: Path) -> None:
    root, ws = _repo(tmp_path, {"a.py": BASE})
    sel = _capture(ws, "a.py", BASE, "count += int")
    total = BASE[BASE.index("def total"):BASE.index("class Cache")]
    edited = total.replace("count = 0", "count = 0  # start")
    copied = BASE.replace(total, total.replace("def total", "def total_again") + edited)
    _commit(root, {"a.py": copied})
    _lost_or_at(ws, sel, _at(copied, "count += int", 1))


def test_enclosing_names_renamed(tmp_path: Path) -> None:
    root, ws = _repo(tmp_path, {"a.py": BASE})
    sel = _capture(ws, "a.py", BASE, "_data.get")
    assert "Cache.get" in sel
    renamed = BASE.replace("class Cache:", "import json\n\n\nclass LRUCache:").replace(
        "def get(self", "def fetch(self")
    _commit(root, {"a.py": renamed})
    result = _found(ws, sel, rev_to="HEAD")
    assert result.position == _at(renamed, "_data.get")


def test_to_rev_reads_that_revision_not_the_working_tree(tmp_path: Path) -> None:
    root, ws = _repo(tmp_path, {"a.py": BASE})
    sel = _capture(ws, "a.py", BASE, "count = 0")
    shifted = BASE.replace("import os\n", "import os\nimport re\n")
    _commit(root, {"a.py": shifted})
    write_files(root, {"a.py": "\n\n\n\n\n" + shifted})  # uncommitted: must not matter
    out = run_cli(["selector", "relocate", sel, "--from", "HEAD~1", "--to", "HEAD", "--json"],
                  cwd=root)
    assert out.code == 0, out.stdout + out.stderr
    assert (out.json["line"], out.json["col"]) == _rc(_at(shifted, "count = 0"))
    tree = run_cli(["selector", "relocate", sel, "--from", "HEAD~1", "--json"], cwd=root)
    assert tree.json["line"] == out.json["line"] + 5


def test_not_at_origin_when_ambiguous_at_the_old_revision(tmp_path: Path) -> None:
    root, _ = _repo(tmp_path, {"a.py": BASE + "\n\ndef load(path, mode):\n    return mode\n"})
    _commit(root, {"b.py": "x = 1\n"})
    out = run_cli(["selector", "relocate", "a.py::load", "--from", "HEAD~1", "--json"],
                  cwd=root)
    assert out.code == 4 and out.json["error"]["code"] == "not_at_origin"
    assert len(out.json["error"]["details"]["candidates"]) == 2


def test_plain_position_is_not_corroborated_by_its_stale_spot(tmp_path: Path) -> None:
    """Insert a line above a position and edit the position's line: keeping line:col
    would land on the inserted line; that must not win, let alone confidently."""
    root, ws = _repo(tmp_path, {"a.py": BASE})
    pos = _at(BASE, "count += int")
    edited = BASE.replace("        count += int(row[1])\n",
                          "        count_seen = len(row)\n        count += int(row[1]) * 2\n")
    _commit(root, {"a.py": edited})
    try:
        result = relocate(ws, f"a.py:{pos.line}:{pos.col}", rev_from="HEAD~1", rev_to="HEAD")
    except NotFound as lost:
        best = lost.details["candidates"][0]
        assert (best["line"], best["col"]) != _rc(pos)  # the stale spot is not the best
        assert "position" in lost.details["candidates"][1]["method"]
        return
    assert result.position == _at(edited, "count += int")


def test_range_relocates_both_ends(tmp_path: Path) -> None:
    root, ws = _repo(tmp_path, {"a.py": BASE})
    start, end = _at(BASE, "count = 0"), _at(BASE, "return count")
    sel = f"a.py:{start.line}:{start.col}..{end.line}:{end.col}"
    edited = BASE.replace("import os\n", "import os\nimport re\n").replace(
        "    for row in rows:\n", "    for row in rows:\n        # each row\n")
    _commit(root, {"a.py": edited})
    result = _found(ws, sel, rev_to="HEAD")
    assert (result.position, result.end) == (_at(edited, "count = 0"),
                                             _at(edited, "return count"))
    assert result.method.startswith("range(") and result.to_json()["end_line"] == result.end.line


def test_range_whose_ends_part_ways_is_lost_with_the_reason(tmp_path: Path) -> None:
    root, ws = _repo(tmp_path, {"a.py": BASE})
    start, end = _at(BASE, "text = open"), _at(BASE, "count = 0")
    sel = f"a.py:{start.line}:{start.col}..{end.line}:{end.col}"
    load = BASE[BASE.index("def load"):BASE.index("def total")]
    total = BASE[BASE.index("def total"):BASE.index("class Cache")]
    _commit(root, {"a.py": BASE.replace(load + total, total + load)})
    with pytest.raises(NotFound) as info:
        relocate(ws, sel, rev_from="HEAD~1", rev_to="HEAD")
    assert info.value.code == "lost"
    assert "moved before the start" in info.value.details["reasons"][0]
    _commit(root, {"a.py": BASE.replace(total, ""), "b.py": total})
    with pytest.raises(NotFound) as apart:
        relocate(ws, sel, rev_from="HEAD~2", rev_to="HEAD")
    assert "different files" in apart.value.details["reasons"][0]


def test_range_with_a_deleted_end_is_lost(tmp_path: Path) -> None:
    root, ws = _repo(tmp_path, {"a.py": BASE})
    start, end = _at(BASE, "count = 0"), _at(BASE, "return count")
    sel = f"a.py:{start.line}:{start.col}..{end.line}:{end.col}"
    _commit(root, {"a.py": BASE.replace("    return count\n", "")})
    with pytest.raises(NotFound) as info:
        relocate(ws, sel, rev_from="HEAD~1", rev_to="HEAD")
    assert info.value.details["reasons"][0] == "the end is lost"


def test_code_deleted_everywhere_is_lost(tmp_path: Path) -> None:
    root, ws = _repo(tmp_path, {"a.py": BASE})
    sel = _capture(ws, "a.py", BASE, "splitlines")
    _commit(root, {"a.py": '"""Shop, emptied."""\n'})
    out = run_cli(["selector", "relocate", sel, "--from", "HEAD~1", "--to", "HEAD", "--json"],
                  cwd=root)
    assert out.code == 4 and out.json["error"]["code"] == "lost"
    assert out.json["error"]["details"]["status"] == "lost"
