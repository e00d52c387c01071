"""Menon et al. (2007) demosaicing through the ``colour-demosaicing`` package."""

from __future__ import annotations

import numpy as np
import torch

from simulator.bayer import unpack
from simulator.core.checks import check_image


def demosaic_menon2007(packed: torch.Tensor) -> torch.Tensor:
    """DDFAPD demosaic of Menon, Andriani and Calvagno (2007), with its refining step.

    Runs ``colour_demosaicing.demosaicing_CFA_Bayer_Menon2007`` on the CPU in float64, one image at a
    time, as the published pipeline's ``'menon2007'`` option does.

    Args:
        packed: ``[..., 4, h, w]`` packed RGGB, floating, finite.

    Returns:
        ``[..., 3, 2h, 2w]`` RGB as **float64** (keep the precision for the colour matrix that follows),
        on the device of ``packed``. Not clamped: the method can overshoot slightly at edges.
    """
    from colour_demosaicing import demosaicing_CFA_Bayer_Menon2007  # slow import, only when used

    check_image(packed, "packed", 4)
    *lead, _, height, width = packed.shape
    bayers = unpack(packed.reshape(-1, 4, height, width)).detach().cpu().numpy()
    rgbs = [demosaicing_CFA_Bayer_Menon2007(bayer, "RGGB") for bayer in bayers]
    rgb = torch.from_numpy(np.stack(rgbs).astype(np.float64)).permute(0, 3, 1, 2)
    return rgb.reshape(*lead, 3, 2 * height, 2 * width).to(packed.device)
