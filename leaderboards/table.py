"""Load result tables (published rows shipped with the package, plus the user's runs) and rank them.

Every row keeps its protocol; :func:`ranked` refuses to mix protocols, so full-image NTIRE numbers are
never ranked together with border-cropped ones. Duplicate rows (same model, task, protocol) are reported,
not merged; contradictory duplicates (different numbers) are flagged as such.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from leaderboards.importer import COLUMNS

RUNS_DIR = Path("runs")  # bench appends to ./runs in the working directory, or to $BRACKETIRE_RUNS
METRICS = ("psnr", "ssim", "lpips")


@dataclass
class Leaderboard:
    """The rows and what the loader noticed about them."""

    rows: pd.DataFrame
    problems: list[str] = field(default_factory=list)


def _published() -> pd.DataFrame:
    folder = resources.files("leaderboards") / "published"
    frames = [pd.read_csv(folder / name) for name in sorted(p.name for p in folder.iterdir() if p.name.endswith(".csv"))]
    return pd.concat(frames, ignore_index=True)


def load_leaderboard(task: str | None = None, protocol: str | None = None, include_runs: bool = False,
                     runs_dir: Path | None = None) -> Leaderboard:
    """Published rows (and, with ``include_runs``, every CSV in ``./runs`` or ``$BRACKETIRE_RUNS``), filtered.

    Args:
        task: ``bracketire`` or ``bracketire_plus`` (None: all).
        protocol: ``name@version`` or just ``name`` (None: all).
        include_runs: add the user's own runs (written by ``bench``).
        runs_dir: where the runs are (default ``$BRACKETIRE_RUNS``, else ``./runs``).
    """
    tables = [_published().assign(origin="published")]
    folder = Path(runs_dir or os.environ.get("BRACKETIRE_RUNS") or RUNS_DIR)
    if include_runs and folder.is_dir():
        tables += [pd.read_csv(p).assign(origin="ours") for p in sorted(folder.glob("*.csv"))]
    rows = pd.concat(tables, ignore_index=True).reindex(columns=[*COLUMNS, "origin"])
    if task is not None:
        rows = rows[rows["task"] == task]
    if protocol is not None:
        rows = rows[(rows["protocol"] == protocol) | (rows["protocol"].str.split("@").str[0] == protocol)]
    problems = []
    for (model, row_task, row_protocol), group in rows.groupby(["model", "task", "protocol"]):
        if len(group) > 1:
            same = group[list(METRICS)].nunique(dropna=False).max() == 1
            kind = "duplicate" if same else "contradictory"
            problems.append(f"{kind} rows for {model} / {row_task} / {row_protocol}: {len(group)} rows")
    return Leaderboard(rows.reset_index(drop=True), problems)


def ranked(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by PSNR (best first) with a ``position`` column; one protocol only.

    Raises:
        ValueError: the rows mix protocols (choose one with ``--protocol``).
    """
    protocols = sorted(rows["protocol"].dropna().unique())
    if len(protocols) > 1:
        raise ValueError(f"rows mix protocols {protocols}; rank one protocol at a time")
    out = rows.sort_values("psnr", ascending=False).reset_index(drop=True)
    out.insert(0, "position", range(1, len(out) + 1))
    return out


def render(rows: pd.DataFrame, fmt: str = "markdown") -> str:
    """The ranked table as markdown, csv or latex (the columns people put in papers)."""
    columns = ["position", "model", "protocol", "psnr", "ssim", "lpips", "params_m", "flops_t", "runtime_s",
               "memory_gb", "read_or_inferred", "origin"]
    table = rows[[c for c in columns if c in rows]].dropna(axis=1, how="all")
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "latex":
        return table.to_latex(index=False, float_format="%.4g", na_rep="--")
    return table.to_markdown(index=False, floatfmt=".4g", missingval="–") + "\n"
