"""The ``lanser`` command line: thin commands over the library."""

from __future__ import annotations


def main() -> None:
    from lanser.cli.app import app

    app()
