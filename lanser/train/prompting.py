"""The prompt: the problem, the context an agent would gather, the answer format.

An agent handed a failing test opens the test, follows its imports, and jumps to the
definitions of the names it uses. The prompt gathers the same, in this order of
priority, until the token budget is spent:

1. the definitions of the names the failing tests import from the workspace (what
   ``lanser definition`` on each imported name points at), with line numbers;
2. the failing test functions themselves;
3. the rest of each imported workspace module, then of each test file.

Imports are read with :mod:`ast` from the base checkout (no server start per prompt:
prompts are built for every task of every step). A section that does not fit is
cut at a line boundary and marked, never dropped silently.

The system prompt names the completion format the reward parses: SEARCH/REPLACE
blocks (the default: small models copy a line more reliably than they count diff
hunks) or a unified diff. Both are parsed by :func:`lanser.train.rewards.extract_patch`
and by the scoring issue's ``parse_completion``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser.train.tasks import TrainTask

FORMATS = {
    "search_replace": (
        "Answer with one or more SEARCH/REPLACE blocks and nothing else. Each block is the "
        "file path on its own line, then:\n<<<<<<< SEARCH\n(exact lines from the file)\n"
        "=======\n(the lines that replace them)\n>>>>>>> REPLACE"),
    "whole_file": (
        "Answer with the corrected file and nothing else: its path on one line, then the "
        "whole new content of the file in a ```python block."),
    "diff": ("Answer with a unified diff (--- a/PATH, +++ b/PATH, @@ hunks) in a ```diff "
             "block and nothing else."),
}

SYSTEM = ("You are a careful software engineer fixing a bug in a Python repository. The "
          "failing tests must pass and the other tests must keep passing. Do not edit the "
          "tests. ")


@dataclass(frozen=True)
class Section:
    """One piece of context: a file's lines ``start..end`` (1-based, inclusive)."""

    path: str
    start: int
    end: int
    text: str

    def render(self, numbered: bool = False) -> str:
        body = _numbered(self.text.splitlines(True), self.start) if numbered else self.text
        return f"### {self.path} (lines {self.start}-{self.end})\n```python\n{body}```\n"


def _numbered(lines: list[str], start: int) -> str:
    return "".join(f"{start + i:4d} {line}" for i, line in enumerate(lines))


def _module_file(root: Path, module: str) -> str | None:
    parts = module.split(".")
    for base in ("", "src/"):
        for rel in (f"{base}{'/'.join(parts)}.py", f"{base}{'/'.join(parts)}/__init__.py"):
            if (root / rel).is_file():
                return rel
    return None


def _parse(root: Path, rel: str) -> tuple[list[str], ast.Module] | None:
    try:
        text = (root / rel).read_text(encoding="utf-8")
        return text.splitlines(True), ast.parse(text)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None


def _definition(tree: ast.Module, name: str) -> ast.AST | None:
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and node.name == name:
            return node
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node
    return None


def _span(node: Any) -> tuple[int, int]:
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return start, node.end_lineno or node.lineno


def gather(task: TrainTask) -> list[Section]:
    """Context sections for ``task``, highest priority first, without duplicates."""
    root = task.root
    tests = sorted({node.split("::")[0] for node in task.fail_to_pass})
    test_names = {node.split("::")[-1].split("[")[0] for node in task.fail_to_pass}
    definitions: list[Section] = []
    test_functions: list[Section] = []
    modules: list[str] = []
    for rel in tests:
        parsed = _parse(root, rel)
        if parsed is None:
            continue
        lines, tree = parsed
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                source = _module_file(root, node.module)
                for alias in node.names:
                    sub = _module_file(root, f"{node.module}.{alias.name}")
                    if sub:
                        modules.append(sub)
                    elif source:
                        definitions.extend(_definition_section(root, source, alias.name))
                if source:
                    modules.append(source)
            elif isinstance(node, ast.Import):
                modules.extend(m for a in node.names if (m := _module_file(root, a.name)))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    and node.name in test_names:
                start, end = _span(node)
                test_functions.append(Section(rel, start, end,
                                              "".join(lines[start - 1:end])))
    whole = [_whole(root, rel) for rel in dict.fromkeys([*modules, *tests])]
    seen: set[tuple[str, int, int]] = set()
    out = []
    for section in [*definitions, *test_functions, *(w for w in whole if w)]:
        key = (section.path, section.start, section.end)
        if key not in seen:
            seen.add(key)
            out.append(section)
    return out


def _definition_section(root: Path, rel: str, name: str) -> list[Section]:
    parsed = _parse(root, rel)
    if parsed is None:
        return []
    lines, tree = parsed
    node = _definition(tree, name)
    if node is None:
        return []
    start, end = _span(node)
    return [Section(rel, start, end, "".join(lines[start - 1:end]))]


def _whole(root: Path, rel: str) -> Section | None:
    parsed = _parse(root, rel)
    if parsed is None or not parsed[0]:
        return None
    lines = parsed[0]
    return Section(rel, 1, len(lines), "".join(lines))


def user_message(task: TrainTask, sections: list[Section], count: Callable[[str], int],
                 budget: int, numbered: bool = False) -> str:
    """The user turn: problem, failing tests, then as much context as ``budget`` allows.

    Line numbers (``numbered``) help a model write diff hunks; for SEARCH/REPLACE
    they are left out, since a model copies them into its SEARCH text, which then
    matches nothing.
    """
    head = (f"## Problem\n{task.problem_statement.strip() or '(no statement)'}\n\n"
            "## Failing tests\n" + "".join(f"- {t}\n" for t in task.fail_to_pass) +
            "\n## Context\n")
    used = count(head)
    parts = [head]
    for section in sections:
        text = section.render(numbered)
        cost = count(text)
        if used + cost <= budget:
            parts.append(text)
            used += cost
            continue
        # Cut at a line boundary, keeping what fits (a marked partial beats nothing).
        lines = section.text.splitlines(True)
        while lines and used + count(Section(section.path, section.start, section.start
                                             + len(lines) - 1, "".join(lines)).render(numbered)) \
                + 8 > budget:
            lines = lines[: len(lines) // 2] if len(lines) > 8 else lines[:-1]
        if lines:
            part = Section(section.path, section.start, section.start + len(lines) - 1,
                           "".join(lines) + "     ... (cut)\n")
            parts.append(part.render(numbered))
        break
    return "".join(parts)


def messages(task: TrainTask, *, count: Callable[[str], int], budget: int = 1500,
             fmt: str = "search_replace") -> list[dict[str, str]]:
    """The chat: a system turn naming the answer format, the user turn with the context."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown completion format {fmt!r}; known: {', '.join(FORMATS)}")
    return [{"role": "system", "content": SYSTEM + FORMATS[fmt]},
            {"role": "user", "content": user_message(task, gather(task), count, budget,
                                                     numbered=fmt == "diff")}]


def render(tokenizer: Any, chat: list[dict[str, str]]) -> str:
    """The prompt text in the model's chat template (plain turns for a model without one)."""
    if getattr(tokenizer, "chat_template", None):
        return str(tokenizer.apply_chat_template(chat, tokenize=False,
                                                 add_generation_prompt=True))
    return "".join(f"{m['role']}: {m['content']}\n" for m in chat) + "assistant:"


def prefill(task: TrainTask, fmt: str) -> str:
    """The start of the answer, written for the model (``--prefill``; whole_file only).

    The path of the file the failing tests' imports point at first, and the opening
    fence: a small model that would otherwise answer in prose then writes code. The
    reward sees prefill + completion, as if the model had written both.
    """
    if fmt != "whole_file":
        return ""
    sections = gather(task)
    tests = {node.split("::")[0] for node in task.fail_to_pass}
    target = next((s.path for s in sections if s.path not in tests), None)
    return f"{target}\n```python\n" if target else ""


def build(tokenizer: Any, task: TrainTask, *, budget: int = 1500,
          fmt: str = "search_replace") -> str:
    """The prompt text for ``task``: :func:`messages` rendered by :func:`render`."""
    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return render(tokenizer, messages(task, count=count, budget=budget, fmt=fmt))


__all__ = ["FORMATS", "Section", "build", "gather", "messages", "prefill", "render",
           "user_message"]
