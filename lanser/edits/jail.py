"""The jail: every file an edit touches stays inside the workspace and off the deny list.

Each target path goes through :meth:`Jail.check`, for every file of every edit (the
published tool checked only the file the selector named, so an edit could still
write a lock file or a secret elsewhere). The rules, in order:

* absolute paths must lie inside the root; ``..`` may not climb out of it;
* the *real* path, after following symlinks (of the file, and of any directory on
  the way, even for a file that does not exist yet), must lie inside the root;
* names a server gives files outside the workspace (``<stdlib>/...``) are outside;
* no component may be ``.git`` (the repository) or ``.lanser`` (our journal);
* no deny glob may match the given or the real relative path, ignoring case (on a
  case-insensitive filesystem ``.ENV`` is ``.env``). A glob without ``/`` matches a
  file's name in any directory (``.env``, ``*.pem``); one with ``/`` is matched
  against the whole relative path, where ``*`` crosses directories.

Messages name paths without the machine in them, so a refusal reads (and hashes)
the same at any checkout path: a workspace file by its relative name, a target
outside as ``<outside>/`` plus its path below the deepest directory it shares
with the root (``/etc/passwd`` is ``<outside>/etc/passwd``, a sibling checkout's
file ``<outside>/other/x.py``).

The defaults (:data:`DEFAULT_DENY`) keep edits off secrets, lock files and
``lanser.toml`` (an edit must not lift its own deny list);
``[edits] deny = [...]`` adds globs, ``[edits] default_deny = false`` drops the
defaults.

Configuration is protected apart (issue 17): what decides how an edit is checked
and graded — lanser's own config, the servers' and pytest's (:data:`CONFIG_DENY`,
and the tables :data:`PROTECTED_TABLES` of any ``pyproject.toml``) — is denied
unless ``[edits] protect_config = false``, a switch that itself lives only in
protected files. An edit may change the rest of a pyproject.toml
(:meth:`Jail.check_content` compares the protected tables before and after; a
file that does not parse as TOML on either side counts as changed).
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lanser.configfiles import CONFIG_FILES, CONFIG_SECTIONS, PYPROJECT
from lanser.edits.model import Denied
from lanser.errors import ConfigError, OutsideWorkspace, UsageError
from lanser.workspace import Workspace

#: Deny globs applied unless ``[edits] default_deny = false``.
DEFAULT_DENY = (
    ".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_ed25519*",
    ".netrc", ".pypirc", "secrets/*", "*/secrets/*", "*.lock", "package-lock.json",
    "pnpm-lock.yaml", "npm-shrinkwrap.json",
    # The rules themselves: an edit must not be able to lift its own deny list.
    "lanser.toml",
)

#: Files that configure lanser, the language servers and pytest: an edit that could
#: change them could change how it is itself checked and graded. Denied unless
#: ``[edits] protect_config = false`` (see SECURITY.md).
CONFIG_DENY = (*CONFIG_FILES, "setup.cfg", "tox.ini", "conftest.py")
#: Tables of a ``pyproject.toml`` no edit may change (the rest of the file it may).
PROTECTED_TABLES = tuple(t for t in CONFIG_SECTIONS[PYPROJECT] if "*" not in t)

#: Directory names no edit may enter.
FORBIDDEN_DIRS = (".git", ".lanser")


@dataclass(frozen=True)
class Target:
    """A jailed path: the real absolute path and its workspace-relative name."""

    path: Path
    rel: str
    is_symlink: bool


class Jail:
    def __init__(self, root: Path, deny: Iterable[str] = DEFAULT_DENY, *,
                 protect_config: bool = True) -> None:
        self.root = root
        self.deny = tuple(deny)
        self.protect_config = protect_config

    @classmethod
    def for_workspace(cls, workspace: Workspace) -> Jail:
        section = workspace.config.section("edits")
        extra = section.get("deny", [])
        if not isinstance(extra, list) or not all(isinstance(g, str) for g in extra):
            raise ConfigError("[edits] deny must be a list of glob strings")
        base = DEFAULT_DENY if section.get("default_deny", True) else ()
        protect = section.get("protect_config", True)
        if not isinstance(protect, bool):
            raise ConfigError("[edits] protect_config must be true or false")
        return cls(workspace.root, (*base, *extra), protect_config=protect)

    def check_content(self, rel: str, before: bytes | None, after: bytes | None) -> None:
        """Refuse an edit of ``rel`` from ``before`` to ``after`` bytes that changes a
        protected table of a ``pyproject.toml`` (:data:`PROTECTED_TABLES`)."""
        if not self.protect_config or rel.rsplit("/", 1)[-1].lower() != "pyproject.toml":
            return
        old, new = _protected_tables(before), _protected_tables(after)
        for table in PROTECTED_TABLES:
            if old.get(table) != new.get(table):
                raise Denied(f"{rel}: the edit changes [{table}], configuration that "
                             "decides how edits are checked and graded (SECURITY.md; "
                             "[edits] protect_config)", path=rel, rule=f"[{table}]")

    def check(self, given: str) -> Target:
        """Jail one path named by an edit (relative to the root, or absolute)."""
        if not given or "\0" in given:
            raise UsageError(f"invalid path {given!r} in edit", code="bad_path", path=given)
        if too_long(given):  # before any probe: the OS would answer ENAMETOOLONG
            raise UsageError(f"{given[:60]}...: path too long", code="bad_path")
        head = given.split("/", 1)[0]
        if head.startswith("<") and head.endswith(">"):
            # An anchored name from a server answer (<stdlib>/..., <site-packages>/...).
            raise OutsideWorkspace(f"{given}: outside the workspace (not a workspace file)",
                                   path=given)
        shown = given
        if os.path.isabs(given):
            lexical = posixpath.normpath(Path(given).as_posix())
            root = self.root.as_posix()
            if lexical != root and not lexical.startswith(root + "/"):
                raise OutsideWorkspace(f"{outside_name(self.root, lexical)}: outside the "
                                       "workspace", path=given)
            rel = shown = posixpath.relpath(lexical, root)
        else:
            rel = posixpath.normpath(given.replace(os.sep, "/"))
            if rel == ".." or rel.startswith("../"):
                raise OutsideWorkspace(f"{given}: '..' leads outside the workspace", path=given)
        if rel in (".", ""):
            raise UsageError(f"{shown}: the workspace root is not a file", code="bad_path",
                             path=given)
        self._check_rules(rel, shown, given)
        raw = self.root / rel
        real = Path(os.path.realpath(raw))
        if real != self.root and self.root not in real.parents:
            raise OutsideWorkspace(
                f"{shown}: resolves through a symlink to {outside_name(self.root, real)}, "
                "outside the workspace", path=given)
        real_rel = real.relative_to(self.root).as_posix()
        if real_rel != rel:
            self._check_rules(real_rel, shown, given)
        return Target(real, real_rel, raw.is_symlink())

    def _check_rules(self, rel: str, shown: str, given: str) -> None:
        parts = rel.split("/")
        # Lower-cased: on case-insensitive filesystems ".GIT" is the repository too.
        lowered = [part.lower() for part in parts]
        for forbidden in FORBIDDEN_DIRS:
            if forbidden in lowered:
                raise Denied(f"{shown}: edits may not touch {forbidden}/", path=given)
        name = lowered[-1]
        if self.protect_config and name in CONFIG_DENY:
            raise Denied(f"{shown}: a configuration file, protected from edits (it decides "
                         "how edits are checked and graded; SECURITY.md, [edits] "
                         "protect_config)", path=given, rule=name)
        for glob in self.deny:
            subject = "/".join(lowered) if "/" in glob else name
            if fnmatch.fnmatchcase(subject, glob.lower()):
                raise Denied(f"{shown}: denied by the edit rule {glob!r} "
                             "(see [edits] deny in lanser.toml)", path=given, rule=glob)


#: Linux's limits: a name component, and a whole path, in bytes.
NAME_MAX, PATH_MAX = 255, 4096


def too_long(given: str) -> bool:
    """Whether the OS would refuse ``given`` as too long (ENAMETOOLONG)."""
    encoded = given.encode("utf-8", "surrogateescape")
    return len(encoded) >= PATH_MAX or any(len(p) > NAME_MAX for p in encoded.split(b"/"))


def outside_name(root: Path, target: str | Path) -> str:
    """``<outside>/`` and ``target`` below the deepest directory it shares with ``root``."""
    common = os.path.commonpath([root.as_posix(), Path(target).as_posix()])
    return "<outside>/" + posixpath.relpath(Path(target).as_posix(), common)


def _protected_tables(data: bytes | None) -> dict[str, object]:
    """The :data:`PROTECTED_TABLES` of a pyproject.toml's bytes (absent ones omitted);
    a file that does not parse maps every table to its bytes' hash."""
    if data is None:
        return {}
    from lanser.configfiles import tomllib

    try:
        parsed: object = tomllib.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        return {table: ("unparsable", digest) for table in PROTECTED_TABLES}
    found: dict[str, object] = {}
    for table in PROTECTED_TABLES:
        value = parsed
        for part in table.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            found[table] = value
    return found
