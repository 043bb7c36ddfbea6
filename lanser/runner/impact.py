"""Test-impact selection: re-run only the tests a change can have affected.

:func:`lanser.runner.run.map_impact` runs the whole suite once on the base snapshot with the
plugin's per-test coverage contexts on, and records for every test the files it
depends on:

- the workspace files it executed during setup, call and teardown (coverage.py,
  one dynamic context per node id);
- its own test file and every ``conftest.py`` in that file's directory or above;
- the static import closure of its test file over workspace modules, resolved
  through ``sys.modules`` after collection. Coverage alone misses import-time
  dependencies: a constant read from a module imported earlier executes no line
  of it during the test.

It also records the sha256 of every file at the base and each test's base outcome.
:meth:`ImpactMap.plan` compares a new snapshot's files with those hashes: a test is
skipped (its base outcome reused) only when none of its files changed; tests absent
from the map (new ones, or in modules that failed to collect at the base) always
run. Only the files holding tests to run are collected (when no pytest arguments
were given). A change to a pytest configuration file, or to any file of a test whose
dependencies could not be measured, forces the full suite. Files a test only
*reads* (data files) are not tracked: ``--full`` is the way out for such suites.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanser.files import atomic_write
from lanser.runner.outcomes import TestOutcome

#: Files whose change can alter every test's collection or configuration.
CONFIG_FILES = ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini")
FORMAT = "lanser.impact/1"


@dataclass
class ImpactMap:
    base: str | None
    deps: dict[str, list[str]]
    hashes: dict[str, str]
    outcomes: dict[str, TestOutcome] = field(default_factory=dict)
    #: test files that failed to collect at the base: always collected again
    broken: list[str] = field(default_factory=list)
    #: built by this process just now (not loaded from the cache): its outcomes are fresh
    fresh: bool = field(default=False, compare=False)

    @classmethod
    def from_coverage(cls, raw: dict[str, Any], tests: Any, *, base: str | None,
                      root: Path, rev: str | None) -> ImpactMap:
        files = _snapshot_hashes(root, rev)
        imports = raw.get("imports", {})
        deps: dict[str, list[str]] = {}
        outcomes: dict[str, TestOutcome] = {}
        broken = sorted(t.nodeid for t in tests if "::" not in t.nodeid)
        for test in tests:
            if test.phase == "collection" or "::" not in test.nodeid:
                continue  # no tests known there: whatever the module holds now will run
            measured = raw.get("tests", {}).get(test.nodeid)
            if measured is None:
                continue  # killed before its coverage was saved: always run it
            module = test.nodeid.split("::", 1)[0]
            found = set(measured)
            found.add(module)
            found.update(_closure(module, imports))
            found.update(_conftests(module, files))
            deps[test.nodeid] = sorted(found)
            outcomes[test.nodeid] = test
        return cls(base, deps, files, outcomes, broken)

    def plan(self, copy: Path) -> dict[str, Any]:
        """What to run on the snapshot copied at ``copy``: the skip list and why."""
        now = _tree_hashes(copy)
        changed = sorted(p for p in set(self.hashes) | set(now)
                         if self.hashes.get(p) != now.get(p))
        forced = [p for p in changed if Path(p).name in CONFIG_FILES]
        if forced:
            return {"base": self.base, "full": True, "changed": changed,
                    "reason": f"configuration changed: {', '.join(forced)}", "skip": []}
        touched = set(changed)
        skip = sorted(n for n, files in self.deps.items() if not touched.intersection(files))
        return {"base": self.base, "full": False, "changed": changed,
                "selected_known": len(self.deps) - len(skip), "skip": skip,
                "paths": self._paths(copy, set(skip), changed)}

    def _paths(self, copy: Path, skip: set[str], changed: list[str]) -> list[str]:
        """The files to collect: those holding selected tests, changed or new test
        files, and files that failed to collect at the base. Collecting only these is
        what makes a selected run cheap; pytest's own patterns do not apply to files
        named explicitly, so only ``test_*.py``/``*_test.py`` names are added as new."""
        modules = {n.split("::", 1)[0] for n in self.deps if n not in skip}
        known = {n.split("::", 1)[0] for n in self.deps}
        new = {p for p in changed if p not in known and p.endswith(".py")
               and (Path(p).name.startswith("test_") or p.endswith("_test.py"))}
        wanted = modules | new | set(self.broken)
        return sorted(p for p in wanted if (copy / p).is_file())

    # -- persistence ----------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "base": self.base, "deps": self.deps, "hashes": self.hashes,
                "broken": self.broken,
                "outcomes": {n: {**t.to_json(volatile=False), "asserts": t.asserts}
                             for n, t in sorted(self.outcomes.items())}}

    def save(self, path: str | Path) -> None:
        atomic_write(path, json.dumps(self.to_json(), sort_keys=True))

    @classmethod
    def load(cls, path: str | Path) -> ImpactMap | None:
        """The saved map, or None when absent or unreadable (a corrupt map is no map)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                return None
            outcomes = {n: TestOutcome(n, o["outcome"], o["phase"], o.get("message"),
                                       asserts=o.get("asserts")).with_credit()
                        for n, o in data["outcomes"].items()}
            return cls(data["base"], data["deps"], data["hashes"], outcomes,
                       list(data.get("broken", [])))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None


def impact_key(tree: str, args: tuple[str, ...], python: str | None) -> str:
    """The cache key of a coverage map: the base tree, the pytest arguments (a map
    built on a filtered run knows nothing of the tests it did not run) and the
    interpreter as named (a venv's ``python`` links to the system one but has other
    packages: other outcomes and coverage)."""
    import sys

    from lanser.canonical import content_hash

    interpreter = os.path.abspath(python or sys.executable)
    return content_hash({"tree": tree, "args": list(args), "python": interpreter}
                        ).removeprefix("sha256:")[:32]


def _closure(module: str, imports: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        for dep in imports.get(todo.pop(), []):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def _conftests(module: str, files: dict[str, str]) -> list[str]:
    parts = Path(module).parent.parts
    candidates = {Path(*parts[:i], "conftest.py").as_posix() for i in range(len(parts) + 1)}
    return [c for c in candidates if c in files]


def _tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (a sandbox copy: nothing to skip but caches)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in ("__pycache__", ".pytest_cache")]
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                rel = path.relative_to(root).as_posix()
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _snapshot_hashes(root: Path, rev: str | None) -> dict[str, str]:
    from lanser.runner.sandbox import Sandbox

    with Sandbox(root, rev=rev, isolation="none") as box:  # the same file set as a run
        return _tree_hashes(box.copy)
