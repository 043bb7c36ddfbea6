"""Analysis bundles (pillar 2): normalized, content-hashed records of what was said."""

from lanser.bundles.bundle import (
    SCHEMA,
    MalformedBundle,
    bundle_hash,
    check_bundle,
    dump_bundle,
    load_bundle,
    make_bundle,
)
from lanser.canonical import canonical_bytes, content_hash

__all__ = [
    "SCHEMA",
    "MalformedBundle",
    "bundle_hash",
    "canonical_bytes",
    "check_bundle",
    "content_hash",
    "dump_bundle",
    "load_bundle",
    "make_bundle",
]
