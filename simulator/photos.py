"""The ``photos`` source: colour photographs shipped inside scikit-image (no download, no files of ours).

Each is decoded from sRGB to linear light like any ``ldr`` photo (:func:`simulator.sources.ldr_to_linear`,
``source.highlight_gain`` included). A held-out set of real photographs for checking what models trained on
synthetic scenes learned. The licence of each image, as scikit-image's ``skimage.data`` documents it:
"""

from __future__ import annotations

import numpy as np
import torch

from simulator.core.errors import DataError, MissingDependencyError
from simulator.sources import ldr_to_linear

PHOTOS = {  # name -> licence (from the skimage.data docstrings, scikit-image 0.26)
    "astronaut": "public domain (NASA; 'no known copyright restrictions, released into the public domain')",
    "chelsea": "CC0 (photographer Stefan van der Walt)",
    "coffee": "CC0 (photographer Rachel Michetti)",
    "rocket": "public domain (SpaceX released its photos into the public domain)",
    "hubble_deep_field": "public domain (NASA: 'may be freely used in the public domain')",
}
__doc__ += "".join(f"\n* ``{name}``: {licence}" for name, licence in PHOTOS.items()) + "\n"


def photo_names() -> list[str]:
    """The photographs of the set, in their fixed order."""
    return list(PHOTOS)


def load_photo(name: str, highlight_gain: float = 1.0) -> torch.Tensor:
    """One photograph as linear RGB, ``[3, H, W]`` float32 >= 0.

    Raises:
        UnknownNameError: not a photo of :data:`PHOTOS`.
        MissingDependencyError: scikit-image is not installed (``pip install scikit-image``).
    """
    if name not in PHOTOS:
        from simulator.core.registry import unknown_name

        raise unknown_name("photo", name, photo_names())
    try:
        import skimage.data
    except ImportError:
        raise MissingDependencyError("source.name=photos needs scikit-image: pip install scikit-image") from None
    image = np.asarray(getattr(skimage.data, name)())
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise DataError(f"skimage.data.{name}: shape {image.shape}, dtype {image.dtype}; expected (H, W, 3) uint8")
    rgb = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float() / 255.0
    return ldr_to_linear(rgb, highlight_gain)
