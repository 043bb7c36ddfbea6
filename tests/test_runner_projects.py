"""The runner on the shapes real projects have (issue 15): warnings turned into errors,
a src layout whose package is also installed in lanser's interpreter, namespace
packages, pytest's ``pythonpath``, F2P/P2P selection. Each case is a real run of a
real git repository made in a temp dir.

``unidiff`` stands for "the package also installed": it is installed next to lanser,
and each workspace ships its own ``unidiff`` with a ``__version__`` only the snapshot has.
"""

from __future__ import annotations

import pytest

from lanser.runner import run_tests
from lanser.runner.sandbox import RunnerError

WARNINGS_AS_ERRORS = '[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n'
CHECK_SNAPSHOT = ("import unidiff\n\n"
                  "def test_the_snapshot_is_imported():\n"
                  "    assert unidiff.__version__ == 'snapshot'\n")


def outcomes(result) -> dict[str, str]:
    return {t.nodeid: t.outcome for t in result.tests}


def test_warnings_as_errors_projects_run_and_warn_nothing(workspace):
    root = workspace({"pyproject.toml": WARNINGS_AS_ERRORS,
                      "tests/test_a.py": "def test_a():\n    assert 1\n"}, git_repo=True)
    result = run_tests(root, args=("-W", "error", "tests/test_a.py"))
    assert outcomes(result) == {"tests/test_a.py::test_a": "passed"}
    assert "warning" not in result.output.lower()


def test_a_run_that_fails_shows_the_exception_line(workspace):
    root = workspace({"pyproject.toml": WARNINGS_AS_ERRORS, "conftest.py": (
        "def pytest_configure(config):\n"
        + "".join(f"    x{i} = {i}  # a long traceback\n" for i in range(300))
        + "    raise RuntimeError('the reason, at the very end')\n"),
        "test_a.py": "def test_a():\n    pass\n"}, git_repo=True)
    with pytest.raises(RunnerError) as caught:
        run_tests(root)
    first_line = caught.value.message.splitlines()[0]
    assert first_line.endswith("RuntimeError: the reason, at the very end")
    assert "pytest did not run" in first_line


def test_src_layout_tests_the_snapshot_not_the_installed_package(workspace):
    root = workspace({
        "pyproject.toml": WARNINGS_AS_ERRORS,
        "src/unidiff/__init__.py": "__version__ = 'snapshot'\n",
        "src/nspkg/portion.py": "VALUE = 'snapshot'\n",  # a namespace package
        "tests/test_src.py": CHECK_SNAPSHOT + (
            "def test_namespace_package():\n"
            "    from nspkg.portion import VALUE\n    assert VALUE == 'snapshot'\n"),
    }, git_repo=True)
    result = run_tests(root, rev="HEAD")
    assert set(outcomes(result).values()) == {"passed"}, result.output[-2000:]
    assert len(result.tests) == 2


def test_pytest_pythonpath_is_honoured(workspace):
    root = workspace({
        "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["lib"]\n',
        "lib/unidiff/__init__.py": "__version__ = 'snapshot'\n",
        "tests/test_lib.py": CHECK_SNAPSHOT}, git_repo=True)
    assert set(outcomes(run_tests(root)).values()) == {"passed"}


def test_a_layout_that_reaches_the_installed_copy_is_refused(workspace):
    # lib/ is on no path: the tests would import the installed unidiff, and score it
    root = workspace({
        "pyproject.toml": '[project]\nname = "unidiff"\nversion = "0"\n',
        "lib/unidiff/__init__.py": "__version__ = 'snapshot'\n",
        "tests/test_lib.py": CHECK_SNAPSHOT.replace("'snapshot'", "unidiff.__version__")},
        git_repo=True)
    with pytest.raises(RunnerError) as caught:
        run_tests(root)
    assert caught.value.code == "foreign_imports"
    assert "unidiff from <site-packages>" in caught.value.message or \
        "site-packages" in caught.value.message


SUITE = {
    "tests/test_listed.py": "".join(f"def test_{i}():\n    assert {i} >= 0\n" for i in range(20)),
    # collecting this file fails: it must not be collected when a task lists others
    "tests/test_elsewhere.py": "raise RuntimeError('collected a file no listed test is in')\n",
}


def test_listed_ids_are_what_runs_and_a_missing_one_is_named(workspace):
    from lanser.episodes.task import TaskSpec
    from lanser.runner import grade

    root = workspace(SUITE, git_repo=True)
    spec = TaskSpec.load(f2p=["tests/test_listed.py::test_3"],
                         p2p=["tests/test_listed.py::test_1", "tests/test_listed.py::test_nope"])
    result = run_tests(root, args=spec.test_args)
    assert outcomes(result) == {"tests/test_listed.py::test_1": "passed",
                                "tests/test_listed.py::test_3": "passed"}
    graded = grade(result, spec.fail_to_pass, spec.pass_to_pass)
    assert graded["p2p"]["missing"] == ["tests/test_listed.py::test_nope"]
    assert not graded["resolved"]


def test_the_cli_runs_listed_tests_and_names_the_missing(workspace):
    from typer.testing import CliRunner

    from lanser.cli.app import app

    root = workspace(SUITE, git_repo=True)
    out = CliRunner().invoke(app, ["test", "--root", str(root), "--f2p",
                                   "tests/test_listed.py::test_2", "--f2p",
                                   "tests/test_listed.py::test_misspelt"])
    assert out.exit_code == 1, out.output
    assert "missing (no such test ran): tests/test_listed.py::test_misspelt" in out.output
    assert "1 passed" in out.output and "test_elsewhere" not in out.output
