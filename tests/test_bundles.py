"""Analysis bundles: same input, same bytes — and every way that can go wrong, caught."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
from pathlib import Path

import pytest

from lanser.bundles import bundle_hash, check_bundle, dump_bundle, make_bundle
from lanser.bundles.schema import validate
from lanser.bundling import query_bundle
from lanser.lsp.registry import get_server
from lanser.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "bundles" / "examples"
#: (file name, LOC in examples/demo, ops)
GOLDEN_CASES = [
    ("demo-stock-class.json", "inventory/report.py:8:22", "definition,references,hover"),
    ("demo-level-method.json", "inventory/stock.py:21:9",
     "declaration,type-definition,symbols,diagnostics,calls"),
]

FILES = {
    "pkg/__init__.py": "",
    "pkg/core.py": "def helper(x: int) -> int:\n    return x + 1\n",
    "pkg/use.py": "from pkg.core import helper\n\nvalue: str = helper(1)\n",
}
LOC = "pkg/use.py:3:14"
OPS = ["definition", "references", "hover", "diagnostics"]


def bundle_of(root: Path, *, use_store: bool = False) -> dict:
    made, _ = query_bundle(Workspace.open(root), get_server("basedpyright"), LOC, OPS,
                           timeout=60, use_daemon=False, use_store=use_store)
    return made


def without_provenance(bundle: dict) -> dict:
    return {k: v for k, v in bundle.items() if k != "provenance"}


def test_same_workspace_at_two_paths_gives_identical_bundles(workspace) -> None:
    first = bundle_of(workspace(FILES, git_repo=True))
    second = bundle_of(workspace(FILES, git_repo=True))
    assert first["provenance"]["root"] != second["provenance"]["root"]
    assert first["hash"] == second["hash"]
    assert dump_bundle(without_provenance(first)) == dump_bundle(without_provenance(second))
    assert first["snapshot"]["kind"] == "git-tree"
    assert "/" not in "".join(first["server"]["command"][:1]).split(">")[0].lstrip("<")


def test_non_git_workspace_uses_a_file_manifest(workspace) -> None:
    first = bundle_of(workspace(FILES))
    second = bundle_of(workspace(FILES))
    assert first["snapshot"]["kind"] == "manifest"
    assert [f["path"] for f in first["snapshot"]["files"]] == sorted(FILES)
    assert first["hash"] == second["hash"]


def test_files_opened_in_shuffled_order_give_identical_facts(workspace) -> None:
    files = {**FILES, **{f"pkg/m{i}.py": f"from pkg.core import helper\nhelper({i})\n"
                         for i in range(8)}}
    root = workspace(files)
    from lanser.lsp.operations import execute
    from lanser.lsp.service import LanguageService

    async def facts(seed: int) -> str:
        ws = Workspace.open(root)
        async with LanguageService(ws, get_server("basedpyright")) as service:
            paths = sorted(root.rglob("*.py"))
            random.Random(seed).shuffle(paths)
            for path in paths:
                await service.session.sync_file(path)
            answers = [await execute(service, {"op": "references", "path": "pkg/core.py",
                                               "line": 1, "col": 5}),
                       await execute(service, {"op": "diagnostics"})]
            return json.dumps(answers, sort_keys=True)

    assert asyncio.run(facts(1)) == asyncio.run(facts(2))


def test_one_byte_in_a_dependency_changes_snapshot_and_verify_reports_drift(
        workspace, cli, tmp_path):
    root = workspace(FILES, git_repo=True)
    out = str(tmp_path / "b.json")  # outside the workspace: writing it changes no snapshot
    made = cli(["bundle", LOC, "--op", ",".join(OPS), "-o", out, "--no-daemon"], cwd=root)
    assert made.code == 0, made.stderr
    assert cli(["bundle", "verify", out, "--no-daemon"], cwd=root).code == 0
    core = root / "pkg" / "core.py"
    core.write_text(core.read_text().replace("-> int", "-> str").replace("x + 1", "str(x)"))
    drift = cli(["bundle", "verify", out, "--json", "--no-daemon"], cwd=root)
    assert drift.code == 1
    report = drift.json
    assert not report["identical"]
    wheres = {c["where"] for c in report["changes"]}
    assert "snapshot" in wheres
    assert any(w.startswith("facts.hover") for w in wheres)
    assert any(w.startswith("facts.diagnostics") for w in wheres)


def test_snapshot_changes_even_when_facts_do_not(workspace) -> None:
    root = workspace(FILES, git_repo=True)
    before = bundle_of(root)
    (root / "README.md").write_text("unrelated\n")
    after = bundle_of(root)
    assert before["facts"] == after["facts"]
    assert before["snapshot"] != after["snapshot"]
    assert before["hash"] != after["hash"]


@pytest.mark.parametrize("edit", ["fact", "hash", "schema", "json"])
def test_a_hand_edited_bundle_is_refused_with_exit_2(workspace, cli, edit) -> None:
    root = workspace(FILES, git_repo=True)
    bundle = bundle_of(root)
    if edit == "fact":
        bundle["facts"]["definition"]["locations"][0]["line"] += 1
    elif edit == "hash":
        bundle["hash"] = "sha256:" + "0" * 64
    elif edit == "schema":
        del bundle["snapshot"]
    path = root / "tampered.json"
    path.write_text("{not json" if edit == "json" else dump_bundle(bundle))
    result = cli(["bundle", "verify", "tampered.json", "--json"], cwd=root)
    assert result.code == 2
    assert result.json["error"]["code"] in {"tampered", "malformed_bundle"}


def test_store_answers_a_repeated_request_without_a_server(workspace, monkeypatch) -> None:
    root = workspace(FILES, git_repo=True)
    first = bundle_of(root, use_store=True)
    def no_server(*args, **kwargs):
        raise AssertionError("a server was started for a stored bundle")

    monkeypatch.setattr("lanser.lsp.client.query_batch", no_server)
    again, from_store = query_bundle(Workspace.open(root), get_server("basedpyright"), LOC,
                                     OPS, timeout=60, use_daemon=False)
    assert from_store
    assert dump_bundle(again) == dump_bundle(first)


def test_diff_lists_changes_fact_by_fact(workspace, cli, tmp_path) -> None:
    root = workspace(FILES, git_repo=True)
    (tmp_path / "a.json").write_text(dump_bundle(bundle_of(root)))
    (root / "pkg" / "use.py").write_text("from pkg.core import helper\n\nvalue: str = helper(1)\n"
                                         "other = helper(2)\n")
    (tmp_path / "b.json").write_text(dump_bundle(bundle_of(root)))
    result = cli(["bundle", "diff", "a.json", "b.json", "--json"], cwd=tmp_path)
    assert result.code == 1
    added = [c for c in result.json["changes"] if c["kind"] == "added"]
    assert any(c["where"] == "facts.references.locations" and c["item"]["line"] == 4
               for c in added)
    same = cli(["bundle", "diff", "a.json", "a.json", "--json"], cwd=tmp_path)
    assert same.code == 0 and same.json["identical"]


def test_every_bundle_validates_and_hash_covers_all_but_provenance(workspace) -> None:
    root = workspace(FILES, git_repo=True)
    bundle = bundle_of(root)
    validate(bundle)
    check_bundle(bundle)
    bundle["provenance"]["host"] = "elsewhere"
    assert bundle_hash(bundle) == bundle["hash"]
    made = make_bundle(Workspace.open(root), op="test", request={"args": []},
                       facts={"tests": []})
    validate(made)


@pytest.mark.parametrize(("name", "loc", "ops"), GOLDEN_CASES)
def test_golden_examples_round_trip(tmp_path, name, loc, ops) -> None:
    from lanser.demo import prepare_workspace

    root = prepare_workspace(tmp_path / "demo")
    made, _ = query_bundle(Workspace.open(root), get_server("basedpyright"), loc,
                           ops.split(","), timeout=60, use_daemon=False, use_store=False)
    text = dump_bundle(without_provenance(made))
    golden = GOLDEN / name
    if os.environ.get("LANSER_REGEN_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    validate(json.loads(golden.read_text(encoding="utf-8")) | {"provenance": {}})
    assert text == golden.read_text(encoding="utf-8")
    assert check_bundle(json.loads(text))


def test_golden_files_are_what_the_schema_describes() -> None:
    for path in sorted(GOLDEN.glob("*.json")):
        check_bundle(json.loads(path.read_text(encoding="utf-8")))
    assert shutil.which("git")
