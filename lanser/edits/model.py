"""The records of the safety envelope: refusals, file effects, previews, apply results.

An edit reaches the envelope as a list of :class:`lanser.lsp.facts.FileChange` (the
one internal form every LSP WorkspaceEdit and every unified diff is converted to).
Planning turns those changes into :class:`FileEffect` records, one per file, holding
the exact bytes before and after; everything downstream (diff, stale check, journal,
git history, undo) works on those bytes, never on positions again.

Refusals are errors with exit code 2 and a stable ``code``; the reward's safe-apply
component reads the same codes from :class:`ApplyResult`::

    UsageError (lanser.errors)
    └── EditRefused        refused
        ├── Denied         denied      (.git/, .lanser/, a deny glob)
        ├── StaleContent   stale       (a file changed since the preview)
        ├── DirtyFile      dirty       (uncommitted changes, no --allow-dirty)
        ├── EditConflict   conflict    (overlapping edits, a file that exists/doesn't)
        └── PatchMismatch  patch_mismatch (a diff's context is not in the file)

Paths outside the workspace raise :class:`lanser.errors.OutsideWorkspace`
(``outside_workspace``) and binary files :class:`lanser.errors.UnreadableFile`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lanser.canonical import bytes_hash, content_hash
from lanser.errors import UsageError

#: The hash recorded for a file that does not exist.
ABSENT = "absent"


class EditRefused(UsageError):
    code = "refused"


class Denied(EditRefused):
    code = "denied"


class StaleContent(EditRefused):
    code = "stale"


class DirtyFile(EditRefused):
    code = "dirty"


class EditConflict(EditRefused):
    code = "conflict"


class PatchMismatch(EditRefused):
    code = "patch_mismatch"


def state_hash(data: bytes | None) -> str:
    """``sha256:<hex>`` of a file's bytes, or :data:`ABSENT`."""
    return ABSENT if data is None else bytes_hash(data)


@dataclass(frozen=True)
class FileEffect:
    """What an edit does to one file: exact bytes and modes before and after.

    ``path`` is workspace-relative (the real path, after symlinks). ``before`` is
    None for a file the edit creates, ``after`` None for one it deletes.
    """

    path: str
    before: bytes | None
    after: bytes | None
    before_mode: int | None
    after_mode: int | None
    edits: int = 0
    renamed_from: str | None = None

    @property
    def before_hash(self) -> str:
        return state_hash(self.before)

    @property
    def after_hash(self) -> str:
        return state_hash(self.after)

    @property
    def status(self) -> str:
        if self.before is None:
            return "created"
        if self.after is None:
            return "deleted"
        return "modified"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "status": self.status, "edits": self.edits,
                               "before": self.before_hash, "after": self.after_hash}
        if self.renamed_from is not None:
            out["renamed_from"] = self.renamed_from
        return out


@dataclass(frozen=True)
class Preview:
    """An edit planned against the disk: nothing written yet.

    ``effects`` are sorted by path; ``diff`` is the unified diff of all of them;
    ``base`` (path -> hash before) is what apply re-checks to refuse stale content.
    """

    origin: str
    changes: tuple[Any, ...]
    effects: tuple[FileEffect, ...]
    diff: str
    symbols: tuple[str, ...] = ()

    @property
    def base(self) -> dict[str, str]:
        return {e.path: e.before_hash for e in self.effects}

    @property
    def edit_count(self) -> int:
        return sum(e.edits for e in self.effects)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(e.path for e in self.effects)

    @property
    def id(self) -> str:
        """Content hash of what the edit does: same edit on same files, same id."""
        return content_hash([[e.path, e.before_hash, e.after_hash, e.after_mode]
                             for e in self.effects])

    def summary(self) -> dict[str, Any]:
        return {"files": len(self.effects), "edits": self.edit_count,
                "symbols": list(self.symbols)}

    def to_json(self) -> dict[str, Any]:
        """The preview as ``lanser rename|actions|apply --json`` prints it.

        It is itself a valid input of ``lanser apply``: ``changes`` replay the edit,
        ``base`` makes the apply refuse if any file changed in between.
        """
        return {
            "origin": self.origin,
            "id": self.id,
            "summary": self.summary(),
            "files": [e.to_json() for e in self.effects],
            "diff": self.diff,
            "changes": [c.to_json() for c in self.changes],
            "base": self.base,
        }


#: Statuses of :class:`ApplyResult`.
APPLIED, REFUSED, ROLLED_BACK = "applied", "refused", "rolled_back"


@dataclass(frozen=True)
class ApplyResult:
    """The outcome of one trip through the envelope, as the safe-apply reward reads it.

    ``status`` is ``applied``, ``refused`` (``reason`` holds the refusal's code) or
    ``rolled_back`` (``new_diagnostics`` holds the errors the edit introduced). The
    JSON form has no timestamps or absolute paths, so equal outcomes hash equally;
    that is why ``record`` (the git commit, which embeds a commit time) stays out.
    """

    status: str
    preview_id: str | None = None
    files: tuple[str, ...] = ()
    edits: int = 0
    reason: str | None = None
    message: str | None = None
    verified: bool = False
    new_diagnostics: tuple[dict[str, Any], ...] = ()
    record: str | None = None
    after: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def refused(cls, error: Exception, preview: Preview | None = None) -> ApplyResult:
        code = getattr(error, "code", "refused")
        return cls(REFUSED, preview.id if preview else None,
                   preview.paths if preview else (), preview.edit_count if preview else 0,
                   reason=code, message=getattr(error, "message", str(error)))

    @property
    def ok(self) -> bool:
        return self.status == APPLIED

    def to_bundle(self, workspace: Any, *, origin: str | None = None,
                  snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
        """This record as an analysis bundle (``request.op = "apply"``, the record in
        ``facts.apply``), hashed like any bundle; ``snapshot`` defaults to the
        workspace now (after the apply, or unchanged when refused or rolled back).

        The hashed part names no machine path, so the same outcome hashes the same at
        any checkout path: a message that still holds the root (an error from a
        lower layer) is rewritten relative to it first.
        """
        from lanser.bundles.bundle import make_bundle
        from lanser.pathtext import scrub_paths

        record = self.to_json()
        if record.get("message"):
            record["message"] = scrub_paths(record["message"], [(str(workspace.root), "")])
        request = {"origin": origin} if origin is not None else {}
        return make_bundle(workspace, op="apply", request=request, facts={"apply": record},
                           snapshot=snapshot)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status, "preview_id": self.preview_id, "files": list(self.files),
            "edits": self.edits, "verified": self.verified,
            "new_diagnostics": list(self.new_diagnostics),
            "after": {path: digest for path, digest in self.after},
        }
        if self.reason is not None:
            out["reason"] = self.reason
            out["message"] = self.message
        return out
