"""The demo: lanser's main job on the bundled example workspace (``examples/demo``).

The example is copied to a temporary directory and made a git repository, so the
demo never writes into the checkout and runs exactly what users run.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from lanser.errors import UsageError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "demo"


def example_source() -> Path:
    if not EXAMPLE.is_dir():
        raise UsageError(
            f"the demo example is missing ({EXAMPLE}); install lanser from its source "
            "checkout (pip install -e .)", code="missing_example",
        )
    return EXAMPLE


def prepare_workspace(dest: Path) -> Path:
    """Copy the example to ``dest`` and commit it to a fresh git repository."""
    shutil.copytree(example_source(), dest, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    env_args = ["-c", "user.name=lanser-demo", "-c", "user.email=demo@lanser.invalid",
                "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "demo base"]):
        subprocess.run(["git", *env_args, *cmd], cwd=dest, check=True, capture_output=True)
    return dest


async def language_tour(root: Path, server: str = "basedpyright",
                        timeout: float = 60.0) -> dict[str, Any]:
    """Diagnostics of the whole example, then the facts an agent asks for first."""
    from lanser.lsp.operations import execute
    from lanser.lsp.registry import get_server
    from lanser.lsp.service import LanguageService
    from lanser.workspace import Workspace

    workspace = Workspace.open(root)
    requests = [
        {"op": "diagnostics"},
        {"op": "definition", "path": "inventory/report.py", "line": 8, "col": 22},
        {"op": "hover", "path": "inventory/stock.py", "line": 17, "col": 36},
        {"op": "references", "path": "inventory/stock.py", "line": 22, "col": 9,
         "include_declaration": True},
    ]
    async with LanguageService(workspace, get_server(server), timeout=timeout) as service:
        steps = [{"request": r, "answer": await execute(service, r)} for r in requests]
        return {"server": service.server_info(), "steps": steps}
