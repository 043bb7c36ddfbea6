"""A content-addressed bundle store under the workspace's ``.lanser/bundles/``.

Bundles are filed by a key over everything that determines their content: the
server pin (name, version, config hash), the snapshot identity and the request.
A repeated request on a frozen snapshot is then answered from the store without
starting a server, with the very bytes first written. Writes are atomic (temp file
+ ``os.replace``); a corrupt entry is treated as missing, never as an error.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from lanser.bundles.bundle import MalformedBundle, check_bundle, dump_bundle
from lanser.canonical import content_hash
from lanser.workspace import Workspace


def store_key(server_pin: dict[str, Any] | None, snapshot: dict[str, Any],
              request: dict[str, Any]) -> str:
    return content_hash({"server": server_pin, "snapshot": snapshot, "request": request})


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

    def put(self, key: str, bundle: dict[str, Any]) -> Path:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dump_bundle(bundle))
        os.replace(tmp, path)
        return path

    def by_hash(self, bundle_hash: str) -> dict[str, Any] | None:
        """Find a stored bundle by its own hash (episodes record bundle hashes)."""
        if not self.directory.is_dir():
            return None
        for path in sorted(self.directory.glob("*/*.json")):
            try:
                bundle = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if bundle.get("hash") == bundle_hash:
                return bundle
        return None
