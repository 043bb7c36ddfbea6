"""The Python SDK: ``lanser.Client`` (blocking) and ``lanser.AsyncClient`` (asyncio).

    import lanser

    client = lanser.Client("path/to/repo")
    hits = client.definition("app/models.py:12:5")   # Locations
    report = client.gate(base="origin/main")          # GateReport

Results are frozen dataclasses (:mod:`lanser.sdk.results`); errors are
:class:`lanser.LanserError` and its subclasses (:mod:`lanser.errors`).
"""

from lanser.sdk.client import AsyncClient, Client
from lanser.sdk.results import (
    Bundle,
    Calls,
    Diagnostics,
    EditResult,
    FileDiagnostics,
    HoverInfo,
    Locations,
    RewardResult,
    Server,
    Symbols,
    Target,
    Verification,
)

__all__ = ["AsyncClient", "Bundle", "Calls", "Client", "Diagnostics", "EditResult",
           "FileDiagnostics", "HoverInfo", "Locations", "RewardResult", "Server", "Symbols",
           "Target", "Verification"]
