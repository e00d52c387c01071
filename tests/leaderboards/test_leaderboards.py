import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from leaderboards.importer import import_ntire2024
from leaderboards.table import load_leaderboard, ranked
from simulator.core.errors import DataError
from tests.conftest import REPO

TRACKS = {1: "bracketire", 2: "bracketire_plus"}


@pytest.mark.parametrize("track", TRACKS)
def test_shipped_tables_are_the_sources_imported_row_for_row(shared, track):
    source = shared / "leaderboard_sources" / f"ntire2024_track{track}.csv"
    shipped = pd.read_csv(REPO / "leaderboards" / "published" / f"ntire2024_{TRACKS[track]}.csv")
    imported = import_ntire2024(source, TRACKS[track])
    pd.testing.assert_frame_equal(shipped, imported, check_dtype=False)
    raw = pd.read_csv(source)
    full = shipped[shipped["protocol"] == "ntire2024@1"]
    assert full["model"].tolist() == raw["method"].tolist() and full["psnr"].tolist() == raw["psnr"].tolist()
    assert set(shipped["read_or_inferred"]) <= {"read", "inferred"}
    assert (shipped["source"] != "").all()


def test_track1_notes_become_columns():
    rows = load_leaderboard("bracketire", "ntire2024").rows.set_index("model")
    assert rows.loc["SRC-B", "flops_t"] == 48.238 and rows.loc["SRC-B", "runtime_s"] == 3.102
    assert rows.loc["MegIRE", "read_or_inferred"] == "inferred" and rows.loc["SRC-B", "rank"] == 1


def test_protocols_are_never_ranked_together_and_duplicates_are_reported(tmp_path):
    both = load_leaderboard("bracketire_plus").rows
    with pytest.raises(DataError, match="mix protocols"):
        ranked(both)
    runs = tmp_path / "runs"
    runs.mkdir()
    mine = both[both["protocol"] == "ntire2024@1"].head(1).drop(columns="origin").assign(psnr=1.0)
    mine.to_csv(runs / "r.csv", index=False)
    board = load_leaderboard("bracketire_plus", "ntire2024@1", include_runs=True, runs_dir=runs)
    assert any(p.startswith("contradictory rows for SRC-B") for p in board.problems)


def test_cli_leaderboard_and_plot(tmp_path):
    result = CliRunner().invoke(cli.cli, ["leaderboard", "--task", "bracketire_plus", "--format", "latex"])
    assert result.exit_code == 0 and "\\begin{tabular}" in result.output and "SRC-B" in result.output
    table = CliRunner().invoke(cli.cli, ["leaderboard", "--no-runs"]).stdout.splitlines()
    assert "SRC-B" in table[2] and "TMRNet" in table[-1]  # ranked by PSNR
    out = tmp_path / "track1.png"
    result = CliRunner().invoke(cli.cli, ["plot", "--x", "params", "--out", str(out)])
    assert result.exit_code == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = CliRunner().invoke(cli.cli, ["leaderboard", "--protocol", "bracketire"])
    assert bad.exit_code == 2 and "no results for task bracketire under protocol bracketire" in bad.stderr


def test_rows_on_different_test_data_are_never_ranked_together(tmp_path, monkeypatch):
    # two versions of the built-in benchmark: same model and protocol, different data_sha256
    runs = tmp_path / "runs"
    runs.mkdir()
    row = {"model": "merge", "task": "bracketire", "protocol": "bracketire@1", "ssim": 0.6, "source": "bench"}
    pd.DataFrame([{**row, "psnr": 23.7, "data_sha256": "77132d1b31b7079c"},
                  {**row, "model": "reference", "psnr": 13.0, "data_sha256": "77132d1b31b7079c"},
                  {**row, "psnr": 30.1, "data_sha256": "a0b1c2d3e4f50617"}]).to_csv(runs / "bench.csv", index=False)
    board = load_leaderboard("bracketire", "bracketire@1", include_runs=True, runs_dir=runs)
    assert not board.problems  # the same model on two data sets is not a contradiction
    with pytest.raises(DataError, match="different test sets .*77132d1b31b7079c, a0b1c2d3e4f50617"):
        ranked(board.rows)
    old = ranked(load_leaderboard("bracketire", "bracketire@1", include_runs=True, runs_dir=runs, test_set="7713").rows)
    assert old["model"].tolist() == ["merge", "reference"] and old["psnr"].tolist() == [23.7, 13.0]
    monkeypatch.setenv("BRACKETIRE_RUNS", str(runs))
    mixed = CliRunner().invoke(cli.cli, ["leaderboard", "--protocol", "bracketire@1", "--include-runs"])
    assert mixed.exit_code == 2 and "--test-set SHA" in mixed.stderr
    new = CliRunner().invoke(cli.cli, ["leaderboard", "--protocol", "bracketire@1", "--include-runs", "--test-set", "a0b1"])
    assert new.exit_code == 0 and "30.1" in new.output and "23.7" not in new.output
