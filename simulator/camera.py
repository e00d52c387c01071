"""Camera metadata: colour matrices and white-balance gains, their JSON form, and camera samplers.

A :class:`CameraMeta` carries the five values the published ``metadata.npy`` stores. Cameras are
registered samplers ``generator -> CameraMeta``:

* ``bracketire`` — the reference camera of the published BracketIRE pipeline: one fixed colour matrix
  (the Xiaomi 10S xyz2cam matrix times sRGB->XYZ, each row normalised to sum 1), ``rgb_gain = 1``,
  ``red_gain ~ U(1/0.91, 1/0.40)`` then ``blue_gain ~ U(1/0.75, 1/0.39)``. Seeded like the reference,
  ``torch.Generator().manual_seed(s)`` reproduces its gains for ``torch.manual_seed(s)`` exactly.
* ``brooks2019`` — the random camera of Brooks et al., "Unprocessing Images for Learned Raw Denoising"
  (CVPR 2019): a random convex combination of four xyz2cam matrices (the numbers published with that
  paper), ``rgb_gain = 1 / N(0.8, 0.1)``, ``red_gain ~ U(1.9, 2.4)``, ``blue_gain ~ U(1.5, 1.9)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from simulator.core.errors import DataError
from simulator.core.registry import Registry

# The reference camera's RGB -> camera matrix as float32, exactly as the published pipeline computes it.
REFERENCE_RGB2CAM = (
    (0.5728719830513, 0.33989912271499634, 0.08722890913486481),
    (0.1255456656217575, 0.7105129361152649, 0.1639414131641388),
    (0.07417097687721252, 0.3083612024784088, 0.6174678206443787),
)
REFERENCE_RED_GAIN = (1 / 0.91, 1 / 0.40)
REFERENCE_BLUE_GAIN = (1 / 0.75, 1 / 0.39)

# sRGB (D65) -> CIE XYZ.
SRGB_TO_XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)
# XYZ -> camera matrices of four cameras, as published with Brooks et al. (CVPR 2019).
BROOKS2019_XYZ2CAMS = (
    ((1.0234, -0.2969, -0.2266), (-0.5625, 1.6328, -0.0469), (-0.0703, 0.2188, 0.6406)),
    ((0.4913, -0.0541, -0.0202), (-0.613, 1.3513, 0.2906), (-0.1564, 0.2151, 0.7183)),
    ((0.838, -0.263, -0.0639), (-0.2887, 1.0725, 0.2496), (-0.0627, 0.1427, 0.5438)),
    ((0.6596, -0.2079, -0.0562), (-0.4782, 1.3016, 0.1933), (-0.097, 0.1581, 0.5181)),
)

_MATRICES = ("rgb2cam", "cam2rgb")
_GAINS = ("rgb_gain", "red_gain", "blue_gain")


@dataclass(frozen=True, eq=False)
class CameraMeta:
    """Per-sample camera metadata, batched or not.

    Attributes:
        rgb2cam: ``[..., 3, 3]`` linear sRGB -> camera RGB (applied as ``out = M @ rgb``).
        cam2rgb: ``[..., 3, 3]`` camera RGB -> linear sRGB, the inverse of ``rgb2cam``.
        rgb_gain: ``[...]`` global brightness gain (1 for the reference camera).
        red_gain: ``[...]`` white-balance gain of the red channel.
        blue_gain: ``[...]`` white-balance gain of the blue channel.

    ``...`` is the batch shape, the same for every field; gains broadcast per image, matrices per pixel.
    """

    rgb2cam: torch.Tensor
    cam2rgb: torch.Tensor
    rgb_gain: torch.Tensor
    red_gain: torch.Tensor
    blue_gain: torch.Tensor

    def __post_init__(self) -> None:
        batch = tuple(self.rgb2cam.shape[:-2])
        for name in _MATRICES:
            value = getattr(self, name)
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != batch + (3, 3):
                raise DataError(f"camera metadata: {name} must be a tensor of shape {batch + (3, 3)}")
        for name in _GAINS:
            value = getattr(self, name)
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != batch:
                raise DataError(f"camera metadata: {name} must be a tensor of shape {batch}")

    @property
    def batch_shape(self) -> torch.Size:
        """Leading shape shared by every field (``()`` for one sample)."""
        return self.rgb_gain.shape

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> CameraMeta:
        """The same metadata on another device and/or floating dtype."""
        return CameraMeta(**{f.name: getattr(self, f.name).to(device=device, dtype=dtype) for f in fields(self)})

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any], source: str = "metadata") -> CameraMeta:
        """Build from the published five arrays (a ``metadata.npy`` dict or a fixture ``.npz``).

        Accepts numpy arrays or tensors: matrices ``[..., 3, 3]``, gains of any shape with as many
        elements as the batch (``(1,)`` per sample, ``(N, 1)`` after a DataLoader). Values become float32.

        Raises:
            DataError: a key is missing or a shape does not fit, naming ``source``.
        """
        missing = [k for k in _MATRICES + _GAINS if k not in arrays]
        if missing:
            raise DataError(f"{source}: missing camera metadata key(s) {missing}; expected {list(_MATRICES + _GAINS)}")
        values = {k: torch.as_tensor(np.asarray(arrays[k]), dtype=torch.float32) for k in _MATRICES + _GAINS}
        batch = tuple(values["rgb2cam"].shape[:-2])
        for k in _GAINS:
            if values[k].numel() != int(np.prod(batch, dtype=np.int64)):
                raise DataError(f"{source}: {k} has shape {tuple(values[k].shape)}; expected one value per sample {batch}")
            values[k] = values[k].reshape(batch)
        return cls(**values)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The published ``metadata.npy`` form: float32 numpy, matrices ``[..., 3, 3]``, gains ``[..., 1]``."""
        out = {k: getattr(self, k).detach().cpu().float().numpy() for k in _MATRICES}
        out.update({k: getattr(self, k).detach().cpu().float().numpy()[..., None] for k in _GAINS})
        return out

    def to_json(self) -> str:
        """JSON text with nested lists (float32 values survive the round trip exactly)."""
        return json.dumps({k: getattr(self, k).detach().cpu().float().tolist() for k in _MATRICES + _GAINS})

    @classmethod
    def from_json(cls, text: str, source: str = "metadata.json") -> CameraMeta:
        """Inverse of :meth:`to_json`.

        Raises:
            DataError: the text is not JSON or lacks a key, naming ``source``.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{source}: not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise DataError(f"{source}: expected a JSON object with keys {list(_MATRICES + _GAINS)}")
        missing = [k for k in _MATRICES + _GAINS if k not in data]
        if missing:
            raise DataError(f"{source}: missing camera metadata key(s) {missing}")
        values = {}
        for k in _MATRICES + _GAINS:
            expected = "a 3x3 list of numbers" if k in _MATRICES else "a number"
            try:
                values[k] = torch.tensor(data[k], dtype=torch.float32)
            except (TypeError, ValueError, RuntimeError):
                raise DataError(f"{source}: {k} is {data[k]!r:.60}; expected {expected}") from None
            if not torch.isfinite(values[k]).all():
                raise DataError(f"{source}: {k} holds NaN or infinite values; expected finite numbers")
        try:
            return cls(**values)
        except DataError as err:
            raise DataError(f"{source}: {err}") from None

    @staticmethod
    def stack(metas: Sequence[CameraMeta]) -> CameraMeta:
        """Stack per-sample metadata into a batch along a new first dimension."""
        return CameraMeta(**{f.name: torch.stack([getattr(m, f.name) for m in metas]) for f in fields(CameraMeta)})


def _uniform(generator: torch.Generator, low: float, high: float) -> torch.Tensor:
    return torch.empty(1).uniform_(low, high, generator=generator)[0]


def reference_camera(generator: torch.Generator) -> CameraMeta:
    """The published BracketIRE camera: fixed colour matrix, random white balance (one draw per sample)."""
    rgb2cam = torch.tensor(REFERENCE_RGB2CAM, dtype=torch.float32)
    red_gain = _uniform(generator, *REFERENCE_RED_GAIN)
    blue_gain = _uniform(generator, *REFERENCE_BLUE_GAIN)
    return CameraMeta(rgb2cam, torch.inverse(rgb2cam), torch.tensor(1.0), red_gain, blue_gain)


def brooks2019_camera(generator: torch.Generator) -> CameraMeta:
    """Brooks et al. (CVPR 2019) random camera: random colour matrix, brightness and white balance."""
    xyz2cams = torch.tensor(BROOKS2019_XYZ2CAMS, dtype=torch.float32)
    weights = torch.empty(len(xyz2cams), 1, 1).uniform_(1e-8, 1e8, generator=generator)
    xyz2cam = (xyz2cams * weights).sum(0) / weights.sum(0)
    rgb2cam = xyz2cam @ torch.tensor(SRGB_TO_XYZ, dtype=torch.float32)
    rgb2cam = rgb2cam / rgb2cam.sum(-1, keepdim=True)
    rgb_gain = 1.0 / (0.8 + 0.1 * torch.randn(1, generator=generator)[0])
    red_gain = _uniform(generator, 1.9, 2.4)
    blue_gain = _uniform(generator, 1.5, 1.9)
    return CameraMeta(rgb2cam, torch.inverse(rgb2cam), rgb_gain, red_gain, blue_gain)


CAMERAS = Registry(
    "camera",
    {
        "bracketire": "simulator.camera:reference_camera",
        "brooks2019": "simulator.camera:brooks2019_camera",
    },
)


def sample_camera(name: str, generator: torch.Generator) -> CameraMeta:
    """Draw one sample's metadata from the camera registered as ``name``."""
    sampler: Callable[[torch.Generator], CameraMeta] = CAMERAS[name]
    return sampler(generator)
