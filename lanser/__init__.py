"""lanser: verified code facts and process rewards for coding agents.

The package is layered (imports point downwards only)::

    cli/                      parse, call the library, render
    rewards/ episodes/ train/ the reward functional, recorded episodes, training
    selectors/ bundles/ edits/ runner/
    lsp/                      language-server registry, sessions, daemon
    errors, positions, workspace, config
"""

__version__ = "0.1.0"
