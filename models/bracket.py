"""The input contract every registered model shares, and the small transforms that implement it.

``forward(raws)`` takes ``raws [B, T, 4, h, w]``: packed RGGB frames as stored, in [0, 1], shortest
exposure first, consecutive exposures ``exposure_ratio`` apart. It returns ``[B, 4, s*h, s*w]`` HDR RAW at
the shortest exposure's instant on the *unit frame's* scale: frame ``t`` is multiplied by
``exposure_ratio ** (unit_frame - t)`` (16, 4, 1, 1/4, 1/16 for five frames), so the shortest frame's white
level is 16. This is the published TMRNet convention; the loss is L1 on ``mu_law(out / 16)``.

Measured exposures: ``forward(raws, exposures=e)`` with ``e [B, T]`` (or ``[T]``) relative exposures (exposure
time x gain, shortest first, any common scale) uses the bracket's own ratios instead: frame ``t`` is multiplied
by ``e[unit_frame] / e[t]``, as the published real-world models do (``exposure[2] / exposure``). ``exposures=None``
(the default) is the fixed-ratio call, unchanged; ``e = ratio ** t`` gives the same gains bit for bit when the
ratio is a power of two.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from simulator.color import mu_law
from simulator.core.checks import check_image, check_shape
from simulator.core.errors import DataError

INVERSE_DISPLAY_GAMMA = 1 / 2.2


def mu_law_l1(output: torch.Tensor, gt: torch.Tensor, white: float = 16.0, mu: float = 5000.0) -> torch.Tensor:
    """The published training loss: mean ``|mu_law(max(out, 0) / white) - mu_law(max(gt, 0) / white)|``.

    ``output`` and ``gt``: the same shape, HDR RAW on the unit frame's scale; returns a float32 scalar.
    """
    def tone(x: torch.Tensor) -> torch.Tensor:
        return mu_law(x.float().clamp_min(0) / white, mu)

    return (tone(output) - tone(gt)).abs().mean()


def default_unit_frame(num_frames: int, unit_frame: int | None = None) -> int:
    """The middle frame (``(T - 1) // 2``) unless ``unit_frame`` is given."""
    return (num_frames - 1) // 2 if unit_frame is None else unit_frame


def check_exposures(exposures: torch.Tensor, frames: int, batch: int | None = None) -> torch.Tensor:
    """Validate measured exposures and return them as ``[B or 1, T]``.

    Args:
        exposures: ``[T]`` or ``[B, T]`` relative exposures (time x gain), positive, finite, any scale.
        frames: the bracket's frame count ``T``.
        batch: the batch size ``B`` the exposures must match (``[T]`` and ``[1, T]`` broadcast).

    Raises:
        DataError: wrong shape, or a value that is not a positive finite number.
    """
    e = torch.as_tensor(exposures)
    if e.ndim == 1:
        e = e[None]
    if e.ndim != 2 or e.shape[1] != frames or (batch is not None and e.shape[0] not in (1, batch)):
        raise DataError(f"exposures has shape {tuple(torch.as_tensor(exposures).shape)}; expected [{frames}] or "
                        f"[B, {frames}] relative exposures, shortest first")
    if not bool(torch.isfinite(e).all()) or not bool((e > 0).all()):
        raise DataError(f"exposures {e.tolist()}: expected positive finite relative exposures")
    return e


def normalization_gains(frames: int, exposure_ratio: float, unit_frame: int, like: torch.Tensor,
                   exposures: torch.Tensor | None = None) -> torch.Tensor:
    """Per-frame gains to the unit frame's scale, with ``like``'s dtype and device.

    ``exposures=None``: ``[1, T, 1, 1, 1]`` gains ``exposure_ratio ** (unit_frame - t)`` (the fixed ratio).
    ``exposures [T]`` or ``[B, T]``: ``[B or 1, T, 1, 1, 1]`` gains ``exposures[:, unit_frame] / exposures[:, t]``.
    """
    if exposures is None:
        values = [exposure_ratio ** (unit_frame - t) for t in range(frames)]
        return torch.tensor(values, dtype=like.dtype, device=like.device).view(1, frames, 1, 1, 1)
    e = check_exposures(exposures, frames).to(dtype=like.dtype, device=like.device)
    return (e[:, unit_frame : unit_frame + 1] / e).view(e.shape[0], frames, 1, 1, 1)


def normalize_exposures(raws: torch.Tensor, exposure_ratio: float = 4.0, unit_frame: int | None = None,
                        exposures: torch.Tensor | None = None) -> torch.Tensor:
    """``raws [B, T, C, h, w]`` as stored -> every frame on the unit frame's scale (same shape).

    ``exposures``: measured relative exposures ``[T]`` or ``[B, T]`` (see :func:`normalization_gains`), else the
    fixed ``exposure_ratio``.
    """
    frames = raws.shape[1]
    if exposures is not None:
        check_exposures(exposures, frames, raws.shape[0])
    return raws * normalization_gains(frames, exposure_ratio, default_unit_frame(frames, unit_frame), raws, exposures)


def gamma_compress(x: torch.Tensor) -> torch.Tensor:
    """``max(x, 0) ** (1/2.2)``, any shape, with a finite gradient at 0 (zero instead of infinite).

    Forward values equal the plain power bit for bit. The plain power's infinite slope at 0 turns into NaN
    gradients as soon as something trainable (a flow warp, say) feeds it exact zeros.
    """
    positive = x > 0
    safe = torch.where(positive, x, torch.ones_like(x))
    return torch.where(positive, safe**INVERSE_DISPLAY_GAMMA, torch.zeros_like(x))


def with_gamma(frames: torch.Tensor) -> torch.Tensor:
    """``[N, C, h, w]`` linear -> ``[N, 2C, h, w]`` interleaved ``(x_c, max(x_c, 0) ** (1/2.2))`` per channel.

    The 8-channel per-frame input of TMRNet (and of the baselines adapted to bracketed RAW).
    """
    n, c, h, w = frames.shape
    return torch.stack([frames, gamma_compress(frames)], dim=2).reshape(n, 2 * c, h, w)


def packed_to_rgb(frames: torch.Tensor, gamma: bool = True) -> torch.Tensor:
    """Packed RGGB ``[..., 4, h, w]`` -> RGB ``[..., 3, h, w]`` (greens averaged), clipped to [0, 1] and
    gamma-compressed when ``gamma``: what the flow networks see."""
    rgb = torch.stack([frames[..., 0, :, :], (frames[..., 1, :, :] + frames[..., 2, :, :]) / 2, frames[..., 3, :, :]],
                      dim=-3)
    return gamma_compress(rgb.clamp(max=1)) if gamma else rgb


def check_raws(raws: torch.Tensor, num_frames: int | None = None, owner: str = "") -> None:
    """Raise ``DataError`` unless ``raws`` is ``[B, T, 4, h, w]`` with ``T == num_frames`` (any ``T >= 2`` when
    ``None``): ``"{owner} raws: expected shape [B, 5, 4, h, w], got (...)"``, the ``owner`` left out when empty.
    """
    name = f"{owner} raws" if owner else "raws"
    check_image(raws, name, 4, finite=False)
    check_shape(raws.shape, ["B", "T" if num_frames is None else num_frames, 4, "h", "w"], name)
    if num_frames is None and raws.shape[1] < 2:
        raise DataError(f"{name}: expected shape [B, T >= 2, 4, h, w], got {tuple(raws.shape)}")


def frame_inputs(raws: torch.Tensor, exposure_ratio: float, unit_frame: int | None,
                 gamma: bool = True, exposures: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``raws [B, T, C, h, w]`` as stored -> ``(normalised, inputs)``.

    ``exposures``: measured relative exposures ``[T]`` or ``[B, T]``, or None for the fixed ratio.

    ``normalised [B, T, C, h, w]``: every frame on the unit frame's scale (``normalize_exposures``);
    ``inputs [B, T, 2C, h, w]``: its per-frame ``with_gamma`` copy, or ``normalised`` itself when not ``gamma``.
    Models that pad the frames before the gamma keep that order: ``pow`` is not bit-stable across sizes.
    """
    normalised = normalize_exposures(raws, exposure_ratio, unit_frame, exposures)
    if not gamma:
        return normalised, normalised
    b, t, c, h, w = normalised.shape
    return normalised, with_gamma(normalised.reshape(b * t, c, h, w)).view(b, t, 2 * c, h, w)


def upsampled_reference(normalised: torch.Tensor, scale: int, frame: int = 0) -> torch.Tensor:
    """The parameter-free skip: ``normalised[:, frame]`` of ``[B, T, C, h, w]`` -> ``[B, C, s*h, s*w]``.

    Bilinearly upsampled (``align_corners=False``) by ``s = scale`` when ``scale > 1``, as is otherwise.
    """
    reference = normalised[:, frame]
    if scale > 1:
        reference = F.interpolate(reference, scale_factor=scale, mode="bilinear", align_corners=False)
    return reference
