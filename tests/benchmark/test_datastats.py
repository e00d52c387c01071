"""`inspect` (benchmark/datastats.py): statistics of bracketed RAW data, on the genuine published sample,
on data with known laws, and end to end through the CLI."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

import cli
from benchmark.datastats import fit_noise_law, inspect_data, measured_ratio, noise_points, sample_folders


def test_published_sample_statistics(shared):
    # fixture: ../shared/fixtures/published_sample/000936 (flat NTIRE layout, pickled metadata.npy); its
    # README states the mean values 7.9, 21.3, 57.4, 160.7, 295.7 DN, ~41 % zeros and 0.02 % 1023s in raw_1
    result = inspect_data(shared / "fixtures" / "published_sample" / "000936")
    table = result.table
    assert list(table["exposure"]) == [1, 4, 16, 64, 256] and set(table["sample"]) == {"."}
    assert np.allclose(table["mean_dn"], [7.9, 21.3, 57.4, 160.7, 295.7], atol=0.05)
    assert table["zero_frac"].iloc[0] == pytest.approx(0.41, abs=0.005)
    assert table["clipped_frac"].iloc[0] == pytest.approx(0.0002, abs=0.0001)
    assert (table["white"] == 1023).all() and table["gt_dr_stops"].isna().all()  # no ground truth is published
    assert 10 < table["merged_dr_stops"].iloc[0] < 20 and table["merged_grad_kurtosis"].iloc[0] > 6


def _flat_patches(levels, slope, floor, seed=0, size=64):
    """A [4, size, size * len(levels)] image of flat patches with Poisson-Gaussian noise (DN)."""
    rng = np.random.default_rng(seed)
    clean = np.concatenate([np.full((4, size, size), level, dtype=float) for level in levels], axis=2)
    noisy = rng.poisson(clean / slope) * slope + rng.normal(0, math.sqrt(floor), clean.shape)
    return torch.from_numpy(np.clip(np.round(noisy), 0, 1023))


def test_noise_law_is_recovered_from_flat_regions():
    levels = [round(1023 ** ((k + 0.5) / 24)) for k in (12, 14, 16, 18, 20)]  # mid-bin of the fit's level bins
    frame = _flat_patches(levels, slope=2.0, floor=16.0)
    levels, variances = noise_points(frame, 1023)
    slope, floor = fit_noise_law(levels, variances)
    assert slope == pytest.approx(2.0, rel=0.05)  # variance of (shot + read + quantisation) noise
    assert floor == pytest.approx(16.0 + 1 / 12, abs=8)


def test_measured_ratio_follows_the_exposure():
    rng = np.random.default_rng(1)
    scene = np.kron(rng.uniform(20, 200, (4, 8, 8)), np.ones((1, 8, 8)))
    short = torch.from_numpy(np.round(scene))
    assert measured_ratio(short, torch.from_numpy(np.round(scene * 4)), 4, 1023) == pytest.approx(4, rel=0.02)
    assert measured_ratio(short, torch.from_numpy(np.round(scene * 3)), 4, 1023) == pytest.approx(3, rel=0.02)
    assert math.isnan(measured_ratio(short * 0, short * 0, 4, 1023))  # nothing well exposed


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    from simulator.dataset import generate_dataset
    from simulator.settings import load_simulation_config

    root = tmp_path_factory.mktemp("inspect") / "data"
    config = load_simulation_config("bracketire", ["output.size=[256, 192]", "num_samples=2", "motion.model=none"])
    generate_dataset(config, root, progress=False)
    return root


def test_samples_are_found_in_every_layout(small_dataset):
    names = [p.relative_to(small_dataset).as_posix() for p in sample_folders(small_dataset)]
    assert names == ["Test/builtin/000000", "Test/builtin/000001"]
    assert sample_folders(small_dataset / "Test" / "builtin" / "000001") == [small_dataset / "Test" / "builtin" / "000001"]


def test_simulated_ground_truth_is_inspected(small_dataset):
    table = inspect_data(small_dataset).table
    assert len(table) == 10 and table["gt_dr_stops"].notna().all()
    # a still camera: measured ratios of consecutive exposures are the nominal 4 where blocks qualify
    ratios = table["ratio_measured"].dropna()
    assert len(ratios) and np.allclose(ratios, 4, rtol=0.1)


def test_cli_inspect_writes_table_json_and_plot(small_dataset, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli.cli, ["inspect", str(small_dataset), "--csv", str(out / "t.csv"), "--json",
                                          str(out / "t.json"), "--plot", str(out / "t.png"), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "2 sample(s)" in result.output and "| exposure |" in result.output.replace("   ", " ").replace("  ", " ")
    rows = pd.read_csv(out / "t.csv")
    assert len(rows) == 10 and set(rows["exposure"]) == {1, 4, 16, 64, 256}
    document = json.loads((out / "t.json").read_text())
    assert [r["exposure"] for r in document["summary"]] == [1, 4, 16, 64, 256] and len(document["samples"]) == 10
    assert (out / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = CliRunner().invoke(cli.cli, ["inspect", str(small_dataset), "--plot", str(tmp_path / "t.txt")])
    assert bad.exit_code == 2 and "expected a .png, .pdf or .svg" in bad.stderr
    empty = CliRunner().invoke(cli.cli, ["inspect", str(tmp_path / "out")])
    assert empty.exit_code == 2 and "no sample folder" in empty.stderr
