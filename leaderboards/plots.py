"""Result plots for papers (matplotlib, saved to files): PSNR against model size, compute or runtime, one point
per run label; PSNR per scene of several score files (``score --csv``), model against model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

AXES = {"params": ("params_m", "Parameters (M)"), "flops": ("flops_t", "FLOPs (T)"), "runtime": ("runtime_s", "Runtime (s per image)")}
TITLES = {"params": "PSNR against model size", "flops": "PSNR against compute", "runtime": "PSNR against runtime"}


class PlotInputError(ValueError):
    """Nothing to draw, or a score file that is not one; the message says which file or column and why."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def one_point_per_label(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows to draw: one per label (the user's rows: ``label``, else the model) and origin, the latest kept.

    Rows of one label are runs of the same thing (e.g. a model benched twice); drawing each would stack labels.
    """
    key = rows["label"].astype(object).fillna(rows["model"].astype(object)) if "label" in rows else rows["model"]
    key = key.where(key.astype(str).str.strip() != "", rows["model"]).astype(str)
    origin = rows["origin"] if "origin" in rows else pd.Series("", index=rows.index)
    keyed = rows.assign(point=key, origin=origin)
    order = keyed.sort_values("date", kind="stable") if "date" in keyed else keyed
    return order.drop_duplicates(["origin", "point"], keep="last").sort_index()


def _place_labels(ax, points: list[tuple[float, float, str]], fontsize: float) -> None:
    """Annotate each point at the first of a few offsets where its text (measured as drawn) overlaps no text
    placed before and stays inside the axes; where none is free, at the first offset."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed = []
    for x, y, text in sorted(points, key=lambda p: (-p[1], p[0])):
        note = ax.annotate(text, (x, y), fontsize=fontsize, xytext=(3, 2), textcoords="offset points")
        width = note.get_window_extent(renderer).width * 72.0 / fig.dpi  # in points
        candidates = [(dx, dy) for dy in (2, -7, 9, -14, 16, -21, 23, -28) for dx in (3, -3 - width)]
        for dx, dy in candidates:
            note.xyann = (dx, dy)
            box = note.get_window_extent(renderer)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not any(box.overlaps(other) for other in placed):
                break
        else:
            note.xyann = candidates[0]
            box = note.get_window_extent(renderer)
        if note.xyann != (3, 2):
            note.arrow_patch = None
            note.set_annotation_clip(False)
        placed.append(box)


def plot_psnr(rows: pd.DataFrame, x: str, out: str | Path, title: str = "") -> Path:
    """Scatter PSNR against ``x`` (params / flops / runtime): one labelled point per run label, published and
    the user's rows styled apart, a log axis where the values span more than two decades.

    Args:
        rows: leaderboard rows of one protocol and test set.
        x: a key of :data:`AXES`.
        out: ``.png``, ``.pdf`` or ``.svg`` path.
        title: what the rows are (task, protocol); the axis pair is prepended.

    Returns:
        The written path.

    Raises:
        PlotInputError: no row has both a PSNR and a value on ``x`` (the message counts what is missing).
    """
    column, axis_label = AXES[x]
    values = pd.to_numeric(rows[column], errors="coerce") if column in rows else pd.Series(index=rows.index, dtype=float)
    data = one_point_per_label(rows.assign(**{column: values}).dropna(subset=[column, "psnr"]))
    if data.empty:
        hint = ("bench rows record parameters and runtime, not FLOPs (info --model NAME counts them)" if x == "flops"
                else "try another --x")
        raise PlotInputError(f"nothing to plot: none of the {len(rows)} rows has both psnr and {column} (--x {x}); {hint}")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.0), dpi=200)
    points = []
    for origin, marker, colour, name in (("published", "o", "tab:blue", "published"), ("ours", "*", "tab:red", "yours")):
        part = data[data["origin"] == origin] if "origin" in data else data
        if part.empty:
            continue
        ax.scatter(part[column], part["psnr"], marker=marker, color=colour, s=22 if marker == "*" else 14,
                   label=f"{name} ({len(part)})", zorder=3)
        points += [(float(r[column]), float(r["psnr"]), str(r["point"])) for _, r in part.iterrows()]
    positive = data[column][data[column] > 0]
    if len(positive) == len(data) and positive.max() / positive.min() > 100:
        ax.set_xscale("log")
    ax.set_xlabel(axis_label, fontsize=7)
    ax.set_ylabel("PSNR (dB)", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.margins(x=0.18, y=0.1)  # room for the labels of the outermost points
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="best")  # where it hides the fewest points
    ax.set_title(f"{TITLES[x]}: {title}" if title else TITLES[x], fontsize=7)
    _place_labels(ax, points, fontsize=5)
    fig.tight_layout()
    return _save(fig, plt, out)


def _save(fig, plt, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def read_score_csv(path: str | Path) -> pd.DataFrame:
    """A per-image score CSV (``score --csv``: ``name, scene, frame, psnr, ...``) with PSNR as float.

    Raises:
        PlotInputError: not a readable CSV, no ``scene`` or ``psnr`` column, or no numeric PSNR.
    """
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise PlotInputError(f"{path}: not a readable CSV ({reason}); expected the per-image CSV of score --csv") from None
    missing = [c for c in ("scene", "psnr") if c not in table.columns]
    if missing:
        raise PlotInputError(f"{path}: no {', '.join(missing)} column; expected the per-image CSV of score --csv "
                             f"(name, scene, frame, psnr, ...), found {', '.join(map(str, table.columns))}")
    table = table.assign(psnr=pd.to_numeric(table["psnr"], errors="coerce"), scene=table["scene"].astype(str))
    if table["psnr"].notna().sum() == 0:
        raise PlotInputError(f"{path}: no numeric psnr value; nothing to plot")
    return table


def _names(paths: Sequence[Path]) -> list[str]:
    """Legend names: the file stems, or parent/stem where stems repeat (run_a/score.csv, run_b/score.csv)."""
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    return [f"{p.parent.name}/{p.stem}" if stems.count(p.stem) > 1 else p.stem for p in paths]


def per_scene_psnr(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Mean PSNR per scene of each score file: index the scenes all files share (sorted), one column per file.

    Raises:
        PlotInputError: a file is not a score CSV, or the files share no scene.
    """
    files = [Path(p) for p in paths]
    columns = {name: read_score_csv(path).groupby("scene")["psnr"].mean() for name, path in zip(_names(files), files)}
    table = pd.DataFrame(columns).dropna()
    if table.empty:
        raise PlotInputError(f"the score files share no scene with a PSNR ({', '.join(map(str, files))}); "
                             "nothing to compare")
    return table.sort_index()


def plot_per_scene(paths: Sequence[str | Path], out: str | Path) -> tuple[Path, str]:
    """Bars of the mean PSNR of each scene, one bar per score file (model against model), mean in the legend.

    Returns:
        The written path, and the per-scene table as Markdown (scenes x files, with a ``mean`` row).

    Raises:
        PlotInputError: see :func:`per_scene_psnr`.
    """
    table = per_scene_psnr(paths)
    plt = _pyplot()
    count, files = len(table), len(table.columns)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * count * files + 1.5), 3.0), dpi=200)
    width = 0.8 / files
    for i, name in enumerate(table.columns):
        offsets = [k - 0.4 + width * (i + 0.5) for k in range(count)]
        ax.bar(offsets, table[name], width=width, label=f"{name} (mean {table[name].mean():.2f} dB)")
    ax.set_xticks(range(count))
    ax.set_xticklabels(table.index, rotation=45 if count > 6 else 0, ha="right" if count > 6 else "center", fontsize=6)
    low = table.min().min()
    ax.set_ylim(bottom=max(0.0, low - 3.0), top=table.max().max() + 1.5)
    ax.set_ylabel("PSNR (dB)", fontsize=7)
    ax.set_xlabel("scene", fontsize=7)
    ax.tick_params(axis="y", labelsize=6)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=6, loc="upper right")
    ax.set_title(f"PSNR per scene: {' vs '.join(table.columns)} ({count} scenes in common)", fontsize=7)
    fig.tight_layout()
    written = _save(fig, plt, out)
    shown = pd.concat([table, table.mean().to_frame("mean").T]).round(2)
    return written, shown.rename_axis("scene").to_markdown(floatfmt=".2f")
