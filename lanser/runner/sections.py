"""Configuration sections of shared files, restored as the base has them (issue 16).

``pyproject.toml``, ``setup.cfg`` and ``tox.ini`` hold a project's metadata beside
pytest's and the checkers' settings: a candidate may edit the rest of the file, never
those sections (:data:`lanser.configfiles.CONFIG_SECTIONS`). :func:`restore_sections`
splices the base's sections into the candidate's file text, then proves the splice by
parsing both sides again; when it cannot, the whole base file is the answer.
"""

from __future__ import annotations

import configparser
import fnmatch
import re

_TOML_HEADER = re.compile(r"^\s*\[\[?\s*([^\]\[]+?)\s*\]\]?\s*(?:#.*)?$")
_INI_HEADER = re.compile(r"^\s*\[([^\]]+)\]\s*(?:[#;].*)?$")


def restore_sections(name: str, new: bytes, old: bytes | None,
                      patterns: list[str]) -> tuple[bytes | None, list[str]]:
    """The candidate's shared file with its protected sections as the base has them,
    and the sections that differed; ([], the file) when none did. Checked by parsing:
    a splice that does not give the base's sections and the candidate's others is
    replaced by the whole base file."""
    toml = name.endswith(".toml")
    read = _toml_sections if toml else _ini_sections
    mine, theirs = read(new), read(old) if old is not None else {}
    if mine is None:  # the candidate's file does not parse: the base's, whole
        keys = sorted(k for k in (theirs or {}) if section_match(k, patterns)) or [name]
        return old, keys
    base_sections = theirs or {}
    keys = sorted(k for k in set(mine) | set(base_sections) if section_match(k, patterns)
                  and mine.get(k) != base_sections.get(k))
    if not keys:
        return new, []
    spliced = _splice(new, old, patterns, toml)
    check = read(spliced) if spliced is not None else None
    ok = check is not None and all(
        check.get(k) == (base_sections.get(k) if section_match(k, patterns) else mine.get(k))
        for k in set(check) | set(mine) | set(base_sections))
    return (spliced if ok else old), keys


def section_match(key: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) or key.startswith(p + ".") for p in patterns)


def _toml_sections(data: bytes) -> dict[str, object] | None:
    """Every table as dotted name -> its scalar keys (nested tables flattened)."""
    from lanser.configfiles import tomllib

    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    out: dict[str, object] = {}

    def walk(prefix: str, table: dict) -> None:
        out[prefix] = {k: v for k, v in table.items() if not isinstance(v, dict)}
        for k, v in table.items():
            if isinstance(v, dict):
                walk(f"{prefix}.{k}" if prefix else k, v)

    walk("", doc)
    return out


def ini_parser(data: bytes) -> configparser.RawConfigParser | None:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(data.decode("utf-8"))
    except (configparser.Error, UnicodeDecodeError):
        return None
    return parser


def _ini_sections(data: bytes) -> dict[str, object] | None:
    parser = ini_parser(data)
    if parser is None:
        return None
    return {s: dict(parser.items(s)) for s in parser.sections()}


def _blocks(text: str, toml: bool) -> list[tuple[str | None, str]]:
    """The file as (section name or None for the preamble, its text) blocks."""
    header = _TOML_HEADER if toml else _INI_HEADER
    blocks: list[tuple[str | None, str]] = [(None, "")]
    for line in text.splitlines(keepends=True):
        match = header.match(line)
        if match:
            name = match.group(1)
            if toml:
                name = ".".join(p.strip().strip("\"'") for p in name.split("."))
            blocks.append((name.strip(), line))
        else:
            blocks[-1] = (blocks[-1][0], blocks[-1][1] + line)
    return blocks


def _splice(new: bytes, old: bytes | None, patterns: list[str], toml: bool) -> bytes | None:
    try:
        mine = _blocks(new.decode("utf-8"), toml)
        theirs = _blocks(old.decode("utf-8"), toml) if old is not None else []
    except UnicodeDecodeError:
        return None
    kept = [text for name, text in mine if name is None or not section_match(name, patterns)]
    restored = [text for name, text in theirs
                if name is not None and section_match(name, patterns)]
    body = "".join(kept)
    if restored and body and not body.endswith("\n"):
        body += "\n"
    return (body + "".join(restored)).encode("utf-8")


__all__ = ["ini_parser", "restore_sections", "section_match"]
