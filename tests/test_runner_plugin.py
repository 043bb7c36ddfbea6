"""The pytest plugin on its own, through pytester in a subprocess (as pytest-reportlog is)."""

from __future__ import annotations

import json

pytest_plugins = ("pytester",)


def events(pytester, *args: str) -> list[dict]:
    path = pytester.path / "events.jsonl"
    pytester.runpytest_subprocess("-p", "lanser.runner.plugin", f"--lanser-events={path}",
                                  *args)
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_line_per_event_and_asserts_counted(pytester):
    pytester.makepyfile(test_sample="""
        def test_ok():
            assert 1
            assert 2
        def test_bad():
            assert 1
            assert 0
            assert 3
    """)
    got = events(pytester)
    kinds = [e["e"] for e in got]
    assert kinds.count("start") == kinds.count("finish") == 2
    assert kinds[-1] == "session"
    collected = next(e for e in got if e["e"] == "collected")
    assert collected["nodeids"] == ["test_sample.py::test_ok", "test_sample.py::test_bad"]
    calls = {e["nodeid"]: e for e in got if e["e"] == "report" and e["when"] == "call"}
    bad = calls["test_sample.py::test_bad"]["asserts"]
    assert bad["passed"] == 1 and len(bad["static"]) == 3
    assert bad["failed_at"] == bad["static"][1]
    assert calls["test_sample.py::test_ok"]["asserts"]["passed"] == 2


def test_not_registered_without_its_option(pytester):
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "lanser.runner.plugin")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "events.jsonl").exists()


def test_only_and_skip_lists_select(pytester):
    pytester.makepyfile(test_sel="def test_a():\n    pass\ndef test_b():\n    pass\n"
                                 "def test_c():\n    pass\n")
    only = pytester.path / "only.txt"
    only.write_text("test_sel.py::test_a\ntest_sel.py::test_b\n")
    skip = pytester.path / "skip.txt"
    skip.write_text("test_sel.py::test_b\n")
    got = events(pytester, f"--lanser-only={only}", f"--lanser-skip={skip}")
    assert next(e for e in got if e["e"] == "collected")["nodeids"] == ["test_sel.py::test_a"]


def test_collection_errors_are_events(pytester):
    pytester.makepyfile(test_broken="import not_there_at_all\n")
    got = events(pytester, "--continue-on-collection-errors")
    errors = [e for e in got if e["e"] == "collect_error"]
    assert errors == [{"e": "collect_error", "nodeid": "test_broken.py",
                       "message": "ModuleNotFoundError: No module named 'not_there_at_all'"}]
