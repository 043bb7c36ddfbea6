"""One task: SWE-bench's keys, spelled as SWE-bench spells them, plus a ``lanser`` object.

A task is a repository state (``base_commit``), a problem statement, the tests that
define success (``test_patch``, ``FAIL_TO_PASS``, ``PASS_TO_PASS``) and a reference
fix (``patch``). The ``lanser`` object adds what lanser needs to run and trust it:
the base tree hash, the pytest arguments of every run, globs grading restores, the
interpreter and environment it was validated with, and the validation record (each
listed test's outcome before and after the reference patch, the runs, flaky ids).

On disk a task is one line of JSONL (:mod:`lanser.tasks.io`), validated against
``bundles/schema/task-1.schema.json`` on every read and write; the format is written
down in ``bundles/TASKS.md``. lanser writes every key; it reads a record that has at
least ``instance_id``, ``repo``, ``base_commit`` and ``FAIL_TO_PASS`` (the others
default to empty). Lists are JSON lists (SWE-bench's own files carry them
JSON-encoded as strings: :mod:`lanser.tasks.io` reads both, writes lists).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from typing import Any

from lanser.errors import UsageError
from lanser.resources import SCHEMAS

SCHEMA_FILE = SCHEMAS / "task-1.schema.json"
#: Where a task came from.
SOURCES = ("mined", "synth", "imported", "toml")


class BadTask(UsageError):
    """A task record that does not hold to the format (exit 2)."""

    code = "bad_task"


@dataclass(frozen=True)
class Validation:
    """How the task was checked: each listed test's outcome on base + test_patch
    (``before``) and with the reference patch too (``after``), over ``runs`` runs;
    ``flaky``: tests whose outcome changed between runs (dropped from the lists). No
    durations: a task is the same bytes every time it is made."""

    before: dict[str, str]
    after: dict[str, str]
    runs: int = 1
    flaky: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"before": dict(sorted(self.before.items())),
                "after": dict(sorted(self.after.items())), "runs": self.runs,
                "flaky": sorted(self.flaky)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Validation:
        return cls(dict(data["before"]), dict(data["after"]), int(data["runs"]),
                   tuple(data["flaky"]))


@dataclass(frozen=True)
class TaskMeta:
    """The ``lanser`` object of a task."""

    source: str = "mined"
    base_tree: str = ""
    #: pytest arguments of every run of this task's tests
    test_args: tuple[str, ...] = ()
    #: files the reward's ``targets`` scope looks at
    targets: tuple[str, ...] = ()
    #: globs grading restores from the task's tests besides the default ones (issue 16)
    protected: tuple[str, ...] = ()
    #: SWE-bench's convention: the agent does not see the test_patch unless this is set
    test_patch_visible: bool = False
    #: fail-to-pass tests graded but never shown to the agent (issue 16: special-casing
    #: the listed tests' inputs must still fail one); their code is in the test_patch
    hidden_tests: tuple[str, ...] = ()
    python: str = ""
    environment: str = ""
    #: where it came from (the mined commit, the mutation): for people, not grading
    origin: dict[str, Any] = field(default_factory=dict)
    validation: Validation | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": 1, "source": self.source, "base_tree": self.base_tree,
                               "test_args": list(self.test_args),
                               "targets": list(self.targets), "protected": list(self.protected),
                               "test_patch_visible": self.test_patch_visible,
                               "hidden_tests": list(self.hidden_tests),
                               "python": self.python, "environment": self.environment,
                               "origin": self.origin}
        if self.validation is not None:
            out["validation"] = self.validation.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskMeta:
        validation = data.get("validation")
        return cls(source=data.get("source", "imported"), base_tree=data.get("base_tree", ""),
                   test_args=tuple(data.get("test_args", ())),
                   targets=tuple(data.get("targets", ())),
                   protected=tuple(data.get("protected", ())),
                   test_patch_visible=bool(data.get("test_patch_visible", False)),
                   hidden_tests=tuple(data.get("hidden_tests", ())),
                   python=str(data.get("python", "")),
                   environment=str(data.get("environment", "")),
                   origin=dict(data.get("origin") or {}),
                   validation=None if validation is None else Validation.from_json(validation))


@dataclass(frozen=True)
class Found:
    """What making one task gave: the task, or the reason there is none (a name of
    :data:`lanser.tasks.REASONS`) and its detail. ``source`` is what it was made
    from: a mined commit, a synthesized mutation's id, an imported instance's id."""

    source: str
    task: Task | None = None
    reason: str | None = None
    detail: str = ""

    def to_json(self, source_key: str = "source") -> dict[str, str | None]:
        return {source_key: self.source,
                "instance_id": self.task.instance_id if self.task else None,
                "reason": self.reason, "detail": self.detail[:500]}


@dataclass(frozen=True)
class Task:
    """One task (module docstring). Field names are SWE-bench's, lower-cased for the
    two lists; :meth:`to_json` spells every key as SWE-bench does."""

    instance_id: str
    repo: str
    base_commit: str
    patch: str
    test_patch: str
    problem_statement: str
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...] = ()
    version: str = ""
    environment_setup_commit: str = ""
    created_at: str = ""
    hints_text: str = ""
    lanser: TaskMeta = field(default_factory=TaskMeta)

    def to_json(self) -> dict[str, Any]:
        out = {"instance_id": self.instance_id, "repo": self.repo,
               "base_commit": self.base_commit, "patch": self.patch,
               "test_patch": self.test_patch, "problem_statement": self.problem_statement,
               "hints_text": self.hints_text,
               "FAIL_TO_PASS": list(self.fail_to_pass), "PASS_TO_PASS": list(self.pass_to_pass),
               "version": self.version,
               "environment_setup_commit": self.environment_setup_commit,
               "created_at": self.created_at, "lanser": self.lanser.to_json()}
        check(out)
        return out

    @classmethod
    def from_json(cls, data: Any, where: str = "task") -> Task:
        """A task from its JSON object, validated (:class:`BadTask` names the field)."""
        check(data, where)
        return cls(instance_id=data["instance_id"], repo=data["repo"],
                   base_commit=data["base_commit"], patch=data.get("patch", ""),
                   test_patch=data.get("test_patch", ""),
                   problem_statement=data.get("problem_statement", ""),
                   fail_to_pass=tuple(data["FAIL_TO_PASS"]),
                   pass_to_pass=tuple(data.get("PASS_TO_PASS", ())),
                   version=data.get("version", ""),
                   environment_setup_commit=data.get("environment_setup_commit", ""),
                   created_at=data.get("created_at", ""), hints_text=data.get("hints_text", ""),
                   lanser=TaskMeta.from_json(data.get("lanser") or {}))

    def with_validation(self, validation: Validation, f2p: tuple[str, ...],
                        p2p: tuple[str, ...]) -> Task:
        return replace(self, fail_to_pass=f2p, pass_to_pass=p2p,
                       lanser=replace(self.lanser, validation=validation))

    def line(self) -> str:
        """The task as one JSONL line (sorted keys, no spaces, a newline)."""
        return json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False,
                          separators=(",", ":")) + "\n"


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    from lanser.bundles.schema import compile_schema

    return compile_schema(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def check(data: Any, where: str = "task") -> None:
    """Raise :class:`BadTask` unless ``data`` is a valid task object."""
    from lanser.bundles.schema import first_error

    error = first_error(_validator(), data)
    if error is not None:
        path, message = error
        raise BadTask(f"{where}: not a valid task at {path}: {message}")
