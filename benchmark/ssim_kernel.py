"""The SSIM map, summed, as one compiled float64 loop (numba): what :func:`benchmark.metrics.ssim` runs.

scikit-image's Gaussian SSIM (sigma 1.5, 11 taps, sample covariance) filters five full-size float64 maps
with ``scipy.ndimage`` and combines them with numpy temporaries. Here one pass over the image does it all,
in column strips (``CHUNK`` values wide, plus 30 of context), row by row: each input row of the strip is
read once into a ring buffer of the last 11 rows (as the four maps ``a``, ``b``, ``a^2 + b^2 + k`` and
``2ab + k``), the vertical filter makes one row of each map, the horizontal filter and the SSIM formula
follow in the same loop over that row, and the row's values are summed. The ring buffer stays in the
core's L2 cache, nothing is allocated per row, the loops vectorise, and the GIL is released, so bands of
rows run on threads (:func:`benchmark.metrics.ssim`).

Numerically it is skimage's computation in float64 with another summation order: the two agree to ~1e-15.
The first call compiles the kernel (a few seconds) and caches it on disk (numba's ``cache=True``); later
processes load it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

TAPS = 11  # the Gaussian window (2 * radius + 1); the unrolled sums below are written for it
CHUNK = 1024  # output values per column strip: 4 maps x 11 rows x (1024 + 30) float64 = 371 KB, in L2


@njit(cache=True, nogil=True, fastmath={"contract"})
def _load(ring: np.ndarray, slot: int, a_row: np.ndarray, b_row: np.ndarray, k: float) -> None:
    """Ring slot ``slot`` of the four float64 maps ``[4, 11, n]`` <- uint16 rows ``a_row``, ``b_row`` ``[n]``."""
    for x in range(a_row.shape[0]):
        fa, fb = np.float64(a_row[x]), np.float64(b_row[x])
        ring[0, slot, x] = fa
        ring[1, slot, x] = fb
        ring[2, slot, x] = fa * fa + fb * fb + k
        ring[3, slot, x] = 2.0 * fa * fb + k


@njit(cache=True, nogil=True, fastmath={"contract"})
def _vertical(ring: np.ndarray, slots: np.ndarray, w: np.ndarray, out: np.ndarray, count: int) -> None:
    """``out[m, x] = sum_t w[t] ring[m, slots[t], x]`` for the four maps, ``x < count``."""
    for m in range(4):
        r0, r1, r2, r3 = ring[m, slots[0]], ring[m, slots[1]], ring[m, slots[2]], ring[m, slots[3]]
        r4, r5, r6, r7 = ring[m, slots[4]], ring[m, slots[5]], ring[m, slots[6]], ring[m, slots[7]]
        r8, r9, r10 = ring[m, slots[8]], ring[m, slots[9]], ring[m, slots[10]]
        row = out[m]
        for x in range(count):
            row[x] = (w[0] * r0[x] + w[1] * r1[x] + w[2] * r2[x] + w[3] * r3[x] + w[4] * r4[x] + w[5] * r5[x]
                      + w[6] * r6[x] + w[7] * r7[x] + w[8] * r8[x] + w[9] * r9[x] + w[10] * r10[x])


@njit(cache=True, nogil=True, fastmath={"contract"})
def _horizontal(v: np.ndarray, x: int, w: np.ndarray) -> float:
    """``sum_t w[t] v[x + 3 t]``: the filter along a row of interleaved RGB values."""
    return (w[0] * v[x] + w[1] * v[x + 3] + w[2] * v[x + 6] + w[3] * v[x + 9] + w[4] * v[x + 12] + w[5] * v[x + 15]
            + w[6] * v[x + 18] + w[7] * v[x + 21] + w[8] * v[x + 24] + w[9] * v[x + 27] + w[10] * v[x + 30])


@njit(cache=True, nogil=True, fastmath={"contract"})
def ssim_rows(a: np.ndarray, b: np.ndarray, w: np.ndarray, first: int, last: int, c1: float, k: float,
              chunk: int = CHUNK) -> float:
    """Sum of the SSIM map over output rows ``[first, last)``, all columns and channels of the interior.

    Args:
        a, b: uint16 ``[H, W * 3]`` (the ``(H, W, 3)`` images, rows flattened), C-contiguous.
        w: the 11 normalised Gaussian taps, float64.
        first, last: output rows; output row ``i`` is the window centred on input row ``i + 5``.
        c1: ``(K1 L)^2``; k: ``c1 + (K2 L)^2 / cn`` (cn = 121/120, the sample-covariance factor).
        chunk: output values per column strip (the strip's ring buffer stays in the core's L2 cache).

    Returns:
        ``sum S`` with ``S = A1 (G(2ab + k) - A1) / (B1 (G(a^2 + b^2 + k) - B1))``, ``A1 = 2 ux uy + c1``,
        ``B1 = ux^2 + uy^2 + c1`` (see :func:`benchmark.metrics.ssim` for why this is skimage's value).
    """
    halo = 3 * (TAPS - 1)  # a strip reads this many more values than it outputs (channels interleaved)
    inner = a.shape[1] - halo  # interior values of a row
    ring = np.empty((4, TAPS, chunk + halo))
    rows = np.empty((4, chunk + halo))
    values = np.empty(chunk)
    slots = np.empty(TAPS, np.int64)
    total = 0.0
    for left in range(0, inner, chunk):
        count = min(chunk, inner - left)
        right = left + count + halo
        for r in range(first, first + TAPS - 1):
            _load(ring, r % TAPS, a[r, left:right], b[r, left:right], k)
        for i in range(first, last):
            newest = i + TAPS - 1
            _load(ring, newest % TAPS, a[newest, left:right], b[newest, left:right], k)
            for t in range(TAPS):
                slots[t] = (i + t) % TAPS
            _vertical(ring, slots, w, rows, count + halo)
            for x in range(count):
                ux, uy = _horizontal(rows[0], x, w), _horizontal(rows[1], x, w)
                b1 = ux * ux + uy * uy + c1
                a1 = 2.0 * ux * uy + c1
                values[x] = a1 * (_horizontal(rows[3], x, w) - a1) / (b1 * (_horizontal(rows[2], x, w) - b1))
            total += values[:count].sum()
    return total
