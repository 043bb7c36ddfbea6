"""The per-workspace daemon: warm answers equal cold ones, under load, through its lifecycle."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from lanser.lsp import daemon_client
from lanser.lsp.registry import get_server
from lanser.queries.ask import ask_in_process
from lanser.queries.ops import query_message
from lanser.workspace import Workspace
from tests.test_lsp_resilience import SOURCE as STUB_SOURCE
from tests.test_lsp_resilience import stub_config

# Whole-module slow: the quick loop (-m 'not slow') leaves it to the full suite.
pytestmark = pytest.mark.slow

A = "def helper(x: int) -> int:\n    return x + 1\n"
B = "from a import helper\n\n\nvalue = helper(1)\nother = helper(value)\n"


@pytest.fixture
def runtime(tmp_path, monkeypatch) -> dict[str, str]:
    """A private runtime dir, so tests never meet a daemon of someone else."""
    directory = Path("/tmp") / f"lanser-test-{os.getpid()}-{time.monotonic_ns() % 10**8}"
    monkeypatch.setenv("LANSER_RUNTIME_DIR", str(directory))
    yield {"LANSER_RUNTIME_DIR": str(directory)}
    for sock in directory.glob("*.sock"):
        key = sock.stem
        # Best effort: stop what a failed test left running.
        for proc in psutil.process_iter(["cmdline"]):
            if proc.info["cmdline"] and "lanser.queries.daemon" in " ".join(proc.info["cmdline"]):
                root = proc.info["cmdline"][-1]
                if daemon_client.daemon_key(Path(root)) == key:
                    proc.kill()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def started(workspace, cli, runtime):
    roots = []

    def start(files: dict[str, str], config: str = "") -> Path:
        root = workspace({**files, **({"lanser.toml": config} if config else {})}, git_repo=True)
        result = cli(["daemon", "start", "--json"], cwd=root, env=runtime)
        assert result.code == 0, result.stderr
        roots.append(root)
        start.replies[root] = result.json
        return root

    start.replies = {}  # root -> what `daemon start --json` printed
    yield start
    for root in roots:
        cli(["daemon", "stop"], cwd=root, env=runtime)


#: (the CLI's arguments, the same query as the library takes it)
QUERIES = [
    (["definition", "b.py:4:9"], {"op": "definition", "loc": "b.py:4:9"}),
    (["references", "a.py:1:5", "--include-declaration"],
     {"op": "references", "loc": "a.py:1:5", "include_declaration": True}),
    (["hover", "b.py:5:9"], {"op": "hover", "loc": "b.py:5:9"}),
    (["diagnostics", "b.py"], {"op": "diagnostics", "paths": ["b.py"]}),
    (["diagnostics"], {"op": "diagnostics", "paths": None}),
    (["symbols", "a.py"], {"op": "symbols", "path": "a.py"}),
]


async def _cold(root: Path) -> list[dict]:
    """Every query answered by one fresh in-process server (the cold path's planner and
    service); a query that fails is its error document, as the CLI prints it."""
    from lanser.errors import LanserError
    from lanser.lsp.service import LanguageService
    from lanser.queries.plan import run_queries

    workspace = Workspace.open(root)
    out = []
    async with LanguageService(workspace, get_server("basedpyright"), timeout=60) as service:
        for _, query in QUERIES:
            try:
                out.append((await run_queries(service, workspace, [query], timeout=60))[0])
            except LanserError as exc:
                out.append(exc.to_json())
    return out


def _warm_and_cold(cli, root: Path, env: dict[str, str]) -> None:
    cold = asyncio.run(_cold(root))
    for (args, _), expected in zip(QUERIES, cold, strict=True):
        warm = cli([*args, "--json"], cwd=root, env=env)
        assert warm.code == (2 if "error" in expected else 0), (args, warm.stderr)
        assert warm.json == expected, args


def test_warm_answers_equal_cold_ones_across_edits_creates_deletes(started, cli, runtime):
    """The state matrix: warm answers (the CLI through the daemon) equal a fresh
    server's after an edit, a create, a delete and a restore; the cold side runs in
    process, one fresh server per state (the CLI's cold path is tested apart)."""
    root = started({"a.py": A, "b.py": B})
    _warm_and_cold(cli, root, runtime)
    (root / "a.py").write_text(A.replace("x + 1", "str(x)"))      # edit: a type changes
    _warm_and_cold(cli, root, runtime)
    (root / "c.py").write_text("from a import helper\nhelper('no')\n")   # create
    _warm_and_cold(cli, root, runtime)
    (root / "a.py").unlink()                                          # delete
    _warm_and_cold(cli, root, runtime)
    (root / "a.py").write_text(A)                                     # and back
    _warm_and_cold(cli, root, runtime)
    status = cli(["daemon", "status", "--json"], cwd=root, env=runtime).json
    assert status["servers"][0]["requests"] >= 4 * len(QUERIES)  # a.py queries fail when deleted


def test_a_crashed_apply_is_recovered_before_the_daemon_answers(started, cli, runtime):
    """The fast path hands a workspace with a crashed apply to the full CLI, which
    restores the exact bytes first: a warm answer is never about a half-applied tree."""
    from lanser.edits.journal import CRASH_ENV, CRASH_STATUS

    root = started({"a.py": A, "b.py": B})
    before = cli(["hover", "b.py:5:9", "--json"], cwd=root, env=runtime)
    assert before.code == 0, before.stderr
    (root / "p.diff").write_text(
        "--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n def helper(x: int) -> int:\n"
        "-    return x + 1\n+    return str(x)\n"
        "--- a/b.py\n+++ b/b.py\n@@ -4,2 +4,2 @@\n value = helper(1)\n"
        "-other = helper(value)\n+other = helper(str(value))\n")
    crashed = cli(["apply", "p.diff", "--allow-dirty"], cwd=root,
                  env={**runtime, CRASH_ENV: "written"})
    assert crashed.code == CRASH_STATUS, crashed.stderr
    assert (root / "a.py").read_text() != A or (root / "b.py").read_text() != B
    after = cli(["hover", "b.py:5:9", "--json"], cwd=root, env=runtime)
    assert after.code == 0, after.stderr
    assert "recovered an interrupted apply" in after.stderr
    assert ((root / "a.py").read_text(), (root / "b.py").read_text()) == (A, B)
    assert after.stdout == before.stdout


def test_daemon_keeps_the_workspace_git_status_clean(started, cli, runtime):
    root = started({"a.py": A, "b.py": B})
    cli(["diagnostics", "--json"], cwd=root, env=runtime)
    from tests.conftest import git

    assert git(root, "status", "--porcelain") == ""
    assert len(str(daemon_client.socket_path(root))) < 108


C = "from a import helper\n\nbad: str = helper(1)\n"


def test_eight_clients_times_200_requests_all_correct(started, cli, runtime):
    root = started({"a.py": A, "b.py": B, "c.py": C})
    requests = [
        {"op": "definition", "path": "b.py", "line": 4, "col": 9},
        {"op": "hover", "path": "b.py", "line": 5, "col": 1},
        {"op": "references", "path": "a.py", "line": 1, "col": 5},
        {"op": "diagnostics", "paths": ["c.py"]},
    ]
    # Expected answers come from a cold in-process server, never from the daemon itself.
    cold, _ = asyncio.run(ask_in_process(Workspace.open(root), get_server("basedpyright"),
                                         requests, timeout=60))
    assert cold[0]["locations"] == [
        {"path": "a.py", "line": 1, "col": 5, "end_line": 1, "end_col": 11}]
    assert [d["code"] for d in cold[3]["files"][0]["diagnostics"]] == ["reportAssignmentType"]

    def client(n: int) -> list[str]:
        failures = []
        for i in range(200):
            k = (n + i) % len(requests)
            got = daemon_client.call(root, query_message("basedpyright", [requests[k]],
                                                         timeout=60, cwd=str(root)),
                                     timeout=90)["answers"]
            if got[0] != cold[k]:
                failures.append(f"client {n} request {i}: {json.dumps(got[0])[:200]}")
        return failures

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(client, n) for n in range(8)]
        # .result() re-raises a client's exception, and a client that hangs fails here.
        failures = [f for future in futures for f in future.result(timeout=900)]
    assert not failures, failures[:3]
    status = daemon_client.call(root, {"method": "status"})
    assert status["servers"][0]["requests"] >= 1600


def test_two_starts_leave_one_daemon_and_stop_is_clean(started, cli, runtime):
    root = started({"a.py": A})
    first = cli(["daemon", "start", "--json"], cwd=root, env=runtime).json
    second = cli(["daemon", "start", "--json"], cwd=root, env=runtime).json
    assert first["pid"] == second["pid"]
    server_pid = first["servers"][0]["pid"]
    assert cli(["daemon", "stop"], cwd=root, env=runtime).code == 0
    assert not daemon_client.socket_path(root).exists()
    assert not psutil.pid_exists(first["pid"]) or psutil.Process(first["pid"]).status() == "zombie"
    assert not psutil.pid_exists(server_pid) or psutil.Process(server_pid).status() == "zombie"
    assert cli(["daemon", "status"], cwd=root, env=runtime).code == 1


def test_stale_socket_from_a_crashed_daemon_is_replaced(started, cli, runtime):
    root = started({"a.py": A, "b.py": B})
    pid = cli(["daemon", "status", "--json"], cwd=root, env=runtime).json["pid"]
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    assert daemon_client.socket_path(root).exists()          # left behind
    cold = cli(["definition", "b.py:4:9", "--json"], cwd=root, env=runtime)
    assert cold.code == 0                                      # falls back in-process
    restarted = cli(["daemon", "start", "--json"], cwd=root, env=runtime).json
    assert restarted["pid"] != pid
    warm = cli(["definition", "b.py:4:9", "--json"], cwd=root, env=runtime)
    assert warm.stdout == cold.stdout


def test_crashed_server_inside_the_daemon_is_restarted(started, cli, runtime):
    root = started({"a.py": A, "b.py": B})
    before = cli(["definition", "b.py:4:9", "--json"], cwd=root, env=runtime)
    status = cli(["daemon", "status", "--json"], cwd=root, env=runtime).json
    server_pid = status["servers"][0]["pid"]
    os.kill(server_pid, signal.SIGKILL)
    after = cli(["definition", "b.py:4:9", "--json"], cwd=root, env=runtime)
    assert after.code == 0 and after.stdout == before.stdout
    status = cli(["daemon", "status", "--json"], cwd=root, env=runtime).json
    assert status["servers"][0]["restarts"] == 1


def test_two_concurrent_starts_leave_one_daemon(workspace, cli, runtime):
    root = workspace({"a.py": A}, git_repo=True)
    command = [sys.executable, "-m", "lanser", "daemon", "start", "--json"]
    env = {**os.environ, **runtime}
    try:
        procs = [subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [proc.communicate(timeout=180) for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0], [err for _, err in outs]
        pids = {json.loads(out)["pid"] for out, _ in outs}
        assert len(pids) == 1
        daemons = [p for p in psutil.process_iter(["cmdline", "status"])
                   if p.info["status"] != psutil.STATUS_ZOMBIE and p.info["cmdline"]
                   and "lanser.queries.daemon" in p.info["cmdline"]
                   and str(root) in p.info["cmdline"]]
        assert [p.pid for p in daemons] == list(pids)
    finally:
        cli(["daemon", "stop"], cwd=root, env=runtime)


def test_idle_daemon_exits_by_itself_with_its_servers(started, cli, runtime):
    root = started({"a.py": A}, config="daemon_idle_timeout = 1\n")
    status = started.replies[root]
    procs = [psutil.Process(status["pid"]), psutil.Process(status["servers"][0]["pid"])]
    _, alive = psutil.wait_procs(procs, timeout=60)
    assert alive == []
    assert not daemon_client.socket_path(root).exists()


def test_timeout_option_is_honoured_through_the_daemon_once(started, cli, runtime):
    """A server that never answers: --timeout 1 is the daemon's limit too, on the fast
    path and on the full CLI's daemon path, and the error is reported once (exit 3)."""
    root = started({"mod.py": STUB_SOURCE},
                   config='server = "stub"\n' + stub_config("hang-requests"))
    for extra in ({}, {"LANSER_NO_FAST_PATH": "1"}):
        result = cli(["hover", "mod.py:5:9", "--json", "--timeout", "1"], cwd=root,
                     env={**runtime, **extra}, timeout=60)
        assert result.code == 3, (extra, result.stdout, result.stderr)
        error = result.json["error"]
        assert error["code"] == "timeout"
        assert error["message"] == "stub did not answer textDocument/hover within 1 s"
    status = cli(["daemon", "status", "--json"], cwd=root, env=runtime).json
    assert status["servers"][0]["name"] == "stub"  # answered by the daemon, not in-process


def test_warm_answers_follow_server_and_lanser_configuration_edits(started, cli, runtime):
    pyproject = '[tool.basedpyright]\ntypeCheckingMode = "standard"\n'
    root = started({"a.py": "def f(x):\n    return x\n", "pyproject.toml": pyproject},
                   config="daemon_idle_timeout = 600\n")
    args = ["diagnostics", "a.py", "--json"]
    before = cli(args, cwd=root, env=runtime)
    assert before.json["summary"]["error"] == 0
    (root / "pyproject.toml").write_text(pyproject + 'reportMissingParameterType = "error"\n')
    warm = cli(args, cwd=root, env=runtime)
    cold = cli([*args, "--no-daemon"], cwd=root, env=runtime)
    assert (warm.code, warm.stdout) == (cold.code, cold.stdout)
    codes = [d["code"] for f in warm.json["files"] for d in f["diagnostics"]]
    assert codes == ["reportMissingParameterType"]
    # lanser's own configuration is re-read too; a change that leaves the server's
    # definition alone keeps it warm (one restart: the pyproject edit's).
    (root / "lanser.toml").write_text("daemon_idle_timeout = 1234\n")
    assert cli(args, cwd=root, env=runtime).stdout == cold.stdout
    status = cli(["daemon", "status", "--json"], cwd=root, env=runtime).json
    assert status["idle_timeout_s"] == 1234
    assert status["servers"][0]["restarts"] == 1


def test_runtime_dir_open_to_others_is_refused(workspace, cli, tmp_path):
    directory = tmp_path / "shared-run"
    directory.mkdir()
    directory.chmod(0o755)
    root = workspace({"a.py": A}, git_repo=True)
    result = cli(["daemon", "start", "--json"], cwd=root,
                 env={"LANSER_RUNTIME_DIR": str(directory)})
    assert result.code == 3
    assert result.json["error"]["code"] == "unsafe_runtime_dir"
    assert "Traceback" not in result.stderr
    assert list(directory.iterdir()) == []


def test_errors_through_the_daemon_match_the_cold_path(started, cli, runtime):
    root = started({"a.py": A})
    for args in (["definition", "a.py:99:1", "--json"], ["hover", "../x.py:1:1", "--json"],
                 ["definition", "nope.py:1:1", "--json"],
                 ["definition", "a.py:1:5", "--json", "--fail-on", "error"],   # diagnostics only
                 ["diagnostics", "a.py", "--json", "--fail-on", "fatal"]):
        warm = cli(args, cwd=root, env=runtime)
        cold = cli([*args, "--no-daemon"], cwd=root, env=runtime)
        assert warm.code == cold.code == 2
        assert warm.stdout == cold.stdout


def test_auto_daemon_starts_one_on_first_query(workspace, cli, runtime):
    root = workspace({"a.py": A, "b.py": B, "lanser.toml": "auto_daemon = true\n"},
                     git_repo=True)
    try:
        assert cli(["definition", "b.py:4:9", "--json"], cwd=root, env=runtime).code == 0
        assert daemon_client.is_running(root)
    finally:
        cli(["daemon", "stop"], cwd=root, env=runtime)


@pytest.mark.slow
def test_warm_human_output_is_the_full_clis_plain_lines(started, cli, runtime):
    """In a pipe and at a terminal, the fast path prints human output itself (no rich,
    no typer: issue 15, defect 12), line for line what the full CLI prints there."""
    root = started({"a.py": A, "b.py": B + "bad: int = 'x'\n"})
    for args in (["definition", "b.py:4:9"], ["hover", "b.py:5:9"], ["symbols", "a.py"],
                 ["diagnostics"], ["references", "a.py:1:5"], ["definition", "a.py:99:1"]):
        fast = cli(args, cwd=root, env=runtime)
        full = cli(args, cwd=root, env={**runtime, "LANSER_NO_FAST_PATH": "1"})
        assert (fast.code, fast.stdout, fast.stderr) == (full.code, full.stdout, full.stderr)
    assert "b.py:6:12: error reportAssignmentType: " in cli(["diagnostics"], cwd=root,
                                                            env=runtime).stdout
    # At a terminal too: the same lines, the severity coloured, daemon or not (the fast
    # path answers people at a terminal as well; NO_COLOR turns the colour off).
    fast = _at_a_terminal(["diagnostics"], root, runtime)
    full = _at_a_terminal(["diagnostics"], root, {**runtime, "LANSER_NO_FAST_PATH": "1"})
    assert fast == full
    assert b"b.py:6:12: \x1b[1;31merror\x1b[0m reportAssignmentType: " in fast
    plain = _at_a_terminal(["diagnostics"], root, {**runtime, "NO_COLOR": "1"})
    assert b"\x1b[" not in plain and b"b.py:6:12: error reportAssignmentType: " in plain


def _at_a_terminal(args: list[str], root: Path, env: dict[str, str]) -> bytes:
    """What ``lanser ARGS`` writes to a terminal (its stdout a pseudo-terminal)."""
    import pty

    leader, follower = pty.openpty()
    try:
        subprocess.run([sys.executable, "-m", "lanser", *args], cwd=root, stdout=follower,
                       stderr=subprocess.DEVNULL, env={**os.environ, "TERM": "xterm", **env},
                       timeout=120, check=False)
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 1 << 16)
            except OSError:  # EIO: the terminal's other end is closed, all read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    return b"".join(chunks).replace(b"\r\n", b"\n")
