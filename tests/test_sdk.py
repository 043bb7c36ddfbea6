"""The Python SDK: the README's examples run as written, on the demo workspace."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import lanser
from lanser.episodes.demo import prepare_workspace
from tests.conftest import REPO, run_cli


def _readme_examples() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python SDK", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Path]:
    """The demo workspace with its daemon running (the README's "warm answers"): the
    examples' queries share one warm server instead of starting one each. Started and
    stopped by the CLI in a subprocess, as a user would: a daemon that is this
    process's own child would linger as a zombie that ``stop`` waits out."""
    root = prepare_workspace(tmp_path_factory.mktemp("sdk") / "demo")
    started = run_cli(["daemon", "start"], cwd=root)
    assert started.code == 0, started.stderr
    yield root
    run_cli(["daemon", "stop"], cwd=root)


@pytest.mark.parametrize("index", range(2))
def test_readme_examples_run(demo, monkeypatch, index):
    examples = _readme_examples()
    assert len(examples) == 2
    monkeypatch.chdir(demo)
    exec(compile(examples[index], f"README.md (python example {index + 1})", "exec"), {})


def test_errors_are_lanser_errors_and_the_sync_client_refuses_a_running_loop(demo):
    client = lanser.Client(demo)
    with pytest.raises(lanser.UsageError) as bad:
        client.definition("inventory/nowhere.py:1:1")
    assert bad.value.code == "missing_file"

    async def inside() -> None:
        client.definition("inventory/stock.py:1:1")

    with pytest.raises(lanser.UsageError, match="AsyncClient"):
        asyncio.run(inside())
