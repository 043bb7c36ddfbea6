"""References and rename reach every Python file of the workspace (issue 15, defect 5),
on a real git repository whose ``[tool.pyright] include`` is narrower than it, as
real projects' often is; and the answer is the same cold or after the server has
seen every file for diagnostics (what a warm daemon has done)."""

from __future__ import annotations

import asyncio

import pytest

from lanser.edits import flows
from lanser.lsp.registry import get_server
from lanser.lsp.service import LanguageService
from lanser.positions import Position
from lanser.workspace import Workspace

NARROW = {
    "pyproject.toml": '[tool.pyright]\ninclude = ["src"]\n',
    "src/pkg/__init__.py": "",
    "src/pkg/core.py": "def run() -> int:\n    return 1\n",
    "tests/test_core.py": "from pkg.core import run\n\n\ndef test_run():\n    assert run() == 1\n",
    "examples/demo.py": "from pkg.core import run\n\nprint(run())\n",
}


@pytest.mark.slow
def test_references_and_rename_reach_outside_the_servers_include(workspace):
    root = workspace(NARROW, git_repo=True)
    ws = Workspace.open(root)
    spec = get_server("basedpyright")
    core = root / "src/pkg/core.py"

    async def go():
        async with LanguageService(ws, spec, timeout=60) as service:
            cold = await service.references(core, Position(1, 5))
            await service.diagnostics()  # the server has now seen every file
            warm = await service.references(core, Position(1, 5))
            renamed = await flows.rename(ws, spec, core, Position(1, 5), "start",
                                         service=service)
            return cold, warm, renamed

    cold, warm, renamed = asyncio.run(go())
    assert {loc.path for loc in cold} == {"examples/demo.py", "tests/test_core.py"}
    assert [loc.to_json() for loc in cold] == [loc.to_json() for loc in warm]
    assert set(renamed.preview.paths) == {"src/pkg/core.py", "tests/test_core.py",
                                          "examples/demo.py"}
