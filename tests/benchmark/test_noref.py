"""Scoring without ground truth (benchmark/noref.py): diagnostics on images of known noise and blur, the 4 x 4
tiles of the learned metrics, the skip note when pyiqa cannot load, and ``score --no-reference`` / ``predict
--score`` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.ndimage import gaussian_filter

import cli
from benchmark.images import write_png16
from benchmark.noref import DIAGNOSTICS, diagnostics, learned_metrics, score_no_reference, tiled_score, tiles
from simulator.core.errors import DataError


def _texture(size: int = 192, seed: int = 0) -> np.ndarray:
    """A sharp, noise-free test scene in [0.1, 0.9]: overlapping flat discs (dead-leaves-like) on three channels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    image = np.full((size, size, 3), 0.5)
    for _ in range(40):
        cy, cx, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(4, 24)
        image[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.uniform(0.1, 0.9, size=3)
    return image


@pytest.mark.parametrize("sigma", [0.005, 0.02, 0.05])
def test_residual_noise_sigma_recovers_added_gaussian_noise(sigma):
    rng = np.random.default_rng(1)
    noisy = _texture() + rng.normal(0.0, sigma, size=(192, 192, 3))
    found = diagnostics(noisy)["residual_noise_sigma"]
    assert found == pytest.approx(sigma, rel=0.15, abs=0.002)


def test_residual_noise_sigma_of_a_clean_piecewise_flat_image_is_near_zero():
    assert diagnostics(_texture())["residual_noise_sigma"] < 0.003


def test_blur_effect_increases_monotonically_with_gaussian_blur():
    image = _texture()
    values = [diagnostics(np.stack([gaussian_filter(image[..., c], s) if s else image[..., c] for c in range(3)], -1))
              ["blur_effect"] for s in (0, 0.5, 1, 2, 4)]
    assert all(a < b for a, b in zip(values, values[1:])), values
    assert 0 <= values[0] < 0.5 < values[-1] <= 1


def test_clipped_and_crushed_fractions_count_pixels_and_skip_the_zero_border():
    image = np.full((40, 40, 3), 0.5)
    image[:10, :, 1] = 1.0  # 10 of 40 rows: a channel at the maximum
    image[30:, :20] = 0.0  # 10 rows x 20 columns: every channel at 0
    padded = np.zeros((60, 60, 3))
    padded[10:50, 10:50] = image  # the protocol's zero border is not "crushed"
    d = diagnostics(padded)
    assert d["clipped_fraction"] == pytest.approx(0.25)
    assert d["crushed_fraction"] == pytest.approx(200 / 1600)


def test_diagnostics_refuse_images_that_are_not_rgb():
    with pytest.raises(DataError, match=r"expected \(H, W, 3\)"):
        diagnostics(np.zeros((16, 16)))


def test_learned_scores_average_the_published_4x4_tiles():
    image = np.arange(8 * 12 * 3, dtype=np.float64).reshape(8, 12, 3)
    parts = tiles(image)
    assert len(parts) == 16 and all(p.shape == (2, 3, 3) for p in parts)
    assert np.array_equal(np.concatenate([np.concatenate(parts[r * 4:(r + 1) * 4], axis=1) for r in range(4)]), image)
    top_left_means = tiled_score(lambda tile: float(tile[0, 0, 0]), image)
    assert top_left_means == pytest.approx(np.mean([p[0, 0, 0] for p in parts]))


def test_learned_metrics_are_skipped_with_one_line_when_pyiqa_does_not_import():
    scorers, why = learned_metrics()
    try:
        import pyiqa  # noqa: F401
    except Exception:
        assert scorers == {} and why is not None
        assert "clip_iqa, maniqa skipped: pyiqa does not import here" in why and "\n" not in why
    else:  # pragma: no cover (an environment with the iqa extra)
        assert set(scorers) == {"clip_iqa", "maniqa"} or why is not None


def _pngs(folder, count=2):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    for i in range(count):
        image = np.clip(_texture(96, seed=i) + rng.normal(0, 0.01 * (i + 1), (96, 96, 3)), 0, 1)
        write_png16(folder / f"scene-{i:06d}.png", np.round(image * 65535).astype(np.uint16))
    return folder


def test_score_no_reference_cli_prints_per_image_and_mean_and_writes_json(tmp_path):
    folder = _pngs(tmp_path / "pngs")
    run = CliRunner().invoke(cli.cli, ["score", str(folder), "--no-reference", "--json", str(tmp_path / "s.json")])
    assert run.exit_code == 0, run.output
    assert "scene-000001" in run.stdout and "residual_noise_sigma" in run.stdout
    assert "classical diagnostics, not quality scores" in run.stderr
    result = json.loads((tmp_path / "s.json").read_text())
    assert result["count"] == 2 and set(DIAGNOSTICS) <= set(result["mean"])
    first, second = (row["residual_noise_sigma"] for row in result["per_image"])
    assert first < second  # the second image got twice the noise
    assert result["mean"]["residual_noise_sigma"] == pytest.approx((first + second) / 2)


def test_score_needs_exactly_one_of_gt_and_no_reference(tmp_path):
    folder = _pngs(tmp_path / "pngs", 1)
    neither = CliRunner().invoke(cli.cli, ["score", str(folder)])
    both = CliRunner().invoke(cli.cli, ["score", str(folder), "--no-reference", "--gt", str(folder)])
    for run in (neither, both):
        assert run.exit_code == 2 and "pass --gt DIR to score against ground truth, or --no-reference" in run.output


def test_score_no_reference_names_a_folder_without_pngs(tmp_path):
    (tmp_path / "empty").mkdir()
    run = CliRunner().invoke(cli.cli, ["score", str(tmp_path / "empty"), "--no-reference"])
    assert run.exit_code == 2 and "no .png files to score" in run.output


def test_predict_score_scores_the_written_outputs(tmp_path):
    from simulator.dataset import generate_dataset
    from simulator.settings import load_simulation_config

    config = load_simulation_config("bracketire", ["output.size=[96, 96]", "num_samples=2", "seed=4",
                                                   "motion.model=none"])
    generate_dataset(config, tmp_path / "data", progress=False)
    out = tmp_path / "out"
    run = CliRunner().invoke(cli.cli, ["predict", "--model", "merge", "--input", str(tmp_path / "data"), "--out",
                                       str(out), "--no-progress", "--score"])
    assert run.exit_code == 0, run.output
    direct = score_no_reference(out, learned={})
    assert len(direct.per_image) == 2
    for name, sigma in zip(direct.per_image["name"], direct.per_image["residual_noise_sigma"]):
        line = [row for row in run.stdout.splitlines() if row.startswith(f"| {name}")][-1]  # after predict's own table
        assert f"{sigma:.4f}" in line
