"""SARIF 2.1.0 of a gate report: what code scanning (GitHub, GitLab, Azure) reads.

One run; the tool is lanser with the language server as an extension. Every head
diagnostic (within ``paths``) is a result:

- ``ruleId`` is the server's code (``reportAttributeAccessIssue``), or
  ``<source>/<severity>`` when the server gave none; each rule appears once in
  ``tool.driver.rules``, sorted, and results point at it by ``ruleIndex``;
- ``level``: error, warning, note (information and hint);
- the region is the real one: 1-based lines and columns in Unicode code points
  (``columnKind`` says so);
- ``baselineState`` is ``new`` or ``unchanged`` (:mod:`lanser.gate.identity`);
- ``partialFingerprints["lanserIdentity/v1"]`` hashes the identity and the line's
  text (not its number), so an alert keeps its fingerprint when lines move and is
  the same in every run.

URIs are workspace-relative under ``%SRCROOT%``; nothing machine-specific (no
absolute path, no clock) goes in, so the same change gives the same bytes.
"""

from __future__ import annotations

from typing import Any

import lanser
from lanser.gate.check import GateReport

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "information": "note", "hint": "note"}
FINGERPRINT = "lanserIdentity/v1"


def rule_id(diagnostic: Any) -> str:
    if diagnostic.code:
        return str(diagnostic.code)
    return f"{diagnostic.source or 'lanser'}/{diagnostic.severity}"


def sarif(report: GateReport) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict (``lanser.cli.output.dumps`` it)."""
    findings = report.comparison.findings
    rules = sorted({rule_id(f.diagnostic) for f in findings})
    index = {r: i for i, r in enumerate(rules)}
    server = report.server or {}
    results = []
    for finding in findings:
        d = finding.diagnostic
        rid = rule_id(d)
        results.append({
            "ruleId": rid, "ruleIndex": index[rid],
            "level": LEVELS.get(d.severity, "note"),
            "message": {"text": d.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": d.path, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": d.span.start.line, "startColumn": d.span.start.col,
                           "endLine": d.span.end.line,
                           "endColumn": max(d.span.end.col, 1)}}}],
            "baselineState": finding.state,
            "partialFingerprints": {FINGERPRINT: finding.fingerprint},
            "properties": {"severity": d.severity, "source": d.source,
                           "tags": list(d.tags)},
        })
    extension = {"name": str(server.get("name") or "language-server")}
    if server.get("version"):
        extension["version"] = str(server["version"])
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "lanser", "version": lanser.__version__,
                "semanticVersion": lanser.__version__,
                "rules": [{"id": r, "name": r,
                           "shortDescription": {"text": f"{r} (reported by "
                                                        f"{extension['name']})"}}
                          for r in rules],
            },
            "extensions": [extension],
        },
        "columnKind": "unicodeCodePoints",
        "originalUriBaseIds": {"%SRCROOT%": {
            "description": {"text": "The root of the repository checkout."}}},
        "results": results,
        "properties": {"base": report.base.to_json(), "head": report.head.to_json(),
                       "passed": report.passed},
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


__all__ = ["FINGERPRINT", "LEVELS", "rule_id", "sarif"]
