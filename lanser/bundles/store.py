"""A content-addressed bundle store under the workspace's ``.lanser/bundles/``.

Bundles are filed by a key over everything that determines their content: the
server pin (name, version, config hash), the snapshot identity and the request.
The key also holds the bundle schema and lanser's version, so an upgrade never
serves a bundle made by other code. A repeated request on a frozen snapshot is
then answered from the store without starting a server, with the very bytes first
written. A bundle holding a partial answer (diagnostics ``not_ready``: the server
did not answer in time) is never filed under its request key: the next request
asks again instead of being served the timeout forever. Every bundle is also filed
under its own hash (``by-hash/``), which is how episodes refer to what they saw.
Writes are atomic (temp file + ``os.replace``); a corrupt entry is treated as
missing, never as an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lanser import __version__
from lanser.bundles.bundle import SCHEMA, MalformedBundle, check_bundle, dump_bundle
from lanser.canonical import content_hash
from lanser.files import atomic_write
from lanser.workspace import Workspace


def store_key(server_pin: dict[str, Any] | None, snapshot: dict[str, Any],
              request: dict[str, Any]) -> str:
    return content_hash({"schema": SCHEMA, "tool": __version__, "server": server_pin,
                         "snapshot": snapshot, "request": request})


def is_complete(bundle: dict[str, Any]) -> bool:
    """False when any fact is a partial answer (a file's diagnostics ``not_ready``)."""
    for fact in (bundle.get("facts") or {}).values():
        files = fact.get("files") if isinstance(fact, dict) else None
        if any(isinstance(f, dict) and f.get("status") == "not_ready" for f in files or ()):
            return False
    return True


class BundleStore:
    def __init__(self, workspace: Workspace) -> None:
        self.directory = workspace.state_dir / "bundles"

    def _path(self, key: str) -> Path:
        digest = key.split(":", 1)[-1]
        return self.directory / digest[:2] / f"{digest}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            return check_bundle(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, MalformedBundle):
            return None

    def put(self, key: str | None, bundle: dict[str, Any]) -> Path:
        """File ``bundle`` under its own hash and, when given, under the request ``key``
        (unless it is incomplete: see :func:`is_complete`)."""
        text = dump_bundle(bundle)
        own = self._write(self._hash_path(bundle["hash"]), text)
        if key is None or not is_complete(bundle):
            return own
        return self._write(self._path(key), text)

    @staticmethod
    def _write(path: Path, text: str) -> Path:
        return atomic_write(path, text)  # a full disk leaves no half-written entry

    def _hash_path(self, bundle_hash: str) -> Path:
        return self.directory / "by-hash" / f"{bundle_hash.split(':', 1)[-1]}.json"

    def by_hash(self, bundle_hash: str) -> dict[str, Any] | None:
        """The stored bundle whose own hash is ``bundle_hash`` (checked), or ``None``."""
        try:
            bundle = check_bundle(json.loads(
                self._hash_path(bundle_hash).read_text(encoding="utf-8")))
        except (OSError, ValueError, MalformedBundle):
            return None
        return bundle if bundle["hash"] == bundle_hash else None
