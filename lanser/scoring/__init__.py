"""Scoring at trainer speed: model completions in, rewards out (issue 19).

::

    from lanser.scoring import Scorer, load_tasks, parse_completion
    with Scorer(load_tasks("tasks.jsonl", repo_dir="clone"), "default", workers=4) as s:
        rewards = [r.reward for r in s.score_group("calc-1", completions)]

Layers: :mod:`.parse` and :mod:`.tools` read a completion (no I/O);
:mod:`.patching` locates its blocks; :mod:`.grader` keeps one task's workspace warm;
:mod:`.worker` is one process of graders; :mod:`.executor` runs workers (local
processes; a Ray executor implements the same ``submit``/``close``);
:mod:`.scorer` is the facade; :mod:`.adapters` shapes it for TRL, verl and OpenRLHF.
The contract (formats, reasons, statuses) is ``rewards/SCORING.md``.
"""

from lanser.scoring.completion import parse_completion
from lanser.scoring.parse import FORMATS, Parsed
from lanser.scoring.result import ScoreResult
from lanser.scoring.scorer import Scorer
from lanser.scoring.tasks import ScoringTask, load_tasks
from lanser.scoring.tools import tool_schemas

__all__ = ["FORMATS", "Parsed", "ScoreResult", "Scorer", "ScoringTask", "load_tasks",
           "parse_completion", "tool_schemas"]
