"""Canonical JSON (RFC 8785, JCS) and the ``sha256:<hex>`` hashes computed over it.

Every hash lanser publishes goes through :func:`content_hash`, so two values that
are equal as JSON hash equally whatever their key order, on any machine.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 canonical serialization of a JSON value."""
    return rfc8785.dumps(value)


def content_hash(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_bytes(value)).hexdigest()


def bytes_hash(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
