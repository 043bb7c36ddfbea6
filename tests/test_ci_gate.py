"""``lanser ci``: a change judged on new diagnostics, new failures and its reward.

One real git repository (module scope) with a base commit and three heads: a change
that moves code with an old error in it (not new), adds a type error (new), breaks
a tested function (a new failure), adds a failing test (new) and leaves an old
failing test failing (old); a clean change (a comment above everything: lines
shift, nothing is new); and the staged index. Real basedpyright, real pytest in
the sandbox; SARIF and JUnit validated against the published schemas shipped in
tests/data/schemas/.
"""

from __future__ import annotations

import asyncio
import json
from fractions import Fraction
from pathlib import Path

import jsonschema_rs
import pytest
from typer.testing import CliRunner

from lanser.gate import FailOn, Observed, check, compare, markdown, sarif
from lanser.gate.policy import judge
from lanser.gate.testrun import junit
from lanser.lsp.facts import Diagnostic
from lanser.lsp.registry import get_server
from lanser.positions import Position, Span
from lanser.rewards import load_profile
from lanser.workspace import Workspace
from tests.conftest import git, init_repo, write_files

# Whole-module slow: the quick loop (-m 'not slow') leaves it to the full suite.
pytestmark = pytest.mark.slow

SCHEMAS = Path(__file__).parent / "data" / "schemas"

CALC = '''\
def add(a: int, b: int) -> int:
    return a + b


def broken() -> int:
    return "x"  # an old error


def half(n: int) -> float:
    return n / 2
'''
TESTS = '''\
from pkg.calc import add, half


def test_add():
    assert add(1, 2) == 3


def test_half():
    assert half(4) == 2


def test_old_failure():
    assert add(1, 1) == 3


def test_gone():
    assert add(0, 0) == 0
'''
#: Renamed by the clean change: its error and its suppression are not new.
LEGACY = '''\
def legacy() -> int:
    return None


def quiet() -> int:
    return "x"  # type: ignore
'''
#: broken() moved below half() (same error, other lines), add() broken, a new error.
CHANGED = '''\
def half(n: int) -> float:
    return n / 2


def add(a: int, b: int) -> int:
    return a - b


def broken() -> int:
    return "x"  # an old error


def fresh() -> str:
    return 1


def quiet() -> str:
    return 2  # type: ignore
'''
#: test_half skipped, test_gone deleted (both passed at base: lost), a failing test added.
CHANGED_TESTS = TESTS.replace("def test_half", "@pytest.mark.skip\ndef test_half").replace(
    "import add, half\n", "import add, half\nimport pytest\n").split("\n\n\ndef test_gone")[0] + '''


def test_new_failure():
    assert half(2) == 3
'''


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ci") / "repo"
    write_files(root, {"pkg/__init__.py": "", "pkg/calc.py": CALC, "pkg/legacy.py": LEGACY,
                       "tests/test_calc.py": TESTS})
    init_repo(root)
    git(root, "tag", "base")
    git(root, "checkout", "-q", "-b", "change")
    write_files(root, {"pkg/calc.py": CHANGED, "tests/test_calc.py": CHANGED_TESTS})
    git(root, "commit", "-qam", "change")
    git(root, "checkout", "-q", "-b", "clean", "base")
    write_files(root, {"pkg/calc.py": "# a comment above everything\n" + CALC})
    git(root, "mv", "pkg/legacy.py", "pkg/old.py")  # its error and suppression move along
    git(root, "commit", "-qam", "clean")
    return root


def _check(root: Path, head: str, **options) -> object:
    return asyncio.run(check(Workspace.open(root), base="base", head=head,
                             profile=load_profile("default"), spec=get_server("basedpyright"),
                             timeout=60, **options))


@pytest.fixture(scope="module")
def changed(repo):
    return _check(repo, "change")


@pytest.fixture(scope="module")
def clean(repo, changed):  # after `changed`: the base's coverage map is cached by then
    return _check(repo, "clean")


def test_a_bad_change_fails_the_gate_on_every_default_condition(changed):
    out = changed.to_json()
    assert not changed.passed
    assert [b["condition"] for b in out["gate"]["breaches"]] == [
        "lost-tests", "new-errors", "new-failures", "new-suppressions"]
    # the cheap ways around new errors and failures are caught, not paid
    assert out["suppressions"] == [
        {"path": "pkg/calc.py", "line": 18, "text": "return 2  # type: ignore"}]
    assert out["tests"]["lost"] == ["tests/test_calc.py::test_gone",
                                    "tests/test_calc.py::test_half"]
    new = out["diagnostics"]["new"]
    assert [(d["path"], d["line"], d["col"], d["code"]) for d in new] == [
        ("pkg/calc.py", 14, 12, "reportReturnType")]  # fresh(), not the moved broken()
    assert out["diagnostics"]["unchanged"] == 2 and out["diagnostics"]["fixed"] == 0
    tests = out["tests"]
    assert tests["new_failures"] == ["tests/test_calc.py::test_add",
                                     "tests/test_calc.py::test_new_failure"]
    assert tests["old_failures"] == ["tests/test_calc.py::test_old_failure"]
    by_id = {t["nodeid"]: t for t in tests["tests"]}
    assert by_id["tests/test_calc.py::test_new_failure"]["base_outcome"] is None
    assert by_id["tests/test_calc.py::test_add"]["base_outcome"] == "passed"
    reward = out["reward"]["components"]
    assert Fraction(reward["diagnostics"]["exact"]) == Fraction(-1, 10)  # one more error
    assert Fraction(reward["tests"]["exact"]) < 0
    # reward<X is judged on the same report; a threshold below it passes
    total = changed.reward.total
    assert judge(FailOn.parse("reward<0"), new_by_severity={}, new_failures=0, reward=total)
    assert not judge(FailOn.parse("reward<-1"), new_by_severity={}, new_failures=0,
                     reward=total)


def test_a_clean_change_passes_and_old_failures_do_not_count(clean, changed):
    out = clean.to_json()
    assert clean.passed and out["gate"]["breaches"] == []
    assert out["diagnostics"]["new"] == [] and out["diagnostics"]["unchanged"] == 2
    assert out["suppressions"] == [] and "pkg/old.py" in out["changed"]
    assert out["tests"]["new_failures"] == []
    assert out["tests"]["old_failures"] == ["tests/test_calc.py::test_old_failure"]
    # The reward functional reads the rename as a deletion (held at the base) plus an
    # addition carrying an error (rewards/SPEC.md §3): -1/10, which the gate, matching
    # renamed paths, does not count as a new error.
    assert out["reward"]["components"]["diagnostics"]["exact"] == "-1/10"
    assert out["reward"]["components"]["tests"]["exact"] == "0"
    # the old error moved (change) or shifted (clean): one fingerprint in every run
    prints = {f.fingerprint for r in (clean, changed) for f in r.comparison.findings
              if f.diagnostic.message.startswith('Type "Literal[\'x\']"')}
    assert len(prints) == 1


def test_sarif_validates_and_has_real_regions(changed):
    log = sarif(changed)
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    validator = jsonschema_rs.validator_for(schema)
    assert list(validator.iter_errors(log)) == []
    results = log["runs"][0]["results"]
    assert {r["baselineState"] for r in results} == {"new", "unchanged"}
    new = next(r for r in results if r["baselineState"] == "new")
    assert new["ruleId"] == "reportReturnType"
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert rules[new["ruleIndex"]]["id"] == "reportReturnType"
    region = new["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 14, "startColumn": 12, "endLine": 14, "endColumn": 13}
    # the validator does catch what the spec forbids
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["results"][0]["baselineState"] = "brand-new"
    assert list(validator.iter_errors(broken))


def test_junit_validates_against_the_ant_schema(changed, tmp_path):
    import xmlschema

    schema = xmlschema.XMLSchema(str(SCHEMAS / "JUnit.xsd"))
    path = tmp_path / "junit.xml"
    junit(changed.tests, path)
    schema.validate(str(path))
    text = path.read_text(encoding="utf-8")
    assert "new failure: it did not fail at base" in text
    assert "old failure: it failed at base too" in text


def test_markdown_lists_what_failed(changed):
    text = markdown(changed.to_json())
    assert text.startswith("## ❌ lanser ci: failed")
    assert "**Suppressions added**" in text and "tests/test_calc.py::test_gone" in text
    assert "`pkg/calc.py:14:12`" in text and "tests/test_calc.py::test_new_failure" in text


@pytest.mark.slow
def test_a_second_run_through_the_cli_gives_the_same_bytes(repo, changed, tmp_path):
    """Same change, same bytes: the CLI (in process, tests off) writes the library
    run's SARIF byte for byte, the same diagnostics JSON, and exits 1."""
    from lanser.cli.app import app
    from lanser.cli.output import dumps

    out, summary = tmp_path / "change.sarif", tmp_path / "summary.md"
    result = CliRunner().invoke(app, ["ci", "--root", str(repo), "--base", "base", "--head",
                                      "change", "--tests", "none", "--json", "--sarif",
                                      str(out), "--markdown", str(summary)])
    assert result.exit_code == 1, result.output
    assert out.read_text(encoding="utf-8") == dumps(sarif(changed)) + "\n"
    payload = json.loads(result.stdout)
    assert payload["diagnostics"] == changed.to_json()["diagnostics"]
    assert payload["tests"] is None and "Not run" in summary.read_text(encoding="utf-8")


def test_bad_input_is_exit_2_with_a_json_error_before_any_server(repo, tmp_path):
    from lanser.cli.app import app

    runner = CliRunner()
    bad = runner.invoke(app, ["ci", "--root", str(repo), "--base", "base", "--json",
                              "--fail-on", "new-errors,reward<lots"])
    assert bad.exit_code == 2
    assert json.loads(bad.stdout)["error"]["code"] == "bad_fail_on"
    unknown = runner.invoke(app, ["ci", "--root", str(repo), "--base", "nope", "--json"])
    assert unknown.exit_code == 2
    assert json.loads(unknown.stdout)["error"]["code"] == "bad_rev"
    mode = runner.invoke(app, ["ci", "--root", str(repo), "--base", "base", "--json",
                               "--tests", "some"])
    assert json.loads(mode.stdout)["error"]["code"] == "bad_tests_mode"
    plain = tmp_path / "plain"
    plain.mkdir()
    not_git = runner.invoke(app, ["ci", "--root", str(plain), "--base", "HEAD", "--json"])
    assert not_git.exit_code == 2
    assert json.loads(not_git.stdout)["error"]["code"] == "not_git"


def _observed(path: str, line: int, message: str, text: str) -> Observed:
    span = Span(Position(line, 1), Position(line, 2))
    return Observed(Diagnostic(path, span, "error", message, "basedpyright", "rule"), text)


def test_identity_matching_moves_duplicates_and_renames():
    base = [_observed("a.py", 3, "m", "x = 1"), _observed("a.py", 9, "m", "y = 2")]
    # the same two errors, lines moved and swapped: nothing new
    moved = compare(base, [_observed("a.py", 1, "m", "y = 2"), _observed("a.py", 20, "m",
                                                                           "x = 1")])
    assert moved.new == () and moved.fixed == ()
    # a third copy of the same identity on a new line text is the new one, wherever it is
    third = compare(base, [_observed("a.py", 1, "m", "z = 3"), *(
        _observed("a.py", o.diagnostic.span.start.line + 5, "m", o.line_text) for o in base)])
    assert [f.diagnostic.span.start.line for f in third.new] == [1]
    # a renamed file carries its diagnostics over; a removed one counts as fixed
    renamed = compare(base, [_observed("b.py", 3, "m", "x = 1")], {"a.py": "b.py"})
    assert renamed.new == () and len(renamed.fixed) == 1
    # fingerprints do not depend on line numbers
    shifted = compare([], [_observed("a.py", 40, "m", "x = 1")]).findings[0].fingerprint
    assert shifted == compare([], [base[0]]).findings[0].fingerprint


def test_suppression_comments_are_recognized():
    from lanser.gate.suppressions import PATTERN

    for line in ("x = f()  # type: ignore", "x = f()  # type:ignore[assignment]",
                 "x = f()  # pyright: ignore[reportCallIssue]", "# pyright: basic",
                 "#basedpyright: ignore"):
        assert PATTERN.search(line), line
    for line in ("x = 'type: ignore'", "# a note about pyright", "# pyright:"):
        assert not PATTERN.search(line), line


def test_fail_on_parsing():
    assert FailOn.parse(None).to_json() == [
        "lost-tests", "new-errors", "new-failures", "new-suppressions"]
    assert FailOn.parse("").to_json() == []
    assert FailOn.parse(["new-warnings", "reward<-0.25"]).to_json() == [
        "new-warnings", "reward<-0.25"]
    from lanser.errors import UsageError

    for bad in ("new-bugs", "reward<", "reward<nan", "reward<1e999999999"):
        with pytest.raises(UsageError):
            FailOn.parse(bad)
