"""Sim-to-real statistics of bracketed RAW data (``python cli.py inspect DATA``).

For every sample folder under ``DATA`` (any folder holding ``raw_<exposure>.npy``: a dataset root with its
splits, a split folder, the flat NTIRE layout ``<frame>/raw_*.npy + metadata.npy``, or one sample folder) and
every exposure, one row:

* ``mean_dn``, ``clipped_frac`` (values at the white level), ``zero_frac`` (values at 0, the black level of
  the published data);
* a noise law fitted on flat regions: in 8x8 blocks of each packed Bayer plane, the variance of a residual
  that removes the local mean (a pixel minus the mean of its 4 neighbours, whose variance is 5/4 of the
  noise's); per level bin the 20 % quietest blocks are taken as flat, their mean variance divided by the
  bias of that choice for pure noise (:func:`_quiet_bias`, about 0.8); ``variance = noise_slope x level +
  noise_floor`` is fitted to them by least squares (DN and DN^2);
* ``ratio_measured``: this exposure's brightness over the previous one's, the median ratio over 8x8 blocks
  well exposed in both (:func:`measured_ratio`), beside ``ratio_nominal`` from the file names;
* per sample, the scene's dynamic range and gradient statistics, twice: ``merged_*`` from a merge of the
  bracket (every pixel from its longest exposure below 90 % of white, divided by its multiple), which every
  dataset has and so compares published and simulated data alike, and ``gt_*`` from the ground truth where the
  sample has one (NaN otherwise). ``*_dr_stops`` is ``log2`` of the 99.9th over the 1st percentile of positive
  luminance (the mean of the four Bayer planes); ``*_grad_kurtosis`` the kurtosis of horizontal differences
  of log luminance (3 for Gaussian; photographs are heavy tailed, far above 3).

Files are read through :mod:`simulator.layout` (legacy pickled ``metadata.npy`` only through its restricted
unpickler). Nothing is written except what the caller asks for.
"""

from __future__ import annotations

import functools
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from simulator.core.errors import DataError
from simulator.layout import exposure_files, read_frame

BLOCK = 8  # block side (packed pixels) of the noise fit
FLAT_QUANTILE = 0.2  # the quietest fraction of blocks per level bin counts as flat
LEVEL_BINS = 24  # log-spaced level bins of the noise fit
GOOD = (0.05, 0.8)  # well-exposed range of the longer frame for measured ratios (fractions of white)
SAMPLE_COLUMNS = ["sample", "exposure", "mean_dn", "clipped_frac", "zero_frac", "noise_slope", "noise_floor",
                  "ratio_nominal", "ratio_measured", "white", "merged_dr_stops", "merged_grad_kurtosis", "gt_dr_stops",
                  "gt_grad_kurtosis"]


@dataclass
class Inspection:
    """What :func:`inspect_data` found.

    Attributes:
        table: one row per (sample, exposure); columns :data:`SAMPLE_COLUMNS`.
        points: flat-block ``(sample, exposure, level, variance)`` used by the noise fits (for plots).
        histograms: sample -> ``log2`` luminance of the merged bracket (1-D float array, subsampled) for plots.
    """

    table: pd.DataFrame
    points: pd.DataFrame
    histograms: dict[str, np.ndarray] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Means over samples, one row per exposure (the table to compare datasets by)."""
        numeric = self.table.drop(columns=["sample"])
        out = numeric.groupby("exposure", as_index=False).mean()
        out.insert(1, "samples", self.table.groupby("exposure")["sample"].count().to_numpy())
        return out

    def to_markdown(self, per_sample: bool = False) -> str:
        """The per-exposure summary (and, with ``per_sample``, every row) as markdown tables."""
        text = f"{self.table['sample'].nunique()} sample(s); means over samples per exposure:\n\n"
        text += self.summary().to_markdown(index=False, floatfmt=".4g") + "\n"
        if per_sample:
            text += "\n" + self.table.to_markdown(index=False, floatfmt=".4g") + "\n"
        return text

    def write_csv(self, path: str | Path) -> Path:
        """Every (sample, exposure) row as CSV, written atomically."""
        return _write_text(path, self.table.to_csv(index=False))

    def write_json(self, path: str | Path) -> Path:
        """``{"summary": [...], "samples": [...]}`` (NaN as null), written atomically."""
        document = {"summary": json.loads(self.summary().to_json(orient="records")),
                    "samples": json.loads(self.table.to_json(orient="records"))}
        return _write_text(path, json.dumps(document, indent=1))


def _write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary sibling renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def sample_folders(data: str | Path, limit: int | None = None) -> list[Path]:
    """Every folder under ``data`` (itself included) holding ``raw_<m>.npy`` files, sorted; ``x2``/``x4``
    input folders of BracketIRE+ samples are not samples of their own.

    Raises:
        DataError: ``data`` is not a folder or holds no sample.
    """
    root = Path(data)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; expected a dataset, a split or a sample folder")
    found = [root] if exposure_files(root) else []
    found += sorted(p for p in root.rglob("*") if p.is_dir() and p.name not in ("x2", "x4")
                    and not any(part.startswith(".") for part in p.relative_to(root).parts) and exposure_files(p))
    if not found:
        raise DataError(f"{root}: no sample folder (raw_<exposure>.npy files) found")
    return found[:limit] if limit else found


def white_level(raws: torch.Tensor) -> int:
    """The white level of integer RAW values: 1023 (10-bit, published) unless larger values occur."""
    top = int(raws.max())
    return next(2**bits - 1 for bits in (10, 12, 14, 16) if top <= 2**bits - 1)


def _residual(plane: torch.Tensor) -> torch.Tensor:
    """``[C, h, w]`` -> pixel minus the mean of its 4 neighbours, ``[C, h-2, w-2]``."""
    centre = plane[:, 1:-1, 1:-1]
    return centre - 0.25 * (plane[:, :-2, 1:-1] + plane[:, 2:, 1:-1] + plane[:, 1:-1, :-2] + plane[:, 1:-1, 2:])


@functools.lru_cache(maxsize=1)
def _quiet_bias() -> float:
    """Mean of the quietest :data:`FLAT_QUANTILE` of block variance estimates over the true variance, for
    white Gaussian noise through :func:`_residual` (fixed-seed Monte Carlo, about 0.8): choosing the quietest
    blocks favours those whose noise happens to be low, and this undoes that on average."""
    noise = torch.randn(1, 64 * BLOCK + 2, 64 * BLOCK + 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    res = _residual(noise)[0].reshape(64, BLOCK, 64, BLOCK).permute(0, 2, 1, 3).reshape(-1, BLOCK * BLOCK)
    var = (res.var(1) / 1.25).sort().values
    return float(var[: int(FLAT_QUANTILE * var.numel())].mean())


def noise_points(frame: torch.Tensor, white: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat-block ``(level, variance)`` pairs of one exposure, in DN and DN^2.

    Args:
        frame: ``[4, h, w]`` packed RAW digital numbers (any real dtype).
        white: the white level; blocks touching 0 or white are left out (clipping shrinks variance).
    """
    x = frame.double()
    res = _residual(x)
    centre = x[:, 1:-1, 1:-1]
    c, h, w = res.shape
    hb, wb = h // BLOCK, w // BLOCK
    if hb == 0 or wb == 0:
        return np.zeros(0), np.zeros(0)

    def blocks(t: torch.Tensor) -> torch.Tensor:
        return t[:, : hb * BLOCK, : wb * BLOCK].reshape(c, hb, BLOCK, wb, BLOCK).permute(0, 1, 3, 2, 4).reshape(-1, BLOCK * BLOCK)

    level, spread = blocks(centre), blocks(res)
    ok = (level.amin(1) > 0) & (level.amax(1) < white)
    if not bool(ok.any()):
        return np.zeros(0), np.zeros(0)
    mean, var = level.mean(1)[ok], spread[ok].var(1) / 1.25
    edges = torch.logspace(0, math.log10(white), LEVEL_BINS + 1, dtype=torch.float64)
    levels, variances = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (mean >= lo) & (mean < hi)
        if int(inside.sum()) >= 8:
            quiet = var[inside].sort().values[: max(1, int(FLAT_QUANTILE * int(inside.sum())))]
            levels.append(float(mean[inside].median()))
            variances.append(float(quiet.mean()) / _quiet_bias())
    return np.asarray(levels), np.asarray(variances)


def fit_noise_law(levels: np.ndarray, variances: np.ndarray) -> tuple[float, float]:
    """Least-squares ``variance = slope x level + floor`` (DN, DN^2) in relative error (each point weighted by
    its inverse variance, so dark levels count); NaNs with fewer than 2 points."""
    if len(levels) < 2:
        return math.nan, math.nan
    slope, floor = np.polyfit(levels, variances, 1, w=1 / np.maximum(variances, 1.0))  # relative errors
    return float(slope), float(floor)


def _luminance(packed: torch.Tensor) -> torch.Tensor:
    """``[4, h, w]`` packed RGGB -> ``[h, w]`` mean of the four planes."""
    return packed.double().mean(0)


def scene_statistics(luminance: torch.Tensor) -> tuple[float, float, np.ndarray]:
    """Dynamic range (stops), kurtosis of horizontal log differences, and a subsample of log2 luminance.

    Args:
        luminance: ``[h, w]`` linear, >= 0 (any scale).
    """
    positive = luminance[luminance > 0]
    if positive.numel() < 16:
        return math.nan, math.nan, np.zeros(0)
    low, high = torch.quantile(positive[:: max(1, positive.numel() // 200_000)], torch.tensor([0.01, 0.999], dtype=positive.dtype))
    logs = torch.log2(luminance.clamp_min(float(low)))
    diff = (logs[:, 1:] - logs[:, :-1]).flatten()
    centred = diff - diff.mean()
    kurtosis = float((centred**4).mean() / (centred**2).mean().clamp_min(1e-30) ** 2)
    hist = torch.log2(positive[:: max(1, positive.numel() // 20_000)]).float().numpy()
    return float(torch.log2(high / low)), kurtosis, hist


def merge_bracket(raws: torch.Tensor, multiples: tuple[int, ...], white: int) -> torch.Tensor:
    """Radiance estimate ``[4, h, w]`` (units: DN of the shortest exposure): each pixel from its longest
    exposure below 90 % of white, divided by its multiple relative to the shortest."""
    out = raws[0].double().clone()
    for frame, multiple in zip(raws[1:], multiples[1:]):
        usable = frame < 0.9 * white
        out = torch.where(usable, frame.double() * multiples[0] / multiple, out)
    return out


def measured_ratio(short: torch.Tensor, long: torch.Tensor, nominal: float, white: int) -> float:
    """Median brightness ratio of two exposures over 8x8 blocks (of each packed plane) that are well exposed
    in both: the longer within 5 - 80 % of white and the shorter times ``nominal`` too, with no clipped or
    zero value in either. NaN when fewer than 20 blocks qualify.

    Args:
        short, long: ``[4, h, w]`` digital numbers of consecutive exposures.
    """
    def block(t: torch.Tensor, op) -> torch.Tensor:
        return op(t.double()[None], BLOCK)[0].flatten()

    pool_max = torch.nn.functional.max_pool2d
    lo = lambda t: -pool_max(-t.double()[None], BLOCK)[0].flatten()  # noqa: E731 - block minimum
    s_mean, l_mean = block(short, torch.nn.functional.avg_pool2d), block(long, torch.nn.functional.avg_pool2d)
    good = ((l_mean > GOOD[0] * white) & (l_mean < GOOD[1] * white) & (s_mean * nominal > GOOD[0] * white)
            & (s_mean * nominal < GOOD[1] * white) & (block(long, pool_max) < white) & (lo(short) > 0))
    if int(good.sum()) < 20:
        return math.nan
    return float((l_mean[good] / s_mean[good]).median())


def inspect_sample(folder: Path, name: str) -> tuple[list[dict], pd.DataFrame, np.ndarray]:
    """Rows, noise points and the luminance histogram of one sample folder (see the module docstring)."""
    sample = read_frame(folder)
    raws, multiples = sample.raws, sample.exposures
    white = white_level(raws)
    dr, kurt, hist = scene_statistics(_luminance(merge_bracket(raws, multiples, white)))
    gt_dr, gt_kurt = scene_statistics(_luminance(sample.gt))[:2] if sample.gt is not None else (math.nan, math.nan)
    rows, points = [], []
    for t, (frame, multiple) in enumerate(zip(raws, multiples)):
        levels, variances = noise_points(frame, white)
        slope, floor = fit_noise_law(levels, variances)
        points.append(pd.DataFrame({"sample": name, "exposure": multiple, "level": levels, "variance": variances}))
        ratio = math.nan
        if t > 0:
            ratio = measured_ratio(raws[t - 1], frame, multiple / multiples[t - 1], white)
        rows.append({"sample": name, "exposure": multiple, "mean_dn": float(frame.double().mean()),
                     "clipped_frac": float((frame >= white).double().mean()), "zero_frac": float((frame <= 0).double().mean()),
                     "noise_slope": slope, "noise_floor": floor,
                     "ratio_nominal": multiple / multiples[t - 1] if t > 0 else math.nan, "ratio_measured": ratio,
                     "white": white, "merged_dr_stops": dr, "merged_grad_kurtosis": kurt, "gt_dr_stops": gt_dr,
                     "gt_grad_kurtosis": gt_kurt})
    return rows, pd.concat(points, ignore_index=True), hist


def inspect_data(data: str | Path, limit: int | None = None, progress: bool = False) -> Inspection:
    """Statistics of every sample under ``data`` (at most ``limit``); see the module docstring.

    Raises:
        DataError: no sample found, or a sample that cannot be read (naming the file).
    """
    from tqdm import tqdm

    root = Path(data)
    folders = sample_folders(root, limit)
    rows, points, hists = [], [], {}
    for folder in tqdm(folders, desc="inspect", unit="sample", disable=not progress):
        name = "." if folder == root else folder.relative_to(root).as_posix()
        sample_rows, sample_points, hists[name] = inspect_sample(folder, name)
        rows += sample_rows
        points.append(sample_points)
    return Inspection(pd.DataFrame(rows, columns=SAMPLE_COLUMNS), pd.concat(points, ignore_index=True), hists)


def plot_inspection(result: Inspection, path: str | Path, title: str = "") -> Path:
    """Four panels: mean DN, clipped / zero fractions per exposure, flat-block noise variance against level
    with the fitted laws, and the scene's log2 luminance histogram. Written atomically (PNG, PDF or SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = result.summary()
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    ax = axes[0, 0]
    ax.loglog(summary["exposure"], summary["mean_dn"], "o-")
    ax.set(xlabel="exposure multiple", ylabel="mean DN", title="brightness per exposure")
    ax = axes[0, 1]
    ax.semilogx(summary["exposure"], summary["clipped_frac"], "o-", label="clipped (= white)")
    ax.semilogx(summary["exposure"], summary["zero_frac"], "s-", label="zero")
    ax.set(xlabel="exposure multiple", ylabel="fraction of values", title="clipping")
    ax.legend()
    ax = axes[1, 0]
    for exposure, group in result.points.groupby("exposure"):
        line = ax.loglog(group["level"], group["variance"].clip(lower=1e-3), ".", alpha=0.5, label=f"x{exposure}")
        row = summary[summary["exposure"] == exposure].iloc[0]
        grid = np.logspace(0, math.log10(max(2.0, float(row["white"]))), 50)
        if np.isfinite(row["noise_slope"]):
            ax.loglog(grid, np.clip(row["noise_slope"] * grid + row["noise_floor"], 1e-3, None), "-", color=line[0].get_color())
    ax.set(xlabel="level (DN)", ylabel="variance (DN$^2$)", title="noise law on flat blocks (lines: fits)")
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    for name, hist in list(result.histograms.items())[:6]:
        if len(hist):
            ax.hist(hist, bins=60, histtype="step", density=True, label=name)
    ax.set(xlabel="log2 scene luminance", ylabel="density", title="scene luminance (merged bracket, shortest-exposure DN)")
    ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        fig.savefig(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        plt.close(fig)
    return path
