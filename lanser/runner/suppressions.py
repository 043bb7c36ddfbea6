"""Checker suppressions a candidate added, taken out of what is measured (issue 16).

A step that silences a diagnostic instead of fixing it must not be paid for the
diagnostics it hides. On the lines a candidate added or changed (a line diff against
the base file; every line of a new file), :func:`strip` removes, without changing
what the program does at run time:

- suppression comments: ``# type: ignore[...]``, ``# pyright: ...`` (``ignore[...]``
  and the file-level ``# pyright: basic``/``off``/rule switches), ``# mypy: ...``,
  ``# noqa``, ``# pyre-ignore``, ``# pylint: disable=...``;
- ``@no_type_check`` / ``@typing.no_type_check`` decorators (the line is emptied:
  line numbers stay);
- ``cast(Any, x)`` (and ``typing.cast("Any", x)``) becomes ``(x)``;
- ``Any`` in an annotation becomes ``object``: what ``Any`` hid comes back as the
  diagnostics it hid;
- an early exit that makes the code after it unreachable — a ``return``, ``raise``,
  ``sys.exit()``, ``os._exit()``, ``exit()``/``quit()`` or ``os.abort()`` that is not
  the last statement of its block — gets an opaque guard on the same line
  (``if __name__ != "": return x``): it runs exactly as before, but the checker no
  longer treats the rest as unreachable, so the diagnostics there count (checkers
  report nothing in unreachable code: ``sys.exit(0)`` at the top of a module hid all
  of it, and paid, in bench/integrity_bench.py on toolz).

The server then reports on the stripped text, so every hidden diagnostic counts as
it would without the suppression, and the count of what was taken out is reported
(``suppression_added``). Lines the base already had are left alone: a suppression
that was there before is the project's, not the candidate's. Plain functions on text;
the runner applies them to the graded tree (:mod:`lanser.runner.protected`).
"""

from __future__ import annotations

import ast
import difflib
import io
import re
import tokenize

#: comments that silence a checker (matched on the comment token's text)
_COMMENT = re.compile(r"#\s*(type:\s*ignore|pyright:|mypy:|noqa|pyre-(ignore|fixme)|"
                      r"pylint:\s*disable|basedpyright:)", re.IGNORECASE)
_NO_TYPE_CHECK = re.compile(r"^(\s*)@\s*(typing\.|t\.)?no_type_check\s*(#.*)?$")
_CAST_ANY = re.compile(r"\b(?:typing\.|t\.)?cast\(\s*([\"']?)(?:typing\.|t\.)?Any\1\s*,\s*")


def touched_lines(candidate: str, base: str | None) -> set[int]:
    """1-based numbers of the candidate's lines that the base does not have there."""
    new = candidate.splitlines()
    if base is None:
        return set(range(1, len(new) + 1))
    matcher = difflib.SequenceMatcher(None, base.splitlines(), new, autojunk=False)
    out: set[int] = set()
    for op, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if op in ("replace", "insert"):
            out.update(range(j1 + 1, j2 + 1))
    return out


def strip(candidate: str, base: str | None) -> tuple[str, int]:
    """``candidate`` with the suppressions on its touched lines taken out, and how many.

    Returns the text unchanged (and 0) when nothing was added. Never raises: text
    that does not tokenize or parse keeps the steps that need it undone.
    """
    lines = candidate.splitlines(keepends=True)
    touched = {n for n in touched_lines(candidate, base) if n <= len(lines)}
    if not touched:
        return candidate, 0
    count = 0
    edits: dict[int, list[tuple[int, int, str]]] = {}  # line -> (start col, end col, new)
    for start, end in _comments(candidate, touched):
        edits.setdefault(start[0], []).append((start[1], end[1], ""))
        count += 1
    for line, col, end_col in _any_annotations(candidate, touched):
        edits.setdefault(line, []).append((col, end_col, "object"))
        count += 1
    for line, col in _early_exits(candidate, touched):
        edits.setdefault(line, []).append((col, col, EXIT_GUARD))
        count += 1
    out = list(lines)
    for number in sorted(touched):
        text = out[number - 1]
        for col, end_col, new in sorted(edits.get(number, ()), reverse=True):
            text = text[:col].rstrip(" \t") + new + text[end_col:] if new == "" \
                else text[:col] + new + text[end_col:]
        text, n = _CAST_ANY.subn("(", text)
        count += n
        match = _NO_TYPE_CHECK.match(text.rstrip("\r\n"))
        if match:
            text = text[len(text.rstrip("\r\n")):]  # an empty line: numbering kept
            count += 1
        out[number - 1] = text
    return "".join(out), count


#: What an early exit gets in front of it: always true at run time, opaque to a checker.
EXIT_GUARD = 'if __name__ != "": '
_EXIT_CALLS = {("sys", "exit"), ("os", "_exit"), ("os", "abort"), (None, "exit"),
               (None, "quit")}


def _early_exits(text: str, touched: set[int]) -> list[tuple[int, int]]:
    """(line, col) of each one-line early exit on a touched line that has statements
    after it in its block (module docstring)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return _early_exit_lines(text, touched)
    found = []
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if not isinstance(block, list):
                continue
            for stmt in block[:-1]:
                if isinstance(stmt, ast.stmt) and stmt.lineno in touched \
                        and stmt.end_lineno == stmt.lineno and _exits(stmt) \
                        and stmt.col_offset == len(text.splitlines()[stmt.lineno - 1]) - len(
                            text.splitlines()[stmt.lineno - 1].lstrip()):
                    found.append((stmt.lineno, stmt.col_offset))
    return sorted(set(found))


def _early_exit_lines(text: str, touched: set[int]) -> list[tuple[int, int]]:
    """The same for a file that does not parse (a base with a syntax error elsewhere,
    which a checker still reads past): a touched line that is one exit statement by
    itself, followed by a code line indented at least as deep. The guard changes
    nothing at run time, so a line this over-counts costs only the count."""
    lines = text.splitlines()
    found = []
    for number in sorted(touched):
        if number > len(lines):
            continue
        line = lines[number - 1]
        col = len(line) - len(line.lstrip())
        try:
            body = ast.parse(line.strip()).body
        except (SyntaxError, ValueError):
            continue
        if len(body) != 1 or not _exits(body[0]):
            continue
        for later in lines[number:]:
            stripped = later.strip()
            if stripped and not stripped.startswith("#"):
                if len(later) - len(later.lstrip()) >= col:
                    found.append((number, col))
                break
    return found


def _exits(stmt: ast.stmt) -> bool:
    if isinstance(stmt, (ast.Return, ast.Raise)):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if isinstance(func, ast.Name):
            return (None, func.id) in _EXIT_CALLS
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            return (func.value.id, func.attr) in _EXIT_CALLS
    return False


def _comments(text: str, touched: set[int]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    found = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT and tok.start[0] in touched \
                    and _COMMENT.search(tok.string):
                found.append((tok.start, tok.end))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return []
    return found


def _any_annotations(text: str, touched: set[int]) -> list[tuple[int, int, int]]:
    """(line, col, end col) of each ``Any`` / ``typing.Any`` inside an annotation on a
    touched line. Columns are code points (ast gives UTF-8 byte offsets: converted)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    lines = text.splitlines()
    annotations: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.returns is not None:
                annotations.append(node.returns)
            args = node.args
            for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs,
                        *(a for a in (args.vararg, args.kwarg) if a is not None)):
                if arg.annotation is not None:
                    annotations.append(arg.annotation)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
    out = []
    for annotation in annotations:
        for sub in ast.walk(annotation):
            is_any = (isinstance(sub, ast.Name) and sub.id == "Any") or (
                isinstance(sub, ast.Attribute) and sub.attr == "Any"
                and isinstance(sub.value, ast.Name) and sub.value.id in ("typing", "t"))
            if is_any and sub.lineno in touched and sub.end_lineno == sub.lineno \
                    and sub.end_col_offset is not None:
                raw = lines[sub.lineno - 1].encode("utf-8")
                col = len(raw[:sub.col_offset].decode("utf-8", "replace"))
                end = len(raw[:sub.end_col_offset].decode("utf-8", "replace"))
                out.append((sub.lineno, col, end))
    return sorted(set(out))


def always_equal(candidate: str, base: str | None) -> int:
    """Classes on touched lines whose ``__eq__`` returns a constant ``True`` (or whose
    ``__ne__`` returns a constant ``False``): an object that equals everything makes
    ``assert result == expected`` pass whatever ``result`` is. Counted, not changed
    (taking it out would change what the program does); priced as ``always_equal``."""
    touched = touched_lines(candidate, base)
    if not touched:
        return 0
    try:
        tree = ast.parse(candidate)
    except (SyntaxError, ValueError):
        return 0
    count = 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            name, value = _method(item)
            wanted = {"__eq__": True, "__ne__": False}.get(name or "")
            if wanted is None or value is None:
                continue
            line = getattr(item, "lineno", 0)
            if line in touched and isinstance(value, ast.Constant) and value.value is wanted:
                count += 1
    return count


def _method(item: ast.stmt) -> tuple[str | None, ast.expr | None]:
    """(name, the constant it always returns) of ``def f(...): return C`` or
    ``f = lambda ...: C``; (name, None) when it is anything else."""
    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
        body = [b for b in item.body if not (isinstance(b, ast.Expr)
                                             and isinstance(b.value, ast.Constant))]
        if len(body) == 1 and isinstance(body[0], ast.Return):
            return item.name, body[0].value
        return item.name, None
    if isinstance(item, ast.Assign) and len(item.targets) == 1 \
            and isinstance(item.targets[0], ast.Name) and isinstance(item.value, ast.Lambda):
        return item.targets[0].id, item.value.body
    return None, None


__all__ = ["always_equal", "strip", "touched_lines"]
