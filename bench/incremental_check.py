"""Incremental whole-workspace diagnostics on real code: equal to a full pull, and how
many files each kind of edit asks.

    .venv/bin/python bench/incremental_check.py [--source lanser] [--seed 1] [--steps 40]

Copies a package (lanser's own by default: about 100 files of real imports, classes,
dataclasses and protocols) into a fresh git repository and starts one tracked
basedpyright service. Then it makes random edits with ``ast``: a statement inserted
into or deleted from a body, a return annotation changed, a function renamed, a
member assigned (``self._probe_attr = ...``), a body that starts yielding or becomes
``...``. After each edit the incremental answer is compared with asking the server
for every file; the exit status is 1 on any difference. Per edit it prints the files
asked and the time, so the rules of ``lanser/lsp/dependents.py`` are checked on code
they were not written against.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

Function = ast.FunctionDef | ast.AsyncFunctionDef


def _insert(line: str) -> Callable[[list[str], Function, random.Random], bool]:
    """An edit that puts ``line`` (formatted with ``n``, a random number) first in a body."""
    def edit(lines: list[str], f: Function, rng: random.Random) -> bool:
        indent = " " * f.body[0].col_offset
        text = line.format(n=rng.randrange(100))
        lines[f.body[0].lineno - 1:f.body[0].lineno - 1] = [
            indent + part for part in text.split("\n")]
        return True
    return edit


def _delete_statement(lines: list[str], f: Function, rng: random.Random) -> bool:
    if len(f.body) < 2:
        return False
    statement = f.body[rng.randrange(1, len(f.body))]
    del lines[statement.lineno - 1:statement.end_lineno]
    return True


def _return_annotation(lines: list[str], f: Function, rng: random.Random) -> bool:
    r = f.returns
    if r is None or r.lineno != r.end_lineno:
        return False
    line = lines[r.lineno - 1]
    lines[r.lineno - 1] = (line[:r.col_offset] + rng.choice(["int", "str", "None", "list[str]"])
                           + line[r.end_col_offset:])
    return True


def _rename(lines: list[str], f: Function, rng: random.Random) -> bool:
    index = next((i for i in range(f.lineno - 1, f.body[0].lineno - 1)
                  if f"def {f.name}(" in lines[i]), None)
    if index is None:
        return False
    lines[index] = lines[index].replace(f"def {f.name}(", f"def {f.name}_x(", 1)
    return True


def _member(lines: list[str], f: Function, rng: random.Random) -> bool:
    if not f.args.args or f.args.args[0].arg != "self":
        return False
    return _insert("self._probe_attr = " + rng.choice(["1", "'s'"]))(lines, f, rng)


def _placeholder(lines: list[str], f: Function, rng: random.Random) -> bool:
    lines[f.body[0].lineno - 1:f.end_lineno] = [" " * f.body[0].col_offset + "..."]
    return True


EDITS: dict[str, Callable[[list[str], Function, random.Random], bool]] = {
    "body insert": _insert("_probe = {n}"),
    "body delete": _delete_statement,
    "body return": _insert("return None  # type: ignore"),
    "body pass": _insert("pass"),
    "return annotation": _return_annotation,
    "rename": _rename,
    "member": _member,
    "yield": _insert("if False:\n    yield None"),
    "placeholder": _placeholder,
}


def mutate(rng: random.Random, root: Path) -> tuple[str, str]:
    """One random edit that still parses: (the file, the kind of edit)."""
    files = sorted(root.rglob("*.py"))
    while True:
        path = rng.choice(files)
        text = path.read_text(encoding="utf-8")
        functions = [n for n in ast.walk(ast.parse(text))
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        if not functions:
            continue
        kind = rng.choice(sorted(EDITS))
        lines = text.split("\n")
        if not EDITS[kind](lines, rng.choice(functions), rng):
            continue
        new = "\n".join(lines)
        if new == text:  # an annotation replaced by itself
            continue
        try:
            ast.parse(new)
        except SyntaxError:
            continue
        path.write_text(new, encoding="utf-8")
        return path.relative_to(root).as_posix(), kind


async def check(source: Path, seed: int, steps: int) -> int:
    from lanser.lsp.registry import get_server
    from lanser.lsp.service import LanguageService
    from lanser.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="lanser-incremental-"))
    root = tmp / "ws"
    shutil.copytree(source, root / source.name,
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.name=bench", "-c", "user.email=bench@lanser.invalid",
                  "commit", "-qm", "copy"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    rng = random.Random(seed)
    service = LanguageService(Workspace.open(root), get_server("basedpyright"), timeout=120,
                              track_disk=True)
    differences = 0
    async with service:
        await service.diagnostics()
        asked: list[Path] = []
        ask = service.session.diagnostics

        async def counted(doc, **kwargs):  # every file the server is asked about
            asked.append(doc.path)
            return await ask(doc, **kwargs)

        service.session.diagnostics = counted
        for i in range(steps):
            rel, kind = mutate(rng, root)
            asked.clear()
            began = time.perf_counter()
            incremental = await service.diagnostics()
            ms = (time.perf_counter() - began) * 1000
            n = len(asked)
            full = await service._pull(list(service._paths.values()), None)
            same = incremental == full
            differences += not same
            print(f"{i:3d}  {kind:18s} {rel:42s} asked {n:3d}  {ms:6.0f} ms"
                  f"  {'same' if same else 'DIFFERENT'}", flush=True)
            if not same:
                print("     differs in", [a.path for a, b in zip(incremental, full, strict=True)
                                          if a != b][:5])
    print(f"{len(full)} files, {steps} edits, {differences} differences")
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if differences else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=ROOT / "lanser")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=40)
    options = parser.parse_args()
    sys.exit(asyncio.run(check(options.source.resolve(), options.seed, options.steps)))
