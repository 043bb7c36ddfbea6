"""Resolution, capture, relocation and the CLI on real files and real git repos."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git, init_repo, run_cli, write_files

from lanser.errors import Ambiguous, NotFound
from lanser.positions import Position
from lanser.selectors import resolve_target
from lanser.workspace import Workspace

MOD = '''"""Mod."""
import os


class Cache:
    def get(self, key):
        if key in self._data:
            return self._data[key]
        return None

    def put(self, key, value):
\t\tself._data[key] = value  # 😀 émoji
        return value


def helper(x):
    return x + 1


def helper(x, y):
    return x + y
'''


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    write_files(tmp_path, {"src/pkg/mod.py": MOD})
    return Workspace.open(tmp_path)


def test_position_inside_body_addresses_the_identifier(ws: Workspace) -> None:
    target = resolve_target(ws, "src/pkg/mod.py:8:20")  # `self` in `return self._data`
    assert (target.position, target.method, target.confidence) == (Position(8, 20),
                                                                    "position", 1.0)
    from lanser.selectors.api import capture_at, resolve_all

    cap = capture_at(ws, "src/pkg/mod.py:8:20")
    best = resolve_all(ws, cap.selector).candidates[0]
    assert best.position == Position(8, 20) and best.confidence == 1.0  # not the def


def test_anchor_lands_exactly_after_tabs_and_emoji(ws: Workspace) -> None:
    line = MOD.splitlines()[11]
    assert resolve_target(ws, 'src/pkg/mod.py@"émoji"').position == \
        Position(12, line.index("émoji") + 1)
    assert resolve_target(ws, 'src/pkg/mod.py@"self._data[key] ="').position == Position(12, 3)


def test_symbolic_forms_and_ambiguity(ws: Workspace) -> None:
    assert resolve_target(ws, "src/pkg/mod.py::Cache.get").position == Position(6, 9)
    assert resolve_target(ws, "pkg.mod:Cache.get").position == Position(6, 9)
    assert resolve_target(ws, "py://pkg.mod#Cache.get:body").position == Position(7, 9)
    assert resolve_target(ws, "pkg.mod:helper[1]").position == Position(20, 5)
    with pytest.raises(Ambiguous) as info:
        resolve_target(ws, "pkg.mod:helper")
    assert len(info.value.details["candidates"]) == 2
    with pytest.raises(NotFound):
        resolve_target(ws, "src/pkg/mod.py::get")  # fallback: 0.6 < 0.8
    assert resolve_target(ws, "src/pkg/mod.py::get", threshold=0.5).position == Position(6, 9)


def test_ast_path_and_paper_forms(ws: Workspace) -> None:
    sel = ("src/pkg/mod.py//class_definition[name=Cache]/function_definition[name=get]"
           "/return_statement[0]")
    assert resolve_target(ws, sel).position == Position(8, 13)
    assert resolve_target(ws, "ast://[module=pkg.mod]/[class=Cache]/[def=put]").position == \
        Position(11, 9)
    assert resolve_target(ws, "src/pkg/mod.py@L8:C20").position == Position(8, 20)
    target = resolve_target(ws, "src/pkg/mod.py@R(6,5->9,20)")
    assert (target.position, target.end) == (Position(6, 5), Position(9, 20))


def test_every_position_round_trips_through_capture(ws: Workspace) -> None:
    from lanser.selectors.capture import capture
    from lanser.selectors.resolver import parse_and_resolve
    from lanser.selectors.snapshot import WorkingTree

    snap = WorkingTree(ws)
    for n, line in enumerate(MOD.splitlines(), 1):
        for col in range(1, len(line) + 2, 3):
            cap = capture(snap, "src/pkg/mod.py", Position(n, col))
            found = parse_and_resolve(snap, cap.selector)[1]
            assert found[0].position == Position(n, col) and found[0].confidence == 1.0


def test_relocate_through_edits_and_lost(tmp_path: Path) -> None:
    root = write_files(tmp_path / "r", {"src/pkg/mod.py": MOD})
    init_repo(root)
    cap = run_cli(["selector", "capture", "src/pkg/mod.py:8:20", "--json"], cwd=root)
    assert cap.code == 0, cap.stderr
    selector = cap.json["selector"]
    edited = MOD.replace("import os\n", "import os\nimport sys\nimport json\n\n")
    edited = edited.replace("class Cache", "class LRUCache")
    (root / "src/pkg/mod.py").write_text(edited, encoding="utf-8")
    out = run_cli(["selector", "relocate", selector, "--from", "HEAD", "--json"], cwd=root)
    assert out.code == 0, out.stdout + out.stderr
    assert (out.json["line"], out.json["col"]) == (11, 20)
    assert out.json["confidence"] >= 0.8 and out.json["method"]
    git(root, "add", "-A")
    git(root, "commit", "-qm", "edit")
    (root / "src/pkg/mod.py").write_text('"""Gone."""\n', encoding="utf-8")
    lost = run_cli(["selector", "relocate", selector, "--from", "HEAD~1", "--json"], cwd=root)
    assert lost.code == 4 and lost.json["error"]["code"] == "lost"


def test_cli_errors_are_clean(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.py": "x = 1\n"})
    bad = run_cli(["selector", "parse", "a.py#x", "--json"], cwd=tmp_path)
    assert bad.code == 2 and bad.json["error"]["code"] == "bad_selector"
    assert bad.json["error"]["details"]["column"] == 5
    res = run_cli(["selector", "resolve", 'a.py@"x"', "--json", "--root", str(tmp_path)],
                  cwd=tmp_path)
    assert res.code == 0 and res.json["candidates"][0]["line"] == 1
    missing = run_cli(["selector", "resolve", 'a.py@"nothing here"', "--root", str(tmp_path)],
                      cwd=tmp_path)
    assert missing.code == 4 and "Traceback" not in missing.stderr


def test_loose_anchor_matches_end_where_the_matched_text_ends(ws: Workspace) -> None:
    from lanser.selectors.api import resolve_all

    # The file has `if key in self._data:` (line 7, cols 9-29); the snippet's spaces differ.
    loose = resolve_all(ws, 'src/pkg/mod.py@"if key  in  self._data :"').candidates[0]
    assert loose.method == "anchor-whitespace"
    assert (loose.position, loose.end) == (Position(7, 9), Position(7, 30))
    fuzzy = resolve_all(ws, 'src/pkg/mod.py@"if key in self._dta:"').candidates[0]
    assert fuzzy.method == "anchor-fuzzy"
    assert (fuzzy.position, fuzzy.end) == (Position(7, 9), Position(7, 30))


def test_composite_reports_the_definition_it_lands_on(ws: Workspace) -> None:
    from lanser.selectors.api import resolve_all

    best = resolve_all(ws, "src/pkg/mod.py::Cache//function_definition[name=put]").candidates[0]
    assert (best.position, best.qualname) == (Position(11, 9), "Cache.put")
    inner = resolve_all(ws, 'src/pkg/mod.py::Cache@"return None"').candidates[0]
    assert inner.qualname == "Cache.get"


def test_every_consumer_refuses_with_the_same_rule(ws: Workspace) -> None:
    from lanser.selectors.api import require_confident, resolve_all

    for text in ("pkg.mod:helper", "src/pkg/mod.py::get"):
        with pytest.raises((Ambiguous, NotFound)) as direct:
            resolve_target(ws, text)
        with pytest.raises((Ambiguous, NotFound)) as via_api:
            require_confident(resolve_all(ws, text))
        assert direct.value.code == via_api.value.code
        assert direct.value.details["candidates"] == via_api.value.details["candidates"]
