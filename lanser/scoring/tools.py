"""The episode actions as OpenAI-style tools: their JSON Schemas, and calls read back.

``lanser tools --json`` prints :func:`tool_schemas` so a prompt (or a chat template's
``tools=``) can list them; a completion that calls them is read by
:func:`parse_tool_calls` into the same file operations as the other formats. The
names and arguments are the episode's (``rewards/EPISODES.md``): ``edit`` (a whole
file: ``path`` + ``content``), ``patch`` (a unified diff), ``query``, ``test``,
``submit``. Only ``edit`` and ``patch`` change files; an ``edit`` aimed with ``at``
(a range or selector) needs a live resolver and is ``unsupported_action`` here.

Calls are accepted as a model emits them: ``{"tool_calls": [...]}`` (a chat
message), a list of ``{"type": "function", "function": {"name", "arguments"}}``, one
such object, ``{"name", "arguments"}`` (``arguments`` a JSON string or an object),
in ``<tool_call>...</tool_call>`` tags or ```` ```json ```` fences.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lanser.scoring.parse import FileOp, Parsed, parse_diff

_STR = {"type": "string"}

#: The tools, in OpenAI's ``tools=`` shape. Sorted by name; stable bytes.
TOOLS: tuple[dict[str, Any], ...] = tuple(
    {"type": "function", "function": {"name": name, "description": desc, "parameters": {
        "type": "object", "properties": props, "required": required,
        "additionalProperties": False}}}
    for name, desc, props, required in (
        ("edit", "Replace the whole content of a file (created if missing).",
         {"path": {**_STR, "description": "workspace-relative path"},
          "content": {**_STR, "description": "the file's complete new content"}},
         ["path", "content"]),
        ("patch", "Apply a unified diff (git diff / diff -u) to the workspace.",
         {"diff": {**_STR, "description": "the unified diff"}}, ["diff"]),
        ("query", "Ask the language server: definition, references, hover, symbols, ...",
         {"op": {**_STR, "description": "definition, references, hover, symbols, "
                 "workspace-symbols, ..."},
          "at": {**_STR, "description": "path:line:col or a selector"},
          "query": {**_STR, "description": "the string of workspace-symbols"}}, ["op"]),
        ("submit", "Finish: the workspace as it is now is the answer.", {}, []),
        ("test", "Run tests in the sandbox (pytest arguments).",
         {"args": {"type": "array", "items": _STR}}, []),
    ))

MUTATING = ("edit", "patch")


def tool_schemas() -> list[dict[str, Any]]:
    return [json.loads(json.dumps(t)) for t in TOOLS]


def _calls_in(text: str) -> list[Any] | None:
    """The decoded JSON candidates of ``text`` (None: no JSON found at all)."""
    chunks = re.findall(r"<tool_call>\s*(.*?)\s*</tool_call>", text, re.S)
    if not chunks:
        chunks = re.findall(r"^```json[^\n]*\n(.*?)^```", text, re.M | re.S)
    if not chunks:
        chunks = [text.strip()]
    found = []
    for chunk in chunks:
        try:
            found.append(json.loads(chunk))
        except (ValueError, RecursionError):
            continue
    return found or None


def _flatten(data: Any) -> list[Any]:
    if isinstance(data, list):
        return [c for item in data for c in _flatten(item)]
    if isinstance(data, dict) and isinstance(data.get("tool_calls"), list):
        return _flatten(data["tool_calls"])
    return [data]


def _call(item: Any) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(item, dict):
        return None
    fn = item.get("function") if isinstance(item.get("function"), dict) else item
    name, args = fn.get("name"), fn.get("arguments", fn.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except (ValueError, RecursionError):
            return None
    if not isinstance(name, str) or not isinstance(args, dict):
        return None
    return name, args


def parse_tool_calls(text: str) -> Parsed:
    """File operations from tool calls (module docstring); a reason when none."""
    decoded = _calls_in(text)
    if decoded is None:
        return Parsed("tool-calls", reason="no_edit_found", detail="no JSON tool call")
    ops: list[FileOp] = []
    notes: list[str] = []
    for item in _flatten(decoded):
        call = _call(item)
        if call is None:
            return Parsed("tool-calls", reason="bad_tool_call",
                          detail="a tool call without a name or with arguments that are "
                                 "not a JSON object")
        name, args = call
        if name not in {t["function"]["name"] for t in TOOLS}:
            return Parsed("tool-calls", reason="bad_tool_call", detail=f"unknown tool {name!r}")
        if name == "edit":
            if "at" in args:
                return Parsed("tool-calls", reason="unsupported_action",
                              detail="edit with 'at' needs a live resolver; give path+content")
            path, content = args.get("path"), args.get("content")
            if not isinstance(path, str) or not isinstance(content, str):
                return Parsed("tool-calls", reason="bad_tool_call",
                              detail="edit: 'path' and 'content' must be strings")
            ops.append(FileOp(path, "write", content=content))
        elif name == "patch":
            diff = args.get("diff")
            if not isinstance(diff, str):
                return Parsed("tool-calls", reason="bad_tool_call",
                              detail="patch: 'diff' must be a string")
            parsed = parse_diff(diff)
            if not parsed.ok:
                return Parsed("tool-calls", reason=parsed.reason, detail=parsed.detail)
            ops.extend(parsed.ops)
            notes.extend(parsed.notes)
    if not ops:
        return Parsed("tool-calls", reason="no_edit_found", detail="no edit or patch call")
    return Parsed("tool-calls", tuple(ops), notes=tuple(sorted(set(notes))))


__all__ = ["MUTATING", "TOOLS", "parse_tool_calls", "tool_schemas"]
