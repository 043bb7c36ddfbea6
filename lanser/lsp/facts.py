"""Server answers flattened into lanser's records: relative paths, 1-based code points.

Every record has ``to_json()`` (the stable JSON shape users and bundles see) and a
``sort_key`` (the documented order of any list of it). Rules applied here, once:

* paths are workspace-relative with ``/``; a file outside the workspace is named
  relative to a stable anchor (``<basedpyright>/dist/typeshed-fallback/...``,
  ``<stdlib>/...``, ``<site-packages>/...``) so answers do not change with the
  machine or the checkout path; anything else keeps its absolute path;
* positions are converted from UTF-16 with the text of the file they point into;
* volatile server fields are dropped: opaque ``data``, documentation links that
  embed versions (``codeDescription``), request ids and progress tokens never
  reach a record;
* absolute paths inside messages are rewritten to their relative form.
"""

from __future__ import annotations

import sysconfig
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanser.errors import LanserError
from lanser.pathtext import scrub_paths
from lanser.positions import Position, SourceText, Span, read_source
from lanser.severities import NAMES, SEVERITIES
from lanser.workspace import uri_to_path

SEVERITY_RANK = {name: rank for rank, name in enumerate(NAMES)}
DIAGNOSTIC_TAGS = {1: "unnecessary", 2: "deprecated"}
SYMBOL_KINDS = {
    1: "file", 2: "module", 3: "namespace", 4: "package", 5: "class", 6: "method",
    7: "property", 8: "field", 9: "constructor", 10: "enum", 11: "interface",
    12: "function", 13: "variable", 14: "constant", 15: "string", 16: "number",
    17: "boolean", 18: "array", 19: "object", 20: "key", 21: "null", 22: "enum_member",
    23: "struct", 24: "event", 25: "operator", 26: "type_parameter",
}


class PathNames:
    """Maps absolute paths to the stable names used in output."""

    def __init__(self, root: Path, anchors: Iterable[tuple[Path, str]] = ()) -> None:
        self.root = root
        found = [(p.resolve(), label) for p, label in anchors]
        for key, label in (("stdlib", "<stdlib>"), ("purelib", "<site-packages>"),
                           ("platlib", "<site-packages>")):
            location = sysconfig.get_paths().get(key)
            if location:
                found.append((Path(location).resolve(), label))
        # Longest prefix first, so a server living in site-packages keeps its own name.
        self.anchors = sorted(found, key=lambda item: len(str(item[0])), reverse=True)
        # What scrub() rewrites, fixed once (resolving the root per message cost 0.9 s
        # of a 66-file project's diagnostics, issue 15 defect 7).
        self._prefixes = [*((r, "") for r in sorted({str(root), str(root.resolve())})),
                          *((str(a), label) for a, label in self.anchors)]

    def name(self, path: Path) -> str:
        resolved = path.resolve() if path.exists() else path
        try:
            return resolved.relative_to(self.root).as_posix()
        except ValueError:
            pass
        for anchor, label in self.anchors:
            try:
                return f"{label}/{resolved.relative_to(anchor).as_posix()}"
            except ValueError:
                continue
        return resolved.as_posix()

    def scrub(self, message: str) -> str:
        """Rewrite absolute paths inside a message the way :meth:`name` names files:
        workspace paths relative, installation paths under their anchors, in plain
        and ``file://`` form, only at path boundaries (:func:`lanser.pathtext.scrub_paths`)."""
        return scrub_paths(message, self._prefixes)


class Texts:
    """Text of files that answers point into, read once per answer."""

    def __init__(self, overlay: Callable[[Path], SourceText | None] | None = None,
                 encoding: str = "utf-16") -> None:
        self._overlay = overlay
        self.encoding = encoding
        self._cache: dict[Path, SourceText | None] = {}

    def get(self, path: Path) -> SourceText | None:
        if path not in self._cache:
            text = self._overlay(path) if self._overlay else None
            if text is None:
                try:
                    text = read_source(path)
                except (OSError, LanserError):  # gone, binary, huge: keep raw columns
                    text = None
            self._cache[path] = text
        return self._cache[path]

    def span(self, path: Path, lsp_range: dict[str, Any]) -> Span:
        start, end = lsp_range["start"], lsp_range["end"]
        text = self.get(path)
        if text is None:  # unreadable target: keep UTF-16 columns, 1-based
            return Span(Position(start["line"] + 1, start["character"] + 1),
                        Position(end["line"] + 1, end["character"] + 1))
        return Span(text.from_lsp(start["line"], start["character"], self.encoding),
                    text.from_lsp(end["line"], end["character"], self.encoding))


@dataclass(frozen=True)
class Location:
    path: str
    span: Span

    @property
    def sort_key(self) -> tuple[Any, ...]:
        return (self.path, self.span)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, **self.span.to_json()}


@dataclass(frozen=True)
class Diagnostic:
    path: str
    span: Span
    severity: str
    message: str
    source: str | None
    code: str | None
    tags: tuple[str, ...] = ()

    @property
    def sort_key(self) -> tuple[Any, ...]:
        return (self.path, self.span, SEVERITY_RANK.get(self.severity, 9),
                self.code or "", self.message)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path, **self.span.to_json(), "severity": self.severity,
            "message": self.message, "source": self.source, "code": self.code,
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class Hover:
    contents: str
    span: Span | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"contents": self.contents}
        if self.span is not None:
            out.update(self.span.to_json())
        return out


@dataclass(frozen=True)
class Symbol:
    name: str
    qualname: str
    kind: str
    path: str
    span: Span
    selection: Span

    @property
    def sort_key(self) -> tuple[Any, ...]:
        return (self.path, self.selection, self.qualname, self.kind)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "qualname": self.qualname, "kind": self.kind,
            "path": self.path, **self.selection.to_json(),
            "body": self.span.to_json(),
        }


@dataclass(frozen=True)
class Call:
    """One edge of a call hierarchy: the other end, and where the calls happen."""

    name: str
    kind: str
    path: str
    selection: Span
    call_sites: tuple[Span, ...]

    @property
    def sort_key(self) -> tuple[Any, ...]:
        return (self.path, self.selection, self.name)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "path": self.path,
            **self.selection.to_json(),
            "call_sites": [s.to_json() for s in self.call_sites],
        }

@dataclass(frozen=True)
class TextEdit:
    """Replace ``span`` (code points, 1-based) of a file with ``new_text``."""

    span: Span
    new_text: str

    def to_json(self) -> dict[str, Any]:
        return {**self.span.to_json(), "new_text": self.new_text}


@dataclass(frozen=True)
class FileChange:
    """One step of a workspace edit: text edits to a file, or a file operation.

    ``kind`` is ``"edit"``, ``"create"``, ``"rename"`` or ``"delete"``; ``path`` is
    workspace-relative, ``new_path`` is set for renames only.
    """

    kind: str
    path: str
    edits: tuple[TextEdit, ...] = ()
    new_path: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "path": self.path}
        if self.kind == "edit":
            out["edits"] = [e.to_json() for e in self.edits]
        if self.new_path is not None:
            out["new_path"] = self.new_path
        return out


@dataclass(frozen=True)
class CodeAction:
    """A code action a server offers, with its edit as file changes.

    ``command``: the server command LSP would run after the edit (lanser never runs
    one; an action that has one is previewed and refused), else ``None``.
    """

    title: str
    kind: str | None
    changes: tuple[FileChange, ...]
    command: str | None = None

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.title, self.kind or "")



class Normalizer:
    """Turns raw (JSON) server answers into sorted lists of records."""

    def __init__(self, names: PathNames, texts: Texts) -> None:
        self.names = names
        self.texts = texts

    def locations(self, raw: Any) -> list[Location]:
        if raw is None:
            return []
        items = raw if isinstance(raw, list) else [raw]
        found = set()
        for item in items:
            uri = item.get("targetUri", item.get("uri"))
            rng = item.get("targetSelectionRange", item.get("range"))
            if uri is None or rng is None:
                continue
            path = uri_to_path(uri)
            found.add(Location(self.names.name(path), self.texts.span(path, rng)))
        return sorted(found, key=lambda loc: loc.sort_key)

    def diagnostics(self, path: Path, raw: Iterable[dict[str, Any]]) -> list[Diagnostic]:
        name = self.names.name(path)
        found = set()
        for item in raw:
            code = item.get("code")
            found.add(Diagnostic(
                path=name,
                span=self.texts.span(path, item["range"]),
                severity=SEVERITIES.get(item.get("severity") or 1, "error"),
                message=self.names.scrub(item.get("message", "")),
                source=item.get("source"),
                code=None if code is None else str(code),
                tags=tuple(sorted(DIAGNOSTIC_TAGS.get(t, str(t)) for t in item.get("tags") or ())),
            ))
        return sorted(found, key=lambda d: d.sort_key)

    def hover(self, path: Path, raw: Any) -> Hover | None:
        if not raw:
            return None
        contents = _markup_text(raw.get("contents"))
        if not contents.strip():
            return None
        span = self.texts.span(path, raw["range"]) if raw.get("range") else None
        return Hover(self.names.scrub(contents), span)

    def document_symbols(self, path: Path, raw: Any) -> list[Symbol]:
        found: list[Symbol] = []

        def walk(items: list[dict[str, Any]], prefix: str) -> None:
            for item in items:
                qualname = f"{prefix}.{item['name']}" if prefix else item["name"]
                if "location" in item:  # flat SymbolInformation
                    loc_path = uri_to_path(item["location"]["uri"])
                    span = self.texts.span(loc_path, item["location"]["range"])
                    container = item.get("containerName")
                    qualname = f"{container}.{item['name']}" if container else item["name"]
                    found.append(Symbol(item["name"], qualname,
                                        SYMBOL_KINDS.get(item.get("kind"), "unknown"),
                                        self.names.name(loc_path), span, span))
                    continue
                found.append(Symbol(
                    item["name"], qualname, SYMBOL_KINDS.get(item.get("kind"), "unknown"),
                    self.names.name(path), self.texts.span(path, item["range"]),
                    self.texts.span(path, item.get("selectionRange", item["range"])),
                ))
                walk(item.get("children") or [], qualname)

        walk(raw or [], "")
        return sorted(set(found), key=lambda s: s.sort_key)

    def workspace_symbols(self, raw: Any) -> list[Symbol]:
        found = set()
        for item in raw or []:
            location = item.get("location") or {}
            if "uri" not in location or "range" not in location:
                continue
            path = uri_to_path(location["uri"])
            span = self.texts.span(path, location["range"])
            container = item.get("containerName")
            found.add(Symbol(item["name"], f"{container}.{item['name']}" if container
                             else item["name"], SYMBOL_KINDS.get(item.get("kind"), "unknown"),
                             self.names.name(path), span, span))
        return sorted(found, key=lambda s: s.sort_key)

    def calls(self, raw: Any, *, end: str, origin: Path) -> list[Call]:
        """Call-hierarchy edges; ``end`` is ``"from"`` (incoming) or ``"to"`` (outgoing).

        ``fromRanges`` lie in the caller: the other end for incoming calls, the item
        asked about (in ``origin``) for outgoing ones.
        """
        found = set()
        for item in raw or []:
            other = item[end]
            path = uri_to_path(other["uri"])
            site_path = path if end == "from" else origin
            # A set: servers repeat a site (one per prepared item, per overload).
            sites = tuple(sorted({self.texts.span(site_path, r)
                                  for r in item.get("fromRanges", [])}))
            found.add(Call(other["name"], SYMBOL_KINDS.get(other.get("kind"), "unknown"),
                           self.names.name(path),
                           self.texts.span(path, other["selectionRange"]), sites))
        return sorted(found, key=lambda c: c.sort_key)

    def workspace_edit(self, raw: Any, *,
                       version_of: Callable[[Path], int | None] | None = None
                       ) -> list[FileChange]:
        """An LSP WorkspaceEdit as ordered file changes, text edits still in LSP units.

        ``documentChanges`` keep their order (operations may depend on each other);
        the older ``changes`` map has no order and is sorted by path. Text edits of one
        file are sorted by position (LSP forbids overlapping edits in one file).

        Ranges stay :class:`LspTextEdit` (0-based, the session's encoding): a range
        means the text *as earlier steps of this same edit left it* (a file the edit
        created, a file it already edited), which only the planner holds; it
        resolves them (:meth:`LspTextEdit.resolve`). With ``version_of`` (the
        document versions the session sent), a ``textDocument.version`` other than
        the one the server saw is refused as stale, not applied to other bytes.
        """
        if not raw:
            return []
        out: list[FileChange] = []
        if raw.get("documentChanges"):
            for change in raw["documentChanges"]:
                kind = change.get("kind")
                if kind == "create":
                    out.append(FileChange("create", self.names.name(uri_to_path(change["uri"]))))
                elif kind == "delete":
                    out.append(FileChange("delete", self.names.name(uri_to_path(change["uri"]))))
                elif kind == "rename":
                    out.append(FileChange(
                        "rename", self.names.name(uri_to_path(change["oldUri"])),
                        new_path=self.names.name(uri_to_path(change["newUri"])),
                    ))
                else:
                    document = change["textDocument"]
                    path = uri_to_path(document["uri"])
                    _check_version(self.names.name(path), document.get("version"),
                                   version_of(path) if version_of else None)
                    out.append(self._file_edit(path, change.get("edits", [])))
        else:
            for uri in sorted(raw.get("changes") or {}):
                out.append(self._file_edit(uri_to_path(uri), raw["changes"][uri]))
        return out


    def _file_edit(self, path: Path, edits: list[dict[str, Any]]) -> FileChange:
        encoding = self.texts.encoding
        kept = sorted(
            (LspTextEdit(_point(e["range"]["start"]), _point(e["range"]["end"]),
                         e.get("newText", ""), encoding) for e in edits),
            key=lambda e: (e.start, e.end),
        )
        return FileChange("edit", self.names.name(path), tuple(kept))  # type: ignore[arg-type]


@dataclass(frozen=True)
class LspTextEdit:
    """A text edit of a WorkspaceEdit as the server sent it: 0-based ``(line,
    character)`` in ``encoding`` units. Turned into a :class:`TextEdit` (code
    points) against the exact text it applies to, by :meth:`resolve`."""

    start: tuple[int, int]
    end: tuple[int, int]
    new_text: str
    encoding: str = "utf-16"

    def resolve(self, text: SourceText) -> TextEdit:
        return TextEdit(Span(text.from_lsp(*self.start, self.encoding),
                             text.from_lsp(*self.end, self.encoding)), self.new_text)


def _point(position: dict[str, Any]) -> tuple[int, int]:
    return int(position["line"]), int(position["character"])


def _check_version(name: str, given: Any, seen: int | None) -> None:
    if given is not None and seen is not None and given != seen:
        from lanser.errors import UsageError

        raise UsageError(f"{name}: the edit is for version {given} of the file, the server "
                         f"saw version {seen}; ask again", code="stale", path=name)


def _markup_text(contents: Any) -> str:
    if contents is None:
        return ""
    if isinstance(contents, str):
        return contents
    if isinstance(contents, list):
        return "\n\n".join(_markup_text(c) for c in contents)
    if isinstance(contents, dict):
        if "kind" in contents:
            return str(contents.get("value", ""))
        if "language" in contents:
            return f"```{contents['language']}\n{contents.get('value', '')}\n```"
    return str(contents)

