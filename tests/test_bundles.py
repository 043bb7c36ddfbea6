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
from lanser.lsp.registry import get_server
from lanser.queries.bundle import query_bundle
from lanser.queries.execute import execute
from lanser.queries.ops import BUNDLE_OPS, BY_NAME, request
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


def test_files_opened_in_shuffled_order_give_identical_bundle_hashes(workspace) -> None:
    files = {**FILES, **{f"pkg/m{i}.py": f"from pkg.core import helper\nhelper({i})\n"
                         for i in range(8)}}
    root = workspace(files)
    from lanser.bundles.snapshot import snapshot_identity
    from lanser.lsp.service import LanguageService

    requests = [request(BY_NAME["references"], path="pkg/core.py", line=1, col=5),
                request(BY_NAME["calls"], path="pkg/core.py", line=1, col=5),
                request(BY_NAME["diagnostics"], paths=[])]  # the whole workspace

    async def bundle_hash_after(seed: int) -> str:
        ws = Workspace.open(root)
        async with LanguageService(ws, get_server("basedpyright")) as service:
            paths = sorted(root.rglob("*.py"))
            random.Random(seed).shuffle(paths)
            for path in paths:
                await service.session.sync_file(path)
            answers = [(await execute(service, r)).to_json() for r in requests]
            made = make_bundle(ws, op="query", request={"ops": ["references", "calls",
                                                                "diagnostics"]},
                               facts=dict(zip(["references", "calls", "diagnostics"], answers,
                                              strict=True)),
                               server=service.server_info(), snapshot=snapshot_identity(ws))
            assert made["facts"]["references"]["locations"]
            return made["hash"]

    assert asyncio.run(bundle_hash_after(1)) == asyncio.run(bundle_hash_after(2))


def test_same_path_two_fresh_server_starts_give_identical_bundles(workspace) -> None:
    root = workspace(FILES, git_repo=True)
    first, second = bundle_of(root), bundle_of(root)
    assert first["provenance"]["pid"] == second["provenance"]["pid"]  # both in-process
    assert first["hash"] == second["hash"]


def test_one_byte_in_a_dependency_changes_snapshot_and_verify_reports_drift(workspace, cli):
    root = workspace(FILES, git_repo=True)
    # -o into the workspace: the bundle file is left out of the snapshot it records,
    # and verify leaves it out again, so writing it is not drift.
    made = cli(["bundle", LOC, "--op", ",".join(OPS), "-o", "b.json", "--no-daemon"], cwd=root)
    assert made.code == 0, made.stderr
    assert (root / "b.json").is_file()
    assert cli(["bundle", "verify", "b.json", "--no-daemon"], cwd=root).code == 0
    core = root / "pkg" / "core.py"
    before = core.read_bytes()
    after = before.replace(b"-> int", b"-> inx")  # an undefined return type
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 1
    core.write_bytes(after)
    drift = cli(["bundle", "verify", "b.json", "--json", "--no-daemon"], cwd=root)
    assert drift.code == 1, drift.stderr
    report = drift.json
    assert not report["identical"]
    wheres = {c["where"] for c in report["changes"]}
    assert "snapshot" in wheres
    assert any(w.startswith("facts.hover") for w in wheres)
    assert "facts.diagnostics.files[pkg/use.py].diagnostics" in wheres


def test_verify_of_a_deleted_target_or_a_vanished_selector_is_drift(workspace, cli) -> None:
    root = workspace(FILES, git_repo=True)
    for loc, name in ((LOC, "pos.json"), ("pkg/core.py::helper", "sel.json")):
        made, _ = query_bundle(Workspace.open(root), get_server("basedpyright"), loc, ["hover"],
                               timeout=60, use_daemon=False, use_store=False)
        (root / name).write_text(dump_bundle(made))
    (root / "pkg" / "use.py").unlink()
    (root / "pkg" / "core.py").write_text("def other(x: int) -> int:\n    return x\n")
    for name, reason in (("pos.json", "missing_file"), ("sel.json", None)):
        result = cli(["bundle", "verify", name, "--json", "--no-daemon"], cwd=root)
        assert result.code == 1, result.stdout + result.stderr
        (change,) = result.json["changes"]
        assert change["kind"] == "unresolvable" and result.json["recomputed"] is None
        assert reason is None or change["reason"] == reason
    readable = cli(["bundle", "verify", "pos.json"], cwd=root)
    assert readable.code == 1
    assert "pkg/use.py: no such file" in readable.stdout


def test_diff_prints_paths_and_values_literally(cli, tmp_path) -> None:
    ws = Workspace(tmp_path)
    files = [{"path": "pkg/use.py", "status": "ready", "diagnostics": []}]
    a = make_bundle(ws, op="query", request={"ops": ["hover", "diagnostics"]},
                    snapshot={"kind": "manifest", "hash": "sha256:" + "0" * 64, "files": []},
                    facts={"hover": {"hover": {"contents": "x: list[str]"}},
                           "diagnostics": {"files": files}})
    b = json.loads(json.dumps(a))
    b["facts"]["hover"]["hover"]["contents"] = "x: list[int]"
    b["facts"]["diagnostics"]["files"][0]["diagnostics"] = [{
        "path": "pkg/use.py", "line": 1, "col": 1, "end_line": 1, "end_col": 2,
        "severity": "error", "message": "[bold]not markup[/]", "source": "t", "code": None,
        "tags": []}]
    b["hash"] = bundle_hash(b)
    (tmp_path / "a.json").write_text(dump_bundle(a))
    (tmp_path / "b.json").write_text(dump_bundle(b))
    result = cli(["bundle", "diff", "a.json", "b.json"], cwd=tmp_path)
    assert result.code == 1
    assert '~ facts.hover.hover.contents: "x: list[str]" -> "x: list[int]"' in result.stdout
    assert "+ facts.diagnostics.files[pkg/use.py].diagnostics: " in result.stdout
    assert "[bold]not markup[/]" in result.stdout


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

    monkeypatch.setattr("lanser.queries.bundle.ask", no_server)
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


def test_a_query_bundle_of_every_op_validates(workspace, cli) -> None:
    files = {**FILES, "pkg/calls.py": "from pkg.core import helper\n\n\ndef twice(x: int) -> int:\n"
                                      "    return helper(helper(x))\n\n\ndef top() -> int:\n"
                                      "    return twice(1) + twice(2)\n"}
    root = workspace(files, git_repo=True)
    made, _ = query_bundle(Workspace.open(root), get_server("basedpyright"), "pkg/calls.py:4:5",
                           list(BUNDLE_OPS), query="helper", timeout=60, use_daemon=False,
                           use_store=False)
    validate(made)
    facts = made["facts"]
    assert sorted(facts) == sorted(BUNDLE_OPS)
    assert [c["name"] for c in facts["calls"]["calls"]] == ["top"]
    (top,) = facts["calls"]["calls"]
    assert len(top["call_sites"]) == 2  # twice(1), twice(2): each site once
    assert [c["name"] for c in facts["outgoing-calls"]["calls"]] == ["helper"]
    assert len(facts["outgoing-calls"]["calls"][0]["call_sites"]) == 2
    with_decl = facts["references-with-declaration"]["locations"]
    assert len(with_decl) == len(facts["references"]["locations"]) + 1
    assert any(s["name"] == "helper" and s["path"] == "pkg/core.py"
               for s in facts["workspace-symbols"]["symbols"])
    # workspace-symbols alone needs no location, only the query.
    alone = cli(["bundle", "--op", "workspace-symbols", "--query", "twice", "--no-daemon"],
                cwd=root)
    assert alone.code == 0, alone.stderr
    request = json.loads(alone.stdout)["request"]
    assert request["query"] == "twice" and "target" not in request
    missing = cli(["bundle", "--op", "workspace-symbols", "--json"], cwd=root)
    assert missing.code == 2 and missing.json["error"]["code"] == "bad_op"


def test_a_test_run_bundle_validates_and_verify_reruns_it(workspace, cli) -> None:
    from lanser.runner import run_tests

    root = workspace({**FILES, "tests/test_core.py": "from pkg.core import helper\n\n\n"
                      "def test_helper():\n    assert helper(1) == 2\n"}, git_repo=True)
    made = run_tests(Workspace.open(root), timeout=60).bundle(Workspace.open(root))
    validate(made)
    assert [t["outcome"] for t in made["facts"]["tests"]] == ["passed"]
    (root / ".lanser" / "t.json").write_text(dump_bundle(made))
    same = cli(["bundle", "verify", ".lanser/t.json", "--json"], cwd=root)
    assert same.code == 0, same.stdout + same.stderr
    (root / "pkg" / "core.py").write_text("def helper(x: int) -> int:\n    return x + 2\n")
    drift = cli(["bundle", "verify", ".lanser/t.json", "--json"], cwd=root)
    assert drift.code == 1
    assert any(c["where"].startswith("facts.tests") for c in drift.json["changes"])


def test_make_bundle_refuses_what_the_schema_does_not_describe(tmp_path) -> None:
    from lanser.bundles import MalformedBundle

    with pytest.raises(MalformedBundle):
        make_bundle(Workspace(tmp_path), op="query", request={"ops": ["definition"]},
                    facts={"definition": {"locations": [{"path": "/abs.py", "line": 0}]}},
                    snapshot={"kind": "manifest", "hash": "sha256:" + "0" * 64, "files": []})


@pytest.mark.parametrize(("name", "loc", "ops"), GOLDEN_CASES)
def test_golden_examples_round_trip(tmp_path, name, loc, ops) -> None:
    from lanser.episodes.demo import prepare_workspace

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


def test_a_partial_answer_is_never_served_from_the_store(tmp_path) -> None:
    from lanser.bundles.store import BundleStore, store_key

    ws = Workspace(tmp_path)
    snapshot = {"kind": "manifest", "hash": "sha256:" + "0" * 64, "files": []}
    late = make_bundle(ws, op="query", request={"ops": ["diagnostics"]}, snapshot=snapshot,
                       facts={"diagnostics": {"files": [
                           {"path": "a.py", "status": "not_ready", "diagnostics": []}]}})
    store, key = BundleStore(ws), store_key(None, snapshot, {"ops": ["diagnostics"]})
    store.put(key, late)
    assert store.get(key) is None
    assert store.by_hash(late["hash"]) == late  # still filed by its own hash
    ready = json.loads(json.dumps(late))
    ready["facts"]["diagnostics"]["files"][0]["status"] = "ready"
    ready["hash"] = bundle_hash(ready)
    store.put(key, ready)
    assert store.get(key) == ready


def test_store_key_holds_tool_and_schema_version(monkeypatch) -> None:
    import lanser.bundles.store as store

    args = ({"name": "s"}, {"kind": "git-tree", "tree": "0" * 40}, {"op": "query"})
    key = store.store_key(*args)
    monkeypatch.setattr(store, "__version__", "999.0")
    assert store.store_key(*args) != key
    monkeypatch.undo()
    monkeypatch.setattr(store, "SCHEMA", "lanser.bundle/2")
    assert store.store_key(*args) != key


def test_a_failed_store_write_leaves_no_temp_file(tmp_path) -> None:
    from lanser.bundles.store import BundleStore

    target = tmp_path / "entry" / "x.json"
    with pytest.raises(UnicodeEncodeError):
        BundleStore._write(target, "\ud800")  # not encodable: fails mid-write
    assert list(target.parent.iterdir()) == []


def test_state_dir_regains_its_gitignore(tmp_path) -> None:
    (tmp_path / ".lanser").mkdir()
    assert (Workspace(tmp_path).state_dir / ".gitignore").read_text() == "*\n"


def test_message_paths_are_rewritten_at_path_boundaries(tmp_path) -> None:
    import sysconfig

    from lanser.lsp.facts import PathNames

    root = tmp_path / "ws"
    server = tmp_path / "srv" / "basedpyright"
    names = PathNames(root, [(server, "<basedpyright>")])
    stdlib = sysconfig.get_paths()["stdlib"]
    cases = {
        f"{root}/a.py:3": "a.py:3",
        f"{tmp_path}/ws2/a.py": f"{tmp_path}/ws2/a.py",
        f"file://{root}/c.py": "c.py",
        f'"{root}" is the root': '"." is the root',
        f"{server}/dist/stdlib/os.pyi": "<basedpyright>/dist/stdlib/os.pyi",
        f"file://{stdlib}/typing.py": "<stdlib>/typing.py",
        "/elsewhere/.venv/lib/python3.9/site-packages/attr/x.py": "<site-packages>/attr/x.py",
        "/opt/py/lib/python3.12/json/x.py": "<stdlib>/json/x.py",
    }
    for message, expected in cases.items():
        assert names.scrub(message) == expected, message
        assert names.scrub(expected) == expected  # stable: scrubbing twice == once


def test_manifest_snapshot_covers_config_files_and_excludes(workspace) -> None:
    from lanser.bundles.snapshot import snapshot_identity

    root = workspace({**FILES, "pyproject.toml": "[tool.x]\n", "pyrightconfig.json": "{}",
                      "setup.cfg": "", "notes.txt": "", ".lanser/b.json": "{}"})
    ws = Workspace.open(root)
    first = snapshot_identity(ws)
    paths = [f["path"] for f in first["files"]]
    assert paths == sorted([*FILES, "pyproject.toml", "pyrightconfig.json", "setup.cfg"])
    (root / "pyrightconfig.json").write_text('{"typeCheckingMode": "strict"}')
    assert snapshot_identity(ws)["hash"] != first["hash"]
    left_out = snapshot_identity(ws, [root / "setup.cfg"])
    assert "setup.cfg" not in [f["path"] for f in left_out["files"]]


def test_two_concurrent_bundle_commands_both_succeed(workspace) -> None:
    import subprocess
    import sys

    root = workspace(FILES, git_repo=True)
    Workspace.open(root).state_dir.joinpath("snapshot.index.lock").write_text("")  # a stale lock
    procs = [subprocess.Popen([sys.executable, "-m", "lanser", "bundle", LOC, "--op", "hover",
                               "--no-daemon", "--no-store", "-o", str(root.parent / f"c{i}.json")],
                              cwd=root,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    results = [(p.wait(timeout=180), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0, 0], results
    hashes = {json.loads((root.parent / f"c{i}.json").read_text())["hash"] for i in range(2)}
    assert len(hashes) == 1


def test_episode_query_actions_accept_every_bundle_op() -> None:
    from lanser.episodes.actions import InvalidAction, parse_action

    for op in BUNDLE_OPS:
        if op == "workspace-symbols":
            action = parse_action({"action": "query", "op": op, "query": "Stock"})
            assert (action.query, action.at, action.targeted) == ("Stock", None, False)
            with pytest.raises(InvalidAction):
                parse_action({"action": "query", "op": op, "at": "pkg/a.py:1:1"})
        else:
            action = parse_action({"action": "query", "op": op, "at": "pkg/a.py:1:1"})
            assert (action.op, action.at) == (op, "pkg/a.py:1:1")
    with pytest.raises(InvalidAction):
        parse_action({"action": "query", "op": "calls"})
