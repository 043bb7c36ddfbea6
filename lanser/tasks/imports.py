"""``lanser tasks import``: SWE-bench / SWE-Gym instances as lanser tasks.

Their files are JSON lists or JSONL of instances with SWE-bench's keys, the two test
lists often JSON-encoded as strings. Each instance needs its base commit in the local
clone given (``--repo-dir``); the base tree hash is taken from there. An instance
whose base is missing, or whose record lacks a key, is a rejection with its reason
(``base_missing``, ``bad_instance``), not the end of the import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lanser import git
from lanser.errors import UsageError
from lanser.jsonio import loads_bounded, read_text_bounded
from lanser.tasks.record import BadTask, Found, Task, TaskMeta

_TEXT_KEYS = ("instance_id", "repo", "base_commit", "patch", "test_patch",
              "problem_statement")


def read_instances(path: str | Path) -> list[Any]:
    text = read_text_bounded(path, limit=512 << 20, what="instances file")
    if text.lstrip().startswith("["):
        data = loads_bounded(text, what=str(path))
        return data if isinstance(data, list) else [data]
    return [loads_bounded(line, what=f"{path}:{n}")
            for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def import_instance(data: Any, repo_dir: Path) -> Found:
    if not isinstance(data, dict) or not isinstance(data.get("instance_id"), str):
        return Found("?", reason="bad_instance", detail="not an object with an instance_id")
    name = data["instance_id"]
    missing = [k for k in _TEXT_KEYS if not isinstance(data.get(k), str)]
    if missing:
        return Found(name, reason="bad_instance", detail="missing " + ", ".join(missing))
    try:
        lists = [_ids(data.get(key, [])) for key in ("FAIL_TO_PASS", "PASS_TO_PASS")]
    except ValueError as exc:
        return Found(name, reason="bad_instance", detail=str(exc))
    try:
        base = git.resolve(repo_dir, data["base_commit"])
        tree = git.resolve(repo_dir, base, "tree")
    except UsageError:
        return Found(name, reason="base_missing",
                        detail=f"{data['base_commit'][:12]} is not in {repo_dir.name}")
    meta = TaskMeta(source="imported", base_tree=tree, origin={"format": "swe-bench"})
    try:
        task = Task(name, data["repo"], base, data["patch"], data["test_patch"],
                    data["problem_statement"], lists[0], lists[1],
                    version=str(data.get("version") or ""),
                    environment_setup_commit=str(data.get("environment_setup_commit") or ""),
                    created_at=str(data.get("created_at") or ""),
                    hints_text=str(data.get("hints_text") or ""), lanser=meta)
        task.to_json()  # validated against the schema
    except BadTask as exc:
        return Found(name, reason="bad_instance", detail=exc.message)
    return Found(name, task)


def _ids(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):  # SWE-bench stores the lists JSON-encoded
        try:
            value = loads_bounded(value)
        except UsageError:
            raise ValueError("a test list is neither a list nor a JSON-encoded one") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("a test list must hold node ids (strings)")
    return tuple(value)
