"""lanser's pytest plugin: one flushed JSON line per test event, for the parent to fold.

Shaped like pytest-reportlog: it registers itself only when ``--lanser-events FILE``
is given, and writes one JSON object per line, flushed at once, so the parent can
watch a run live (its per-test timeout is inferred from the last ``start`` line) and
still has every finished test when the process dies mid-run. It runs inside the
sandbox and must import nothing but the standard library, pytest, lanser's channel
module (copied next to it as ``_lanser_channel``) and (when asked for a coverage map)
coverage: the child loads it by file path under a private name. In the sandbox the
child hands it a :class:`~lanser.runner.channel.Signer` (:func:`use_signer`) and every
line is signed; without one (the plugin's own tests) lines are plain JSON.

Events (key ``e``)::

    start      {nodeid}                          a test's protocol began
    report     {nodeid, when, outcome, ...}      one per setup/call/teardown report
    collect_error {nodeid, message, where}       a module (or dir) failed to collect
    configuring / configured {}                  the initial conftests load / loaded
    collectstart / collectdone {nodeid}          a directory's or file's collection began / ended
    collected  {nodeids}                         after selection, in run order
    finish     {nodeid}
    session    {exitstatus}                      the session ended normally
    conftest_error {message}                     an initial conftest did not import

Assertion counting hooks into pytest's assertion rewriting: :func:`_count_passing_asserts`
wraps pytest's ``rewrite_asserts`` so that, before pytest rewrites a module (test
modules, conftest), a call ``__lanser_assert_passed__(<line>)`` of a builtin counter is
put right after each ``assert``, reached only when the assert passed. During the call
phase the counter records the *distinct* static asserts of the test function that
passed, and only when the caller is one of those inserted calls in the test
function's own bytecode (:func:`~lanser.runner.channel.at_site`): code under test
calling the builtin, any number of times, adds nothing. pytest's own
``pytest_assertion_pass`` hook would do, but it formats the explanation of every
passing assert and made runs ~70% slower.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import json
import os
import sys
from typing import Any

import pytest

try:  # in the sandbox, copied next to us; elsewhere (pytester), lanser's own
    from _lanser_channel import Signer, Sites, at_site, call_sites
except ImportError:  # pragma: no cover - depends on where the plugin runs
    from lanser.runner.channel import Signer, Sites, at_site, call_sites

MESSAGE_LIMIT = 4000
COUNTER = "__lanser_assert_passed__"


def _channel() -> tuple[Any, Any]:
    """The signing end of the results channel, held in a closure (issue 16).

    No module global holds the signer, so ``sys.modules[...]`` gives code under test
    no handle on it; and a line is signed only when it is written by this module's
    own writers (:func:`_append`, :meth:`EventLog.emit`) on behalf of a hook that
    pluggy called. Code that calls the writers, or the plugin's hook methods, itself
    gets an unsigned line, which the parent rejects and counts (``forged_events``).
    """
    held: list[Signer] = []

    def use_signer(signer: Signer) -> None:
        """Sign every event line from now on (child.py calls this once, first)."""
        if held:
            raise RuntimeError("the signer is set once")
        held.append(signer)

    def line(record: dict[str, Any]) -> bytes:
        if held and _dispatched(sys._getframe(1)):
            return held[0].line(record)
        return (json.dumps(record, sort_keys=True, default=str) + "\n").encode()

    return use_signer, line


_PROJECT: tuple[str, tuple[str, ...]] | None = None


def use_project(copy: str, names: list[str]) -> None:
    """The snapshot's folder and its top-level module names: each module of those
    names must be imported from the snapshot, never from an installed copy."""
    global _PROJECT
    _PROJECT = (os.path.realpath(copy), tuple(names))


def foreign_imports() -> list[dict[str, str]]:
    """Modules of the snapshot's own names that were imported from elsewhere (the
    package installed in the interpreter, an editable install of the original
    checkout): tests that ran against them did not test the revision."""
    if _PROJECT is None:
        return []
    copy, names = _PROJECT
    inside = copy + os.sep
    found = []
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] not in names or module is None:
            continue
        file = getattr(module, "__file__", None)
        places = [file] if file else list(getattr(module, "__path__", None) or ())
        if places and not any(os.path.realpath(p).startswith(inside) for p in places):
            found.append({"module": name, "file": str(places[0])})
    return sorted(found, key=lambda f: f["module"])

def _dispatched(writer: Any) -> bool:
    """``writer`` is one of our writers, called from one of our hooks, called by pluggy."""
    hook = writer.f_back if writer is not None else None
    caller = hook.f_back if hook is not None else None
    return (writer.f_code in _WRITERS and hook is not None
            and hook.f_code.co_filename == __file__ and caller is not None
            and caller.f_code.co_filename.startswith(_PLUGGY))


use_signer, _line = _channel()
#: pluggy's package folder: its hook callers live there (the module names vary by version)
_PLUGGY = os.path.dirname(getattr(sys.modules.get("pluggy"), "__file__", None) or "/-") + os.sep


def _append(path: str, record: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, _line(record))
    finally:
        os.close(fd)


def _insert_counters(mod: ast.Module) -> None:
    """After each ``assert``, a call of the builtin counter with the assert's line.

    Only statement lists are visited, never expressions: a full ``ast.walk`` of every
    rewritten module cost more than the rest of the plugin.
    """
    mod.body = _with_counters(mod.body)


def _with_counters(stmts: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for stmt in stmts:
        for name in ("body", "orelse", "finalbody"):
            block = getattr(stmt, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                setattr(stmt, name, _with_counters(block))
        for holder in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):
            holder.body = _with_counters(holder.body)
        out.append(stmt)
        if isinstance(stmt, ast.Assert):
            out.append(_counter_call(stmt))
    return out


def _counter_call(at: ast.Assert) -> ast.stmt:
    where = {"lineno": at.lineno, "col_offset": at.col_offset,
             "end_lineno": at.lineno, "end_col_offset": at.col_offset}
    func = ast.Name(COUNTER, ast.Load(), **where)
    call = ast.Call(func, [ast.Constant(at.lineno, **where)], [], **where)
    return ast.Expr(call, **where)


def _count_passing_asserts() -> None:
    """Wrap pytest's ``rewrite_asserts`` so rewritten modules count passing asserts."""
    from _pytest.assertion import rewrite

    original = rewrite.rewrite_asserts
    if getattr(original, "_lanser", False):
        return

    def rewrite_asserts(mod: ast.Module, *args: Any, **kwargs: Any) -> None:
        _insert_counters(mod)
        original(mod, *args, **kwargs)

    rewrite_asserts._lanser = True  # type: ignore[attr-defined]
    rewrite.rewrite_asserts = rewrite_asserts
    setattr(builtins, COUNTER, lambda lineno: None)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lanser", "lanser test runner (internal)")
    group.addoption("--lanser-events", metavar="FILE", default=None,
                    help="Write one JSON line per test event to FILE.")
    group.addoption("--lanser-only", metavar="FILE", default=None,
                    help="Run only the node ids listed (one per line) in FILE.")
    group.addoption("--lanser-id", metavar="NODEID", action="append", default=None,
                    help="Run only this node id (repeatable): a task's listed tests.")
    group.addoption("--lanser-skip", metavar="FILE", default=None,
                    help="Deselect the node ids listed (one per line) in FILE.")
    group.addoption("--lanser-coverage", metavar="FILE", default=None,
                    help="Write a per-test coverage map (JSON) to FILE.")


@pytest.hookimpl(hookwrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: Any, args: Any):
    """Count asserts from the first rewritten module on; report a broken conftest.

    Old-style hook wrappers throughout: ``--python`` may name an interpreter whose
    pytest predates pluggy's ``wrapper=True`` (pytest 7 works).
    """
    path = getattr(early_config.known_args_namespace, "lanser_events", None)
    if path:
        _count_passing_asserts()
        _append(path, {"e": "configuring"})  # the watchdog times conftest imports too
    outcome = yield
    if path:
        _append(path, {"e": "configured"})
    if path and outcome.excinfo is not None:
        exc = outcome.excinfo[1]
        cause = getattr(exc, "cause", None) or exc
        conftest = getattr(exc, "path", None)
        _append(path, {"e": "conftest_error", "path": str(conftest) if conftest else None,
                       "message": f"{type(cause).__name__}: {cause}"[:MESSAGE_LIMIT]})


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
        # one unbuffered O_APPEND write per line: lines from forked processes never mix
        self.file = open(path, "ab", buffering=0)  # noqa: SIM115
        self.only = _read_ids(config.option.lanser_only)
        listed = getattr(config.option, "lanser_id", None)
        if listed is not None:  # a restart's listing narrows the task's selection further
            self.only = set(listed) if self.only is None else self.only & set(listed)
        self.skip = _read_ids(config.option.lanser_skip)
        self.in_call: str | None = None
        self.passed: dict[str, set[int]] = {}
        self.call_code: Any = None
        self.sites: Sites | None = None
        setattr(builtins, COUNTER, self.assertion_passed)
        self.coverage = None
        if config.option.lanser_coverage:
            import coverage

            self.coverage = coverage.Coverage(data_file=None, source=[self.rootdir],
                                              branch=False, config_file=False)
            self.coverage.start()

    def emit(self, record: dict[str, Any]) -> None:
        self.file.write(_line(record))

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
        self._check_imports()
        self.emit({"e": "collected", "nodeids": [item.nodeid for item in session.items]})

    def _check_imports(self) -> None:
        foreign = foreign_imports()
        if foreign:  # the parent refuses to score: nothing after this would mean anything
            self.emit({"e": "foreign_imports", "modules": foreign[:20]})
            pytest.exit("lanser: the tests import the project from outside the snapshot",
                        returncode=3)

    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        # the watchdog times module imports, and a directory's conftest import, too
        if isinstance(collector, _PATH_NODES) and collector.nodeid:
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

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        self.in_call = item.nodeid
        self.passed[item.nodeid] = set()
        self.call_code, self.sites = getattr(_test_function(item), "__code__", None), None
        yield
        self.in_call = None

    def assertion_passed(self, lineno: int) -> None:
        """The builtin counter: a site counts once, and only from an inserted call."""
        if self.in_call is None or self.call_code is None:
            return
        if self.sites is None:  # first passing assert of this test: read its bytecode
            self.sites = _sites_of(self.call_code)
        if at_site(self.sites, sys._getframe(1), (lineno,)):
            self.passed[self.in_call].add(lineno)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        if call.when == "call":
            report = outcome.get_result()
            report._lanser_asserts = self._asserts(item, call)  # type: ignore[attr-defined]

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
        foreign = foreign_imports()  # imported lazily, by a test
        if foreign:
            self.emit({"e": "foreign_imports", "modules": foreign[:20]})
        self.emit({"e": "session", "exitstatus": int(exitstatus)})

    def _asserts(self, item: pytest.Item, call: pytest.CallInfo) -> dict[str, Any]:
        """Static assert lines of the test function, those that passed, the failing one."""
        func = _test_function(item)
        static = _assert_spans(func)
        failed_line = None
        code = getattr(func, "__code__", None)
        if call.excinfo is not None and code is not None:
            for entry in call.excinfo.traceback:
                if entry.frame.code.raw is code:
                    failed_line = entry.lineno + 1
        lines = [start for start, _ in static]
        passed = sorted(self.passed.pop(item.nodeid, set()).intersection(lines))
        fail_at = next((s for s, e in static if failed_line and s <= failed_line <= e), None)
        return {"passed": len(passed), "static": lines, "static_passed": passed,
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
        imports = _import_graph(modules, self.rootdir)
        path = self.config.option.lanser_coverage
        # after a watchdog restart, the earlier processes' tests are already there
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                before = json.load(fh)
            for name, files in before.get("tests", {}).items():
                tests.setdefault(name, set()).update(files)
            imports = {**before.get("imports", {}), **imports}
        out = {"tests": {k: sorted(v) for k, v in sorted(tests.items())}, "imports": imports}
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(out, fh, sort_keys=True)


#: collectors that stand for a path (``--ignore`` can leave them out); ``Directory``
#: (a package or a plain folder, whose conftest is imported when it is collected)
#: is pytest 8's, older pytest has ``Package`` only
_PATH_NODES = tuple(c for c in (getattr(pytest, n, None) for n in ("File", "Directory",
                                                                   "Package")) if c)
_SPANS: dict[str, dict[int, list[tuple[int, int]]]] = {}
_SITES: dict[int, Sites] = {}  #: by id of a test function's code object (kept alive)


def _test_function(item: pytest.Item) -> Any:
    return inspect.unwrap(getattr(item, "obj", None) or (lambda: None))


def _sites_of(code: Any) -> Sites:
    """The counter calls inserted into ``code``, once per code object (parametrized
    tests share one)."""
    sites = _SITES.get(id(code))
    if sites is None or sites[id(code)][0] is not code:
        sites = _SITES[id(code)] = call_sites(code, COUNTER)
    return sites


def _assert_spans(func: Any) -> list[tuple[int, int]]:
    """(first line, last line) of each ``assert`` in the function's own source.

    Each file is parsed once and indexed by the first line of every function (its
    first decorator's, as ``co_firstlineno`` counts): reading source per test with
    ``inspect`` cost a millisecond a test.
    """
    code = getattr(func, "__code__", None)
    if code is None:
        return []
    filename = code.co_filename
    if filename not in _SPANS:
        _SPANS[filename] = _file_spans(filename)
    return _SPANS[filename].get(code.co_firstlineno, [])


def _file_spans(filename: str) -> dict[int, list[tuple[int, int]]]:
    try:
        with open(filename, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return {}
    index = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            index[first] = sorted(
                (a.lineno, a.end_lineno or a.lineno)
                for a in ast.walk(node) if isinstance(a, ast.Assert))
    return index


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


#: the code objects allowed to write signed lines (:func:`_dispatched`)
_WRITERS = frozenset({_append.__code__, EventLog.emit.__code__})
