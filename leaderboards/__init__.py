"""Leaderboards: result tables as data with provenance (CSV), their loader and plots. Reads tables only."""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {  # name -> "module:attribute", imported on first use (importing the package stays cheap)
    "load_leaderboard": "leaderboards.table:load_leaderboard",
    "ranked": "leaderboards.table:ranked",
    "render": "leaderboards.table:render",
    "plot_psnr": "leaderboards.plots:plot_psnr",
    "import_ntire2024": "leaderboards.importer:import_ntire2024",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        module, _, attr = _PUBLIC[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
