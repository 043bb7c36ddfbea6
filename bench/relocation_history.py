"""A synthetic but realistic git history for the relocation benchmark.

Real repositories with long Python histories are not always at hand (no network), so
this writes one: a package of modules with classes, methods and functions whose bodies
call each other, then commits that apply the edits real histories are made of --
functions added, deleted, renamed (with their call sites), moved to another module,
reordered, bodies edited, imports and comments inserted, code copy-pasted under a new
name (the case that makes a naive anchor confidently wrong). Deterministic per seed.

    python bench/relocation_history.py DIR [--commits 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

_WORDS = ["load", "save", "parse", "render", "merge", "split", "count", "check", "build",
          "fetch", "store", "scan", "emit", "flush", "index", "match", "score", "apply",
          "route", "encode", "decode", "resolve", "update", "filter", "group", "sort"]
_NOUNS = ["item", "record", "config", "token", "frame", "batch", "entry", "node", "path",
          "query", "table", "event", "user", "cache", "graph", "block", "page", "chunk"]
_CLASSES = ["Store", "Parser", "Builder", "Index", "Router", "Encoder", "Scanner", "Queue",
            "Registry", "Session", "Planner", "Tracker"]


@dataclass
class Item:
    """A top-level function or class, as lines of source."""

    name: str
    lines: list[str]


@dataclass
class Module:
    path: str
    header: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    def render(self) -> str:
        out = list(self.header)
        for item in self.items:
            out.extend(["", ""])
            out.extend(item.lines)
        return "\n".join(out).rstrip("\n") + "\n"


class History:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.used: set[str] = set()
        self.modules: list[Module] = []

    def fresh(self, pool: list[str] | None = None) -> str:
        for _ in range(1000):
            if pool:
                name = self.rng.choice(pool)
            else:
                name = f"{self.rng.choice(_WORDS)}_{self.rng.choice(_NOUNS)}"
            if name not in self.used:
                self.used.add(name)
                return name
        name = f"fn_{len(self.used)}"
        self.used.add(name)
        return name

    def all_functions(self) -> list[str]:
        return [i.name for m in self.modules for i in m.items if i.name[0].islower()]

    def statement(self, indent: str, params: list[str]) -> list[str]:
        rng = self.rng
        var = rng.choice(_NOUNS)
        arg = rng.choice(params) if params else str(rng.randint(0, 9))
        calls = self.all_functions()
        callee = rng.choice(calls) if calls and rng.random() < 0.5 else None
        shapes = [
            [f"{var} = {arg} + {rng.randint(1, 99)}"],
            [f"{var} = [x for x in range({rng.randint(2, 20)}) if x % {rng.randint(2, 5)}]"],
            [f"if {arg} is None:", f"    {arg} = {{}}"],
            [f"{var}_count = len(str({arg})) * {rng.randint(2, 9)}"],
            [f"for {var} in sorted(str({arg})):", f"    total = {var}.upper()"],
            [f"{var} = {callee}({arg})" if callee else f"{var} = str({arg}).strip()"],
            [f"result = {{'{var}': {arg}, 'n': {rng.randint(1, 500)}}}"],
        ]
        return [indent + line for line in rng.choice(shapes)]

    def function(self, name: str, indent: str = "", method: bool = False) -> list[str]:
        params = [self.rng.choice(_NOUNS) for _ in range(self.rng.randint(0, 3))]
        params = list(dict.fromkeys(params))
        sig = ", ".join((["self"] if method else []) + params)
        lines = [f"{indent}def {name}({sig}):"]
        if self.rng.random() < 0.4:
            lines.append(f'{indent}    """{name.replace("_", " ").capitalize()}."""')
        for _ in range(self.rng.randint(1, 5)):
            lines.extend(self.statement(indent + "    ", params))
        lines.append(f"{indent}    return {self.rng.choice(params) if params else 'None'}")
        return lines

    def klass(self, name: str) -> list[str]:
        lines = [f"class {name}:", f'    """A {name.lower()}."""', ""]
        lines.extend(["    def __init__(self):", f"        self._{name.lower()} = {{}}"])
        for _ in range(self.rng.randint(1, 4)):
            lines.append("")
            lines.extend(self.function(self.fresh(), "    ", method=True))
        return lines

    def new_item(self) -> Item:
        if self.rng.random() < 0.25:
            name = self.fresh(_CLASSES)
            return Item(name, self.klass(name))
        name = self.fresh()
        return Item(name, self.function(name))

    def initial(self, n_modules: int = 6) -> None:
        for k in range(n_modules):
            mod = Module(f"src/app/mod{k}.py", [f'"""Module {k}."""', "import os", "import sys"])
            self.modules.append(mod)
            for _ in range(self.rng.randint(4, 9)):
                mod.items.append(self.new_item())

    # -- edits ----------------------------------------------------------------

    def edit(self) -> str:
        rng = self.rng
        mod = rng.choice(self.modules)
        kinds = ["add", "delete", "rename", "body", "body", "body", "insert_top", "move",
                 "swap", "comment", "copy", "method"]
        kind = rng.choice(kinds)
        if not mod.items:
            kind = "add"
        item = rng.choice(mod.items) if mod.items else None
        if kind == "add":
            mod.items.insert(rng.randint(0, len(mod.items)), self.new_item())
        elif kind == "delete" and len(mod.items) > 2:
            mod.items.remove(item)
        elif kind == "rename" and item is not None:
            new = self.fresh(_CLASSES if item.name[0].isupper() else None)
            pattern = re.compile(rf"\b{re.escape(item.name)}\b")
            for m in self.modules:
                for it in m.items:
                    it.lines = [pattern.sub(new, line) for line in it.lines]
            item.name = new
        elif kind == "body" and item is not None:
            body = [i for i, line in enumerate(item.lines)
                    if line.startswith("    ") and "def " not in line and '"""' not in line]
            if body:
                i = rng.choice(body)
                indent = item.lines[i][: len(item.lines[i]) - len(item.lines[i].lstrip())]
                if rng.random() < 0.5:
                    item.lines[i] = re.sub(r"\d+", lambda m: str(int(m.group()) + 1),
                                           item.lines[i], count=1)
                else:
                    item.lines[i:i] = self.statement(indent, ["value"])
        elif kind == "insert_top":
            mod.header.insert(rng.randint(1, len(mod.header)),
                              f"import {rng.choice(['json', 're', 'math', 'time', 'typing'])}")
        elif kind == "move" and item is not None and len(self.modules) > 1:
            other = rng.choice([m for m in self.modules if m is not mod])
            mod.items.remove(item)
            other.items.insert(rng.randint(0, len(other.items)), item)
        elif kind == "swap" and len(mod.items) > 1:
            i = rng.randrange(len(mod.items) - 1)
            mod.items[i], mod.items[i + 1] = mod.items[i + 1], mod.items[i]
        elif kind == "comment" and item is not None:
            item.lines.insert(0, f"# {rng.choice(_WORDS)} the {rng.choice(_NOUNS)} first")
        elif kind == "copy" and item is not None and item.name[0].islower():
            new = self.fresh()
            lines = [re.sub(rf"\b{re.escape(item.name)}\b", new, line) for line in item.lines]
            mod.items.insert(mod.items.index(item) + 1, Item(new, lines))
        elif kind == "method" and item is not None and item.name[0].isupper():
            item.lines.extend(["", *self.function(self.fresh(), "    ", method=True)])
        else:
            mod.items.append(self.new_item())
            kind = "add"
        return kind

    def write(self, root: Path) -> None:
        for mod in self.modules:
            path = root / mod.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(mod.render(), encoding="utf-8")
        (root / "src/app/__init__.py").write_text("", encoding="utf-8")


def _git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@invalid",
           "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
           "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}
    subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false",
                    *args], cwd=root, env=env, check=True, capture_output=True)


def generate(root: Path, *, commits: int = 60, seed: int = 0) -> Path:
    """Write a repository with ``commits`` + 1 commits under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    history = History(seed)
    history.initial()
    history.write(root)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "initial")
    for n in range(commits):
        done = [history.edit() for _ in range(history.rng.randint(1, 3))]
        history.write(root)
        for mod in history.modules:  # a module emptied by moves is deleted
            if not mod.items:
                (root / mod.path).unlink(missing_ok=True)
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "--allow-empty", "-m", f"{n + 1}: {', '.join(done)}")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--commits", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    generate(args.dir, commits=args.commits, seed=args.seed)
    print(args.dir)


if __name__ == "__main__":
    main()
