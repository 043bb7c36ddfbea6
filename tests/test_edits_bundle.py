"""The apply record, normalized into a bundle: the same outcome hashes the same at
any checkout path (nothing machine-specific outside ``provenance``)."""

from __future__ import annotations

import os
from pathlib import Path

from lanser.bundles.bundle import check_bundle
from lanser.edits import Envelope
from lanser.edits.sources import from_unified_diff, read_text_or_none
from lanser.workspace import Workspace
from tests.conftest import init_repo, write_files

FILES = {"a.py": "x = 1\n", "b.py": "y = 2\n"}
PATCH = "--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 10\n"
ESCAPE = "--- a/link.py\n+++ b/link.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"


def _checkout(base: Path) -> Path:
    root = base / "ws"
    root.mkdir(parents=True)
    (base / "outside").mkdir()
    (base / "outside" / "victim.py").write_text("x = 1\n")
    write_files(root, FILES)
    (root / "link.py").symlink_to(Path("..") / "outside" / "victim.py")
    init_repo(root)
    return root.resolve()


def _bundles(root: Path) -> tuple[dict, dict]:
    envelope = Envelope(Workspace.open(root))

    def changes(text: str) -> list:
        return from_unified_diff(text, lambda rel: read_text_or_none(
            envelope.jail.check(rel).path))

    refused = envelope.attempt(lambda: envelope.apply(
        envelope.preview(changes(ESCAPE), origin="escape")))
    applied = envelope.apply(envelope.preview(changes(PATCH), origin="patch"))
    return (refused.to_bundle(envelope.workspace, origin="escape"),
            applied.to_bundle(envelope.workspace, origin="patch"))


def test_apply_records_hash_the_same_at_two_checkout_paths(tmp_path: Path) -> None:
    first = _bundles(_checkout(tmp_path / "one"))
    second = _bundles(_checkout(tmp_path / "two" / "deeper"))
    for bundle in (*first, *second):
        check_bundle(bundle)
        assert bundle["request"]["op"] == "apply"
    refused, applied = first
    assert refused["facts"]["apply"]["status"] == "refused"
    assert refused["facts"]["apply"]["reason"] == "outside_workspace"
    assert "<outside>/outside/victim.py" in refused["facts"]["apply"]["message"]
    assert applied["facts"]["apply"]["status"] == "applied"
    assert [b["hash"] for b in first] == [b["hash"] for b in second]
    assert first[0]["provenance"]["root"] != second[0]["provenance"]["root"]
    assert os.fspath(tmp_path) not in str({k: v for k, v in applied.items()
                                           if k != "provenance"})


def test_cli_apply_prints_the_record_as_a_bundle(workspace, cli) -> None:
    root = workspace({**FILES, "p.diff": PATCH}, git_repo=True)
    result = cli(["apply", "p.diff", "--json"], cwd=root)
    assert result.code == 0, result.stderr
    bundle = check_bundle(result.json["bundle"])
    assert bundle["facts"]["apply"] == result.json["result"]
    assert bundle["request"] == {"op": "apply", "origin": "apply p.diff"}
