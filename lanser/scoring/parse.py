"""A model's completion as file operations: unified diff, SEARCH/REPLACE, whole file, tools.

Models write patches in a few habitual forms, and rarely exactly. Each form is read
into the same :class:`Parsed` record (file operations, each a list of line blocks
to find and replace), which :mod:`lanser.scoring.patching` then locates in the real
files and turns into the envelope's one edit form (``FileChange`` lists):

- ``diff``: a unified diff, read tolerantly: ``diff --git`` lines optional, hunk
  line counts ignored and recounted from the body (noted as ``recounted``), ``@@``
  headers without numbers accepted, a blank line inside a hunk taken as a blank
  context line (models strip the lone space), prose before, between and after the
  diff skipped. unidiff (used by ``lanser apply``) refuses all of these, by design:
  there a diff is a user's exact file.
- ``search-replace``: ``<<<<<<< SEARCH`` / ``=======`` / ``>>>>>>> REPLACE`` blocks,
  each under a line naming the file (a missing one inherits the previous block's);
  an empty SEARCH creates the file.
- ``whole-file``: fenced code blocks with a path, in the info string
  (```` ```python src/app.py ````, ``path=...``) or on the line before the fence.
- ``tool-calls``: OpenAI-style function calls of the episode actions, read by
  :mod:`lanser.scoring.tools` into the same record.

:mod:`lanser.scoring.completion` picks the reader (and drops ``<think>`` reasoning).
Nothing here raises on model text: a completion with no edit in it is a
:class:`Parsed` with a ``reason`` (``no_edit_found``, ``missing_path``,
``bad_tool_call``, ``unsupported_action``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FORMATS = ("auto", "diff", "search-replace", "whole-file", "tool-calls")


@dataclass(frozen=True)
class Block:
    """Lines to find (``old``) and what replaces them (``new``), without line breaks.

    ``line`` is the 1-based line the block claims to start at (a diff's ``@@``;
    None: anywhere). ``lead``/``trail`` count the unchanged context lines at its
    ends, the only lines fuzz may drop.
    """

    old: tuple[str, ...]
    new: tuple[str, ...]
    line: int | None = None
    lead: int = 0
    trail: int = 0


@dataclass(frozen=True)
class FileOp:
    """What a completion does to one file.

    ``kind``: ``blocks`` (replace each block, in order), ``write`` (the whole
    ``content``), ``create`` (a new file of ``content``), ``delete``.
    """

    path: str
    kind: str
    blocks: tuple[Block, ...] = ()
    content: str | None = None


@dataclass(frozen=True)
class Parsed:
    """A completion read in one format: its operations, or why there are none."""

    format: str
    ops: tuple[FileOp, ...] = ()
    reason: str | None = None
    detail: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.reason is None


# -- paths --------------------------------------------------------------------------

_PATH_RE = re.compile(r"^[\w.\-/+@ ]*[\w\-]\.[\w]+$|^[\w.\-/]+/[\w.\-]+$")


def clean_path(raw: str) -> str | None:
    """A file path out of a model's label line (``**src/app.py**``, ``# File: x.py:``).

    None when the line does not look like a path. No jail here: the envelope's jail
    judges every path (``../x`` and absolute paths become ``outside_workspace``).
    """
    line = raw.strip()
    for _ in range(2):  # `**path**:` and `# File: path` peel in two rounds
        line = line.strip().strip("`*_'\"").rstrip(":").strip()
        line = re.sub(r"^(#+|//)\s*", "", line)
        line = re.sub(r"^(file(name)?|path)\s*[:=]\s*", "", line, flags=re.I)
    if not line or len(line) > 300:
        return None
    if " " in line:  # prose naming the file: "And `pkg/extra.py`:"
        quoted = [clean_path(q) for q in re.findall(r"`([^`\s]+)`|\*\*([^*\s]+)\*\*", raw)
                  for q in q if q]
        found = [q for q in quoted if q is not None]
        return found[-1] if found else None
    if line.startswith("./"):
        line = line[2:]
    return line if _PATH_RE.match(line) or line.startswith("/") else None


# -- unified diff ---------------------------------------------------------------------

_HUNK_RE = re.compile(r"^@@+\s*(?:-(\d+)(?:,(\d+))?\s+\+(\d+)(?:,(\d+))?)?\s*@@+")
_GIT_RE = re.compile(r"^diff --git (\S+) (\S+)")


def _diff_path(raw: str) -> str:
    name = raw.strip().split("\t")[0].strip()
    if name.startswith('"') and name.endswith('"') and len(name) > 1:
        name = name[1:-1]
    if name != "/dev/null" and name.startswith(("a/", "b/")):
        name = name[2:]
    return name


@dataclass
class _DiffFile:
    source: str
    target: str
    hunks: list[list[tuple[str, str]]] = field(default_factory=list)
    starts: list[int | None] = field(default_factory=list)
    counts: list[tuple[int | None, int | None]] = field(default_factory=list)


def _fenced_diffs(text: str) -> str:
    """The bodies of ```` ```diff ```` / ```` ```patch ```` fences, when there are any."""
    bodies = re.findall(r"^```[ \t]*(?:diff|patch|udiff)[^\n]*\n(.*?)^```[ \t]*$", text,
                        re.M | re.S)
    return "\n".join(bodies) if bodies else text


def parse_diff(text: str) -> Parsed:
    """A tolerant unified diff (module docstring)."""
    lines = _fenced_diffs(text).splitlines()
    files: list[_DiffFile] = []
    current: _DiffFile | None = None
    hunk: list[tuple[str, str]] | None = None
    notes: set[str] = set()
    i = 0
    while i < len(lines):
        line = lines[i]
        git = _GIT_RE.match(line)
        if git:
            current = _DiffFile(_diff_path(git.group(1)), _diff_path(git.group(2)))
            files.append(current)
            hunk = None
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            source, target = _diff_path(line[4:]), _diff_path(lines[i + 1][4:])
            if current is None or current.hunks or hunk is not None or not _same(current,
                                                                                 source, target):
                current = _DiffFile(source, target)
                files.append(current)
            else:  # the ---/+++ of the diff --git just read
                current.source, current.target = source, target
            hunk = None
            i += 1
        elif _HUNK_RE.match(line):
            if current is None:
                return Parsed("diff", reason="missing_path",
                              detail=f"line {i + 1}: a hunk before any file header")
            m = _HUNK_RE.match(line)
            assert m is not None
            hunk = []
            current.hunks.append(hunk)
            start = m.group(1)
            current.starts.append(int(start) if start is not None else None)
            current.counts.append((_count(m.group(2), start), _count(m.group(4), m.group(3))))
        elif hunk is not None and (line[:1] in (" ", "+", "-") or line == ""):
            hunk.append((line[:1] or " ", line[1:]))
        elif hunk is not None and line.startswith("\\"):
            continue  # "\ No newline at end of file": line breaks are the file's own
        else:
            hunk = None  # prose, a fence, a mode line: the hunk is over
        i += 1
    ops: list[FileOp] = []
    for f in files:
        op = _diff_op(f, notes)
        if op is not None:
            ops.append(op)
    if not ops:
        return Parsed("diff", reason="no_edit_found", detail="no file changes in the diff")
    return Parsed("diff", tuple(ops), notes=tuple(sorted(notes)))


def _same(f: _DiffFile, source: str, target: str) -> bool:
    return {f.source, f.target} & {source, target, "/dev/null"} != set()


def _count(given: str | None, start: str | None) -> int | None:
    if start is None:
        return None
    return int(given) if given is not None else 1


def _diff_op(f: _DiffFile, notes: set[str]) -> FileOp | None:
    blocks = []
    for body, start, (old_n, new_n) in zip(f.hunks, f.starts, f.counts, strict=True):
        body = _trim_blank_tail(body, old_n)
        old = tuple(t for k, t in body if k != "+")
        new = tuple(t for k, t in body if k != "-")
        if (old_n is not None and old_n != len(old)) or (new_n is not None and new_n != len(new)):
            notes.add("recounted")
        if not any(k != " " for k, _ in body):
            continue  # context only: changes nothing
        lead = next((n for n, (k, _) in enumerate(body) if k != " "), 0)
        trail = next((n for n, (k, _) in enumerate(reversed(body)) if k != " "), 0)
        line = None if start is None else (start if old else start + 1)
        blocks.append(Block(old, new, line, lead, trail))
    if f.target == "/dev/null":
        return FileOp(f.source, "delete")
    if f.source == "/dev/null":
        content = "".join(t + "\n" for b in blocks for t in b.new)
        return FileOp(f.target, "create", content=content)
    if not blocks:
        return None
    if f.source != f.target:
        notes.add("rename_ignored")
    return FileOp(f.target, "blocks", tuple(blocks))


def _trim_blank_tail(body: list[tuple[str, str]], old_n: int | None) -> list[tuple[str, str]]:
    """Drop blank context lines past the stated count at a hunk's end (the empty line
    after a diff, read as a blank context line, would otherwise have to match)."""
    body = list(body)
    while body and body[-1] == (" ", "") and (
            old_n is None or sum(k != "+" for k, _ in body) > old_n):
        body.pop()
    return body


# -- SEARCH/REPLACE ----------------------------------------------------------------

SEARCH_RE = re.compile(r"^\s*<{5,9} ?SEARCH\b.*$", re.M)
_DIVIDER_RE = re.compile(r"^\s*={5,9}\s*$")
_REPLACE_RE = re.compile(r"^\s*>{5,9} ?REPLACE\b.*$")
_FENCE_RE = re.compile(r"^\s*```")


def parse_search_replace(text: str) -> Parsed:
    """``<<<<<<< SEARCH`` / ``=======`` / ``>>>>>>> REPLACE`` blocks under a path line."""
    lines = text.splitlines()
    by_path: dict[str, list[Block]] = {}
    creates: dict[str, str] = {}
    path: str | None = None
    i = 0
    while i < len(lines):
        if not SEARCH_RE.match(lines[i]):
            i += 1
            continue
        named = _path_above(lines, i)
        path = named or path
        if path is None:
            return Parsed("search-replace", reason="missing_path",
                          detail=f"line {i + 1}: a SEARCH block with no file path above it")
        j = i + 1
        search: list[str] = []
        while j < len(lines) and not _DIVIDER_RE.match(lines[j]):
            search.append(lines[j])
            j += 1
        k = j + 1
        replace: list[str] = []
        while k < len(lines) and not _REPLACE_RE.match(lines[k]):
            replace.append(lines[k])
            k += 1
        if j >= len(lines) or k >= len(lines):
            return Parsed("search-replace", reason="no_edit_found",
                          detail=f"line {i + 1}: a SEARCH block that is never closed")
        if not any(s.strip() for s in search):
            creates[path] = "".join(r + "\n" for r in replace)
        else:
            by_path.setdefault(path, []).append(Block(tuple(search), tuple(replace)))
        i = k + 1
    ops = [FileOp(p, "create", content=c) for p, c in creates.items() if p not in by_path]
    ops += [FileOp(p, "blocks", tuple(b)) for p, b in by_path.items()]
    if not ops:
        return Parsed("search-replace", reason="no_edit_found", detail="no SEARCH block")
    return Parsed("search-replace", tuple(ops))


def _path_above(lines: list[str], index: int) -> str | None:
    """The path line above a SEARCH marker, past its opening fence and blank lines."""
    j = index - 1
    while j >= 0 and (not lines[j].strip() or _FENCE_RE.match(lines[j])):
        if _FENCE_RE.match(lines[j]):
            info = lines[j].strip()[3:].split()
            for word in info[1:] if len(info) > 1 else info:
                found = clean_path(word.split("=", 1)[-1])
                if found is not None and "." in found:
                    return found
        j -= 1
    return clean_path(lines[j]) if j >= 0 else None


# -- whole file ------------------------------------------------------------------------

_BLOCK_RE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)


def parse_whole_file(text: str) -> Parsed:
    """Fenced blocks with a path: every such block replaces (or creates) its file."""
    ops: dict[str, FileOp] = {}
    for match in _BLOCK_RE.finditer(text):
        info, body = match.group(1).strip(), match.group(2)
        path = _info_path(info)
        if path is None:
            before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            path = clean_path(before) if before.strip() else None
        if path is None or info.lower() in ("diff", "patch"):
            continue
        ops[path] = FileOp(path, "write", content=body)  # the last block of a file wins
    if not ops:
        return Parsed("whole-file", reason="no_edit_found",
                      detail="no fenced code block with a file path")
    return Parsed("whole-file", tuple(ops.values()))


def _info_path(info: str) -> str | None:
    words = info.split()
    for word in words:
        value = word.split("=", 1)[1] if "=" in word else word
        found = clean_path(value)
        if found is not None and ("." in found.rsplit("/", 1)[-1]):
            return found
    return None


__all__ = ["FORMATS", "Block", "FileOp", "Parsed", "clean_path", "parse_diff",
           "parse_search_replace", "parse_whole_file"]
