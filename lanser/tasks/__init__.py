"""Verifiable SWE tasks (issue 18): the record, its files, mining, validation, views.

- :class:`Task` (:mod:`lanser.tasks.record`): SWE-bench's keys plus a ``lanser``
  object; :func:`load_tasks` / :func:`append_task` / :func:`write_tasks` read and
  write JSONL, validated against ``bundles/schema/task-1.schema.json``.
- :func:`mine` (:mod:`lanser.tasks.mine`): tasks from a git history.
- :func:`check_sides` / :func:`validate_task` (:mod:`lanser.tasks.validate`): run a
  candidate's tests before and after its patch in the sandbox; the verdict.
- :func:`agent_view` (:mod:`lanser.tasks.trees`): the base as the agent sees it, with
  no history; grading materializes base + candidate + test_patch itself
  (:mod:`lanser.scoring.grader`, :mod:`lanser.rewards.integrity`).
Predictions are graded by :mod:`lanser.scoring.predictions` (the Scorer lives above).
"""

from lanser.tasks.io import append_task, load_tasks, seen_ids, task_from_file, write_tasks
from lanser.tasks.mine import mine
from lanser.tasks.record import BadTask, Found, Task, TaskMeta, Validation
from lanser.tasks.trees import agent_view, is_test_path
from lanser.tasks.validate import REASONS, check_sides, validate_task

__all__ = ["REASONS", "BadTask", "Found", "Task", "TaskMeta", "Validation", "agent_view",
           "append_task", "check_sides", "is_test_path", "load_tasks", "mine", "seen_ids",
           "task_from_file", "validate_task", "write_tasks"]
