"""Test-impact selection gives the outcomes a full run gives, running fewer tests."""

from __future__ import annotations

import ast

import pytest

from lanser.runner import run_tests
from lanser.runner.checkpoint import instrument, run_script
from lanser.runner.impact import ImpactMap
from lanser.runner.run import map_impact

PROJECT = {
    "pkg/__init__.py": "",
    "pkg/alpha.py": "def one():\n    return 1\n",
    "pkg/beta.py": "def two():\n    return 2\n",
    "pkg/consts.py": "LIMIT = 10\n",
    "tests/test_alpha.py": "from pkg.alpha import one\ndef test_one():\n    assert one() == 1\n",
    "tests/test_beta.py": "from pkg.beta import two\ndef test_two():\n    assert two() == 2\n",
    "tests/test_consts.py": ("from pkg.consts import LIMIT\n"
                             "def test_limit():\n    assert LIMIT == 10\n"),
}

CHANGES = [
    {"pkg/alpha.py": "def one():\n    return 11\n"},                     # breaks one test
    {"pkg/consts.py": "LIMIT = 11\n"},                                    # import-time only
    {"tests/test_new.py": "def test_new():\n    assert False\n"},          # a new test
    {"pkg/beta.py": "def two(:\n"},                                       # syntax error
    {"tests/test_alpha.py": "def test_one():\n    pass\n"
                            "def test_extra():\n    pass\n"},             # test file edit
]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from tests.conftest import init_repo, write_files

    root = write_files(tmp_path_factory.mktemp("impact"), PROJECT)
    init_repo(root)
    return root, map_impact(root, rev="HEAD")


def test_map_records_runtime_and_import_dependencies(base):
    _root, impact = base
    assert "pkg/alpha.py" in impact.deps["tests/test_alpha.py::test_one"]
    assert "pkg/beta.py" not in impact.deps["tests/test_alpha.py::test_one"]
    assert "pkg/consts.py" in impact.deps["tests/test_consts.py::test_limit"]
    assert impact.outcomes["tests/test_beta.py::test_two"].outcome == "passed"


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: next(iter(c)))
def test_selected_outcomes_equal_full_outcomes(base, change, tmp_path):
    from tests.conftest import write_files

    _root, impact = base
    step = write_files(tmp_path / "step", {**PROJECT, **change})
    full = run_tests(step)
    selected = run_tests(step, select=impact)
    as_pairs = lambda r: {t.nodeid: (t.outcome, t.phase) for t in r.tests}  # noqa: E731
    assert as_pairs(selected) == as_pairs(full)
    assert selected.selection["skipped"] >= 1  # and it really ran fewer tests
    assert any(t.reused for t in selected.tests)


def test_config_change_forces_full(base, tmp_path):
    from tests.conftest import write_files

    _root, impact = base
    step = write_files(tmp_path / "cfg", {**PROJECT, "pytest.ini": "[pytest]\n"})
    result = run_tests(step, select=impact)
    assert result.selection["full"] is True and not any(t.reused for t in result.tests)


def test_map_round_trips(base, tmp_path):
    _root, impact = base
    impact.save(tmp_path / "map.json")
    again = ImpactMap.load(tmp_path / "map.json")
    assert again.deps == impact.deps and again.hashes == impact.hashes
    (tmp_path / "bad.json").write_text("{not json")
    assert ImpactMap.load(tmp_path / "bad.json") is None


def test_checkpoint_instrumentation_counts_top_level_and_main_block():
    source = ("from __future__ import annotations\n'doc'\nimport os\n"
              "def f():\n    '''d'''\n    return 1\n"
              "if __name__ == '__main__':\n    f()\n    print(2)\n")
    tree, total = instrument(source)
    assert total == 5  # doc, import, def, and the two statements of the main block
    assert ast.unparse(tree).startswith("from __future__ import annotations")
    assert ast.dump(tree, include_attributes=True) == \
        ast.dump(instrument(source)[0], include_attributes=True)


def test_a_script_runs_with_its_own_line_numbers_and_folder(workspace):
    root = workspace({
        "tools/helper.py": "VALUE = 41\n",
        "tools/job.py": (
            "# a comment, then a blank line\n\n"
            "import os, sys\n"
            "assert sys.path[0] == os.path.dirname(os.path.abspath(__file__))\n"
            "import helper  # the script's folder, not the copy's root\n"
            "def fail():\n"
            "    raise ValueError(helper.VALUE + 1)\n"
            "fail()\n")})
    result = run_script(root, "tools/job.py")
    assert result.exit_status == 1 and result.reached == 4  # import, assert, import, def
    assert 'tools/job.py", line 7, in fail' in result.output
    assert 'tools/job.py", line 8, in <module>' in result.output
    assert "ValueError: 42" in result.output


def test_checkpoint_credit_orders_how_far_a_script_got(workspace):
    root = workspace({
        "early.py": "import no_such_module\nx = 1\ny = 2\nz = 3\n",
        "late.py": "x = 1\ny = 2\nz = 3\nraise RuntimeError('at the end')\n",
        "exit.py": "import os\nx = 1\nos._exit(7)\n",
        "good.py": "def main():\n    return 0\nif __name__ == '__main__':\n    main()\n",
    })
    results = {name: run_script(root, name) for name in ("early.py", "late.py", "exit.py",
                                                         "good.py")}
    assert results["early.py"].credit.ppm < results["late.py"].credit.ppm < \
        results["good.py"].credit.ppm == 1_000_000
    assert results["exit.py"].reached == 2 and results["exit.py"].exit_status == 7
    assert results["good.py"].functions == ("main",)
    assert results["late.py"].credit.evidence == {"stage": "crashed", "checkpoints": 4,
                                                  "reached": 3}


def test_cli_base_selects_and_caches_the_map(tmp_path, cli):
    from tests.conftest import init_repo, write_files

    root = init_repo(write_files(tmp_path / "cli", PROJECT))
    (root / "pkg" / "alpha.py").write_text("def one():\n    return 11\n")
    out = cli(["test", "--root", str(root), "--json", "--base", "HEAD"], cwd=root)
    assert out.code == 1, out.stderr
    tests = {t["nodeid"]: t for t in out.json["tests"]}
    assert tests["tests/test_alpha.py::test_one"]["outcome"] == "failed"
    assert tests["tests/test_beta.py::test_two"].get("reused") is True
    assert out.json["selection"]["changed"] == ["pkg/alpha.py"]
    assert list((root / ".lanser" / "impact").glob("*.json"))
    full = cli(["test", "--root", str(root), "--json", "--base", "HEAD", "--full"], cwd=root)
    assert full.json["selection"] is None
    assert {t["nodeid"]: t["outcome"] for t in full.json["tests"]} == \
        {n: t["outcome"] for n, t in tests.items()}


def test_the_map_cache_key_names_the_interpreter():
    import sys

    from lanser.cli.test import impact_key

    default = impact_key("abc", ("-q",), None)
    assert default == impact_key("abc", ("-q",), sys.executable)
    assert default != impact_key("abc", ("-q",), "/usr/bin/python3")
    assert default != impact_key("abc", (), None) != impact_key("abd", (), None)


def test_a_test_killed_while_mapping_always_runs(workspace):
    root = workspace({"test_t.py": ("import time\ndef test_slow():\n    time.sleep(600)\n"
                                    "def test_fast():\n    assert 1\n")}, git_repo=True)
    impact = map_impact(root, rev="HEAD", timeout=1.0)
    assert "test_t.py::test_fast" in impact.deps
    assert "test_t.py::test_slow" not in impact.deps
    assert impact.plan(root)["skip"] == ["test_t.py::test_fast"]
