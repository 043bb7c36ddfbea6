"""Synthesized tasks (issue 18, SWE-smith style): the mutation operators on small real
sources as minimal text edits, their diffs applied by real git, and the driver on a real
git repository with real pytest in lanser's sandbox, each rejection reason met."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lanser.runner.settings import RunnerSettings
from lanser.tasks import validate_task
from lanser.tasks.mutations import OPERATORS, Mutant, mutants, sample, similar
from lanser.tasks.synth import REF_PREFIX, judge, synth
from tests.conftest import git, init_repo, write_files

# Whole-module slow: the quick loop (-m 'not slow') leaves it to the full suite.
pytestmark = pytest.mark.slow

FAST = RunnerSettings(timeout=20.0, run_timeout=120.0)

SOURCE = '''\
"""Ranges."""  # a comment that must never move

LIMIT = 10


def clamp(value, low, high):
    if low > high:
        raise ValueError("low above high")   # spacing kept
    if value < low:
        return low
    result = min(value, high)
    return result


def window(items, start, width):
    stop = start + width
    picked = []
    for index in range(start, stop):
        picked.append(items[index])
    return picked if width else []


def outer(total, count):
    def inner(tally):
        return tally
    return inner(total) // count
'''


def _only(found: list[Mutant], operator: str) -> list[tuple[int, str, str]]:
    return [(m.line, m.old, m.new) for m in found if m.operator == operator]


def test_each_operator_finds_its_sites():
    found = mutants("pkg/ranges.py", SOURCE.encode())
    assert {m.operator for m in found} == set(OPERATORS)
    assert _only(found, "flip_comparison") == [(7, ">", "<="), (9, "<", ">=")]
    assert _only(found, "off_by_one") == [(7, ">", ">="), (9, "<", "<=")]  # no int bound
    assert _only(found, "negate_condition") == [(7, "low > high", "not (low > high)"),
                                                (9, "value < low", "not (value < low)"),
                                                (20, "width", "not (width)")]
    assert _only(found, "swap_arguments") == [(11, "value, high", "high, value"),
                                              (18, "start, stop", "stop, start")]
    assert _only(found, "remove_guard") == [
        (7, 'if low > high:\n        raise ValueError("low above high")', "pass"),
        (9, "if value < low:\n        return low", "pass")]
    assert _only(found, "drop_statement") == [(11, "result = min(value, high)", "pass"),
                                              (16, "stop = start + width", "pass"),
                                              (17, "picked = []", "pass")]
    assert _only(found, "return_early") == [
        (12, "return result", "return None"),
        (20, "return picked if width else []", "return None"),
        (25, "return tally", "return None"), (26, "return inner(total) // count", "return None")]


def test_off_by_one_moves_a_bound_both_ways():
    found = mutants("m.py", b"def f(xs, n):\n    return xs[1] if n < 3 else list(range(0, n))\n")
    bumps = sorted((m.old, m.new) for m in found if m.operator == "off_by_one")
    assert bumps == [("0", "-1"), ("0", "1"), ("1", "0"), ("1", "2"), ("3", "2"), ("3", "4"),
                     ("<", "<=")]


def test_replace_identifier_stays_in_the_function_scope():
    found = mutants("pkg/ranges.py", SOURCE.encode())
    renames = _only(found, "replace_identifier")
    # a read of a local becomes the most similar other local of the same function
    assert (16, "start", similar("start", {"items", "start", "width", "stop", "picked",
                                           "index"})) in renames
    by_line = {}
    for line, _old, new in renames:
        by_line.setdefault(line, set()).add(new)
    # inner's scope holds only tally: nothing to swap it for; outer never sees tally
    assert 25 not in by_line
    assert all("tally" not in news for news in by_line.values())
    assert all(new != "LIMIT" for news in by_line.values() for new in news)  # no globals
    assert similar("low", {"low", "high", "value"}) == similar("low", {"value", "high", "low"})
    assert similar("x", {"x"}) is None


def test_mutants_are_minimal_edits_whose_diffs_git_applies(tmp_path):
    source = SOURCE.encode()
    found = mutants("pkg/ranges.py", source)
    assert found == mutants("pkg/ranges.py", source)  # the same order every run
    assert [(m.start, m.end) for m in found] == sorted((m.start, m.end) for m in found)
    repo = init_repo(write_files(tmp_path / "r", {"pkg/ranges.py": SOURCE}))
    for mutant in found:
        changed = mutant.apply(source)
        ast.parse(changed)
        assert changed[:mutant.start] == source[:mutant.start]
        assert changed[mutant.start + len(mutant.new.encode()):] == source[mutant.end:]
        assert b"# a comment that must never move" in changed
        assert b"# spacing kept" in changed or mutant.operator == "remove_guard"
    for mutant in found[::7]:  # a spread of them through real git apply, there and back
        bug, fix = mutant.diffs(source)
        assert bug.startswith("diff --git a/pkg/ranges.py b/pkg/ranges.py\n")
        (tmp_path / "bug.diff").write_text(bug)
        (tmp_path / "fix.diff").write_text(fix)
        git(repo, "apply", str(tmp_path / "bug.diff"))
        assert (repo / "pkg/ranges.py").read_bytes() == mutant.apply(source)
        git(repo, "apply", str(tmp_path / "fix.diff"))
        assert (repo / "pkg/ranges.py").read_bytes() == source


def test_nothing_inside_an_f_string_is_touched():
    found = mutants("m.py", b'def f(a, b):\n    return f"{a < b} {a + 1}"\n')
    assert all(m.operator == "return_early" for m in found)


def test_sampling_is_seeded_and_spread_over_the_operators():
    found = mutants("pkg/ranges.py", SOURCE.encode())
    one = sample(found, 8, seed=1)
    assert one == sample(found, 8, seed=1)
    assert len(one) == 8 and len({m.operator for m in one}) == 8  # one per operator
    assert [m.start for m in one] == sorted(m.start for m in one)
    seeds = {tuple(m.key() for m in sample(found, 3, seed=s)) for s in range(6)}
    assert len(seeds) > 1
    # the draw is keyed by the file's path too: other files draw differently
    draws = {tuple(m.start for m in sample(mutants(f"m{i}.py", SOURCE.encode()), 3, 1))
             for i in range(6)}
    assert len(draws) > 1
    assert sample(found[:2], 5, seed=0) == found[:2]


CALC = '''\
def clamp(value, low, high):
    if value < low:
        return low
    return min(value, high)


def spin(n):
    i = 0
    while i < n:
        i += 1
    return i


def unused(a, b):
    return a - b
'''
TESTS = '''\
from pkg.calc import clamp, spin


def test_clamp_low():
    assert clamp(-5, 0, 10) == 0, "below the range clamps to low"


def test_clamp_high():
    assert clamp(50, 0, 10) == 10


def test_spin():
    assert spin(3) == 3
'''


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "calc"
    write_files(root, {"pkg/__init__.py": "from pkg.calc import clamp\n", "pkg/calc.py": CALC,
                       "tests/__init__.py": "", "tests/test_calc.py": TESTS,
                       # never names the module: not impact-selected, run as the rest
                       "tests/test_api.py": "import pkg\n\n\ndef test_api():\n"
                                            "    assert pkg.clamp(-1, 0, 1) == 0\n"})
    return init_repo(root)


def _mutant(operator: str, old: str, new: str, after: str = "") -> Mutant:
    start = CALC.index(old, CALC.index(after) if after else 0)
    line = CALC[:start].count("\n") + 1
    return Mutant(operator, "pkg/calc.py", line, start, start + len(old), old, new)


def _judge(repo: Path, mutant: Mutant, settings: RunnerSettings = FAST):
    clean = git(repo, "rev-parse", "HEAD").strip()
    return judge(repo, clean, CALC.encode(), mutant, ("tests/test_calc.py",), settings, "calc",
                 rest=("tests/test_api.py",))


def test_a_mutant_the_tests_catch_becomes_a_task(repo):
    mutant = _mutant("remove_guard", "if value < low:\n        return low", "pass")
    found = _judge(repo, mutant)
    task = found.task
    assert found.reason is None and task is not None, found.detail
    # the rest of the suite ran on the bug too: a test there it breaks is listed as well
    assert task.fail_to_pass == ("tests/test_api.py::test_api",
                                 "tests/test_calc.py::test_clamp_low")
    assert task.lanser.validation.before["tests/test_api.py::test_api"] == "failed"
    assert task.lanser.validation.after["tests/test_api.py::test_api"] == "passed"
    assert task.pass_to_pass == ("tests/test_calc.py::test_clamp_high",
                                 "tests/test_calc.py::test_spin")
    assert task.patch == mutant.diffs(CALC.encode())[1]  # the reference is the inverse
    assert task.lanser.source == "synth" and task.test_patch == ""
    assert task.lanser.origin["operator"] == "remove_guard"
    # a bug report: the failing test and its message, never the diff
    assert "tests/test_calc.py::test_clamp_low" in task.problem_statement
    assert "below the range clamps to low" in task.problem_statement
    assert "@@" not in task.problem_statement and "return low" not in task.problem_statement
    assert git(repo, "rev-parse", REF_PREFIX + task.instance_id).strip() == task.base_commit
    assert git(repo, "show", f"{task.base_commit}:pkg/calc.py") == mutant.apply(
        CALC.encode()).decode()
    assert validate_task(task, repo, FAST).reason is None


def test_a_mutant_no_test_catches_is_rejected(repo):
    found = _judge(repo, _mutant("flip_comparison", "a - b", "b - a"))
    assert (found.task, found.reason) == (None, "no_test_fails")


def test_a_mutant_that_does_not_compile_is_rejected_before_any_run(repo):
    found = _judge(repo, _mutant("drop_statement", "return min(value, high)", "return )"))
    assert (found.task, found.reason) == (None, "syntax")


def test_a_mutant_that_hangs_is_a_timeout(repo):
    found = _judge(repo, _mutant("drop_statement", "i += 1", "pass"),
                   RunnerSettings(timeout=3.0, run_timeout=60.0))
    assert (found.task, found.reason) == (None, "timeout")
    assert "test_spin" in found.detail


def test_a_repository_without_tests_gives_no_tests(tmp_path):
    root = init_repo(write_files(tmp_path / "bare", {"pkg/__init__.py": "",
                                                     "pkg/calc.py": CALC}))
    found = list(synth(root, per_file=2, settings=FAST))
    assert found and {c.reason for _, c in found} == {"no_tests"}


def test_the_same_seed_gives_the_same_tasks(repo):
    def lines(seed: int) -> tuple[list[str], list[str]]:
        found = list(synth(repo, seed=seed, per_file=1, limit=1, paths=("pkg/calc.py",),
                           settings=FAST))
        return ([m.key() for m, _ in found],
                [c.task.line() for _, c in found if c.task is not None])

    first = lines(5)
    assert first[1], "nothing kept"
    assert lines(5) == first


def test_cli_bad_input_is_a_usage_error(repo, tmp_path, cli):
    out = tmp_path / "t.jsonl"
    plain = tmp_path / "plain"
    plain.mkdir()
    result = cli(["tasks", "synth", str(plain), "-o", str(out), "--json"], cwd=tmp_path)
    assert result.code == 2 and result.json["error"]["code"] == "not_git"
    result = cli(["tasks", "synth", str(repo), "-o", str(out), "--rev", "no-such-rev",
                  "--json"], cwd=tmp_path)
    assert result.code == 2, (result.stdout, result.stderr)
    assert not out.exists()
