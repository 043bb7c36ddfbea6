"""Selectors: addressing code robustly (pillar 1). See selectors/SPEC.md."""

from lanser.selectors.target import Target, resolve_target

__all__ = ["Target", "resolve_target"]
