"""Sandboxed pytest runs, per-test outcomes and partial credit (issue 7).

The library API (sync; the CLI and the reward engine call these)::

    result = run_tests(workspace, rev=None, args=(), timeout=60.0, select=None)
    result.tests            # TestOutcome per node id, sorted, each with .credit
    result.credit           # run credit (Credit: .ppm, .decimal, .value, .evidence)
    result.to_json()        # the --json shape;  result.bundle(ws) a hashed bundle
    RunResult.from_bundle(b)  # offline: the recorded facts, same grade and credit
    grade(result, f2p, p2p) # SWE-bench style: resolved, ratios, credit
    select_args(f2p, p2p)   # pytest arguments that run exactly those tests
    run_script(workspace, "script.py")   # checkpoint credit of a non-test program
    map_impact(workspace, rev=...)  # an ImpactMap: coverage map for test-impact selection

The scheme behind every credit is specified in ``rewards/CREDIT.md``. Not supported:
pytest-xdist (``-n``): the watchdog follows one test at a time.
"""

from lanser.runner.checkpoint import ScriptResult, run_script
from lanser.runner.credit import Credit
from lanser.runner.grading import TestLists, grade
from lanser.runner.impact import ImpactMap
from lanser.runner.outcomes import TestOutcome
from lanser.runner.result import RunResult
from lanser.runner.run import map_impact, run_tests, select_args
from lanser.runner.sandbox import Limits, RunnerError

__all__ = ["Credit", "ImpactMap", "Limits", "RunResult", "RunnerError", "ScriptResult", "TestLists",
           "TestOutcome", "grade", "map_impact", "run_script", "run_tests", "select_args"]
