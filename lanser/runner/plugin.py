"""lanser's pytest plugin: one flushed JSON line per test event, for the parent to fold.

Shaped like pytest-reportlog: it registers itself only when ``--lanser-events FILE``
is given, and writes one JSON object per line, flushed at once, so the parent can
watch a run live (its per-test timeout is inferred from the last ``start`` line) and
still has every finished test when the process dies mid-run. It runs inside the
sandbox and must import nothing but the standard library, pytest and (when asked
for a coverage map) coverage: the child loads it by file path under a private name.

Events (key ``e``)::

    start      {nodeid}                          a test's protocol began
    report     {nodeid, when, outcome, ...}      one per setup/call/teardown report
    collect_error {nodeid, message, where}       a module (or dir) failed to collect
    collectstart / collectdone {nodeid}          a file's collection began / ended
    collected  {nodeids}                         after selection, in run order
    finish     {nodeid}
    session    {exitstatus}                      the session ended normally
    conftest_error {message}                     an initial conftest did not import

Assertion counting uses pytest's own assertion rewriting: with
``enable_assertion_pass_hook`` on (the parent passes ``-o``), every passing
``assert`` in a rewritten module (test modules, conftest) calls
``pytest_assertion_pass``; we count those made during the call phase, and the
static ``assert`` lines of the test function, for assertion credit.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import sys
import textwrap
from typing import Any

import pytest

MESSAGE_LIMIT = 4000


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lanser", "lanser test runner (internal)")
    group.addoption("--lanser-events", metavar="FILE", default=None,
                    help="Write one JSON line per test event to FILE.")
    group.addoption("--lanser-only", metavar="FILE", default=None,
                    help="Run only the node ids listed (one per line) in FILE.")
    group.addoption("--lanser-skip", metavar="FILE", default=None,
                    help="Deselect the node ids listed (one per line) in FILE.")
    group.addoption("--lanser-coverage", metavar="FILE", default=None,
                    help="Write a per-test coverage map (JSON) to FILE.")


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: Any, args: Any):
    """Report a conftest that fails to import: pytest exits before any collection."""
    try:
        return (yield)
    except Exception as exc:
        path = getattr(early_config.known_args_namespace, "lanser_events", None)
        if path:
            cause = getattr(exc, "cause", None) or exc
            conftest = getattr(exc, "path", None)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({
                    "e": "conftest_error", "path": str(conftest) if conftest else None,
                    "message": f"{type(cause).__name__}: {cause}"[:MESSAGE_LIMIT],
                }) + "\n")
        raise


def pytest_configure(config: pytest.Config) -> None:
    path = config.option.lanser_events
    if path and not hasattr(config, "workerinput"):
        plugin = EventLog(config, path)
        config._lanser_events = plugin  # type: ignore[attr-defined]
        config.pluginmanager.register(plugin, "lanser-events")


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = getattr(config, "_lanser_events", None)
    if plugin is not None:
        plugin.close()
        config.pluginmanager.unregister(plugin)
        del config._lanser_events  # type: ignore[attr-defined]


def _read_ids(path: str | None) -> set[str] | None:
    if not path:
        return None
    with open(path, encoding="utf-8") as fh:
        return {line.rstrip("\n") for line in fh if line.strip()}


class EventLog:
    def __init__(self, config: pytest.Config, path: str) -> None:
        self.config = config
        self.rootdir = str(config.rootpath)
        self.file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self.only = _read_ids(config.option.lanser_only)
        self.skip = _read_ids(config.option.lanser_skip)
        self.in_call: str | None = None
        self.passed: dict[str, list[int]] = {}
        self.coverage = None
        if config.option.lanser_coverage:
            import coverage

            self.coverage = coverage.Coverage(data_file=None, source=[self.rootdir],
                                              branch=False, config_file=False)
            self.coverage.start()

    def emit(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        self.file.flush()

    def close(self) -> None:
        if self.coverage is not None:
            self.coverage.stop()
            self._write_coverage_map()
        self.file.close()

    # -- selection ------------------------------------------------------------

    def pytest_collection_modifyitems(self, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        keep, drop = [], []
        for item in items:
            out = (self.only is not None and item.nodeid not in self.only) or (
                self.skip is not None and item.nodeid in self.skip)
            (drop if out else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.emit({"e": "collected", "nodeids": [item.nodeid for item in session.items]})

    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        if isinstance(collector, pytest.File):  # the watchdog times module imports too
            self.emit({"e": "collectstart", "nodeid": collector.nodeid})

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self.emit({"e": "collectdone", "nodeid": report.nodeid})
        if report.failed:
            self.emit({"e": "collect_error", "nodeid": report.nodeid,
                       "message": _collect_message(report)})

    # -- running --------------------------------------------------------------

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.emit({"e": "start", "nodeid": nodeid})
        if self.coverage is not None:
            self.coverage.switch_context(nodeid)

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self.emit({"e": "finish", "nodeid": nodeid})
        if self.coverage is not None:
            self.coverage.switch_context("")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        self.in_call = item.nodeid
        self.passed[item.nodeid] = []
        try:
            return (yield)
        finally:
            self.in_call = None

    def pytest_assertion_pass(self, item: pytest.Item, lineno: int, orig: str,
                              expl: str) -> None:
        if self.in_call == item.nodeid:
            self.passed[item.nodeid].append(lineno)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        if call.when == "call":
            report._lanser_asserts = self._asserts(item, call)  # type: ignore[attr-defined]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = {"e": "report", "nodeid": report.nodeid, "when": report.when,
                  "outcome": report.outcome, "duration": report.duration,
                  "wasxfail": getattr(report, "wasxfail", None),
                  "message": _message(report) if not report.passed else None}
        asserts = getattr(report, "_lanser_asserts", None)
        if asserts is not None:
            record["asserts"] = asserts
        self.emit(record)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.emit({"e": "session", "exitstatus": int(exitstatus)})

    def _asserts(self, item: pytest.Item, call: pytest.CallInfo) -> dict[str, Any]:
        """Dynamic passes, static assert lines of the test function, the failing line."""
        passed = self.passed.pop(item.nodeid, [])
        func = inspect.unwrap(getattr(item, "obj", None) or (lambda: None))
        static = _assert_spans(func)
        failed_line = None
        code = getattr(func, "__code__", None)
        if call.excinfo is not None and code is not None:
            for entry in call.excinfo.traceback:
                if entry.frame.code.raw is code:
                    failed_line = entry.lineno + 1
        lines = [start for start, _ in static]
        fail_at = next((s for s, e in static if failed_line and s <= failed_line <= e), None)
        return {"passed": len(passed), "static": lines,
                "static_passed": sorted({n for n in passed if n in lines}),
                "failed_at": fail_at, "failed_line": failed_line}

    # -- coverage map ---------------------------------------------------------

    def _write_coverage_map(self) -> None:
        data = self.coverage.get_data()
        tests: dict[str, set[str]] = {}
        for path in data.measured_files():
            rel = os.path.relpath(path, self.rootdir)
            if rel.startswith(".."):
                continue
            for contexts in (data.contexts_by_lineno(path) or {}).values():
                for ctx in contexts:
                    if ctx:
                        tests.setdefault(ctx, set()).add(rel)
        modules = {}
        for name, mod in list(sys.modules.items()):
            file = getattr(mod, "__file__", None)
            if file and os.path.abspath(file).startswith(self.rootdir + os.sep):
                modules[name] = os.path.relpath(os.path.abspath(file), self.rootdir)
        out = {"tests": {k: sorted(v) for k, v in sorted(tests.items())},
               "imports": _import_graph(modules, self.rootdir)}
        with open(self.config.option.lanser_coverage, "w", encoding="utf-8") as fh:
            json.dump(out, fh, sort_keys=True)


_SPANS: dict[Any, list[tuple[int, int]]] = {}


def _assert_spans(func: Any) -> list[tuple[int, int]]:
    """(first line, last line) of each ``assert`` in the function's own source.

    Cached per code object: a parametrized test would otherwise re-read and re-parse
    its source for every case.
    """
    code = getattr(func, "__code__", None)
    if code is not None and code in _SPANS:
        return _SPANS[code]
    spans = _parse_spans(func)
    if code is not None:
        _SPANS[code] = spans
    return spans


def _parse_spans(func: Any) -> list[tuple[int, int]]:
    try:
        lines, start = inspect.getsourcelines(func)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError):
        return []
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            spans.append((node.lineno + start - 1, (node.end_lineno or node.lineno) + start - 1))
    return sorted(spans)


def _import_graph(modules: dict[str, str], rootdir: str) -> dict[str, list[str]]:
    """For each workspace module file, the workspace files its imports name (static)."""
    graph: dict[str, set[str]] = {}
    for name, rel in modules.items():
        try:
            with open(os.path.join(rootdir, rel), encoding="utf-8") as fh:
                tree = ast.parse(fh.read())
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        package = name if rel.endswith("__init__.py") else name.rpartition(".")[0]
        deps = graph.setdefault(rel, set())
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".") if package else []
                    parts = parts[: len(parts) - node.level + 1] if node.level > 1 else parts
                    base = ".".join([*parts, *([base] if base else [])])
                targets = [base, *(f"{base}.{a.name}" for a in node.names)]
            for target in targets:
                # a dotted import runs every package __init__ on its way
                pieces = target.split(".")
                for i in range(1, len(pieces) + 1):
                    dep = modules.get(".".join(pieces[:i]))
                    if dep and dep != rel:
                        deps.add(dep)
    return {k: sorted(v) for k, v in sorted(graph.items())}


def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        return str(longrepr[2])[:MESSAGE_LIMIT]
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)[:MESSAGE_LIMIT]
    return _last_error_line(str(longrepr))


def _collect_message(report: pytest.CollectReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)[:MESSAGE_LIMIT]
    return _last_error_line(str(report.longrepr))


def _last_error_line(text: str) -> str:
    lines = text.strip().splitlines()
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return (errors[-1] if errors else (lines[-1] if lines else ""))[:MESSAGE_LIMIT]
