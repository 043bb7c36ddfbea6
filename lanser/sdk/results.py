"""Typed results of the SDK: frozen dataclasses built from the library's answers.

Positions are 1-based lines and code-point columns (:class:`lanser.positions.Span`),
paths workspace-relative, as everywhere in lanser. Each record keeps the answer it
was built from as ``data`` (the CLI's ``--json`` object for the same call), for
fields the record does not name; it is left out of comparisons.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from lanser.lsp.facts import Call, Diagnostic, Location, Symbol
from lanser.positions import Position, Span


def span_of(data: dict[str, Any]) -> Span:
    """``line``/``col``/``end_line``/``end_col`` (lanser's JSON) as a Span."""
    return Span(Position(int(data["line"]), int(data["col"])),
                Position(int(data.get("end_line", data["line"])),
                         int(data.get("end_col", data["col"]))))


@dataclass(frozen=True)
class Server:
    name: str
    version: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Server:
        data = data or {}
        return cls(str(data.get("name", "")), data.get("version"))


@dataclass(frozen=True)
class Target:
    """Where a positional query landed, and how sure the resolver was."""

    path: str
    line: int
    col: int
    method: str | None
    confidence: float | None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Target | None:
        if not data:
            return None
        return cls(data["path"], int(data["line"]), int(data["col"]), data.get("method"),
                   data.get("confidence"))


@dataclass(frozen=True)
class Locations:
    """definition, declaration, type-definition, implementation, references."""

    op: str
    locations: tuple[Location, ...]
    target: Target | None
    server: Server
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Locations:
        return cls(data["op"], tuple(Location(loc["path"], span_of(loc))
                                     for loc in data.get("locations", [])),
                   Target.from_json(data.get("target")), Server.from_json(data.get("server")),
                   data)

    def __iter__(self) -> Iterator[Location]:
        return iter(self.locations)

    def __len__(self) -> int:
        return len(self.locations)


@dataclass(frozen=True)
class HoverInfo:
    contents: str | None
    span: Span | None
    target: Target | None
    server: Server
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HoverInfo:
        hover = data.get("hover") or {}
        return cls(hover.get("contents"), span_of(hover) if "line" in hover else None,
                   Target.from_json(data.get("target")), Server.from_json(data.get("server")),
                   data)


def _symbol(data: dict[str, Any]) -> Symbol:
    body = data.get("body") or data
    return Symbol(data["name"], data.get("qualname", data["name"]), data.get("kind", ""),
                  data["path"], span_of(body), span_of(data))


@dataclass(frozen=True)
class Symbols:
    symbols: tuple[Symbol, ...]
    server: Server
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Symbols:
        return cls(tuple(_symbol(s) for s in data.get("symbols", [])),
                   Server.from_json(data.get("server")), data)

    def __iter__(self) -> Iterator[Symbol]:
        return iter(self.symbols)

    def __len__(self) -> int:
        return len(self.symbols)


@dataclass(frozen=True)
class Calls:
    calls: tuple[Call, ...]
    target: Target | None
    server: Server
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calls:
        calls = tuple(Call(c["name"], c.get("kind", ""), c["path"], span_of(c),
                           tuple(span_of(s) for s in c.get("call_sites", [])))
                      for c in data.get("calls", []))
        return cls(calls, Target.from_json(data.get("target")),
                   Server.from_json(data.get("server")), data)


def diagnostic_of(data: dict[str, Any], path: str | None = None) -> Diagnostic:
    return Diagnostic(data.get("path", path or ""), span_of(data), data["severity"],
                      data["message"], data.get("source"), data.get("code"),
                      tuple(data.get("tags") or ()))


@dataclass(frozen=True)
class FileDiagnostics:
    path: str
    status: str  #: ``ready``, or ``not_ready`` when the server did not answer in time
    diagnostics: tuple[Diagnostic, ...]


@dataclass(frozen=True)
class Diagnostics:
    files: tuple[FileDiagnostics, ...]
    summary: dict[str, int]
    server: Server
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Diagnostics:
        files = tuple(FileDiagnostics(f["path"], f["status"],
                                      tuple(diagnostic_of(d, f["path"])
                                            for d in f["diagnostics"]))
                      for f in data.get("files", []))
        return cls(files, dict(data.get("summary", {})), Server.from_json(data.get("server")),
                   data)

    @property
    def all(self) -> tuple[Diagnostic, ...]:
        """Every diagnostic, in file order."""
        return tuple(d for f in self.files for d in f.diagnostics)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.all if d.severity == "error")


@dataclass(frozen=True)
class Bundle:
    """A hashed analysis bundle (``bundles/SCHEMA``): its hash and request; the whole
    document in ``data`` (write it with :func:`lanser.bundles.dump_bundle`)."""

    hash: str
    op: str
    from_store: bool
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], from_store: bool = False) -> Bundle:
        return cls(data["hash"], data["request"]["op"], from_store, data)


@dataclass(frozen=True)
class Verification:
    """A bundle recomputed now: ``same`` when nothing drifted, else the changes."""

    same: bool
    fresh_hash: str | None
    changes: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class EditResult:
    """A previewed (and maybe applied) edit through the safety envelope."""

    status: str  #: ``previewed``, ``applied``, ``refused`` or ``rolled_back``
    reason: str | None
    files: tuple[str, ...]
    diff: str
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def applied(self) -> bool:
        return self.status == "applied"

    @classmethod
    def from_outcome(cls, outcome: Any) -> EditResult:
        preview = outcome.preview
        result = outcome.result
        status = "previewed" if result is None else result.status
        files = tuple(sorted({e.path for e in preview.effects}))
        return cls(status, None if result is None else result.reason, files,
                   preview.diff if isinstance(getattr(preview, "diff", None), str) else "",
                   outcome.to_json())


@dataclass(frozen=True)
class RewardResult:
    """The one-shot reward of a change: exact total and components, and the status of
    the patch (``ok``, ``refused``, ``invalid``)."""

    total: Fraction
    components: dict[str, Fraction]
    status: str
    reason: str | None
    changed: tuple[str, ...]
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __float__(self) -> float:
        return float(self.total)

    @classmethod
    def from_oneshot(cls, oneshot: Any) -> RewardResult:
        reward = oneshot.reward
        return cls(reward.total, dict(sorted(reward.components.items())), oneshot.info.status,
                   oneshot.info.reason, tuple(oneshot.changed), oneshot.to_json())


__all__ = ["Bundle", "Calls", "Diagnostics", "EditResult", "FileDiagnostics", "HoverInfo",
           "Locations", "RewardResult", "Server", "Symbols", "Target", "Verification"]
