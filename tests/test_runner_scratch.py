"""A sandbox directory outlives a killed owner only until the next sweep, and a live
owner's directory is never swept (real processes, killed for real)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from lanser.runner.scratch import PREFIX, sweep

HOLDER = ("import sys, time\n"
          "from lanser.runner.scratch import make_held\n"
          "path, fd = make_held()\n"
          "(path / 'ws' / 'ro').mkdir(parents=True)\n"
          "(path / 'ws' / 'ro' / 'f').touch()\n"
          "(path / 'ws' / 'ro').chmod(0o500)  # a test's read-only folder\n"
          "print(path, flush=True)\n"
          "time.sleep(120)\n")


def holder(tmp: Path) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(tmp)})
    line = proc.stdout.readline().strip()
    assert line, "the holder printed no directory"
    return proc, Path(line)


def test_a_killed_owners_directory_is_swept_and_a_live_ones_is_not(tmp_path):
    dead, dead_dir = holder(tmp_path)
    live, live_dir = holder(tmp_path)
    try:
        dead.send_signal(signal.SIGKILL)
        dead.wait(timeout=30)
        assert dead_dir.is_dir() and live_dir.is_dir()
        # within the grace period nothing goes (a directory made, not yet locked)
        assert sweep(str(tmp_path)) == []
        assert sweep(str(tmp_path), grace=0) == [dead_dir.name]
        assert not dead_dir.exists() and live_dir.is_dir()
    finally:
        live.kill()
        live.wait(timeout=30)
    assert sweep(str(tmp_path), grace=0) == [live_dir.name]
    assert [p for p in tmp_path.iterdir() if p.name.startswith(PREFIX)] == []


def test_a_sandbox_leaves_nothing_when_closed_and_holds_its_directory_while_open(
        tmp_path, monkeypatch):
    import tempfile

    from lanser.runner.sandbox import Sandbox

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # a private temp dir
    (tmp_path / "tmp").mkdir()
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "t.py").write_text("X = 1\n")
    with Sandbox(tmp_path / "ws") as box:
        assert box.dir.parent == tmp_path / "tmp"
        assert (box.copy / "t.py").is_file()
        assert box.dir.name not in sweep(str(box.dir.parent), grace=0)
        assert box.dir.is_dir()
    assert not box.dir.exists()
    box.close()  # a second close is harmless
