"""The per-workspace daemon: warm answers equal cold ones, under load, through its lifecycle."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from lanser.lsp import daemon_client

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
            if proc.info["cmdline"] and "lanser.warm" in " ".join(proc.info["cmdline"]):
                root = proc.info["cmdline"][-1]
                if daemon_client.daemon_key(Path(root)) == key:
                    proc.kill()


@pytest.fixture
def started(workspace, cli, runtime):
    roots = []

    def start(files: dict[str, str], config: str = "") -> Path:
        root = workspace({**files, **({"lanser.toml": config} if config else {})}, git_repo=True)
        result = cli(["daemon", "start", "--json"], cwd=root, env=runtime)
        assert result.code == 0, result.stderr
        roots.append(root)
        return root

    yield start
    for root in roots:
        cli(["daemon", "stop"], cwd=root, env=runtime)


QUERIES = [
    ["definition", "b.py:4:9", "--json"],
    ["references", "a.py:1:5", "--include-declaration", "--json"],
    ["hover", "b.py:5:9", "--json"],
    ["diagnostics", "b.py", "--json"],
    ["diagnostics", "--json"],
    ["symbols", "a.py", "--json"],
]


def _warm_and_cold(cli, root: Path, env: dict[str, str]) -> None:
    for args in QUERIES:
        warm = cli(args, cwd=root, env=env)
        cold = cli([*args, "--no-daemon"], cwd=root, env=env)
        assert (warm.code, warm.stdout) == (cold.code, cold.stdout), args


def test_warm_answers_equal_cold_ones_across_edits_creates_deletes(started, cli, runtime):
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


def test_daemon_keeps_the_workspace_git_status_clean(started, cli, runtime):
    root = started({"a.py": A, "b.py": B})
    cli(["diagnostics", "--json"], cwd=root, env=runtime)
    from tests.conftest import git

    assert git(root, "status", "--porcelain") == ""
    assert len(str(daemon_client.socket_path(root))) < 108


def test_eight_clients_times_200_requests_all_correct(started, cli, runtime):
    root = started({"a.py": A, "b.py": B})
    requests = [
        ({"op": "definition", "path": "b.py", "line": 4, "col": 9},
         {"locations": [{"path": "a.py", "line": 1, "col": 5, "end_line": 1, "end_col": 11}]}),
        ({"op": "hover", "path": "b.py", "line": 5, "col": 1}, None),
        ({"op": "references", "path": "a.py", "line": 1, "col": 5}, None),
    ]
    # Expected answers of the other operations come from a cold run.
    expected = []
    for request, answer in requests:
        if answer is None:
            answers, _ = daemon_client.try_query(root, "basedpyright", [request], timeout=30)
            answer = answers[0]
        expected.append((request, answer))
    failures: list[str] = []

    def client(n: int) -> None:
        for i in range(200):
            request, answer = expected[(n + i) % len(expected)]
            got, _ = daemon_client.try_query(root, "basedpyright", [request], timeout=30)
            if got[0] != answer:
                failures.append(f"client {n} request {i}: {json.dumps(got[0])[:200]}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
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


def test_idle_daemon_exits_by_itself(started, cli, runtime):
    root = started({"a.py": A}, config="daemon_idle_timeout = 1\n")
    deadline = time.monotonic() + 30
    while daemon_client.socket_path(root).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not daemon_client.socket_path(root).exists()


def test_errors_through_the_daemon_match_the_cold_path(started, cli, runtime):
    root = started({"a.py": A})
    for args in (["definition", "a.py:99:1", "--json"], ["hover", "../x.py:1:1", "--json"],
                 ["definition", "nope.py:1:1", "--json"]):
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
