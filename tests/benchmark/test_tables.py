"""Score tables: per-image and per-scene DataFrames and the CSV / Markdown / LaTeX writers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmark.tables import means_table, per_image_table, per_scene_table, to_latex, to_markdown, write_table
from simulator.core.errors import DataError

METRICS = ("psnr", "ssim", "lpips")
ROWS = [
    {"name": "bistro_01-000012.png", "scene": "bistro_01", "frame": "000012", "psnr": 30.0, "ssim": 0.9, "lpips": None},
    {"name": "bistro_01-000024.png", "scene": "bistro_01", "frame": "000024", "psnr": 34.0, "ssim": 0.8, "lpips": None},
    {"name": "showgirl_02-000100.png", "scene": "showgirl_02", "frame": "000100", "psnr": math.inf, "ssim": 1.0,
     "lpips": None},
]


@pytest.fixture
def per_image() -> pd.DataFrame:
    return per_image_table(ROWS, METRICS)


def test_per_image_table_columns_and_missing_values(per_image):
    assert list(per_image.columns) == ["name", "scene", "frame", *METRICS]
    assert per_image["psnr"].dtype == np.float64 and per_image["lpips"].isna().all()
    assert per_image["frame"].tolist() == ["000012", "000024", "000100"]  # frame ids stay text (leading zeros)


def test_per_scene_table_is_the_mean_over_frames(per_image):
    table = per_scene_table(per_image, METRICS)
    assert table["scene"].tolist() == ["bistro_01", "showgirl_02"]
    assert table["frames"].tolist() == [2, 1]
    assert table.loc[0, "psnr"] == pytest.approx(32.0) and table.loc[0, "ssim"] == pytest.approx(0.85)
    assert math.isinf(table.loc[1, "psnr"]) and math.isnan(table.loc[0, "lpips"])


def test_markdown_formats_numbers_and_marks_missing(per_image):
    text = to_markdown(per_scene_table(per_image, METRICS))
    lines = text.splitlines()
    assert lines[0].split("|")[1].strip() == "scene" and len(lines) == 4
    assert "32.0000" in text and "0.8500" in text and "inf" in lines[3] and "n/a" in lines[2]


def test_latex_escapes_underscores(per_image):
    text = to_latex(per_image)
    assert "\\begin{tabular}" in text and "bistro\\_01" in text and "n/a" in text


def test_write_table_by_suffix(tmp_path, per_image):
    for suffix in (".csv", ".md", ".tex"):
        write_table(per_image, tmp_path / f"t{suffix}")
    csv = (tmp_path / "t.csv").read_text().splitlines()
    assert csv[0] == "name,scene,frame,psnr,ssim,lpips"
    assert csv[1] == "bistro_01-000012.png,bistro_01,000012,30.0,0.9,"  # missing value: empty cell
    assert csv[3].split(",")[3] == "inf"
    back = pd.read_csv(tmp_path / "t.csv", dtype={"frame": str})
    assert back["ssim"].tolist() == per_image["ssim"].tolist()
    assert (tmp_path / "t.md").read_text().startswith("| name")
    assert "\\toprule" in (tmp_path / "t.tex").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.md", "t.tex"]  # no temporary files left


def test_write_table_overwrites_atomically(tmp_path, per_image):
    target = tmp_path / "t.csv"
    target.write_text("old\n")
    write_table(per_image.iloc[:1], target)
    assert target.read_text().count("\n") == 2 and "old" not in target.read_text()


def test_write_table_rejects_unknown_suffix(tmp_path, per_image):
    with pytest.raises(DataError, match=r"unknown table format '\.xlsx'"):
        write_table(per_image, tmp_path / "t.xlsx")
    assert not any(tmp_path.iterdir())


def test_write_table_into_missing_folder_is_a_data_error(tmp_path, per_image):
    with pytest.raises(DataError, match="cannot be written"):
        write_table(per_image, tmp_path / "no" / "t.csv")


def test_means_table_single_row():
    table = means_table({"psnr": 31.5, "ssim": 0.9, "lpips": None}, 290, "bracketire@1")
    assert table.to_dict("records")[0]["count"] == 290
    assert "| bracketire@1 |" in to_markdown(table) and "n/a" in to_markdown(table)
