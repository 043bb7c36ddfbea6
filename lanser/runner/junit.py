"""JUnit XML for CI, written from the folded outcomes (not from pytest's own writer,
so restarts, timeouts, reruns and reused outcomes all appear)."""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from lanser.runner.run import RunResult


def junit_xml(result: RunResult, suite: str = "lanser") -> str:
    counts = result.counts
    failures = counts.get("failed", 0) + counts.get("flaky", 0) + counts.get("timeout", 0)
    root = ET.Element("testsuites")
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(result.tests)),
                         failures=str(failures), errors=str(counts.get("error", 0)),
                         skipped=str(counts.get("skipped", 0) + counts.get("xfailed", 0)),
                         time=f"{sum(t.duration for t in result.tests):.3f}")
    for test in result.tests:
        path, _, name = test.nodeid.partition("::")
        classname = path.removesuffix(".py").replace("/", ".")
        if "::" in name:
            cls, _, name = name.rpartition("::")
            classname += "." + cls.replace("::", ".")
        case = ET.SubElement(node, "testcase", classname=classname, name=name or path,
                             time=f"{test.duration:.3f}")
        message = test.message or ""
        credit = test.credit.decimal if test.credit else "skipped"
        if test.outcome in ("failed", "timeout", "flaky"):
            ET.SubElement(case, "failure", type=test.outcome, message=message).text = (
                f"{test.outcome} in {test.phase}; credit {credit}")
        elif test.outcome == "error":
            ET.SubElement(case, "error", type=f"{test.phase} error", message=message)
        elif test.outcome in ("skipped", "xfailed"):
            ET.SubElement(case, "skipped", type=test.outcome, message=message)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(result: RunResult, path: str | Path) -> None:
    """Atomically: a CI step reading the file never sees half of it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=".junit-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(junit_xml(result))
    os.replace(tmp, path)
