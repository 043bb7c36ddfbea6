"""Servers that die or hang: answered after a restart, or a timeout in bounded time."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from lanser.lsp.registry import get_server
from lanser.lsp.service import LanguageService
from lanser.positions import Position
from lanser.workspace import Workspace
from tests.conftest import trust

DEFINITION = "textDocument/definition"

STUB = Path(__file__).parent / "servers" / "stub_server.py"
SOURCE = "def compute() -> int:\n    return 1\n\n\nvalue = compute()\n"


def stub_config(mode: str) -> str:
    return (f'[servers.stub]\ncommand = ["{sys.executable}", "{STUB}", "{mode}"]\n'
            'languages = ["python"]\n')


def stub_service(root: Path, mode: str, *, timeout: float = 30.0) -> LanguageService:
    (root / "lanser.toml").write_text(stub_config(mode))
    trust(root)
    ws = Workspace.open(root)
    return LanguageService(ws, get_server("stub", ws.config.servers), timeout=timeout)


@pytest.mark.parametrize("server", ["basedpyright", "pylsp"])
def test_killed_server_is_restarted_and_the_request_answered(workspace, server) -> None:
    root = workspace({"mod.py": SOURCE})

    async def run() -> tuple[list, list, int, list[bool]]:
        ws = Workspace.open(root)
        async with LanguageService(ws, get_server(server)) as service:
            before = await service.locations(DEFINITION, root / "mod.py", Position(5, 9))
            old_tasks = [*service.session._client._async_tasks, *service.session._tasks]
            os.kill(service.session.pid, signal.SIGKILL)
            await asyncio.sleep(0.5)  # let the exit be noticed (or not: both paths retry)
            after = await service.locations(DEFINITION, root / "mod.py", Position(5, 9))
            # The dead server's reader and stderr drain are gone, not piling up.
            released = [task.done() for task in old_tasks]
            released.append(len(service.session._tasks) == 1)
            return before, after, service.session.restarts, released

    before, after, restarts, released = asyncio.run(run())
    assert before == after and before[0].span.start == Position(1, 5)
    assert restarts == 1
    assert all(released), released


def test_server_killed_under_concurrent_diagnostic_pulls_restarts_once(workspace) -> None:
    """Whole-workspace diagnostics pull every file at once: a server that dies with
    all of them in flight is restarted once (not once per pull), and the answer is
    the one it gave before dying."""
    files = {f"m{i}.py": f"import m{(i + 1) % 12}\n\nx: int = 'not an int {i}'\n"
             for i in range(12)}
    root = workspace(files)

    async def run() -> tuple[list, list, int]:
        ws = Workspace.open(root)
        async with LanguageService(ws, get_server("basedpyright")) as service:
            before = await service.diagnostics()
            os.kill(service.session.pid, signal.SIGKILL)  # not yet noticed: pulls see it
            after = await service.diagnostics()
            return before, after, service.session.restarts

    before, after, restarts = asyncio.run(run())
    assert restarts == 1
    assert after == before
    assert len(before) == 12 and all(f.ready for f in before)
    assert all([d.severity for d in f.diagnostics].count("error") == 1 for f in before)


def test_server_that_never_answers_times_out(workspace, cli) -> None:
    root = workspace({"mod.py": SOURCE, "lanser.toml": stub_config("hang")})
    result = cli(["definition", "mod.py:5:9", "--server", "stub", "--json", "--timeout", "1"],
                 cwd=root, timeout=120)
    assert result.code == 3
    assert result.json["error"]["code"] == "timeout"
    assert "Traceback" not in result.stderr


def test_request_that_never_answers_times_out(workspace, cli) -> None:
    root = workspace({"mod.py": SOURCE, "lanser.toml": stub_config("hang-requests")})
    result = cli(["hover", "mod.py:5:9", "--server", "stub", "--json", "--timeout", "1"],
                 cwd=root, timeout=120)
    assert result.code == 3
    assert result.json["error"]["code"] == "timeout"
    assert "did not answer textDocument/hover" in result.json["error"]["message"]


def test_server_that_crashes_on_every_request_fails_cleanly(workspace, cli) -> None:
    root = workspace({"mod.py": SOURCE, "lanser.toml": stub_config("crash")})
    result = cli(["definition", "mod.py:5:9", "--server", "stub", "--json", "--timeout", "5"],
                 cwd=root, timeout=120)
    assert result.code == 3
    assert result.json["error"]["code"] == "server_crash"
    assert "Traceback" not in result.stderr


def test_server_that_floods_stderr_still_answers(workspace) -> None:
    """1 MiB of stderr before every answer: more than a pipe holds, so a client that
    did not drain it would leave the server blocked and time out."""
    root = workspace({"mod.py": SOURCE})

    async def run() -> tuple[list, object, int]:
        async with stub_service(root, "noisy", timeout=20) as service:
            found = await service.locations(DEFINITION, root / "mod.py", Position(5, 9))
            hover = await service.hover(root / "mod.py", Position(5, 9))
            return found, hover, len(service.session.stderr_tail)

    found, hover, tail = asyncio.run(run())
    assert found == [] and hover is None
    assert tail > 0


def test_late_unversioned_push_for_old_content_is_not_taken_as_fresh(workspace) -> None:
    """The stub publishes without versions and, on a change, first re-publishes the
    previous content's diagnostics: the answer must be the new content's."""
    root = workspace({"mod.py": SOURCE})

    async def run() -> tuple[list, list]:
        async with stub_service(root, "push-unversioned", timeout=20) as service:
            (first,) = await service.diagnostics([root / "mod.py"])
            (root / "mod.py").write_text("# fresh\n" + SOURCE)
            (second,) = await service.diagnostics([root / "mod.py"])
            return ([d.message for d in first.diagnostics],
                    [d.message for d in second.diagnostics])

    first, second = asyncio.run(run())
    assert first == ["def compute() -> int:"]
    assert second == ["# fresh"]
