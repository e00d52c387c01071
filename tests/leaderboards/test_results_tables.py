"""Result tables are data: bench appends under the file's own header or refuses; leaderboard and plot skip a
bad CSV with a note naming it; results on different test sets (data checksums) or protocol versions are never
ranked or plotted together."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from benchmark.bench import RUN_COLUMNS, _append_run
from leaderboards.table import load_leaderboard, ranked


def _row(model: str, psnr: float, data: str = "aaaa", protocol: str = "bracketire@1") -> dict[str, object]:
    row = dict.fromkeys(RUN_COLUMNS, "")
    row.update(model=model, task="bracketire", protocol=protocol, psnr=psnr, ssim=0.8, params_m=1.0, data_sha256=data)
    return row


def _invoke(*args, runs):
    return CliRunner().invoke(cli.cli, list(args), env={"BRACKETIRE_RUNS": str(runs)})


def test_bench_appends_under_the_existing_header_order(tmp_path):
    reordered = list(reversed(RUN_COLUMNS))
    with open(tmp_path / "bench.csv", "w", newline="") as handle:
        csv.writer(handle).writerow(reordered)
    _append_run(_row("merge", 20.0), tmp_path)
    _append_run(_row("reference", 18.0), tmp_path)
    rows = list(csv.DictReader(open(tmp_path / "bench.csv")))
    assert next(csv.reader(open(tmp_path / "bench.csv"))) == reordered
    assert [(r["model"], float(r["psnr"])) for r in rows] == [("merge", 20.0), ("reference", 18.0)]


def test_bench_refuses_a_foreign_results_file_before_any_work(tmp_path):
    (tmp_path / "bench.csv").write_text("name,score\nmine,1\n")
    result = _invoke("bench", "--model", "merge", "--no-progress", "--data", str(tmp_path), runs=tmp_path)
    assert result.exit_code == 2
    assert "bench.csv: has columns ['name', 'score']" in result.stderr and "nothing was appended" in result.stderr
    assert (tmp_path / "bench.csv").read_text() == "name,score\nmine,1\n"  # untouched


def test_bad_csvs_are_named_and_skipped(tmp_path):
    pd.DataFrame([_row("merge", 20.0)]).to_csv(tmp_path / "bench.csv", index=False)
    (tmp_path / "notes.csv").write_text("model,params_m\nmerge,1\n")  # another kind of table
    (tmp_path / "broken.csv").write_bytes(b"model,task,protocol,psnr\n\xff\xfe,\x00\n")
    (tmp_path / "text.csv").write_text("model,task,protocol,psnr\nx,bracketire,bracketire@1,high\n")
    (tmp_path / "empty.csv").write_text("")
    board = load_leaderboard("bracketire", "bracketire@1", include_runs=True, runs_dir=tmp_path)
    assert board.rows["model"].tolist() == ["merge"]
    notes = "\n".join(board.problems)
    for name, why in (("notes.csv", "no task, protocol, psnr column"), ("broken.csv", "not a readable CSV"),
                      ("text.csv", "non-numeric psnr on line(s) [2]"), ("empty.csv", "not a readable CSV")):
        assert f"{tmp_path / name}: " in notes and why in notes, (name, notes)
    result = _invoke("leaderboard", "--protocol", "bracketire@1", "--include-runs", runs=tmp_path)
    assert result.exit_code == 0, result.output
    assert "note: " in result.stderr and "notes.csv" in result.stderr and "| merge" in result.stdout


def test_results_on_different_test_sets_are_never_ranked_or_plotted_together(tmp_path):
    pd.DataFrame([_row("merge", 20.0, "aaaa"), _row("reference", 25.0, "bbbb")]).to_csv(tmp_path / "bench.csv",
                                                                                         index=False)
    rows = load_leaderboard("bracketire", "bracketire@1", include_runs=True, runs_dir=tmp_path).rows
    with pytest.raises(ValueError, match="different test sets .*aaaa, bbbb"):
        ranked(rows)
    result = _invoke("leaderboard", "--protocol", "bracketire@1", "--include-runs", runs=tmp_path)
    assert result.exit_code == 2 and "different test sets" in result.stderr and "--test-set" in result.stderr
    one = _invoke("leaderboard", "--protocol", "bracketire@1", "--include-runs", "--test-set", "bb", runs=tmp_path)
    assert one.exit_code == 0 and "reference" in one.stdout and "merge" not in one.stdout
    out = tmp_path / "p.png"
    plot = _invoke("plot", "--protocol", "bracketire@1", "--include-runs", "--out", str(out), runs=tmp_path)
    assert plot.exit_code == 2 and "different test sets" in plot.stderr and not out.exists()


def test_plot_refuses_mixed_protocol_versions_as_leaderboard_does(tmp_path):
    pd.DataFrame([_row("merge", 20.0), _row("reference", 25.0, protocol="bracketire@2")]).to_csv(
        tmp_path / "bench.csv", index=False)
    out = tmp_path / "p.png"
    for command in (["leaderboard"], ["plot", "--out", str(out)]):
        result = _invoke(*command, "--protocol", "bracketire", "--include-runs", runs=tmp_path)
        assert result.exit_code == 2, command
        assert "mix protocols ['bracketire@1', 'bracketire@2']" in result.stderr
    assert not out.exists()
    fine = _invoke("plot", "--protocol", "bracketire@2", "--include-runs", "--out", str(out), runs=tmp_path)
    assert fine.exit_code == 0 and out.read_bytes()[:4] == b"\x89PNG"


def test_a_bench_csv_from_before_labels_gains_the_columns_and_keeps_its_rows(tmp_path):
    from benchmark.bench import _OLD_RUN_COLUMNS

    old = {c: "" for c in _OLD_RUN_COLUMNS}
    with open(tmp_path / "bench.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=_OLD_RUN_COLUMNS)
        writer.writeheader()
        writer.writerow({**old, "model": "tmrnet", "task": "bracketire", "protocol": "bracketire@1", "psnr": 23.3,
                         "runtime_s": 1.77})
    _append_run({**_row("tmrnet", 23.4), "label": "tmrnet:run_b", "runtime_repeats": 3}, tmp_path)
    header = next(csv.reader(open(tmp_path / "bench.csv")))
    assert header == RUN_COLUMNS
    rows = list(csv.DictReader(open(tmp_path / "bench.csv")))
    assert [(r["label"], r["psnr"], r["runtime_s"], r["runtime_repeats"]) for r in rows] == [
        ("tmrnet", "23.3", "1.77", ""), ("tmrnet:run_b", "23.4", "", "3")]  # the old runtime: a single cold run


def test_bench_writes_to_the_working_folder_never_into_the_package(tmp_path, monkeypatch):
    import hashlib

    from benchmark.bench import runs_folder
    from tests.conftest import REPO

    shipped = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (REPO / "leaderboards").rglob("*.csv")}
    monkeypatch.delenv("BRACKETIRE_RUNS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert runs_folder() == tmp_path / "runs"
    _append_run(_row("merge", 20.0), None)
    assert (tmp_path / "runs" / "bench.csv").is_file()
    assert shipped == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (REPO / "leaderboards").rglob("*.csv")}
    monkeypatch.setenv("BRACKETIRE_RUNS", str(tmp_path / "elsewhere"))
    assert runs_folder() == tmp_path / "elsewhere"
