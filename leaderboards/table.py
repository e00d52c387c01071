"""Load result tables (published rows shipped with the package, plus the user's runs) and rank them.

Every row keeps its protocol; :func:`ranked` refuses to mix protocols, so full-image NTIRE numbers are
never ranked together with border-cropped ones, and refuses to mix test data (``data_sha256``, the checksum
of the data's manifest that ``bench`` records), so rows of the built-in benchmark v1 and v2 stay apart. Duplicate rows (same model, task, protocol) are reported,
not merged; contradictory duplicates (different numbers) are flagged as such.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from leaderboards.importer import COLUMNS
from simulator.core.errors import DataError  # the toolkit's error types: the CLI prints one line, exit 2

RUNS_DIR = Path("runs")  # bench appends to ./runs in the working directory, or to $BRACKETIRE_RUNS
METRICS = ("psnr", "ssim", "lpips")


@dataclass
class Leaderboard:
    """The rows and what the loader noticed about them.

    Attributes:
        rows: the kept rows (published and, with runs, the user's; ``origin`` says which).
        problems: notes for the user: skipped files, duplicates, the user's rows the filters hid and why.
        protocols: task -> every protocol tag the tables hold for it (before any filter), sorted.
    """

    rows: pd.DataFrame
    problems: list[str] = field(default_factory=list)
    protocols: dict[str, list[str]] = field(default_factory=dict)


def _published() -> pd.DataFrame:
    folder = resources.files("leaderboards") / "published"
    frames = [pd.read_csv(folder / name) for name in sorted(p.name for p in folder.iterdir() if p.name.endswith(".csv"))]
    return pd.concat(frames, ignore_index=True)


REQUIRED = ("model", "task", "protocol", "psnr")  # what makes a CSV a results table
NOT_RESULTS = {"zoo.csv"}  # the toolkit's own other tables in a runs folder (perf/zoo.py): skipped without a note
PUBLISHED_TEST_SET = "published"  # rows without a data checksum: the paper's / challenge's own test set


def _read_runs(folder: Path) -> tuple[list[pd.DataFrame], list[str]]:
    """Every results CSV in ``folder``; a file that is not one is named in a note and skipped."""
    tables, problems = [], []
    for path in sorted(folder.glob("*.csv")):
        if path.name in NOT_RESULTS:
            continue
        if not path.is_file():
            problems.append(f"{path}: not a regular file; skipped")
            continue
        try:
            table = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            problems.append(f"{path}: not a readable CSV ({reason}); skipped")
            continue
        missing = [c for c in REQUIRED if c not in table.columns]
        if missing:
            problems.append(f"{path}: not a results table (no {', '.join(missing)} column); skipped")
            continue
        psnr = pd.to_numeric(table["psnr"], errors="coerce")
        if psnr.isna().any():
            bad = [i + 2 for i in psnr[psnr.isna()].index[:3]]  # file line numbers (header is line 1)
            problems.append(f"{path}: non-numeric psnr on line(s) {bad}; skipped")
            continue
        tables.append(table.assign(psnr=psnr, origin="ours"))
    return tables, problems


def test_set_of(rows: pd.DataFrame) -> pd.Series:
    """Each row's test set: its ``data_sha256``, or ``published`` where it has none."""
    sets = rows["data_sha256"] if "data_sha256" in rows else pd.Series(index=rows.index, dtype=object)
    text = sets.astype(object).where(sets.notna(), "").astype(str).str.strip()
    return text.where(text != "", PUBLISHED_TEST_SET)


def load_leaderboard(task: str | None = None, protocol: str | None = None, include_runs: bool = False,
                     runs_dir: Path | None = None, test_set: str | None = None) -> Leaderboard:
    """Published rows (and, with ``include_runs``, every results CSV in ``./runs`` or ``$BRACKETIRE_RUNS``), filtered.

    A CSV in the runs folder that is unreadable, lacks the columns of a results table or holds a non-numeric
    PSNR is skipped and named in ``problems``.

    Args:
        task: ``bracketire`` or ``bracketire_plus`` (None: all).
        protocol: ``name@version`` or just ``name`` (None: all).
        include_runs: add the user's own runs (written by ``bench``).
        runs_dir: where the runs are (default ``$BRACKETIRE_RUNS``, else ``./runs``).
        test_set: keep rows measured on this test set only: a ``data_sha256`` (or a prefix of one), or
            ``published`` for the published test sets (None: all).
    """
    tables = [_published().assign(origin="published")]
    problems: list[str] = []
    folder = Path(runs_dir or os.environ.get("BRACKETIRE_RUNS") or RUNS_DIR)
    if include_runs and folder.is_dir():
        runs, problems = _read_runs(folder)
        tables += runs
    everything = pd.concat(tables, ignore_index=True).reindex(columns=[*COLUMNS, "label", "runtime_repeats", "origin"])
    everything["runtime_repeats"] = pd.to_numeric(everything["runtime_repeats"], errors="coerce").astype("Int64")
    protocols = {str(t): sorted(group["protocol"].dropna().astype(str).unique()) for t, group in everything.groupby("task")}
    rows = everything
    if task is not None:
        rows = rows[rows["task"] == task]
    if protocol is not None:
        rows = rows[(rows["protocol"] == protocol) | (rows["protocol"].str.split("@").str[0] == protocol)]
    if test_set is not None:
        rows = rows[test_set_of(rows).str.startswith(test_set)]
    problems += _hidden_runs(everything, rows, folder)
    keys = rows.assign(data_sha256=rows["data_sha256"].astype(object).fillna(""),
                       label=rows["label"].astype(object).fillna(""))
    for (model, row_task, row_protocol, _, _), group in keys.groupby(["model", "task", "protocol", "data_sha256", "label"]):
        if len(group) > 1:
            same = group[list(METRICS)].nunique(dropna=False).max() == 1
            kind = "duplicate" if same else "contradictory"
            problems.append(f"{kind} rows for {model} / {row_task} / {row_protocol}: {len(group)} rows")
    return Leaderboard(rows.reset_index(drop=True), problems, protocols)


def _hidden_runs(everything: pd.DataFrame, kept: pd.DataFrame, folder: Path) -> list[str]:
    """A note for the user's rows the filters left out: how many, and the task / protocol / test set they have."""
    ours = everything[everything["origin"] == "ours"]
    hidden = ours.loc[ours.index.difference(kept.index)]
    if hidden.empty:
        return []
    groups = hidden.assign(test_set=test_set_of(hidden)).groupby(["task", "protocol", "test_set"], dropna=False).size()
    where = "; ".join(f"{n} under --task {t} --protocol {p}" + ("" if s == PUBLISHED_TEST_SET else f" --test-set {s}")
                      for (t, p, s), n in groups.items())
    return [f"{len(hidden)} of your {len(ours)} rows in {folder} are not shown (other task, protocol or test set): {where}"]


def protocol_problem(task: str, protocol: str, board: Leaderboard, registered: list[str]) -> str:
    """Why no row is left, in one line: an unknown protocol (with the valid ones) or one without results here.

    Args:
        task: the task asked for.
        protocol: ``name`` or ``name@version`` as asked.
        board: what :func:`load_leaderboard` found.
        registered: the protocol tags the toolkit knows (``benchmark.protocols``), also valid without results.
    """
    valid = sorted({*registered, *(tag for tags in board.protocols.values() for tag in tags)})
    names = {tag.split("@")[0] for tag in valid}
    if protocol not in valid and protocol not in names:
        return f"unknown protocol {protocol!r}; valid: {', '.join(valid)}"
    held = board.protocols.get(task, [])
    return (f"no results for task {task} under protocol {protocol}; for {task} the tables hold "
            f"{', '.join(held) or 'no rows'} (--protocol NAME@VERSION)")


class IncomparableRows(DataError):
    """Rows that must not share a ranking or a plot (several protocol versions or test sets)."""


def check_comparable(rows: pd.DataFrame) -> None:
    """Refuse rows that must not share a ranking or a plot: several protocols (versions) or test sets.

    Raises:
        IncomparableRows: naming the protocols or the test sets (data checksums) and the option that picks one.
    """
    protocols = sorted(rows["protocol"].dropna().unique())
    if len(protocols) > 1:
        raise IncomparableRows(f"rows mix protocols {protocols}; rank one protocol at a time (--protocol NAME@VERSION)")
    sets = sorted(test_set_of(rows).unique())
    if len(sets) > 1:
        raise IncomparableRows(f"rows were measured on different test sets (data_sha256 {', '.join(sets)}); "
                        "compare one at a time (--test-set SHA or --test-set published)")


def ranked(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by PSNR (best first) with a ``position`` column; one protocol and one test set only.

    Raises:
        DataError: the rows mix protocols or test sets (:func:`check_comparable`).
    """
    check_comparable(rows)
    out = rows.sort_values("psnr", ascending=False).reset_index(drop=True)
    out.insert(0, "position", range(1, len(out) + 1))
    return out


LATEX_NOTE = "% needs \\usepackage{booktabs} (\\toprule, \\midrule, \\bottomrule); text cells are escaped\n"


def render(rows: pd.DataFrame, fmt: str = "markdown") -> str:
    """The ranked table as markdown, csv, json (a list of row objects, null where missing) or latex.

    LaTeX: every text cell and header is escaped (``_ & % $ # { } ~ ^ \\``), the rules are booktabs' (named in
    a comment line above the ``tabular``).
    """
    columns = ["position", "model", "label", "protocol", "psnr", "ssim", "lpips", "params_m", "flops_t", "runtime_s",
               "runtime_repeats", "hardware", "memory_gb", "read_or_inferred", "origin"]
    table = rows[[c for c in columns if c in rows]].dropna(axis=1, how="all")
    if "hardware" in table and "origin" in table:  # the challenge's hardware is one long note; keep only ours
        table = table.assign(hardware=table["hardware"].where(table["origin"] == "ours"))
        table = table.dropna(axis=1, how="all")
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "json":
        return table.to_json(orient="records", indent=1) + "\n"
    if fmt == "latex":
        return LATEX_NOTE + table.to_latex(index=False, float_format="%.4g", na_rep="--", escape=True)
    return table.to_markdown(index=False, floatfmt=".4g", missingval="–") + "\n"
