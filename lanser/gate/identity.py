"""Which diagnostics a change introduced: identity matching between base and head.

A diagnostic's identity is the reward functional's :class:`DiagnosticKey` (path,
severity, code, message; no line or column), counted as a multiset: a change that
moves a function with an error in it, or adds lines above one, introduces nothing.
For each key, ``max(0, head count - base count)`` of the head's diagnostics are
*new*; which ones is decided by the stripped text of the line each stands on (a
head diagnostic whose line text a base one of the same key also had is the same
diagnostic), then by position (the first unmatched ones). Files git sees as
renamed between the two trees carry their base diagnostics over to the new path.

Each diagnostic also gets a *fingerprint* for SARIF's ``partialFingerprints``:
the hash of its key and line text plus its occurrence number among equal hashes in
the file, so it survives line shifts and is the same in every run.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lanser.lsp.facts import Diagnostic
from lanser.rewards import DiagnosticKey

#: ``Finding.state`` values, as SARIF's ``baselineState`` spells them.
NEW, UNCHANGED = "new", "unchanged"


@dataclass(frozen=True)
class Observed:
    """A diagnostic and the stripped text of the line it starts on."""

    diagnostic: Diagnostic
    line_text: str

    def key(self, renamed: Mapping[str, str] | None = None) -> DiagnosticKey:
        key = DiagnosticKey.from_diagnostic(self.diagnostic)
        if renamed and key.path in renamed:
            return DiagnosticKey(renamed[key.path], key.severity, key.code, key.message)
        return key


@dataclass(frozen=True)
class Finding:
    """A head diagnostic judged against the base: ``new`` or ``unchanged``."""

    diagnostic: Diagnostic
    state: str
    fingerprint: str

    @property
    def is_new(self) -> bool:
        return self.state == NEW

    def to_json(self) -> dict[str, object]:
        return {**self.diagnostic.to_json(), "state": self.state,
                "fingerprint": self.fingerprint}


@dataclass(frozen=True)
class Comparison:
    """Every head diagnostic as a finding (sorted like diagnostics), and how many of
    the base's are gone (per key, the base count beyond the head count)."""

    findings: tuple[Finding, ...]
    fixed: tuple[DiagnosticKey, ...]

    @property
    def new(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.is_new)


def line_hash(observed: Observed) -> str:
    """The location-free part of a fingerprint: key and line text."""
    d = observed.diagnostic
    text = "\0".join((d.path, d.severity, d.code or "", d.message, observed.line_text))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def fingerprints(head: Sequence[Observed]) -> list[str]:
    """``<line hash>:<n>``, n counting equal hashes in position order from 1."""
    seen: Counter[str] = Counter()
    out = []
    for observed in head:
        digest = line_hash(observed)
        seen[digest] += 1
        out.append(f"{digest}:{seen[digest]}")
    return out


def compare(base: Iterable[Observed], head: Iterable[Observed],
            renamed: Mapping[str, str] | None = None) -> Comparison:
    """Judge every head diagnostic against the base (module docstring)."""
    ordered = sorted(head, key=lambda o: o.diagnostic.sort_key)
    by_key: dict[DiagnosticKey, list[Observed]] = defaultdict(list)
    for observed in sorted(base, key=lambda o: o.diagnostic.sort_key):
        by_key[observed.key(renamed)].append(observed)
    head_groups: dict[DiagnosticKey, list[int]] = defaultdict(list)
    for index, observed in enumerate(ordered):
        head_groups[observed.key()].append(index)
    new: set[int] = set()
    for key, indices in head_groups.items():
        olds = by_key.get(key, [])
        wanted = len(indices) - len(olds)
        if wanted <= 0:
            continue
        pool = Counter(o.line_text for o in olds)
        unmatched = []
        for index in indices:
            text = ordered[index].line_text
            if pool[text] > 0:
                pool[text] -= 1
            else:
                unmatched.append(index)
        new.update(unmatched[:wanted])
    prints = fingerprints(ordered)
    findings = tuple(Finding(o.diagnostic, NEW if i in new else UNCHANGED, prints[i])
                     for i, o in enumerate(ordered))
    head_count = Counter(o.key() for o in ordered)
    fixed = []
    for key, olds in sorted(by_key.items()):
        fixed.extend([key] * max(0, len(olds) - head_count.get(key, 0)))
    return Comparison(findings, tuple(fixed))


__all__ = ["NEW", "UNCHANGED", "Comparison", "Finding", "Observed", "compare", "fingerprints",
           "line_hash"]
