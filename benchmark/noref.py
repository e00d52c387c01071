"""Scoring without ground truth: ``score --no-reference`` and ``predict --score``.

Two kinds of numbers, never mixed up:

* **Learned no-reference metrics** (the paper's real-world evaluation): CLIP-IQA and MANIQA through pyiqa's
  public API (``pyiqa.create_metric``), each the mean over the image's 4 x 4 tiles. Only when the ``iqa`` extra
  imports (pyiqa needs a torchvision built for the installed torch); otherwise one note says which metrics were
  skipped and why, and their columns are absent.
* **Classical diagnostics**, always and offline, no weights. They describe an image; they are not quality
  scores and are no substitute for the learned metrics:

  ======================== ==================================================================================
  ``residual_noise_sigma`` noise standard deviation left in the image, on [0, 1], from scikit-image's
                           wavelet (MAD) estimator ``skimage.restoration.estimate_sigma``, averaged over RGB
  ``blur_effect``          scikit-image's ``skimage.measure.blur_effect`` on the luminance (Crete et al. 2007):
                           0 sharp, 1 maximally blurred
  ``clipped_fraction``     share of pixels with a channel at the 16-bit maximum (blown highlights)
  ``crushed_fraction``     share of pixels with every channel at 0 (crushed shadows)
  ======================== ==================================================================================

  The published protocol's zero border around synthetic outputs is trimmed first (outer rows and columns
  that are entirely 0), so it does not count as crushed.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from benchmark import tables
from benchmark.images import read_png16, write_bytes_atomic
from simulator.core.errors import DataError

DIAGNOSTICS = ("residual_noise_sigma", "blur_effect", "clipped_fraction", "crushed_fraction")
LEARNED = {"clip_iqa": "clipiqa", "maniqa": "maniqa"}  # column -> pyiqa metric name
TILES = 4  # the published real-world evaluation scores 4 x 4 tiles and averages them

Scorer = Callable[[np.ndarray], float]


def trim_zero_border(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, C)`` without its outer rows and columns that are entirely 0 (the protocol's zero padding).

    Returns ``rgb`` itself when nothing is trimmed; an all-zero image is returned whole.
    """
    nonzero = np.any(rgb != 0, axis=2) if rgb.ndim == 3 else rgb != 0
    rows, cols = np.flatnonzero(nonzero.any(axis=1)), np.flatnonzero(nonzero.any(axis=0))
    if rows.size == 0:
        return rgb
    return rgb[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def diagnostics(rgb: np.ndarray) -> dict[str, float]:
    """The classical diagnostics of one image (see the module table).

    Args:
        rgb: ``(H, W, 3)`` float in [0, 1] (a 16-bit PNG divided by 65535), at least 8 x 8 after trimming.

    Returns:
        ``{name: value}`` for every name of :data:`DIAGNOSTICS`.

    Raises:
        DataError: not ``(H, W, 3)``, or smaller than 8 x 8.
    """
    from skimage.measure import blur_effect
    from skimage.restoration import estimate_sigma

    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise DataError(f"image of shape {rgb.shape}; expected (H, W, 3) RGB")
    image = trim_zero_border(np.asarray(rgb, dtype=np.float64))
    if min(image.shape[:2]) < 8:
        raise DataError(f"image of {image.shape[0]}x{image.shape[1]} pixels (zero border trimmed); expected at least 8x8")
    luminance = image @ np.array([0.2126, 0.7152, 0.0722])
    with warnings.catch_warnings():  # estimate_sigma warns about a possibly clipped image, which we report
        warnings.simplefilter("ignore")
        sigma = float(estimate_sigma(image, channel_axis=-1, average_sigmas=True))
    return {"residual_noise_sigma": sigma, "blur_effect": float(blur_effect(luminance)),
            "clipped_fraction": float(np.mean(np.any(image >= 1.0, axis=2))),
            "crushed_fraction": float(np.mean(np.all(image <= 0.0, axis=2)))}


def tiles(rgb: np.ndarray, count: int = TILES) -> list[np.ndarray]:
    """The ``count x count`` tiles of an ``(H, W, C)`` image, row by row (edges split as evenly as possible)."""
    rows = np.linspace(0, rgb.shape[0], count + 1).astype(int)
    cols = np.linspace(0, rgb.shape[1], count + 1).astype(int)
    return [rgb[rows[i] : rows[i + 1], cols[j] : cols[j + 1]] for i in range(count) for j in range(count)]


def tiled_score(metric: Scorer, rgb: np.ndarray, count: int = TILES) -> float:
    """Mean of ``metric`` over the ``count x count`` tiles of ``rgb`` (``(H, W, 3)`` float in [0, 1])."""
    return float(np.mean([metric(tile) for tile in tiles(rgb, count)]))


def learned_metrics(device: str = "cpu") -> tuple[dict[str, Scorer], str | None]:
    """CLIP-IQA and MANIQA as ``column -> scorer of an (H, W, 3) float image``, or ``({}, why they were skipped)``."""
    try:
        import pyiqa  # noqa: PLC0415 (the optional iqa extra)
        import torch  # noqa: PLC0415
    except Exception as err:  # ImportError, or torchvision built for another torch (RuntimeError, OSError)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return {}, (f"{', '.join(LEARNED)} skipped: pyiqa does not import here ({reason}); install the iqa extra "
                    "(pip install -e .[iqa]) with a torchvision built for this torch")
    scorers: dict[str, Scorer] = {}
    try:
        for column, name in LEARNED.items():
            metric = pyiqa.create_metric(name, device=device, as_loss=False)

            def score(tile: np.ndarray, metric=metric) -> float:
                tensor = torch.from_numpy(np.ascontiguousarray(tile.transpose(2, 0, 1))).float()[None]
                with torch.no_grad():
                    return float(metric(tensor.to(device)))

            scorers[column] = score
    except Exception as err:  # weights that cannot be downloaded offline, and the like
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return {}, f"{', '.join(LEARNED)} skipped: pyiqa imports but its metrics could not be created ({reason})"
    return scorers, None


@dataclass
class NoReferenceResult:
    """Per-image and mean no-reference numbers of a folder of 16-bit PNGs.

    Attributes:
        per_image: one row per image: ``name`` then each metric column.
        metrics: the metric columns present (learned ones only when pyiqa ran).
        skipped: why learned metrics were skipped (one line), or None.
    """

    per_image: pd.DataFrame
    metrics: list[str]
    skipped: str | None = None
    source: str = ""

    @property
    def mean(self) -> dict[str, float]:
        """Mean of every metric over the images."""
        return {m: float(self.per_image[m].mean()) for m in self.metrics}

    def to_markdown(self) -> str:
        """The means (one row), then the per-image table, as Markdown."""
        means = pd.DataFrame([{"images": len(self.per_image), **self.mean}])
        return (f"{tables.to_markdown(means)}\n\nPer image:\n\n{tables.to_markdown(self.per_image)}\n")

    def notes(self) -> list[str]:
        """One line for a terminal when learned metrics were skipped; the diagnostics are named as such."""
        lines = [f"note: {self.skipped}"] if self.skipped else []
        return lines + ["note: residual_noise_sigma, blur_effect, clipped_fraction and crushed_fraction are classical "
                        "diagnostics, not quality scores"]

    def to_dict(self) -> dict[str, object]:
        def number(value: float) -> float | None:
            return None if not math.isfinite(value) else value

        return {"source": self.source, "count": len(self.per_image), "metrics": self.metrics,
                "mean": {k: number(v) for k, v in self.mean.items()}, "skipped": self.skipped,
                "per_image": [{"name": r["name"], **{m: number(float(r[m])) for m in self.metrics}}
                              for r in self.per_image.to_dict("records")]}

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` as JSON, atomically."""
        write_bytes_atomic(path, (json.dumps(self.to_dict(), indent=2) + "\n").encode("utf-8"))

    def write_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the per-image table as CSV, atomically."""
        write_bytes_atomic(path, tables.to_csv(self.per_image).encode("utf-8"))


def find_pngs(folder: str | os.PathLike[str]) -> list[Path]:
    """The ``.png`` files to score: ``folder/png16/`` when it is a predict / bench output, else ``folder`` itself.

    Raises:
        DataError: not a folder, or no PNG in it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: --no-reference scores a folder of 16-bit PNGs (or a predict output folder)")
    where = folder / "png16" if (folder / "png16").is_dir() else folder
    found = sorted(p for p in where.iterdir() if p.suffix.lower() == ".png" and p.is_file())
    if not found:
        raise DataError(f"{where}: no .png files to score")
    return found


def score_no_reference(folder: str | os.PathLike[str], names: list[str] | None = None,
                       learned: Mapping[str, Scorer] | None = None, progress: bool = False) -> NoReferenceResult:
    """Score every 16-bit PNG of ``folder`` (or ``folder/png16``) without ground truth.

    Args:
        folder: a folder of 16-bit RGB PNGs, or a ``predict`` / ``bench --save`` output folder.
        names: only these file stems (``predict --score`` passes its brackets); None: every PNG.
        learned: learned scorers to use (default: :func:`learned_metrics`, i.e. pyiqa when it imports).
        progress: a progress bar on stderr.

    Raises:
        DataError: no PNG there, a PNG that is not 16-bit RGB (named), or a name not found.
    """
    paths = find_pngs(folder)
    if names is not None:
        by_stem = {p.stem: p for p in paths}
        missing = [n for n in names if n not in by_stem]
        if missing:
            raise DataError(f"{folder}: no PNG for {', '.join(missing[:5])}")
        paths = [by_stem[n] for n in names]
    skipped = None
    if learned is None:
        learned, skipped = learned_metrics()
    rows = []
    for path in tqdm(paths, desc="no-reference", unit="image", disable=not progress):
        rgb = read_png16(path).astype(np.float64) / 65535.0
        try:
            row: dict[str, object] = {"name": path.stem, **diagnostics(rgb)}
        except DataError as err:
            raise DataError(f"{path}: {err}") from None
        for column, metric in learned.items():
            row[column] = tiled_score(metric, trim_zero_border(rgb))
        rows.append(row)
    metrics = [*learned, *DIAGNOSTICS]
    return NoReferenceResult(pd.DataFrame(rows, columns=["name", *metrics]), metrics, skipped, str(folder))

