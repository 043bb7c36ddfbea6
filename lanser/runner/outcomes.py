"""Per-test outcomes: the plugin's events folded into one record per node id.

The fold follows pytest's own categories (``runner.py`` ``pytest_report_teststatus``,
``skipping.py``, ``junitxml.py``): a failed setup or teardown is an ``error``, a failed
call is ``failed``, a skip carrying ``wasxfail`` is ``xfailed``, a pass carrying it is
``xpassed`` (a strict xpass already arrives as a failed call). ``phase`` is where the
test stopped: the phase that failed or skipped, ``teardown`` when it ran to the end,
``collection`` for a module that could not be collected.

Messages are normalized so they hash the same on any machine: the sandbox's copy root
is cut off (paths become workspace-relative), the interpreter's and other absolute
paths become ``<stdlib>/``, ``<site-packages>/`` or ``<abs>/``, memory addresses ``0x?``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from lanser.pathtext import scrub_paths
from lanser.runner.credit import Credit, score_test

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "timeout", "flaky")
PHASES = ("collection", "setup", "call", "teardown")
MESSAGE_LIMIT = 1000

_ABS = re.compile(r"(?<![\w.\])>])/(?:[^\s/:'\"()<>]+/)+")
_ADDR = re.compile(r"0x[0-9a-fA-F]{4,}")


def normalize_message(text: str | None, roots: tuple[str, ...] = ()) -> str | None:
    if text is None:
        return None
    text = scrub_paths(text, [(root, "") for root in roots])  # at path boundaries only
    text = _ABS.sub("<abs>/", text)
    text = _ADDR.sub("0x?", text)
    text = text.strip()
    return text[:MESSAGE_LIMIT] + ("…" if len(text) > MESSAGE_LIMIT else "")


@dataclass(frozen=True)
class TestOutcome:
    """One test (or one uncollectable module) and how far it got."""

    __test__ = False  # not a pytest test class, despite the name

    nodeid: str
    outcome: str
    phase: str
    message: str | None = None
    duration: float = 0.0  #: seconds; never hashed
    asserts: dict[str, Any] | None = None
    credit: Credit | None = None
    attempts: tuple[str, ...] = ()  #: outcomes of reruns, for flaky detection
    reused: bool = False  #: carried over from the base run by impact selection
    started: bool = True

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> TestOutcome:
        """Back from :meth:`to_json` (a bundle's facts): credit as recorded, not recomputed."""
        ppm = obj.get("credit_ppm")
        credit = None if ppm is None else Credit(int(ppm), dict(obj.get("evidence") or {}))
        return cls(obj["nodeid"], obj["outcome"], obj["phase"], obj.get("message"),
                   duration=float(obj.get("duration_ms") or 0) / 1000, credit=credit,
                   attempts=tuple(obj.get("attempts") or ()), reused=bool(obj.get("reused")),
                   started=(credit is None or credit.evidence.get("stage") != "not_run"))

    def with_credit(self) -> TestOutcome:
        return replace(self, credit=score_test(self.outcome, self.phase, self.asserts,
                                                started=self.started))

    @property
    def passing(self) -> bool:
        return self.outcome in ("passed", "xpassed", "xfailed")

    @property
    def failing(self) -> bool:
        return self.outcome in ("failed", "error", "timeout", "flaky")

    def to_json(self, *, volatile: bool = True) -> dict[str, Any]:
        """The JSON object; ``volatile=False`` leaves out the duration (for hashing)."""
        credit = self.credit
        out: dict[str, Any] = {
            "nodeid": self.nodeid, "outcome": self.outcome, "phase": self.phase,
            "message": self.message,
            "credit": credit.decimal if credit else None,
            "credit_ppm": credit.ppm if credit else None,
            "evidence": credit.evidence if credit else {"stage": "skipped"},
        }
        if self.attempts:
            out["attempts"] = list(self.attempts)
        if self.reused:
            out["reused"] = True
        if volatile:
            out["duration_ms"] = round(self.duration * 1000)
        return out


@dataclass
class Folder:
    """Accumulates events across the child runs of one test run (restarts included)."""

    roots: tuple[str, ...] = ()
    reports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    done: dict[str, TestOutcome] = field(default_factory=dict)
    collected: list[str] = field(default_factory=list)
    rejected: int = 0  #: event lines that did not verify, over all the child runs
    #: signed lines that broke the protocol (a report outside its test's start..finish,
    #: a second report for one phase): evidence of code calling lanser's plugin
    out_of_protocol: int = 0
    #: tests the process died during, or never reached (issue 16: ``early_exit``)
    early: set[str] = field(default_factory=set)
    #: the graded tree shadowed a module the tests import (issue 16: ``shadowed_module``)
    shadowed: bool = False
    _running: str | None = None

    def feed(self, events: list[dict[str, Any]]) -> None:
        """Fold one child's events. A report counts only between its own test's
        ``start`` and ``finish``, once per phase: the code under test shares the
        process with the plugin, and a report it makes the plugin emit for another
        test, or a second one for its own, is dropped or fails that test."""
        self._running = None
        for event in events:
            kind, nodeid = event.get("e"), event.get("nodeid")
            if kind == "collected" and not self.collected:
                self.collected = list(event.get("nodeids") or [])
            elif kind == "start" and isinstance(nodeid, str):
                self._running = nodeid
            elif kind == "report" and isinstance(nodeid, str):
                if nodeid != self._running or nodeid in self.done:
                    self.out_of_protocol += 1
                    continue
                known = self.reports.setdefault(nodeid, [])
                if any(r.get("when") == event.get("when") for r in known):
                    self.out_of_protocol += 1
                    known.append({**event, "outcome": "failed", "tampered": True,
                                  "message": "two reports for one phase: the test's code "
                                             "called lanser's plugin"})
                    continue
                known.append(event)
            elif kind == "finish" and isinstance(nodeid, str):
                if nodeid != self._running:
                    self.out_of_protocol += 1
                    continue
                self._running = None
                self.done[nodeid] = self._fold(nodeid)
            elif kind == "collect_error" and isinstance(nodeid, str):
                self.add(nodeid, "error", "collection", event.get("message"))
            elif kind == "conftest_error":
                self.add(event.get("path") or "conftest.py", "error", "collection",
                         event.get("message"))

    def add(self, nodeid: str, outcome: str, phase: str, message: str | None,
            *, started: bool = True) -> None:
        for root in self.roots:  # a conftest path arrives absolute
            if nodeid.startswith(root.rstrip("/") + "/"):
                nodeid = nodeid[len(root.rstrip("/")) + 1:]
        self.done[nodeid] = TestOutcome(nodeid, outcome, phase,
                                        normalize_message(message, self.roots),
                                        duration=self._duration(nodeid), started=started)

    def interrupted(self, nodeid: str, outcome: str, message: str) -> None:
        """A test the child never finished: killed by the watchdog or died with it.

        The phase is where the test stopped *succeeding*: a setup or call that already
        failed keeps its outcome, phase, message and assertion counts (the later hang
        or crash is noted after the message), so a failure followed by a hang in
        teardown never earns the teardown stage. A setup or call that was skipped
        (or xfailed) stops there too, with the interruption as its outcome.
        """
        by_when = {r.get("when"): r for r in self.reports.get(nodeid, [])}
        if outcome == "crash":
            # the process died: a passing report it sent just before is not evidence
            # (code under test can make the plugin emit one and then os._exit)
            self.early.add(nodeid)
            by_when = {w: r for w, r in by_when.items() if r.get("outcome") != "passed"}
        stopped = next((w for w in ("setup", "call")
                        if w in by_when and by_when[w].get("outcome") != "passed"), None)
        if stopped is not None:
            folded = self._fold(nodeid)
            if folded.outcome in ("failed", "error"):
                joined = "\n".join(m for m in (folded.message, f"then: {message}") if m)
                self.done[nodeid] = replace(folded, message=normalize_message(joined,
                                                                              self.roots))
                return
            phase = stopped
        else:
            phase = "teardown" if "call" in by_when else "call" if "setup" in by_when \
                or (outcome == "crash" and nodeid in self.reports) else "setup"
        if outcome != "timeout":
            outcome = "failed" if phase == "call" else "error"
        self.add(nodeid, outcome, phase, message)

    def _duration(self, nodeid: str) -> float:
        return sum(float(r.get("duration") or 0) for r in self.reports.get(nodeid, []))

    def _fold(self, nodeid: str) -> TestOutcome:
        by_when: dict[Any, dict[str, Any]] = {}
        for report in self.reports.get(nodeid, []):  # a tampered phase keeps its failure
            if not by_when.get(report.get("when"), {}).get("tampered"):
                by_when[report.get("when")] = report
        outcome, phase, message, asserts = "passed", "teardown", None, None
        for when in ("setup", "call"):
            report = by_when.get(when)
            if report is None:
                continue
            if when == "call":
                asserts = report.get("asserts")
            xfail = report.get("wasxfail") is not None
            if report.get("outcome") == "failed":
                outcome, phase = ("error" if when == "setup" else "failed"), when
                message = report.get("message")
                break
            if report.get("outcome") == "skipped":
                outcome, phase, message = ("xfailed" if xfail else "skipped"), when, \
                    report.get("wasxfail") or report.get("message")
                break
            if when == "call" and xfail:
                outcome = "xpassed"
        else:
            teardown = by_when.get("teardown")
            if teardown is not None and teardown.get("outcome") == "failed":
                outcome, phase, message = "error", "teardown", teardown.get("message")
        return TestOutcome(nodeid, outcome, phase, normalize_message(message, self.roots),
                           duration=self._duration(nodeid), asserts=asserts)

    def remaining(self) -> list[str]:
        """Collected tests with no outcome yet, in collection order."""
        return [n for n in self.collected if n not in self.done]
