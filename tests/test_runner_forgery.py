"""Code under test forging lanser's credit channel gets nothing for it (CREDIT.md §7)."""

from __future__ import annotations

from lanser.runner import run_script, run_tests

#: finds the events file the way a test can: its path is no secret
EVENTS = ("import glob, os\n"
          "def events_file():\n"
          "    pattern = os.path.join(os.environ['TMPDIR'], '..', 'events-*.jsonl')\n"
          "    return sorted(glob.glob(pattern), key=os.path.getmtime)[-1]\n")


def test_calling_the_assert_counter_adds_nothing(workspace):
    root = workspace({
        "helper.py": ("import builtins, functools\n"
                      "def cheat():\n"
                      "    for line in range(1, 60):\n"
                      "        for _ in range(50):\n"
                      "            builtins.__lanser_assert_passed__(line)\n"
                      "class Truthy:\n"
                      "    # a dunder called from the test's own frame, on the assert line\n"
                      "    def __init__(self, line):\n"
                      "        self.__class__.__bool__ = functools.partial(\n"
                      "            builtins.__lanser_assert_passed__, line)\n"),
        "test_forge.py": (
            "import builtins\nfrom helper import Truthy, cheat\n"
            "def test_forged():\n"
            "    cheat()\n"
            "    for line in range(1, 60):\n"
            "        builtins.__lanser_assert_passed__(line)\n"
            "    assert Truthy(7)\n"  # line 7
            "    assert 2\n"
            "    assert 3\n"
            "def test_honest():\n"
            "    assert 1 == 2\n"
            "    assert 2\n"
            "    assert 3\n"),
    })
    tests = run_tests(root).by_id()
    forged, honest = tests["test_forge.py::test_forged"], tests["test_forge.py::test_honest"]
    assert forged.outcome == honest.outcome == "failed"
    assert forged.credit.ppm == honest.credit.ppm == 200_000
    assert forged.credit.evidence["asserts_passed"] == 0


def test_a_passing_assert_counts_once_and_only_its_own(workspace):
    root = workspace({"test_count.py": (
        "def test_repeat():\n"
        "    for _ in range(100):\n"
        "        assert True\n"
        "    assert 1\n"
        "    assert 0\n")})
    test = run_tests(root).by_id()["test_count.py::test_repeat"]
    assert test.credit.evidence["asserts_passed"] == 2  # two asserts passed, not 101
    assert test.credit.evidence["asserts_counted"] == 3


def test_lines_written_to_the_events_file_are_rejected(workspace):
    root = workspace({"test_write.py": (
        EVENTS +
        "import json\n"
        "def test_a():\n    pass\n"
        "def test_b():\n"
        "    path = events_file()\n"
        "    lines = open(path, 'rb').read().splitlines()\n"
        "    with open(path, 'ab') as fh:\n"
        "        for when in ('setup', 'call', 'teardown'):\n"
        "            fh.write(json.dumps({'e': 'report', 'nodeid': 'test_write.py::test_b',\n"
        "                'when': when, 'outcome': 'passed'}).encode() + b'\\n')\n"
        "        fh.write(json.dumps({'e': 'finish',\n"
        "                             'nodeid': 'test_write.py::test_b'}).encode() + b'\\n')\n"
        "        for line in lines:  # replayed, and edited, signed lines of test_a\n"
        "            fh.write(line + b'\\n')\n"
        "            fh.write(line.replace(b'test_a', b'test_b') + b'\\n')\n"
        "    assert 0\n")})
    result = run_tests(root)
    assert {t.nodeid: t.outcome for t in result.tests} == {
        "test_write.py::test_a": "passed", "test_write.py::test_b": "failed"}
    assert result.isolation["rejected_event_lines"] >= 6


def test_a_script_claiming_every_checkpoint_gets_only_those_it_reached(workspace):
    root = workspace({"cheat.py": (
        EVENTS +
        "import json\n"
        "for i in range(100):\n"
        "    __lanser_probe__('stmt', i, 'Expr')\n"
        "with open(events_file(), 'a') as fh:\n"
        "    for i in range(100):\n"
        "        fh.write(json.dumps({'e': 'probe', 'kind': 'stmt', 'index': i,\n"
        "                             'name': 'Expr'}) + '\\n')\n"
        "raise SystemExit(1)\n"
        "x = 1\n")})
    result = run_script(root, "cheat.py")
    # the imports, the def, the for and the with completed; raise and x = 1 did not
    assert (result.reached, result.checkpoints) == (5, 7)
    assert result.credit.ppm == 1_000_000 * 5 // 7
