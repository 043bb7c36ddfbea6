"""The ``lanser`` command line: thin commands over the library."""

from __future__ import annotations


def main() -> None:
    import sys

    from lanser.cli.fast import try_fast

    code = try_fast(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from lanser.cli.app import app

    app()
