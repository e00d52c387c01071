"""Result plots for papers: PSNR against model size, compute or runtime (matplotlib, saved to files)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

AXES = {"params": ("params_m", "Parameters (M)"), "flops": ("flops_t", "FLOPs (T)"), "runtime": ("runtime_s", "Runtime (s)")}


def plot_psnr(rows: pd.DataFrame, x: str, out: str | Path, title: str = "") -> Path:
    """Scatter PSNR against ``x`` (params / flops / runtime), labelled points, published and ours styled apart.

    Args:
        rows: leaderboard rows of one protocol.
        x: a key of :data:`AXES`.
        out: ``.png``, ``.pdf`` or ``.svg`` path.

    Returns:
        The written path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    column, label = AXES[x]
    data = rows.dropna(subset=[column, "psnr"])
    fig, ax = plt.subplots(figsize=(3.5, 2.6), dpi=200)
    for origin, marker, colour in (("published", "o", "tab:blue"), ("ours", "*", "tab:red")):
        part = data[data["origin"] == origin] if "origin" in data else data
        if part.empty:
            continue
        ax.scatter(part[column], part["psnr"], marker=marker, color=colour, s=18, label=origin, zorder=3)
        for _, row in part.iterrows():
            ax.annotate(str(row["model"]), (row[column], row["psnr"]), fontsize=5, xytext=(3, 2),
                        textcoords="offset points")
    ax.set_xlabel(label, fontsize=7)
    ax.set_ylabel("PSNR (dB)", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.margins(x=0.15)  # room for the labels of the rightmost points
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="lower right")
    if title:
        ax.set_title(title, fontsize=7)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
