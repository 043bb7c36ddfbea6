"""The demo: lanser's main job on the bundled example workspace (``examples/demo``).

The example is copied to a temporary directory and made a git repository, so the
demo never writes into the checkout and runs exactly what users run.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from lanser import git
from lanser.errors import UsageError
from lanser.resources import DEMO


def example_source() -> Path:
    if not DEMO.is_dir():
        raise UsageError(
            f"the demo example is missing ({DEMO}): this installation of lanser lacks "
            "its data files; reinstall it", code="missing_example",
        )
    return DEMO


def prepare_workspace(dest: Path) -> Path:
    """Copy the example to ``dest`` and commit it to a fresh git repository."""
    shutil.copytree(example_source(), dest, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    env_args = ["-c", "user.name=lanser-demo", "-c", "user.email=demo@lanser.invalid",
                "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "demo base"]):
        git.run(dest, *env_args, *cmd)
    return dest


#: The scripted agent of the demo episode: what each step means, and the action.
SCRIPT: tuple[tuple[str, dict[str, Any]], ...] = (
    ("hover Stock.remove", {"action": "query", "op": "hover",
                              "at": "inventory/stock.py::Stock.remove"}),
    ("typo fix", {"action": "edit",
                           "at": 'inventory/stock.py@"self.level(item) + quantity"',
                           "text": "self.level(item) - quantiy"}),
    ("fix Stock.remove", {"action": "edit",
                          "at": 'inventory/stock.py@"self.level(item) + quantity"',
                          "text": "self.level(item) - quantity"}),
    ("fix summary()", {"action": "patch", "diff": (
        "--- a/inventory/report.py\n+++ b/inventory/report.py\n@@ -14,2 +14,2 @@\n"
        "     count: int = stock.total()\n"
        '-    return "items on hand: " + count\n'
        '+    return f"items on hand: {count}"\n')}),
    ("write ../escape.py", {"action": "edit", "path": "../escape.py",
                                    "content": "print('out')\n"}),
    ("run tests", {"action": "test"}),
    ("submit", {"action": "submit"}),
)
#: The demo task: the tests the bug and the type error break, and one that must keep passing.
TASK = {"name": "demo: fix Stock.remove and report.summary",
        "fail_to_pass": ["tests/test_report.py::test_summary",
                         "tests/test_stock.py::test_remove_lowers_level"],
        "pass_to_pass": ["tests/test_report.py::test_low_items",
                         "tests/test_stock.py::test_add_then_level",
                         "tests/test_stock.py::test_remove_too_many_raises"]}


async def run_episode(root: Path, *, server: str = "basedpyright", profile: str = "default",
                      timeout: float = 60.0) -> dict[str, Any]:
    """Record the scripted episode on the example at ``root``, then replay it offline."""
    from lanser.episodes.format import load
    from lanser.episodes.recorder import record
    from lanser.episodes.replay import replay
    from lanser.episodes.task import TaskSpec
    from lanser.lsp.registry import get_server
    from lanser.rewards import load_profile
    from lanser.workspace import Workspace

    workspace = Workspace.open(root)
    out = workspace.state_dir / "episodes" / "demo.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    task = TaskSpec(TASK["name"], fail_to_pass=tuple(TASK["fail_to_pass"]),
                    pass_to_pass=tuple(TASK["pass_to_pass"]))
    observations: list[dict[str, Any]] = []
    footer: dict[str, Any] = {}
    await record(workspace, [action for _, action in SCRIPT], out,
                 profile=load_profile(profile), task=task, spec=get_server(server),
                 timeout=timeout, test_timeout=30.0, on_observation=observations.append,
                 on_footer=footer.update)
    for (label, _), observation in zip(SCRIPT, observations, strict=False):
        observation["label"] = label
    replayed = replay(workspace, load(out))
    return {"episode": str(out), "steps": observations, "footer": footer,
            "replay": replayed.to_json()}
