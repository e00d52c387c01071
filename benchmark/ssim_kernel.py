"""The SSIM map, summed, as one compiled float64 loop (numba): what :func:`benchmark.metrics.ssim` runs.

scikit-image's Gaussian SSIM (sigma 1.5, 11 taps, sample covariance) filters five full-size float64 maps
with ``scipy.ndimage`` and combines them with numpy temporaries. Here one pass over the image does it all,
in column strips (``CHUNK`` values wide, plus 30 of context), row by row: each input row of the strip is
read once into a ring buffer of the last 11 rows (as the four maps ``a``, ``b``, ``a^2 + b^2 + k`` and
``2ab + k``), the vertical filter makes one row of each map, the horizontal filter one row of each
filtered map, and the SSIM formula is summed over that row. The filters run in passes of four taps, short
enough loops for LLVM to vectorise (one loop over all eleven taps was not: 1.5x slower). The ring buffer
stays in the core's L2 cache, nothing is allocated per row, and the GIL is released, so bands of rows run
on threads (:func:`benchmark.metrics.ssim`).

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
    r0, r1, r2, r3 = ring[0, slot], ring[1, slot], ring[2, slot], ring[3, slot]
    for x in range(a_row.shape[0]):
        fa, fb = np.float64(a_row[x]), np.float64(b_row[x])
        r0[x] = fa
        r1[x] = fb
        r2[x] = fa * fa + fb * fb + k
        r3[x] = 2.0 * fa * fb + k


@njit(cache=True, nogil=True, fastmath={"contract"})
def _taps(out: np.ndarray, r0: np.ndarray, r1: np.ndarray, r2: np.ndarray, r3: np.ndarray,
          w0: float, w1: float, w2: float, w3: float, count: int, first: bool) -> None:
    """``out[x] (=|+=) w0 r0[x] + w1 r1[x] + w2 r2[x] + w3 r3[x]`` for ``x < count``.

    Four taps per pass: a loop over five arrays vectorises (LLVM checks them for overlap at run time), while
    one loop over all eleven rows has too many to check and ran scalar, 1.5x slower per SSIM."""
    if first:
        for x in range(count):
            out[x] = w0 * r0[x] + w1 * r1[x] + w2 * r2[x] + w3 * r3[x]
    else:
        for x in range(count):
            out[x] += w0 * r0[x] + w1 * r1[x] + w2 * r2[x] + w3 * r3[x]


@njit(cache=True, nogil=True, fastmath={"contract"})
def _vertical(ring: np.ndarray, slots: np.ndarray, w: np.ndarray, out: np.ndarray, count: int) -> None:
    """``out[m, x] = sum_t w[t] ring[m, slots[t], x]`` for the four maps, ``x < count`` (11 taps, 3 passes;
    the rows are spelled out, as a tuple of 11 arrays cost 15 %)."""
    for m in range(4):
        r, row = ring[m], out[m]
        _taps(row, r[slots[0]], r[slots[1]], r[slots[2]], r[slots[3]], w[0], w[1], w[2], w[3], count, True)
        _taps(row, r[slots[4]], r[slots[5]], r[slots[6]], r[slots[7]], w[4], w[5], w[6], w[7], count, False)
        _taps(row, r[slots[8]], r[slots[9]], r[slots[10]], r[slots[10]], w[8], w[9], w[10], 0.0, count, False)


@njit(cache=True, nogil=True, fastmath={"contract"})
def _horizontal(out: np.ndarray, v: np.ndarray, w: np.ndarray, count: int) -> None:
    """``out[x] = sum_t w[t] v[x + 3 t]``, ``x < count``: the filter along a row of interleaved RGB values."""
    _taps(out, v[0:], v[3:], v[6:], v[9:], w[0], w[1], w[2], w[3], count, True)
    _taps(out, v[12:], v[15:], v[18:], v[21:], w[4], w[5], w[6], w[7], count, False)
    _taps(out, v[24:], v[27:], v[30:], v[30:], w[8], w[9], w[10], 0.0, count, False)


@njit(cache=True, nogil=True, fastmath={"contract"})
def _formula_sum(ux: np.ndarray, uy: np.ndarray, p: np.ndarray, q: np.ndarray, c1: float, count: int) -> float:
    """``sum_x S`` of the filtered maps ``ux = G(a)``, ``uy = G(b)``, ``p = G(a^2 + b^2 + k)``, ``q = G(2ab + k)``."""
    total = 0.0
    for x in range(count):
        b1 = ux[x] * ux[x] + uy[x] * uy[x] + c1
        a1 = 2.0 * ux[x] * uy[x] + c1
        total += a1 * (q[x] - a1) / (b1 * (p[x] - b1))
    return total


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
    ux, uy, p, q = np.empty(chunk), np.empty(chunk), np.empty(chunk), np.empty(chunk)
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
            _horizontal(ux, rows[0], w, count)
            _horizontal(uy, rows[1], w, count)
            _horizontal(p, rows[2], w, count)
            _horizontal(q, rows[3], w, count)
            total += _formula_sum(ux, uy, p, q, c1, count)
    return total
