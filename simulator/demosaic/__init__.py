"""Demosaicers: packed RGGB ``[..., 4, h, w]`` -> linear RGB ``[..., 3, 2h, 2w]``, found by name.

========== ===============================================================================
bilinear    the reference pipeline's default (``'default'`` in the published code)
menon2007   Menon et al. 2007 through colour-demosaicing (``'menon2007'``)
demosaicnet Gharbi et al. 2016 Bayer network with the published weights (``'net'``), the
            demosaicer of the BracketIRE scoring protocol
========== ===============================================================================
"""

from __future__ import annotations

from typing import Any

import torch

from simulator.core.registry import Registry

DEMOSAICERS = Registry(
    "demosaicer",
    {
        "bilinear": "simulator.demosaic.bilinear:demosaic_bilinear",
        "menon2007": "simulator.demosaic.menon:demosaic_menon2007",
        "demosaicnet": "simulator.demosaic.demosaicnet:demosaic_demosaicnet",
    },
)


def demosaic(packed: torch.Tensor, method: str = "bilinear", **options: Any) -> torch.Tensor:
    """Demosaic packed RGGB with the registered method ``method``.

    Args:
        packed: ``[..., 4, h, w]`` packed RGGB, linear, floating; normally in [0, 1].
        method: a name in :data:`DEMOSAICERS`.
        options: passed to the demosaicer (e.g. ``weights=`` for ``demosaicnet``).

    Returns:
        ``[..., 3, 2h, 2w]`` linear RGB (float64 for ``menon2007``, else the input dtype).
    """
    return DEMOSAICERS[method](packed, **options)
