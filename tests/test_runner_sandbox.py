"""Hostile tests must not hurt lanser or the workspace: each case is a real run."""

from __future__ import annotations

import uuid

import psutil
import pytest

from lanser.runner import run_tests
from lanser.runner.sandbox import isolation_prefix

# Whole-module slow: the quick loop (-m 'not slow') leaves it to the full suite.
pytestmark = pytest.mark.slow

NAMESPACES = "--mount" in isolation_prefix("auto")
needs_ns = pytest.mark.skipif(not NAMESPACES, reason="unshare --mount --net not allowed here")


def outcomes(result) -> dict[str, tuple[str, str]]:
    return {t.nodeid: (t.outcome, t.phase) for t in result.tests}


def test_infinite_loop_times_out_and_the_rest_still_runs(workspace):
    root = workspace({"test_loop.py": (
        "def test_before():\n    pass\n"
        "def test_loop():\n    while True:\n        pass\n"
        "def test_after():\n    assert 1\n")})
    result = run_tests(root, timeout=1.5)
    assert outcomes(result) == {
        "test_loop.py::test_after": ("passed", "teardown"),
        "test_loop.py::test_before": ("passed", "teardown"),
        "test_loop.py::test_loop": ("timeout", "call"),
    }
    loop = result.by_id()["test_loop.py::test_loop"]
    assert 0 < loop.credit.ppm < 1_000_000


def test_hanging_fixture_is_a_setup_timeout(workspace):
    root = workspace({"test_fix.py": (
        "import pytest, time\n@pytest.fixture\ndef slow():\n    time.sleep(600)\n"
        "def test_a(slow):\n    pass\n")})
    result = run_tests(root, timeout=1.0)
    assert outcomes(result) == {"test_fix.py::test_a": ("timeout", "setup")}


def test_hanging_import_is_a_collection_timeout(workspace):
    root = workspace({"test_hang.py": "import time\ntime.sleep(600)\n",
                      "test_ok.py": "def test_ok():\n    pass\n"})
    result = run_tests(root, timeout=1.0)
    assert outcomes(result) == {"test_hang.py": ("timeout", "collection"),
                                "test_ok.py::test_ok": ("passed", "teardown")}


def test_os_exit_is_a_crash_of_that_test_only(workspace):
    root = workspace({"test_exit.py": (
        "import os\ndef test_a():\n    pass\ndef test_b():\n    os._exit(3)\n"
        "def test_c():\n    pass\n")})
    result = run_tests(root)
    assert outcomes(result) == {"test_exit.py::test_a": ("passed", "teardown"),
                                "test_exit.py::test_b": ("failed", "call"),
                                "test_exit.py::test_c": ("passed", "teardown")}
    assert "exit status 3" in result.by_id()["test_exit.py::test_b"].message


def test_memory_exhaustion_fails_the_test_not_lanser(workspace):
    root = workspace({"test_mem.py": (
        "def test_hog():\n    x = bytearray(8 << 30)\n    assert x\n"
        "def test_fine():\n    pass\n")})
    result = run_tests(root, memory_mb=1024)
    assert outcomes(result)["test_mem.py::test_hog"] == ("failed", "call")
    assert outcomes(result)["test_mem.py::test_fine"] == ("passed", "teardown")
    message = result.by_id()["test_mem.py::test_hog"].message
    if "cgroup" in result.isolation["memory"]:  # the tree's limit: the kernel kills it
        assert "killed by the memory limit" in message
    else:  # the address-space limit: the allocation itself fails
        assert "per process" in result.isolation["memory"]
        assert "MemoryError" in message


def test_the_memory_limit_covers_the_whole_process_tree(workspace):
    root = workspace({"test_tree.py": (
        "import os\n"
        "def test_workers():\n"
        "    pids = []\n"
        "    for _ in range(4):  # 4 x 400 MiB: each under the limit, not together\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            block = bytearray(400 << 20)\n"
        "            import time; time.sleep(5)\n"
        "            os._exit(0)\n"
        "        pids.append(pid)\n"
        "    codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]\n"
        "    assert codes == [0, 0, 0, 0]\n")})
    result = run_tests(root, memory_mb=1024, timeout=60)
    if "cgroup" not in result.isolation["memory"]:
        pytest.skip("no memory cgroup here: the limit is per process")
    assert outcomes(result)["test_tree.py::test_workers"][0] == "failed"


def test_forked_processes_are_killed(workspace, tmp_path):
    marker = f"lanser-fork-{uuid.uuid4().hex}"
    root = workspace({"test_fork.py": (
        "import subprocess, sys\n"
        "def test_spawn():\n"
        "    code = 'import time\\nwhile True: time.sleep(1)'\n"
        f"    subprocess.Popen([sys.executable, '-c', code, {marker!r}],\n"
        "                     start_new_session=True)\n"
        "def test_fork_and_hang():\n"
        "    import os, time\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        time.sleep(600)\n"
        "    time.sleep(600)\n")})
    result = run_tests(root, timeout=1.5)
    assert outcomes(result)["test_fork.py::test_fork_and_hang"] == ("timeout", "call")
    survivors = []
    for proc in psutil.process_iter(["cmdline"]):
        if marker in (proc.info["cmdline"] or []):
            survivors.append(proc.pid)
    assert survivors == []


@needs_ns
def test_deleting_files_outside_the_copy_fails_and_harms_nothing(workspace, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    root = workspace({"test_rm.py": (
        "import shutil\n"
        f"def test_rm():\n    shutil.rmtree({str(victim)!r})\n"
        "def test_local(tmp_path):\n    (tmp_path / 'x').write_text('ok')\n")})
    before = sorted(p.name for p in root.iterdir())
    result = run_tests(root)
    assert (victim / "precious.txt").read_text() == "keep me"
    assert outcomes(result)["test_rm.py::test_rm"][0] == "failed"
    assert outcomes(result)["test_rm.py::test_local"] == ("passed", "teardown")
    assert sorted(p.name for p in root.iterdir()) == before
    assert result.isolation["filesystem"] == "read-only outside the copy"


def test_workspace_is_never_written(workspace):
    root = workspace({"test_w.py": (
        "from pathlib import Path\n"
        "def test_write():\n    Path('new.txt').write_text('x')\n"
        "    Path('test_w.py').write_text('')\n")})
    snapshot = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    result = run_tests(root)
    assert outcomes(result)["test_w.py::test_write"] == ("passed", "teardown")
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == snapshot



def test_the_copy_keeps_bytes_modes_and_symlinks(workspace):
    """The sandbox's copy is the snapshot: bytes (CRLF, non-UTF-8), permission bits
    (an executable helper, a read-only data file) and symlinks as links."""
    import os
    import stat

    root = workspace({"data/raw.bin": "", "test_copy.py": (
        "import os, stat\n"
        "def test_copy():\n"
        "    assert open('data/raw.bin', 'rb').read() == b'a\\r\\nb\\xff\\x00'\n"
        "    assert stat.S_IMODE(os.stat('tool.sh').st_mode) == 0o750\n"
        "    assert stat.S_IMODE(os.stat('data/raw.bin').st_mode) == 0o444\n"
        "    assert os.readlink('link.py') == 'tool.sh'\n")})
    (root / "data/raw.bin").write_bytes(b"a\r\nb\xff\x00")
    (root / "tool.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "tool.sh", 0o750)
    os.chmod(root / "data/raw.bin", 0o444)
    os.symlink("tool.sh", root / "link.py")
    result = run_tests(root)
    assert outcomes(result)["test_copy.py::test_copy"] == ("passed", "teardown"), \
        result.output
    assert stat.S_IMODE(os.stat(root / "data/raw.bin").st_mode) == 0o444

@needs_ns
def test_no_network_and_the_result_says_so(workspace):
    root = workspace({"test_net.py": (
        "import socket\n"
        "def test_out():\n"
        "    socket.create_connection(('192.0.2.1', 80), timeout=2)\n"
        "def test_loopback():\n"
        "    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "    c = socket.create_connection(s.getsockname(), timeout=2); c.close()\n")})
    result = run_tests(root)
    assert outcomes(result)["test_net.py::test_out"][0] == "failed"
    assert outcomes(result)["test_net.py::test_loopback"][0] == "passed"
    assert result.isolation["network"] == "namespace"


def test_without_namespaces_the_result_says_not_isolated(workspace):
    root = workspace({"test_a.py": "def test_a():\n    pass\n"})
    result = run_tests(root, isolation="none")
    assert outcomes(result) == {"test_a.py::test_a": ("passed", "teardown")}
    assert "not isolated" in result.isolation["network"]
    assert "not isolated" in result.isolation["filesystem"]
    # the parts issue 17 added say so too, rather than being silently skipped
    for key in ("devices", "proc"):
        assert "not isolated" in result.isolation[key], key


def test_output_is_bounded(workspace):
    root = workspace({"test_print.py": (
        "import sys\ndef test_spam():\n"
        "    for _ in range(20000):\n        sys.__stdout__.write('x' * 100 + '\\n')\n")})
    result = run_tests(root, args=["-s"])  # no capture: it all reaches lanser's pipe
    assert outcomes(result)["test_print.py::test_spam"] == ("passed", "teardown")
    assert len(result.output) < 200_000
    assert "bytes dropped" in result.output


def test_no_sandbox_leftovers(workspace, tmp_path, monkeypatch):
    import tempfile

    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))  # other runs may share /tmp
    root = workspace({"test_a.py": "def test_a():\n    pass\n"})
    run_tests(root)
    assert list(private.iterdir()) == []


def test_a_test_killing_its_own_process_is_a_crash(workspace):
    root = workspace({"test_sig.py": (
        "import os, signal\n"
        "def test_term():\n    os.kill(os.getpid(), signal.SIGTERM)\n"
        "def test_after():\n    pass\n")})
    result = run_tests(root)
    assert outcomes(result) == {"test_sig.py::test_after": ("passed", "teardown"),
                                "test_sig.py::test_term": ("failed", "call")}
    assert "SIGTERM" in result.by_id()["test_sig.py::test_term"].message


def test_a_fork_bomb_hits_the_process_limit(workspace):
    root = workspace({"test_bomb.py": (
        "import os, time\n"
        "def test_bomb():\n"
        "    for _ in range(5000):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(600)\n"
        "            os._exit(0)\n"
        "def test_after():\n    pass\n")})
    result = run_tests(root, timeout=20)
    if "at most" not in result.isolation["processes"]:
        pytest.skip("no pids cgroup here: the limit is not enforced")
    assert outcomes(result)["test_bomb.py::test_bomb"] == ("failed", "call")
    assert "BlockingIOError" in result.by_id()["test_bomb.py::test_bomb"].message
    assert outcomes(result)["test_bomb.py::test_after"] == ("passed", "teardown")


def test_flooding_the_events_file_is_stopped(workspace, monkeypatch):
    from lanser.runner import sandbox

    monkeypatch.setattr(sandbox, "EVENTS_LIMIT", 1 << 20)
    root = workspace({"test_flood.py": (
        "import glob, os\n"
        "def test_flood():\n"
        "    path = sorted(glob.glob(os.path.join(os.environ['TMPDIR'], '..', 'events-*')))[-1]\n"
        "    with open(path, 'a') as fh:\n"
        "        for _ in range(100_000):\n            fh.write('x' * 100 + '\\n')\n"
        "    import time; time.sleep(600)\n")})
    result = run_tests(root, timeout=30)
    assert outcomes(result) == {"test_flood.py::test_flood": ("failed", "call")}
    assert "flooded" in result.by_id()["test_flood.py::test_flood"].message


def test_a_failure_then_a_hang_or_crash_keeps_the_failure(workspace):
    root = workspace({"test_late.py": (
        "import os, time, pytest\n"
        "@pytest.fixture\ndef hangs_after():\n    yield\n    time.sleep(600)\n"
        "@pytest.fixture\ndef dies_after():\n    yield\n    os._exit(3)\n"
        "def test_call_fails_then_teardown_hangs(hangs_after):\n"
        "    assert 1\n    assert 0, 'broken'\n"
        "@pytest.fixture\ndef setup_fails(dies_after):\n    raise RuntimeError('no db')\n"
        "def test_setup_fails_then_teardown_crashes(setup_fails):\n    pass\n")})
    result = run_tests(root, timeout=1.5)
    assert outcomes(result) == {
        "test_late.py::test_call_fails_then_teardown_hangs": ("failed", "call"),
        "test_late.py::test_setup_fails_then_teardown_crashes": ("error", "setup"),
    }
    hang = result.by_id()["test_late.py::test_call_fails_then_teardown_hangs"]
    assert "broken" in hang.message and "per-test limit" in hang.message
    assert hang.credit.ppm < 900_000
    assert hang.credit.evidence["asserts_passed"] == 1
    crash = result.by_id()["test_late.py::test_setup_fails_then_teardown_crashes"]
    assert "no db" in crash.message and "exit status 3" in crash.message
    assert crash.credit.ppm == 100_000


def test_hanging_conftest_imports_are_bounded_by_the_per_test_limit(workspace):
    initial = workspace({"conftest.py": "import time\ntime.sleep(600)\n",
                         "test_a.py": "def test_a():\n    pass\n"})
    result = run_tests(initial, timeout=1.5)
    assert outcomes(result) == {"conftest.py": ("timeout", "collection")}
    assert result.by_id()["conftest.py"].credit.ppm == 0
    nested = workspace({"sub/conftest.py": "import time\ntime.sleep(600)\n",
                        "sub/test_s.py": "def test_s():\n    pass\n",
                        "test_ok.py": "def test_ok():\n    pass\n"})
    result = run_tests(nested, timeout=1.5)
    assert outcomes(result) == {"sub": ("timeout", "collection"),
                                "test_ok.py::test_ok": ("passed", "teardown")}


def test_the_whole_run_has_a_time_limit(workspace):
    root = workspace({"test_slow.py": (
        "import time\n"
        "def test_a():\n    pass\n"
        "def test_b():\n    time.sleep(600)\n"
        "def test_c():\n    pass\n")})
    result = run_tests(root, timeout=600, run_timeout=6)
    got = outcomes(result)
    assert got["test_slow.py::test_b"] == ("timeout", "call")
    assert got["test_slow.py::test_c"] == ("timeout", "setup")
    assert "run's time limit" in result.by_id()["test_slow.py::test_b"].message
    assert result.by_id()["test_slow.py::test_c"].credit.evidence["stage"] == "not_run"


def test_a_process_dying_between_tests_loses_no_test(workspace):
    root = workspace({
        "conftest.py": (
            "import os, pytest\n"
            "@pytest.hookimpl(trylast=True)  # after lanser's plugin saw the test finish\n"
            "def pytest_runtest_logfinish(nodeid, location):\n"
            "    if nodeid.endswith('test_a'):\n"
            "        os._exit(5)\n"),
        "test_gap.py": ("def test_a():\n    pass\ndef test_b():\n    pass\n"
                        "def test_c():\n    assert 0\n")})
    result = run_tests(root)
    assert outcomes(result) == {"test_gap.py::test_a": ("passed", "teardown"),
                                "test_gap.py::test_b": ("passed", "teardown"),
                                "test_gap.py::test_c": ("failed", "call")}
    # dying before any test, every time: the tests are reported, not retried forever
    always = workspace({
        "conftest.py": ("import os, pytest\n@pytest.hookimpl(trylast=True)\n"
                        "def pytest_collection_finish(session):\n    os._exit(5)\n"),
        "test_gap.py": "def test_a():\n    pass\n"})
    result = run_tests(always)
    assert outcomes(result) == {"test_gap.py::test_a": ("error", "setup")}
    assert result.tests[0].credit.ppm == 0
    assert "exit status 5" in result.tests[0].message


def test_a_session_ended_early_leaves_no_test_out(workspace):
    root = workspace({"test_exit.py": (
        "import pytest\n"
        "def test_a():\n    pytest.exit('enough')\n"
        "def test_b():\n    assert 0\n")})
    result = run_tests(root)
    assert outcomes(result) == {"test_exit.py::test_a": ("failed", "call"),
                                "test_exit.py::test_b": ("error", "setup")}
    test_b = result.by_id()["test_exit.py::test_b"]
    assert (test_b.outcome, test_b.credit.ppm) == ("error", 0)
    assert test_b.credit.evidence["stage"] == "not_run"


@pytest.mark.parametrize("isolation", ["auto", "none"])
def test_a_child_started_ahead_and_never_told_to_go_is_gone_at_close(workspace, isolation):
    """A Sandbox starts its first child before copying (``warm``); closed without a
    run (a copy that failed, a caller's error), the waiting child goes with it."""
    from lanser.runner.sandbox import Sandbox

    root = workspace({"test_a.py": "def test_a():\n    pass\n"})
    box = Sandbox(root, warm="pytest", isolation=isolation)
    waiting = box._pending.proc
    box.close()
    assert waiting.poll() is not None
    left = [p for p in psutil.process_iter()
            if _env_of(p).get("LANSER_SANDBOX") == box.token]
    assert left == []


def _env_of(process: psutil.Process) -> dict[str, str]:
    try:
        return process.environ()
    except psutil.Error:
        return {}


def test_a_pytest_module_in_the_copy_never_runs_in_its_place(workspace):
    """The child imports pytest before the copy is on sys.path: a ``pytest.py`` at
    the workspace's root is never what runs; a plain run says the tests' pytest came
    from outside the snapshot (a grading run scores it: test_scoring_scorer)."""
    from lanser.errors import LanserError

    root = workspace({
        "pytest.py": "import sys\nprint('FORGED')\ndef main(*a, **k):\n    return 0\n",
        "test_a.py": "def test_a():\n    assert 1 == 2\n"})
    with pytest.raises(LanserError) as caught:
        run_tests(root)
    assert caught.value.code == "foreign_imports" and "pytest from" in caught.value.message


def test_shadowing_is_scored_on_a_candidate_tree_and_refused_on_the_base(workspace):
    """A grading run (``protect``) of a candidate's tree that shadows a module the
    tests import is one scored error and the finding ``shadowed_module``; the same on
    the base tree itself is the plain refusal: a base the runner cannot measure is no
    task to grade by."""
    from conftest import git

    from lanser.errors import LanserError
    from lanser.runner.protected import Protect

    root = workspace({"pkg.py": "X = 1\n",
                      "test_a.py": "from pkg import X\n\ndef test_a():\n    assert X == 1\n"},
                     git_repo=True)
    base = git(root, "rev-parse", "HEAD^{tree}").strip()
    (root / "pytest.py").write_text("def main(*a, **k):\n    return 0\n")
    graded = run_tests(root, protect=Protect(base))
    assert outcomes(graded) == {"conftest.py": ("error", "collection")}
    assert {f.kind: f.count for f in graded.integrity}.get("shadowed_module") == 1
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "shadow")
    shadowed_base = git(root, "rev-parse", "HEAD^{tree}").strip()
    with pytest.raises(LanserError) as caught:
        run_tests(root, protect=Protect(shadowed_base))
    assert caught.value.code == "foreign_imports"
