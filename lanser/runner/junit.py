"""JUnit XML for CI, written from the folded outcomes (not from pytest's own writer,
so restarts, timeouts, reruns and reused outcomes all appear).

The shape is the Ant JUnit schema's (``tests/data/junit/JUnit.xsd``, from
windyroad/JUnit-Schema), which CI systems (GitHub, GitLab, Jenkins) read: a
``testsuites`` root holding one ``testsuite`` with ``package``, ``id``, ``timestamp``
and ``hostname``, then ``properties``, the test cases, ``system-out`` and
``system-err``. ``hostname`` is always ``localhost`` (nothing about the machine
leaks into a CI artifact); ``timestamp`` is when the file was written, in UTC, as
the schema wants it (no zone). Characters XML 1.0 cannot hold (a test's ANSI colour
codes) are dropped from messages.
"""

from __future__ import annotations

import datetime as _dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

from lanser.files import atomic_write
from lanser.runner.result import RunResult

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str | None) -> str:
    return _NOT_XML.sub("", text or "")


def junit_xml(result: RunResult, suite: str = "lanser", *,
              notes: Mapping[str, str] | None = None, timestamp: str | None = None) -> str:
    """The run as JUnit XML; ``notes`` adds a line to the text of a test's failure."""
    counts = result.counts
    failures = counts.get("failed", 0) + counts.get("flaky", 0) + counts.get("timeout", 0)
    stamp = timestamp or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element("testsuites")
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(result.tests)),
                         failures=str(failures), errors=str(counts.get("error", 0)),
                         skipped=str(counts.get("skipped", 0) + counts.get("xfailed", 0)),
                         time=f"{sum(t.duration for t in result.tests):.3f}",
                         timestamp=stamp, hostname="localhost", package=suite, id="0")
    props = ET.SubElement(node, "properties")
    ET.SubElement(props, "property", name="lanser.credit", value=result.credit.decimal)
    if result.rev is not None:
        ET.SubElement(props, "property", name="lanser.rev", value=result.rev)
    for test in result.tests:
        path, _, name = test.nodeid.partition("::")
        classname = path.removesuffix(".py").replace("/", ".")
        if "::" in name:
            cls, _, name = name.rpartition("::")
            classname += "." + cls.replace("::", ".")
        case = ET.SubElement(node, "testcase", classname=classname or "lanser",
                             name=name or path, time=f"{test.duration:.3f}")
        message = _clean(test.message)
        credit = test.credit.decimal if test.credit else "skipped"
        note = (notes or {}).get(test.nodeid)
        extra = f"\n{note}" if note else ""
        if test.reused:
            extra += "\nnot run: impact selection kept its base outcome"
        if test.outcome in ("failed", "timeout", "flaky"):
            ET.SubElement(case, "failure", type=test.outcome, message=message).text = (
                f"{test.outcome} in {test.phase}; credit {credit}{extra}")
        elif test.outcome == "error":
            ET.SubElement(case, "error", type=f"{test.phase} error", message=message).text = (
                f"error in {test.phase}; credit {credit}{extra}")
        elif test.outcome in ("skipped", "xfailed"):
            ET.SubElement(case, "skipped", message=message).text = test.outcome
    ET.SubElement(node, "system-out").text = _clean(result.output[-4000:])
    ET.SubElement(node, "system-err")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(result: RunResult, path: str | Path, *,
                notes: Mapping[str, str] | None = None) -> None:
    """Atomically: a CI step reading the file never sees half of it."""
    atomic_write(path, junit_xml(result, notes=notes), mode=0o644)
