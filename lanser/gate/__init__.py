"""``lanser ci``: gate a change (base -> head) on new diagnostics, new test failures
and its reward; SARIF 2.1.0, JUnit and Markdown out.

    report = asyncio.run(check(workspace, base="origin/main", profile=..., spec=...,
                               timeout=30))
    report.passed, report.new_diagnostics, report.tests, report.reward
    sarif(report)                  # a dict; markdown(report.to_json())
"""

from lanser.gate.check import GateReport, check
from lanser.gate.identity import Comparison, Finding, Observed, compare
from lanser.gate.markdown import markdown, summary_lines
from lanser.gate.observe import STAGED, WORKTREE, End
from lanser.gate.policy import Breach, FailOn
from lanser.gate.sarif import sarif
from lanser.gate.testrun import TestReport, TestVerdict

__all__ = ["STAGED", "WORKTREE", "Breach", "Comparison", "End", "FailOn", "Finding",
           "GateReport", "Observed", "TestReport", "TestVerdict", "check", "compare",
           "markdown", "sarif", "summary_lines"]
