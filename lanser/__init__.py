"""lanser: verified code facts and process rewards for coding agents.

The package is layered (imports point downwards only)::

    cli/                      parse, call the library, render
    rewards/ episodes/ train/ the reward functional, recorded episodes, training
    selectors/ bundles/ edits/ runner/
    lsp/                      language-server registry, sessions, daemon
    errors, positions, workspace, config
"""

__version__ = "0.1.0"

#: The SDK and the error tree, importable as ``lanser.Client`` etc. Loaded on first
#: use: ``import lanser`` (every CLI call does it) stays as light as it was.
_LAZY = {"Client": "lanser.sdk", "AsyncClient": "lanser.sdk",
         "LanserError": "lanser.errors", "UsageError": "lanser.errors",
         "ServerError": "lanser.errors", "NotResolved": "lanser.errors",
         "CheckFailed": "lanser.errors", "ExitCode": "lanser.errors"}

__all__ = ["AsyncClient", "CheckFailed", "Client", "ExitCode", "LanserError", "NotResolved",
           "ServerError", "UsageError", "__version__"]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lanser' has no attribute {name!r}")
