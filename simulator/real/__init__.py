"""Real brackets: camera RAW / DNG files and the published real-world dataset, and their published rendering.

Public API::

    detect_raw_layout(root) -> "real" | "camera" | None
    iter_raw_brackets(root, layout=None, group=None) -> Iterator[RawBracket]
    render_real(raw, info) -> (uint16 [H, W, 3] published PNG content, uint8 [H, W, 3] sRGB preview)
    exposure_scales(exposures) -> float32 [T] e[2] / e, the published real models' input scaling

rawpy (LibRaw) reads the files; it is the ``raw`` extra (``pip install 'bracketire-toolkit[raw]'``).
"""

from simulator.real.brackets import RawBracket, detect_raw_layout, exposure_scales, iter_raw_brackets
from simulator.real.metadata import RealRenderInfo, camera_meta
from simulator.real.render import render_real

__all__ = [
    "RawBracket", "RealRenderInfo", "camera_meta", "detect_raw_layout", "exposure_scales", "iter_raw_brackets",
    "render_real",
]
