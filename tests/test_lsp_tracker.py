"""The daemon's view of the disk: what changed since the last look, content-confirmed."""

from __future__ import annotations

import os
from pathlib import Path

from lanser.lsp.tracker import MTIME_GRANULARITY_NS, ConfigWatch, DiskTracker


def _set_mtime(path: Path, mtime_ns: int) -> None:
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_equal_size_edit_within_one_timestamp_tick_is_seen(tmp_path: Path) -> None:
    """A coarse filesystem stamps both writes with one mtime, and the edit keeps the
    size: stat() alone cannot tell, so a recently stamped file is hashed again."""
    path = tmp_path / "a.py"
    path.write_text("x = 1\n")
    stamp = path.stat().st_mtime_ns
    tracker = DiskTracker()
    assert tracker.scan([path]).created == [path]
    path.write_text("x = 2\n")
    _set_mtime(path, stamp)
    assert tracker.scan([path]).changed == [path]


def test_old_unchanged_stat_is_trusted_without_hashing(tmp_path: Path) -> None:
    """The fast path stays: a file stamped long before the scan, with the same
    mtime and size, is not read again (so this edit, hidden from stat, is missed)."""
    path = tmp_path / "a.py"
    path.write_text("x = 1\n")
    old = path.stat().st_mtime_ns - 10 * MTIME_GRANULARITY_NS
    _set_mtime(path, old)
    tracker = DiskTracker()
    tracker.scan([path])
    path.write_text("x = 2\n")
    _set_mtime(path, old)
    assert not tracker.scan([path])


def test_created_and_deleted_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("")
    tracker = DiskTracker()
    tracker.scan([a])
    b.write_text("")
    a.unlink()
    changes = tracker.scan([b])
    assert (changes.created, changes.changed, changes.deleted) == ([b], [], [a])


def test_config_watch_sees_only_its_tables(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n\n[tool.pyright]\nstrict = []\n')
    watch = ConfigWatch(tmp_path, ("pyrightconfig.json", "pyproject.toml:tool.pyright"))
    assert not watch.changed()
    pyproject.write_text('[project]\nname = "y"\n\n[tool.pyright]\nstrict = []\n')
    assert not watch.changed()                        # another table: no restart
    pyproject.write_text('[project]\nname = "y"\n\n[tool.pyright]\nstrict = ["a"]\n')
    assert watch.changed()
    assert not watch.changed()                        # reported once
    (tmp_path / "pyrightconfig.json").write_text("{}")
    assert watch.changed()                            # a created file counts
    pyproject.write_text("[tool.pyright\n")           # unparsable: its bytes count
    assert watch.changed()
