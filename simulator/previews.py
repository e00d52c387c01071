"""Preview PNGs written beside a sample, as the published generator writes them.

* ``rgb_vis_gt.png`` — uint16 RGB, the ground truth rendered exactly as the scoring protocol renders a
  model output (``floor(clamp(mu_law(ISP(clamp(gt / 16, 0, 1))) * 65535))``); ``syn_metrics.py`` reads it.
* ``rgb_vis_<m>.png`` — uint8 sRGB view of each input (``ISP(raw / white, sRGB) * 255``, truncated), in
  the same folder as that input (``x2/``, ``x4/`` for BracketIRE+). As published, rendered from the noisy
  values before rounding to digital numbers (``BracketSample.unrounded``); from the stored digital numbers
  only for a sample made without them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from simulator.core.errors import DataError
from simulator.isp import process
from simulator.noise import dequantize
from simulator.pipeline import BracketSample
from simulator.render import to_uint16, tonemap_raw
from simulator.settings import SimulationConfig


def _write_png(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1])):
        raise DataError(f"{path}: could not write PNG")


def write_previews(folder: Path, sample: BracketSample, config: SimulationConfig) -> None:
    """Write the preview PNGs of ``sample`` into its sample folder ``folder``."""
    demosaicer = config.output.preview_demosaicer
    white = 16.0 * config.exposure.ratio ** (config.exposure.unit_frame - 2)  # 16 for the published timing
    gt = to_uint16(tonemap_raw(sample.gt.clamp(0, white), sample.meta, demosaicer, white_level=white))
    _write_png(folder / "rgb_vis_gt.png", gt)
    for scale, stack in sample.raws.items():
        target = folder if scale == 1 else folder / f"x{scale}"
        if sample.unrounded is not None:
            linear = sample.unrounded[scale]
        else:
            linear = dequantize(stack, config.noise.bit_depth, config.noise.black_level)
        srgb = process(linear, sample.meta, demosaicer, srgb=True)
        for multiple, image in zip(sample.exposures, srgb):
            _write_png(target / f"rgb_vis_{multiple}.png", (image * 255).permute(1, 2, 0).numpy().astype(np.uint8))
