"""Per-test outcomes, normalized messages and the partial-credit ordering, from real runs."""

from __future__ import annotations

import pytest

from lanser.runner import run_tests
from lanser.runner.credit import Credit, assertion_fraction, run_credit, score_test
from lanser.runner.outcomes import normalize_message

SUITE = {
    "conftest.py": ("import pytest\n@pytest.fixture\n"
                    "def broken():\n    raise RuntimeError('no db')\n"),
    "test_kinds.py": (
        "import pytest\n"
        "def test_pass():\n    assert 1 == 1\n"
        "def test_fail():\n    assert [1] == [2]\n"
        "def test_setup(broken):\n    pass\n"
        "@pytest.fixture\ndef bad_teardown():\n    yield\n    raise ValueError('td')\n"
        "def test_teardown(bad_teardown):\n    pass\n"
        "def test_skip():\n    pytest.skip('later')\n"
        "@pytest.mark.xfail(reason='known')\ndef test_xfail():\n    assert 0\n"
        "@pytest.mark.xfail(reason='known')\ndef test_xpass():\n    pass\n"
        "@pytest.mark.xfail(strict=True)\ndef test_strict():\n    pass\n"
        "class TestCls:\n    def test_m(self):\n        assert True\n"
    ),
    "test_broken.py": "import not_a_module_anywhere\n",
    "test_syntax.py": "def test_x(:\n    pass\n",
}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    from tests.conftest import write_files

    root = write_files(tmp_path_factory.mktemp("kinds"), SUITE)
    return run_tests(root)


def test_every_outcome_and_phase(result):
    got = {t.nodeid: (t.outcome, t.phase) for t in result.tests}
    assert got == {
        "test_broken.py": ("error", "collection"),
        "test_syntax.py": ("error", "collection"),
        "test_kinds.py::TestCls::test_m": ("passed", "teardown"),
        "test_kinds.py::test_fail": ("failed", "call"),
        "test_kinds.py::test_pass": ("passed", "teardown"),
        "test_kinds.py::test_setup": ("error", "setup"),
        "test_kinds.py::test_skip": ("skipped", "call"),
        "test_kinds.py::test_strict": ("failed", "call"),
        "test_kinds.py::test_teardown": ("error", "teardown"),
        "test_kinds.py::test_xfail": ("xfailed", "call"),
        "test_kinds.py::test_xpass": ("xpassed", "teardown"),
    }
    assert [t.nodeid for t in result.tests] == sorted(t.nodeid for t in result.tests)


def test_messages_are_normalized(result):
    tests = result.by_id()
    assert tests["test_broken.py"].message == \
        "ModuleNotFoundError: No module named 'not_a_module_anywhere'"
    assert tests["test_kinds.py::test_setup"].message == "RuntimeError: no db"
    assert "[1] == [2]" in tests["test_kinds.py::test_fail"].message
    for test in result.tests:
        assert "/tmp" not in (test.message or "")
        assert "lanser-run-" not in (test.message or "")


def test_json_objects_carry_nodeid_outcome_credit(result):
    data = result.to_json()
    for obj in data["tests"]:
        assert {"nodeid", "outcome", "credit", "phase", "evidence"} <= set(obj)
    hashed = result.facts()
    assert all("duration_ms" not in t for t in hashed["tests"])
    assert isinstance(hashed["summary"]["credit_ppm"], int)


def test_stage_ordering(result):
    c = {t.nodeid: t.credit.ppm for t in result.tests if t.credit}
    assert c["test_broken.py"] < c["test_kinds.py::test_setup"] < \
        c["test_kinds.py::test_fail"] < c["test_kinds.py::test_teardown"] < \
        c["test_kinds.py::test_pass"]
    assert result.by_id()["test_kinds.py::test_skip"].credit is None


def test_assertion_credit_nine_of_ten_beats_one_of_ten(workspace):
    checks = "".join(f"    assert x > {i}\n" for i in range(10))
    root = workspace({"test_asserts.py": (
        f"def test_late():\n    x = 9\n{checks}"
        f"def test_early():\n    x = 1\n{checks}"
        "def test_loop():\n    for i in range(10):\n        assert i < 9\n"
        "def test_helper_error():\n    assert 1\n    assert 2\n    raise KeyError('k')\n"
        "    assert 3\n")})
    tests = run_tests(root).by_id()
    late, early = tests["test_asserts.py::test_late"], tests["test_asserts.py::test_early"]
    assert late.credit.evidence["asserts_passed"] == 9
    assert early.credit.evidence["asserts_passed"] == 1
    assert 200_000 < early.credit.ppm < late.credit.ppm < 900_000
    # an assert counts once however often it passed: one assert, failing on its 10th run
    assert tests["test_asserts.py::test_loop"].credit.evidence["asserts_counted"] == 2
    assert tests["test_asserts.py::test_loop"].credit.ppm == 550_000
    helper = tests["test_asserts.py::test_helper_error"].credit
    assert helper.evidence["asserts_passed"] == 2 and helper.evidence["asserts_counted"] == 4


def test_credit_is_deterministic_across_runs(workspace):
    root = workspace({"test_d.py": "def test_a():\n    assert 1\n    assert 0\n"
                                   "def test_b():\n    pass\n"})
    first, second = run_tests(root), run_tests(root)
    assert first.facts() == second.facts()


def test_credit_arithmetic():
    assert assertion_fraction({"passed": 9, "static": list(range(10)),
                               "static_passed": list(range(9)), "failed_at": 9}) == (9, 10)
    assert assertion_fraction(None) == (0, 1)
    assert score_test("failed", "collection").ppm == 0
    assert score_test("timeout", "call").ppm == 200_000
    assert score_test("timeout", "setup", started=False).ppm == 0
    assert Credit(1_000_000).decimal == "1.000000" and Credit(5).decimal == "0.000005"
    assert run_credit([Credit(1_000_000), Credit(0), None]).ppm == 500_000
    assert run_credit([]).ppm == 0


def test_normalize_message():
    text = ("File /tmp/lanser-run-abc/ws/pkg/mod.py, line 3 <object at 0x7f00deadbeef> "
            "/usr/lib/python3.11/json/decoder.py /opt/venv/lib/python3.11/site-packages/x/y.py "
            "/home/u/data.csv 1/2")
    out = normalize_message(text, ("/tmp/lanser-run-abc/ws", "/tmp/lanser-run-abc"))
    assert out == ("File pkg/mod.py, line 3 <object at 0x?> <stdlib>/json/decoder.py "
                   "<site-packages>/x/y.py <abs>/data.csv 1/2")
    assert normalize_message(out) == out
    # A root ends at a path boundary: the copy's sibling is not inside it.
    assert normalize_message("/tmp/ws2/a.py and /tmp/ws/b.py", ("/tmp/ws",)) == \
        "<abs>/a.py and b.py"


def test_credit_bands_and_monotonicity():
    from hypothesis import given
    from hypothesis import strategies as st

    @given(st.integers(0, 50), st.integers(0, 50), st.integers(1, 50))
    def check(passed: int, never: int, more: int) -> None:
        # lines; the last one is the failing assert
        static = list(range(1, passed + never + more + 2))
        asserts = {"passed": passed, "static": static, "static_passed": static[:passed],
                   "failed_at": static[-1]}
        credit = score_test("failed", "call", asserts).ppm
        assert 200_000 <= credit < 900_000
        later = score_test("failed", "call", {
            **asserts, "static_passed": static[:passed + more]}).ppm
        assert later > credit  # more asserts passed before failing earns more
        # a count claimed beyond the asserts written earns nothing
        inflated = {**asserts, "passed": 10**6, "static_passed": [*static[:passed], 999]}
        assert score_test("failed", "call", inflated).ppm == credit
        assert score_test("error", "setup").ppm < 200_000 <= credit
        assert credit < score_test("error", "teardown").ppm < score_test("passed", "x").ppm

    check()
