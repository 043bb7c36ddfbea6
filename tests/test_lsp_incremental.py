"""Incremental whole-workspace diagnostics equal a full pull, on real servers.

A tracked service (the daemon's, an episode's) answers the whole workspace by asking
only the files a change can affect (:mod:`lanser.lsp.dependents`). Each edit below
is one the rules must see through: a body edit (one file asked), a signature change
(importers, transitively, and through a star import and a relative one), a member
declared in a method body, a protocol member that stops being a placeholder, an
``async def`` that starts yielding, a rollback (no request at all), a new file and
a deleted one (everything asked). After every edit the answer must be exactly what
asking the server for every file gives, and the importers' diagnostics must really
have moved where an edit reaches them (so the test could fail).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lanser.lsp.registry import get_server
from lanser.lsp.service import LanguageService
from lanser.workspace import Workspace

# Whole-module slow: the quick loop (-m 'not slow') leaves it to the full suite.
pytestmark = pytest.mark.slow

BASE = '''from typing import AsyncIterator, Protocol


class Base:
    def __init__(self) -> None:
        self.count = 0

    def bump(self) -> int:
        return self.count + 1


class Greeter(Protocol):
    def greet(self) -> str:
        ...


async def load() -> int:
    return 1


async def stream() -> AsyncIterator[int]:
    for _ in ():
        pass
    raise StopAsyncIteration


def helper(x: int) -> int:
    return x
'''

FILES = {
    "pkg/__init__.py": "",
    "pkg/base.py": BASE,
    "pkg/user.py": '''from pkg.base import Base, Greeter, helper, load, stream


class Impl(Greeter):
    pass


def run() -> int:
    Impl()
    return Base().count + helper(1)


async def go() -> int:
    return await load()


async def consume() -> None:
    async for value in stream():
        print(value)
''',
    "pkg/far.py": "from pkg.user import run\n\nvalue: int = run()\n",
    "pkg/again.py": "from pkg.base import helper\n\n\ndef twice(x: int) -> int:\n"
                    "    return x * 2\n",
    "pkg/farther.py": "from pkg.again import helper\n\nv: int = helper(1)\n",
    "star.py": "from pkg.base import *\n\nz: int = helper(1)\n",
    "rel/__init__.py": "",
    "rel/a.py": "def f() -> int:\n    return 1\n",
    "rel/b.py": "from . import a\n\nr: int = a.f()\n",
    "lone.py": "x: int = 1\n",
}

#: (file, old, new, files whose diagnostics must change, requests at most)
EDITS = [
    ("pkg/base.py", "    return x\n", "    return x + 1\n", set(), 1),
    ("pkg/base.py", "def helper(x: int) -> int:", "def helper(x: int) -> str:",
     {"pkg/base.py", "pkg/user.py", "star.py"}, None),
    ("pkg/base.py", "        self.count = 0", "        self.count = 'zero'",
     {"pkg/user.py"}, None),
    ("pkg/base.py", "        ...\n", "        return 'hi'\n", {"pkg/user.py"}, None),
    ("pkg/base.py", "        pass\n    raise StopAsyncIteration", "        yield 1\n    raise "
     "StopAsyncIteration", {"pkg/user.py"}, None),
    ("rel/a.py", "def f() -> int:", "def f() -> str:", {"rel/a.py", "rel/b.py"}, None),
    ("rel/a.py", "    return 1", "    return 2", set(), 1),
    ("pkg/far.py", "value: int", "value: str", {"pkg/far.py"}, None),
    # Two files in one step: a signature, and a body of a file that passes it on.
    ((("pkg/base.py", "def helper(x: int) -> str:", "def helper(x: int) -> bytes:"),
      ("pkg/again.py", "x * 2", "x * 3")), None, None, {"pkg/farther.py"}, None),
]


def summary(answer) -> dict[str, list[tuple]]:
    return {f.path: [(d.span, d.code, d.message) for d in f.diagnostics] for f in answer}


async def check_edits(root: Path, server: str, edits, delete: str = "lone.py") -> None:
    service = LanguageService(Workspace.open(root), get_server(server), timeout=60,
                              track_disk=True)
    async with service:
        asked_for: list[Path] = []
        ask = service.session.diagnostics

        async def counted(doc, **kwargs):  # a spy: every file asked, pull or push
            asked_for.append(doc.path)
            return await ask(doc, **kwargs)

        service.session.diagnostics = counted

        async def both() -> tuple[list, list, int]:
            asked_for.clear()
            incremental = await service.diagnostics()
            asked = len(asked_for)
            full = await service._pull(list(service._paths.values()), None)
            return incremental, full, asked

        originals = {p: p.read_bytes() for p in service._paths.values()}
        first, full, _ = await both()
        assert first == full
        states = [summary(first)]
        for rel, old, new, moved, most in edits:
            # One file, or several in one step: (((file, old, new), ...), None, None, ...)
            for one, before, after in rel if isinstance(rel, tuple) else ((rel, old, new),):
                path = root / one
                text = path.read_text()
                assert before in text, (one, before)
                path.write_text(text.replace(before, after, 1))
            incremental, full, asked = await both()
            assert incremental == full, (rel, new)
            now = summary(incremental)
            changed = {p for p in now if now[p] != states[-1].get(p)}
            if server == "basedpyright":
                assert moved <= changed, (rel, new, changed)
            if most is not None:
                assert asked <= most, (rel, new, asked)
            states.append(now)

        # Back to the first state: remembered, so not a single request.
        for path, content in originals.items():
            path.write_bytes(content)
        asked_for.clear()
        assert summary(await service.diagnostics()) == states[0]
        assert asked_for == []

        # A new file, then a deleted one: every file is asked again.
        (root / "new.py").write_text("from lone import x\n\ny: str = x + missing\n")
        incremental, full, asked = await both()
        assert incremental == full and asked == len(full)
        assert summary(incremental)["new.py"]
        (root / delete).unlink()
        incremental, full, asked = await both()
        assert incremental == full and asked == len(full)


def test_incremental_answers_equal_full_pulls_on_basedpyright(workspace) -> None:
    asyncio.run(check_edits(workspace(FILES, git_repo=True), "basedpyright", EDITS))


@pytest.mark.timeout(300)
def test_incremental_answers_equal_full_pulls_on_pylsp(workspace) -> None:
    # pylsp's diagnostics are per file (pyflakes), pushed, not pulled: the same
    # reuse must hold for a push server.
    asyncio.run(check_edits(workspace(FILES, git_repo=True), "pylsp", EDITS))


def chain_module(k: int) -> str:
    """Module k of a chain: it imports module k-1 and uses its class, function and member."""
    head = (f"from pkg.m{k - 1} import Record{k - 1}, total{k - 1}\n" if k else "import os\n")
    use = (f"\n\ndef chain{k}() -> int:\n    first = Record{k - 1}(1)\n"
           f"    return total{k - 1}([first]) + first.value\n") if k else ""
    return (f"{head}\n\nclass Record{k}:\n    def __init__(self, value: int) -> None:\n"
            f"        self.value = value\n\n\ndef total{k}(records: list[Record{k}]) -> int:\n"
            f"    return sum(r.value for r in records)\n\n\ndef broken{k}() -> int:\n"
            f"    return 0\n{use}")


#: Edits that toggle: (old, new); a random one of them applies to a random module.
TOGGLES = [
    ("    return 0\n", "    return 'no'\n"),                         # a body: own error only
    ("    return sum(r.value for r in records)", "    return len(records)"),  # body, no error
    ("]) -> int:\n    return sum", "]) -> str:\n    return sum"),   # a signature: importers
    ("        self.value = value", "        self.value = str(value)"),  # a member's type
    ("\n\nclass Record", "\nLIMIT = 'x'\n\nclass Record"),          # module level, unused
]


@pytest.mark.parametrize("seed", [1, 2])
def test_random_edits_keep_incremental_answers_exact(workspace, seed) -> None:
    import random

    files = {"pkg/__init__.py": "", **{f"pkg/m{k}.py": chain_module(k) for k in range(8)}}
    root = workspace(files, git_repo=True)
    rng = random.Random(seed)
    edits = []
    for _ in range(12):  # fewer than the states a service remembers (the rollback)
        rel = f"pkg/m{rng.randrange(8)}.py"
        old, new = rng.choice(TOGGLES)
        text = (root / rel).read_text()  # the edit is planned on the text it will meet
        if old not in text:
            old, new = new, old
        if old in text:
            edits.append((rel, old, new, set(), None))
            (root / rel).write_text(text.replace(old, new, 1))
    for rel in files:  # check_edits applies them from the start
        (root / rel).write_text(files[rel])
    asyncio.run(check_edits(root, "basedpyright", edits, delete="pkg/m7.py"))
