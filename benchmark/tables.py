"""Score tables as pandas DataFrames, and writers for CSV, Markdown and LaTeX.

A per-image table has one row per scored image: ``name``, ``scene``, ``frame`` and one float column per
metric (NaN where a metric was unavailable, ``inf`` for the PSNR of identical images). A per-scene table
averages the frames of each scene; a means table has a single row.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.images import write_bytes_atomic
from simulator.core.errors import DataError

MISSING = "n/a"  # how an unavailable metric is shown in Markdown and LaTeX
_FLOAT_FORMAT = "{:.4f}"


def per_image_table(rows: Sequence[Mapping[str, object]], metrics: Sequence[str]) -> pd.DataFrame:
    """One row per image.

    Args:
        rows: dicts with ``name``, ``scene``, ``frame`` and a value (float or None) per metric.
        metrics: metric names, in column order.

    Returns:
        Columns ``name, scene, frame, *metrics``; metric columns float64, None -> NaN.
    """
    columns = ["name", "scene", "frame", *metrics]
    table = pd.DataFrame([{key: row.get(key) for key in columns} for row in rows], columns=columns)
    for metric in metrics:
        table[metric] = pd.to_numeric(table[metric], errors="coerce").astype(np.float64)
    return table


def per_scene_table(per_image: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Mean of each metric over the frames of each scene.

    Args:
        per_image: a :func:`per_image_table`.
        metrics: metric columns to average.

    Returns:
        Columns ``scene, frames, *metrics``, one row per scene sorted by scene; a metric that is NaN
        (unavailable) for a scene stays NaN, and one ``inf`` makes the scene's mean ``inf``.
    """
    grouped = per_image.groupby("scene", sort=True)
    table = grouped[list(metrics)].mean() if metrics else pd.DataFrame(index=grouped.size().index)
    table.insert(0, "frames", grouped.size())
    return table.reset_index()


def means_table(means: Mapping[str, float | None], count: int, protocol: str) -> pd.DataFrame:
    """A one-row table: ``protocol, count, *metrics`` (None -> NaN)."""
    row: dict[str, object] = {"protocol": protocol, "count": count}
    row.update({name: (math.nan if value is None else float(value)) for name, value in means.items()})
    return pd.DataFrame([row])


def _format_cell(value: object) -> object:
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return MISSING
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return _FLOAT_FORMAT.format(value)
    return value


def _formatted(table: pd.DataFrame) -> pd.DataFrame:
    """Every float cell as text: 4 decimals, ``n/a`` for NaN, ``inf`` kept."""
    return table.apply(lambda column: column.map(_format_cell)) if len(table) else table.astype(object)


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (4 decimals, ``n/a`` for missing values)."""
    align = ["right" if pd.api.types.is_numeric_dtype(table[c]) else "left" for c in table.columns]
    return _formatted(table).to_markdown(index=False, disable_numparse=True, colalign=align)


def to_latex(table: pd.DataFrame) -> str:
    """A LaTeX ``tabular`` (4 decimals, ``n/a`` for missing values, special characters escaped)."""
    return _formatted(table).to_latex(index=False, escape=True)


def to_csv(table: pd.DataFrame) -> str:
    """CSV text with full float precision: missing values are empty cells, infinite PSNR is ``inf``."""
    return table.to_csv(index=False, lineterminator="\n")


_WRITERS = {".csv": to_csv, ".md": to_markdown, ".tex": to_latex}


def write_table(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``table`` in the format its suffix names (``.csv``, ``.md``, ``.tex``), atomically.

    Raises:
        DataError: for another suffix, or when the file cannot be written.
    """
    target = Path(path)
    try:
        writer = _WRITERS[target.suffix.lower()]
    except KeyError:
        raise DataError(f"{target}: unknown table format {target.suffix!r}; use one of {', '.join(_WRITERS)}") from None
    text = writer(table)
    write_bytes_atomic(target, (text if text.endswith("\n") else text + "\n").encode("utf-8"))
    return target
