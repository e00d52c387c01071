"""Input checks shared by the camera model and everything built on it.

They raise :class:`~simulator.core.errors.DataError` with a message that names the argument (or file) and
says what was expected, so a wrong array never travels deep into the pipeline before failing.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from simulator.core.errors import DataError

Dim = int | str
"""One dimension of an expected shape: a size, a symbol for any size (``"H"``), or ``"..."`` for any leading dims."""


def shape_text(expected: Sequence[Dim], brackets: str = "[]") -> str:
    """``["...", 4, "H", "W"]`` -> ``"[..., 4, H, W]"`` (or ``"(H, W, 3)"`` with ``brackets="()"``)."""
    return brackets[0] + ", ".join(str(d) for d in expected) + brackets[1]


def check_shape(shape: Sequence[int], expected: Sequence[Dim], name: str, brackets: str = "[]") -> None:
    """Raise unless ``shape`` matches ``expected``; the one shape check every input check uses.

    Args:
        shape: the actual shape (a ``torch.Size``, a numpy ``shape`` or a tuple).
        expected: sizes (must match), symbols (any size, at least 1) and an optional leading ``"..."``.
        name: the argument or file the message names.
        brackets: ``"[]"`` for tensors (channels first), ``"()"`` for numpy arrays, as the messages write them.

    Raises:
        DataError: ``"{name}: expected shape [B, 5, 4, h, w], got (1, 3, 4, 32, 32)"``.
    """
    shape = tuple(int(s) for s in shape)
    dims = list(expected)
    leading = bool(dims) and dims[0] == "..."
    fixed = dims[1:] if leading else dims
    ok = len(shape) >= len(fixed) if leading else len(shape) == len(fixed)
    if ok:
        tail = shape[len(shape) - len(fixed):]
        ok = all(size == want if isinstance(want, int) else size >= 1 for size, want in zip(tail, fixed))
    if not ok:
        raise DataError(f"{name}: expected shape {shape_text(dims, brackets)}, got {shape}")


def check_image(
    x: object,
    name: str,
    channels: int | None = None,
    *,
    even: bool = False,
    finite: bool = True,
) -> torch.Tensor:
    """Check that ``x`` is a channels-first floating-point image tensor ``[..., C, H, W]``.

    Args:
        x: the value to check.
        name: how to call it in the message (an argument name or a file path).
        channels: required size of dimension -3, or None for any.
        even: require even H and W (a full-resolution Bayer image, or one to be mosaicked).
        finite: reject NaN and infinite values.

    Returns:
        ``x`` unchanged, typed as a tensor.

    Raises:
        DataError: naming ``name`` and what was expected.
    """
    if not isinstance(x, torch.Tensor):
        raise DataError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise DataError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    check_shape(x.shape, ["...", "C" if channels is None else channels, "H", "W"], name)
    if even and (x.shape[-1] % 2 or x.shape[-2] % 2):
        raise DataError(f"{name}: expected even height and width, got {x.shape[-2]}x{x.shape[-1]}")
    if finite and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise DataError(f"{name}: {bad} value(s) are NaN or infinite; expected finite values")
    return x
