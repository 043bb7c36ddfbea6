"""The task an episode (or a one-shot reward) is judged against.

Read from flags or a JSON task file. The test lists use the runner's reader
(:meth:`lanser.runner.grading.TestLists.load`), so ``lanser test --task``, ``lanser
episode --task`` and ``lanser reward --task`` accept the same files: SWE-bench's
``FAIL_TO_PASS``/``PASS_TO_PASS`` (lists or JSON-encoded lists) or ``f2p``/``p2p``,
plus lanser's ``name``, ``targets`` (files the ``targets`` scope looks at) and
``test_args`` (pytest arguments of every test run) and ``select`` (``"listed"``, the
default: the listed tests are what runs, their ids go into ``test_args`` as
``--lanser-id=``; ``"all"``: the whole suite runs and the lists only grade), and
``hidden_tests`` (issue 16: fail-to-pass tests that are graded but never shown; also
read from a task record's ``lanser.hidden_tests``, the key ``lanser.tasks`` writes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser.errors import UsageError


@dataclass(frozen=True)
class TaskSpec:
    name: str = "episode"
    targets: tuple[str, ...] = ()
    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    test_args: tuple[str, ...] = ()
    #: globs of paths grading restores from the base besides the default ones
    #: (``lanser.runner.protected.GLOBS``): issue 16
    protected: tuple[str, ...] = ()
    #: fail-to-pass tests graded with :attr:`fail_to_pass` but kept out of what the
    #: agent is shown (observations list no outcome of theirs): issue 16
    hidden_tests: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path | None = None, *, f2p: Iterable[str] = (),
             p2p: Iterable[str] = (), targets: Iterable[str] = (),
             test_args: Iterable[str] = (), protected: Iterable[str] = (),
             hidden_tests: Iterable[str] = ()) -> TaskSpec:
        """A task from a file (optional) and flags; flags add to the file's lists."""
        data: dict[str, Any] = {}
        file_f2p: tuple[str, ...] = ()
        file_p2p: tuple[str, ...] = ()
        if path is not None:
            from lanser.runner.grading import TestLists

            lists = TestLists.load(path)
            file_f2p, file_p2p = lists.fail_to_pass, lists.pass_to_pass
            from lanser.jsonio import load_json_bounded

            data = load_json_bounded(path, what="task")  # TestLists.load checked it is an object
        name = data.get("name", "episode")
        if not isinstance(name, str):
            raise UsageError(f"{path}: 'name' must be a string", code="bad_task")
        select = data.get("select", "listed")
        if select not in ("listed", "all"):
            raise UsageError(f"{path}: 'select' is \"listed\" (run the listed tests, the "
                             "default) or \"all\" (the whole suite)", code="bad_task")
        f2p, p2p = (*file_f2p, *f2p), (*file_p2p, *p2p)
        args = (*_strings(data, "test_args", path), *test_args)
        meta = data.get("lanser")
        hidden = tuple(dict.fromkeys((
            *_strings(data, "hidden_tests", path),
            *(_strings(meta, "hidden_tests", path) if isinstance(meta, dict) else ()),
            *hidden_tests)))
        if select == "listed":  # the listed tests are what runs (issue 15, defect 8)
            from lanser.runner.run import select_args

            args = (*args, *select_args((*f2p, *hidden), p2p))
        return cls(name, (*_strings(data, "targets", path), *targets), f2p, p2p, args,
                   (*_strings(data, "protected", path), *protected), hidden)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "targets": sorted(set(self.targets)),
                "fail_to_pass": sorted(set(self.fail_to_pass)),
                "pass_to_pass": sorted(set(self.pass_to_pass)),
                "test_args": list(self.test_args),
                # only when set: the bytes of older task headers stay the same
                **({"protected": sorted(set(self.protected))} if self.protected else {}),
                **({"hidden_tests": sorted(set(self.hidden_tests))}
                   if self.hidden_tests else {})}

    @property
    def lists_tests(self) -> bool:
        return bool(self.fail_to_pass or self.pass_to_pass or self.hidden_tests)


def _strings(data: dict[str, Any], key: str, path: Any) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{path}: {key!r} must be a list of strings", code="bad_task")
    return tuple(value)
