"""The sandbox holds (issue 17, finding 4): each guarantee is an attempt that must fail
from inside one real sandboxed ``lanser test`` run.

The run's tests try: to see devices beyond the few tests need, to leave a file in
``/dev/shm`` (a ``setsid`` child keeps writing there after its test), to read the
command lines of host processes, to open ``/proc/sys`` and ``/proc/sysrq-trigger``
for writing (opened, never written), to write under ``/sys``. The interpreter is a
user's wrapper script (``--python``) that reports its capabilities and tries to
write outside the sandbox: it must start inside, after the remount and the drop.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from lanser.cli.app import app
from lanser.runner.sandbox import isolation_prefix

pytestmark = pytest.mark.skipif("--mount" not in isolation_prefix("auto"),
                                reason="no mount/pid namespaces here (the fallback is "
                                "reported: test_runner_sandbox)")

MARK = uuid.uuid4().hex
ALLOWED_DEV = {"null", "zero", "full", "random", "urandom", "tty", "shm", "fd", "stdin",
               "stdout", "stderr", "pts", "ptmx"}
INSIDE = f'''
import os, subprocess, sys, time

import pytest


def test_dev():
    assert set(os.listdir("/dev")) <= set({sorted(ALLOWED_DEV)!r})
    with open("/dev/null", "w") as fh:
        fh.write("x")
    assert len(open("/dev/urandom", "rb").read(8)) == 8


def test_shm():
    with open("/dev/shm/lanser-{MARK}", "w") as fh:
        fh.write("x")
    code = ("import time\\nwhile True:\\n"
            "    open('/dev/shm/lanser-{MARK}-child', 'a').write('x')\\n    time.sleep(0.05)")
    subprocess.Popen([sys.executable, "-c", code, "child-{MARK}"], start_new_session=True)
    time.sleep(0.3)


def test_proc():
    seen = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                seen.append(open(f"/proc/{{pid}}/cmdline", "rb").read())
            except OSError:
                pass
    assert not [c for c in seen if b"host-{MARK}" in c]
    assert len(seen) < 20


def _refused(path):
    try:
        fd = os.open(path, os.O_WRONLY)  # opened only: never written
    except OSError:
        return True
    os.close(fd)
    return False


def test_proc_sys():
    assert _refused("/proc/sys/kernel/core_pattern")
    assert _refused("/proc/sys/vm/drop_caches")


def test_sysrq():
    assert not os.path.exists("/proc/sysrq-trigger") or _refused("/proc/sysrq-trigger")


def test_sys():
    assert os.statvfs("/sys").f_flag & os.ST_RDONLY
'''


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("holds")
    root = base / "ws"
    root.mkdir()
    (root / "test_inside.py").write_text(INSIDE)
    wrapper = base / "python-wrapper"
    host_file = base / "written-by-the-interpreter"
    wrapper.write_text(f"#!/bin/sh\necho \"wrapper $(grep CapEff /proc/self/status)\"\n"
                       f"touch {host_file} 2>/dev/null && echo wrapper-wrote-host\n"
                       f"exec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    host = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)",
                             f"host-{MARK}"])
    try:
        result = CliRunner().invoke(app, ["test", "--root", str(root), "--json", "--python",
                                          str(wrapper), "--timeout", "20"])
    finally:
        host.kill()
        host.wait()
    time.sleep(0.3)  # a survivor would write again by now
    payload = json.loads(result.stdout)
    payload["outcomes"] = {t["nodeid"].split("::")[-1]: t for t in payload["tests"]}
    payload["host_file"] = host_file.exists()
    return payload


@pytest.mark.parametrize("name", ["test_dev", "test_proc", "test_proc_sys", "test_sysrq",
                                  "test_sys"])
def test_the_attempt_fails_inside(run, name) -> None:
    test = run["outcomes"][name]
    assert test["outcome"] == "passed", test["message"]


def test_dev_shm_is_private_and_a_setsid_writer_dies_with_the_run(run) -> None:
    assert run["outcomes"]["test_shm"]["outcome"] == "passed"
    assert not list(Path("/dev/shm").glob(f"lanser-{MARK}*"))
    survivors = [p.pid for p in psutil.process_iter(["cmdline"])
                 if f"child-{MARK}" in (p.info["cmdline"] or [])]
    assert survivors == []


def test_the_interpreter_starts_after_the_remount_and_the_capability_drop(run) -> None:
    assert "wrapper CapEff:\t0000000000000000" in run["output_tail"], run["output_tail"]
    assert "wrapper-wrote-host" not in run["output_tail"]
    assert not run["host_file"]


def test_the_result_says_what_is_isolated(run) -> None:
    sandbox = run["sandbox"]
    assert sandbox["devices"].startswith("private /dev")
    assert sandbox["proc"].startswith("private /proc")
    assert "not isolated" not in json.dumps(sandbox)


def test_a_second_run_in_the_same_sandbox_is_isolated_as_the_first(tmp_path) -> None:
    """A crash restarts the child in the same Sandbox (a fresh copy, the same folder):
    the restart's /dev, loopback and network are the first run's (the private /dev's
    staging folder of the first run once made the second's step fail)."""
    from lanser.runner.sandbox import Sandbox

    (tmp_path / "probe.py").write_text(
        "import os, socket\n"
        "server = socket.socket()\nserver.bind(('127.0.0.1', 0))\n"
        "print('devices', sorted(os.listdir('/dev')))\n"
        "try:\n    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
        "    print('network reachable')\nexcept OSError:\n    print('no network')\n")
    with Sandbox(tmp_path) as box:
        runs = [box.run("script", [], deadline=time.monotonic() + 60,
                        extra={"script": str(box.copy / "probe.py")}) for _ in range(2)]
    for child in runs:
        isolation = next(e for e in child.events if e.get("e") == "isolation")
        assert isolation["devices"] and isolation["network"] and isolation["filesystem"]
        assert child.returncode == 0, child.output
        assert "no network" in child.output and "failed" not in child.output
        listed = child.output.split("devices ", 1)[1].splitlines()[0]
        assert set(eval(listed)) <= ALLOWED_DEV
