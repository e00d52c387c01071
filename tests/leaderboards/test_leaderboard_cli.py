"""leaderboard and plot as a user meets them: their own rows shown (or a note saying where they went), unknown
protocols listed, LaTeX that compiles, JSON, plots that refuse to be empty, labels that do not overprint, and a
per-scene plot of score files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import matplotlib
import pandas as pd
from click.testing import CliRunner

import cli
from benchmark.bench import RUN_COLUMNS
from benchmark.tables import per_image_table, to_csv
from leaderboards.plots import _place_labels, one_point_per_label
from tests.helpers import one_error_line

matplotlib.use("Agg")


def _rows(runs, *rows):
    base = dict.fromkeys(RUN_COLUMNS, "")
    table = [{**base, "task": "bracketire", "protocol": "bracketire@1", "ssim": 0.7, "params_m": 1.0,
              "data_sha256": "d1", "date": "2026-11-24", **row} for row in rows]
    runs.mkdir(exist_ok=True)
    pd.DataFrame(table).to_csv(runs / "bench.csv", index=False)


def _invoke(runs, *args):
    return CliRunner().invoke(cli.cli, list(args), env={"BRACKETIRE_RUNS": str(runs)})


def test_your_rows_are_shown_by_default_or_a_note_says_where_they_are(tmp_path):
    runs = tmp_path / "runs"
    _rows(runs, {"model": "merge", "label": "merge", "psnr": 23.7}, {"model": "tmrnet", "label": "tmrnet:a", "psnr": 25.0})
    (runs / "zoo.csv").write_text("model,params_m,psnr\nmerge,0,23.7\n")  # perf/zoo.py's table: not a results table
    mine = _invoke(runs, "leaderboard", "--protocol", "bracketire@1")
    assert mine.exit_code == 0, mine.output
    assert mine.stderr == ""  # nothing hidden, and the zoo table is known, not a bad file
    assert mine.stdout.index("tmrnet:a") < mine.stdout.index("merge") and "| ours" in mine.stdout
    published = _invoke(runs, "leaderboard")  # the default protocol is the challenge's: the rows are elsewhere
    assert published.exit_code == 0 and "SRC-B" in published.stdout and "tmrnet:a" not in published.stdout
    assert (f"note: 2 of your 2 rows in {runs} are not shown (other task, protocol or test set): "
            "2 under --task bracketire --protocol bracketire@1 --test-set d1") in published.stderr
    hidden = _invoke(runs, "leaderboard", "--no-runs")
    assert hidden.exit_code == 0 and hidden.stderr == ""


def test_an_unknown_protocol_lists_the_valid_ones(tmp_path):
    result = _invoke(tmp_path, "leaderboard", "--protocol", "bracketire_plsu")
    one_error_line(result, "unknown protocol 'bracketire_plsu'; valid: bracketire@1, bracketire_plus@1, ntire2024@1, "
                   "ntire2024_crop16@1")
    empty = _invoke(tmp_path, "plot", "--protocol", "bracketire", "--out", str(tmp_path / "p.png"))
    one_error_line(empty, "no results for task bracketire under protocol bracketire", "tables hold ntire2024@1")
    assert not (tmp_path / "p.png").exists()


def test_latex_is_escaped_names_booktabs_and_compiles_where_latex_exists(tmp_path):
    runs = tmp_path / "runs"
    nasty = "a_b & 50% #1 $x$ {y}"
    _rows(runs, {"model": "my_net", "label": nasty, "psnr": 22.5}, {"model": "merge", "label": "merge", "psnr": 23.7})
    result = _invoke(runs, "leaderboard", "--protocol", "bracketire@1", "--format", "latex")
    assert result.exit_code == 0, result.output
    text = result.stdout
    lines = text.splitlines()
    assert lines[0].startswith("%") and "\\usepackage{booktabs}" in lines[0]
    assert r"a\_b \& 50\% \#1 \$x\$ \{y\}" in text and r"my\_net" in text and r"params\_m" in text
    body = lines[lines.index("\\begin{tabular}" + lines[1][len("\\begin{tabular}"):]):]
    assert [b for b in body if b.startswith("\\")][:3] == [lines[1], "\\toprule", "\\midrule"]
    assert body[-2:] == ["\\bottomrule", "\\end{tabular}"]
    columns = len(re.search(r"\\begin\{tabular\}\{(\w+)\}", text).group(1))
    rows = [line for line in body if line.endswith("\\\\")]
    assert len(rows) == 3  # header and two results
    for row in rows:  # every & that is not escaped separates a cell: no special character leaked into a cell
        assert len(re.findall(r"(?<!\\)&", row)) == columns - 1, row
        assert not re.search(r"(?<!\\)[_%#${}]", row.replace("\\\\", "")), row
    if shutil.which("pdflatex"):
        doc = tmp_path / "t.tex"
        doc.write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n" + text + "\\end{document}\n")
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-2000:]


def test_json_format_is_the_ranked_rows(tmp_path):
    runs = tmp_path / "runs"
    _rows(runs, {"model": "merge", "label": "merge", "psnr": 23.7}, {"model": "reference", "label": "reference", "psnr": 13.0})
    result = _invoke(runs, "leaderboard", "--protocol", "bracketire@1", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["position"], r["label"], r["psnr"]) for r in rows] == [(1, "merge", 23.7), (2, "reference", 13.0)]
    assert all(r["origin"] == "ours" for r in rows)


def test_a_plot_with_nothing_to_draw_says_why_and_writes_nothing(tmp_path):
    runs = tmp_path / "runs"
    _rows(runs, {"model": "merge", "label": "merge", "psnr": 23.7})  # no FLOPs in a bench row
    out = tmp_path / "flops.png"
    result = _invoke(runs, "plot", "--protocol", "bracketire@1", "--x", "flops", "--out", str(out))
    one_error_line(result, "nothing to plot: none of the 1 rows has both psnr and flops_t (--x flops)")
    assert not out.exists()


def test_one_point_per_run_label_the_latest_kept():
    rows = pd.DataFrame([
        {"model": "tmrnet", "label": "tmrnet:a", "psnr": 23.2, "date": "2026-11-24", "origin": "ours"},
        {"model": "tmrnet", "label": "tmrnet:b", "psnr": 23.4, "date": "2026-11-24", "origin": "ours"},
        {"model": "tmrnet", "label": "tmrnet:a", "psnr": 23.3, "date": "2026-11-25", "origin": "ours"},
        {"model": "TMRNet", "label": None, "psnr": 38.19, "date": "2024-04", "origin": "published"},
    ])
    points = one_point_per_label(rows)
    assert sorted(zip(points["point"], points["psnr"])) == [("TMRNet", 38.19), ("tmrnet:a", 23.3), ("tmrnet:b", 23.4)]


def test_labels_of_close_points_do_not_overprint():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.5, 2.6), dpi=100)
    xy = [(1.60, 23.30), (1.61, 23.31), (1.60, 23.32), (0.52, 26.26), (0.53, 26.10), (0.2, 18.0)]
    ax.scatter(*zip(*xy))
    _place_labels(ax, [(x, y, f"model_{i}:run") for i, (x, y) in enumerate(xy)], fontsize=5)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(boxes) == len(xy)
    overlapping = [(i, j) for i in range(len(boxes)) for j in range(i) if boxes[i].overlaps(boxes[j])]
    plt.close(fig)
    assert overlapping == []


def _score_csv(path, psnr_by_image):
    rows = [{"name": f"{scene}-{frame}.png", "scene": scene, "frame": frame, "psnr": value, "ssim": 0.8}
            for (scene, frame), value in psnr_by_image.items()]
    path.write_text(to_csv(per_image_table(rows, ["psnr", "ssim"])))  # what score --csv writes
    return path


def test_per_scene_plot_compares_score_files(tmp_path):
    a = _score_csv(tmp_path / "tmrnet.csv", {("s1", "1"): 30.0, ("s1", "2"): 32.0, ("s2", "1"): 25.0, ("s3", "1"): 20.0})
    b = _score_csv(tmp_path / "merge.csv", {("s1", "1"): 28.0, ("s1", "2"): 28.0, ("s2", "1"): 26.0})
    out = tmp_path / "scenes.png"
    result = _invoke(tmp_path, "plot", "--per-scene", str(a), str(b), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:4]]
             for line in result.stdout.splitlines() if re.match(r"\| (s\d|mean) ", line)}
    assert table == {"s1": ["31.00", "28.00"], "s2": ["25.00", "26.00"], "mean": ["28.00", "27.00"]}  # s3: only in a
    bad = tmp_path / "other.csv"
    bad.write_text("model,score\nx,1\n")
    one_error_line(_invoke(tmp_path, "plot", "--per-scene", str(a), str(bad), "--out", str(tmp_path / "x.png")),
                   f"{bad}: no scene, psnr column")
    one_error_line(_invoke(tmp_path, "plot", "--per-scene", "--out", str(tmp_path / "x.png")), "--per-scene needs")
    one_error_line(_invoke(tmp_path, "plot", str(a), "--out", str(tmp_path / "x.png")), "with --per-scene")
    assert not (tmp_path / "x.png").exists()
