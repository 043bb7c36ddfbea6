"""Where the trainer's rewards come from: anything with ``score_group``.

The loop needs one thing of a reward source: given a task id and a group of
completions, one :class:`Score` per completion, in order. That is the shape of the
scoring issue's ``lanser.scoring.Scorer.score_group`` (warm workers, every completion
format parsed); :class:`ScorerSource` adapts it when the package is there.

Until then :class:`WorkspaceSource` scores through lanser's one-shot reward
(``lanser reward --patch``, :mod:`lanser.episodes.oneshot`): the completion's patch on
the task's base in a scratch copy, real basedpyright diagnostics and a real sandboxed
pytest run before and after, the functional's components and ``resolved``. It is
slower (a server start per distinct completion) but it is lanser's real reward, so
the loop is scored by lanser either way. Identical patches in a group are scored once
(the one-shot reward of the same patch on the same base is the same bytes).

A completion is turned into a patch by :func:`extract_patch`: a unified diff (fenced
or bare), SEARCH/REPLACE blocks, or whole files (a path line, then a fenced block),
the last two converted to a unified diff against the base. A whole file identical
to the base is the empty change (reward 0), not prose.
Text that is neither is scored as the one text :data:`NO_PATCH` (the one-shot path
treats it as an invalid action: its penalty, never an error), so every sample gets a
number and all prose in a task's groups costs one scoring.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lanser.train.tasks import TrainTask


@dataclass(frozen=True)
class Score:
    """One completion's reward: the total, its components, and whether it resolved the task."""

    reward: float
    resolved: bool = False
    reason: str | None = None
    components: Mapping[str, float] = field(default_factory=dict)


class RewardSource(Protocol):
    """Anything that scores a task's group of completions (``Scorer.score_group``'s shape)."""

    def score_group(self, instance_id: str, completions: Sequence[str]) -> list[Score]: ...


#: What a completion without a patch is scored as (an invalid action, whatever the prose).
NO_PATCH = "(no patch in the completion)"

_FENCE = re.compile(r"```(?:diff|patch)?[ \t]*\n(.*?)```", re.S)
# A whole file: its path on a line (as the prompt's context headers write it, or bare),
# then a fenced block with the file's new content.
_WHOLE = re.compile(r"(?m)^#*\s*`?(?P<path>[\w./-]+\.\w+)`?(?:\s*\(lines [0-9-]+\))?:?\s*\n"
                    r"```[\w+-]*[ \t]*\n(?P<body>.*?)^```", re.S)
_BLOCK = re.compile(r"(?m)^(?P<path>[^\n<>=]+?)\s*\n<<<<<<< SEARCH\n(?P<search>.*?)"
                    r"^=======\n(?P<replace>.*?)^>>>>>>> REPLACE", re.S)


def extract_patch(text: str, root: Path) -> str | None:
    """A unified diff from ``text`` (see module docstring); None when there is none."""
    blocks = list(_BLOCK.finditer(text))
    if blocks:
        return _search_replace(blocks, root)
    wholes = list(_WHOLE.finditer(text))
    if wholes:
        return _whole_files(wholes, root)
    fenced = [m.group(1) for m in _FENCE.finditer(text)]
    for candidate in [*fenced, text]:
        start = re.search(r"(?m)^(diff --git |--- )", candidate)
        if start and "\n+++ " in candidate and "\n@@" in candidate:
            body = candidate[start.start():]
            return body if body.endswith("\n") else body + "\n"
    return None


def _search_replace(blocks: list[re.Match[str]], root: Path) -> str | None:
    """SEARCH/REPLACE blocks applied to the base files, as one unified diff."""
    files: dict[str, tuple[str, str]] = {}
    for block in blocks:
        rel = block.group("path").strip().strip("`")
        target = (root / rel).resolve()
        if not target.is_relative_to(root.resolve()) or not target.is_file():
            return None
        before, current = files.get(rel) or (target.read_text(encoding="utf-8"),) * 2
        search = block.group("search")
        if search not in current:
            return None
        files[rel] = (before, current.replace(search, block.group("replace"), 1))
    out = []
    for rel, (before, after) in sorted(files.items()):
        out.extend(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        f"a/{rel}", f"b/{rel}"))
    text = "".join(out)
    return text or None


def _whole_files(blocks: list[re.Match[str]], root: Path) -> str | None:
    """Whole-file answers as one unified diff against the base (existing files only)."""
    out = []
    for block in blocks:
        rel = block.group("path")
        target = (root / rel).resolve()
        if not target.is_relative_to(root.resolve()) or not target.is_file():
            return None
        before = target.read_text(encoding="utf-8")
        out.extend(difflib.unified_diff(before.splitlines(True),
                                        block.group("body").splitlines(True),
                                        f"a/{rel}", f"b/{rel}"))
    return "".join(out) or ""


class WorkspaceSource:
    """Scores completions with lanser's one-shot reward on each task's workspace."""

    def __init__(self, tasks: Sequence[TrainTask], *, profile: str = "train",
                 server: str | None = None, timeout: float = 60.0,
                 test_timeout: float = 30.0) -> None:
        self.tasks = {t.instance_id: t for t in tasks}
        self.profile_name = profile
        self.server = server
        self.timeout = timeout
        self.test_timeout = test_timeout
        self._cache: dict[tuple[str, str], Score] = {}

    def score_group(self, instance_id: str, completions: Sequence[str]) -> list[Score]:
        task = self.tasks[instance_id]
        found = [extract_patch(c, task.root) for c in completions]
        patches = [NO_PATCH if p is None else p for p in found]
        for patch in dict.fromkeys(patches):
            if (instance_id, patch) not in self._cache:
                self._cache[instance_id, patch] = self._score(task, patch)
        return [self._cache[instance_id, p] for p in patches]

    def _score(self, task: TrainTask, patch: str) -> Score:
        from lanser.episodes import oneshot
        from lanser.lsp.registry import get_server
        from lanser.rewards import profile_for_workspace
        from lanser.workspace import Workspace

        workspace = Workspace.open(task.root)
        profile = profile_for_workspace(workspace.config.section("rewards"),
                                        self.profile_name, workspace.root)
        spec = get_server(self.server or workspace.config.server, workspace.config.servers)
        result = asyncio.run(oneshot.score(
            workspace, before="HEAD", patch=patch, profile=profile, task=_task_spec(task),
            spec=spec, timeout=self.timeout, test_timeout=self.test_timeout))
        payload = result.to_json()
        return Score(float(payload["total"]), bool(payload["after"]["resolved"]),
                     result.info.reason or result.info.status,
                     {k: float(v["float"]) for k, v in payload["components"].items()})


def _task_spec(task: TrainTask) -> Any:
    """The one-shot path's task record (moved to lanser.runner.grading by the tasks issue)."""
    try:
        from lanser.runner.grading import TaskSpec  # type: ignore[attr-defined]
    except ImportError:
        from lanser.episodes.task import TaskSpec  # type: ignore[no-redef]
    return TaskSpec(name=task.instance_id, targets=task.targets,
                    fail_to_pass=task.fail_to_pass, pass_to_pass=task.pass_to_pass,
                    test_args=task.test_args)


class ScorerSource:
    """Adapts the scoring issue's ``lanser.scoring.Scorer`` (imported only here)."""

    def __init__(self, scorer: Any) -> None:
        self.scorer = scorer

    @classmethod
    def available(cls) -> bool:
        import importlib.util

        return importlib.util.find_spec("lanser.scoring") is not None

    def score_group(self, instance_id: str, completions: Sequence[str]) -> list[Score]:
        results = self.scorer.score_group(instance_id, list(completions))
        return [Score(float(r.reward), _resolved(r), getattr(r, "reason", None),
                      {k: float(v) for k, v in dict(getattr(r, "components", {}) or {})
                       .items() if isinstance(v, (int, float))})
                for r in results]


def _resolved(result: Any) -> bool:
    value = getattr(result, "resolved", None)
    return bool(value) if value is not None else False


__all__ = ["NO_PATCH", "RewardSource", "Score", "ScorerSource", "WorkspaceSource", "extract_patch"]
