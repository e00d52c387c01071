"""Calibrated sensor presets (issue 14): the numbers against shared/noise_presets.md, sampler laws, shared ISO."""

import math
import re

import numpy as np
import pytest
import torch
from scipy import stats

from simulator.eld import eld_preset_names, load_eld_preset, sample_eld_levels
from simulator.noise import NOISE_LEVELS
from simulator.pipeline import simulate_sample
from simulator.sensors import (
    CALIBRATIONS,
    IMX385_GAIN,
    IMX385_RANGE,
    IMX385_READ_VARIANCE,
    sample_brooks2019,
    sample_imx385,
    sample_ntire_dslr,
)
from simulator.settings import load_simulation_config

TABLE_ROWS = {  # camera column of the ELD-model table in noise_presets.md -> our preset
    "IMX686 (phone, ISO 640–6400)": "imx686",
    "Sony A7S2, low ISO": "a7s2_low",
    "Sony A7S2, high ISO": "a7s2_high",
    "Nikon D850": "d850",
}


def _numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text.replace("−", "-"))]


@pytest.fixture(scope="module")
def presets_md(shared):
    return (shared / "noise_presets.md").read_text()


def test_pmn_cameras_match_the_table_row_by_row(presets_md):
    rows = {}
    for line in presets_md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] in TABLE_ROWS:
            rows[TABLE_ROWS[cells[0]]] = [_numbers(c) for c in cells[1:]]
    assert sorted(rows) == sorted(TABLE_ROWS.values())
    for name, (log_k, lam, tukey, row, gaussian, range_) in rows.items():
        c = CALIBRATIONS[name]
        assert list(c.log_k) == log_k and list(c.tukey_lambdas) == lam, name
        assert list(c.tukey_scale) == tukey and list(c.row_scale) == row and list(c.gaussian_scale) == gaussian, name
        assert [c.white_level, c.black_level] == range_, name
        preset = load_eld_preset(name)  # the ELD preset carries the same numbers and the source
        assert preset.k_min == pytest.approx(math.exp(log_k[0]), rel=1e-12) and "PMN" in preset.source
        assert (preset.read_scale.slope, preset.read_scale.bias, preset.read_scale.sigma) == tuple(tukey)
        assert (preset.row_scale.slope, preset.row_scale.bias, preset.row_scale.sigma) == tuple(row)


def test_canon_5d4_matches_the_eld_paragraph(presets_md):
    text = presets_md[presets_md.index("Canon EOS 5D Mark IV"):].split("\n\n")[0].replace("\n", " ")
    black, white = _numbers(re.search(r"black (\d+), white (\d+)", text).group(0))
    k_low, k_high = _numbers(re.search(r"K in \[[^\]]+\]", text).group(0))
    gaussian = _numbers(re.search(r"spread\) ([^;]+);", text).group(1))
    row = _numbers(re.search(r"row ([^;]+);", text).group(1))
    tukey = _numbers(re.search(r"scale ([\d., −-]+) \(", text).group(1))
    lam = _numbers(re.search(r"between ([\d.]+) and ([\d.]+)", text).group(0))
    c = CALIBRATIONS["canon_5d4"]
    assert (c.black_level, c.white_level) == (black, white)
    assert math.exp(c.log_k[0]) == pytest.approx(k_low, rel=1e-12) and math.exp(c.log_k[1]) == pytest.approx(k_high)
    assert list(c.gaussian_scale) == gaussian and list(c.row_scale) == row and list(c.tukey_scale) == tukey
    assert list(c.tukey_lambdas) == lam and c.lambda_law == "uniform" and "ELD" in c.source


def test_imx385_points_and_samplers_match_the_text(presets_md):
    line = presets_md[presets_md.index("Sony IMX385"):].split("\n- ")[0].replace("\n", " ")
    assert list(IMX385_GAIN) == _numbers(re.search(r"gain a = ([^D]+)DN", line).group(1))
    assert list(IMX385_READ_VARIANCE) == _numbers(re.search(r"variance b = ([^D]+)DN", line).group(1))
    assert list(IMX385_RANGE) == _numbers(re.search(r"black (\d+), white (\d+)", line).group(0))
    shot_lo, shot_hi, read_lo, read_hi = _numbers(line[line.index("Normalised:"):])
    span = IMX385_RANGE[1] - IMX385_RANGE[0]
    assert IMX385_GAIN[0] / span == pytest.approx(shot_lo, rel=0.01)
    assert IMX385_GAIN[-1] / span == pytest.approx(shot_hi, rel=0.01)
    assert IMX385_READ_VARIANCE[0] / span**2 == pytest.approx(read_lo, rel=0.01)
    assert IMX385_READ_VARIANCE[-1] / span**2 == pytest.approx(read_hi, rel=0.01)
    gen = torch.Generator().manual_seed(0)
    draws = {(round(d.shot * span, 6), round(d.read * span**2, 6)) for d in (sample_imx385(gen) for _ in range(200))}
    # all five calibrated points are drawn, and nothing else
    assert draws == {(round(a, 6), round(b, 6)) for a, b in zip(IMX385_GAIN, IMX385_READ_VARIANCE)}


def _draws(sampler, n=3000):
    gen = torch.Generator().manual_seed(0)
    levels = [sampler(gen) for _ in range(n)]
    return np.array([l.shot for l in levels]), np.array([l.read for l in levels])


def test_brooks_and_ntire_samplers_follow_their_laws(presets_md):
    brooks = re.sub(r"\s+", " ", presets_md[presets_md.index("Brooks et al."):].split("\n- ")[0])
    low, high = _numbers(re.search(r"\[([^\]]+)\]", brooks).group(1))
    slope, bias, spread = map(float, re.search(r"= ([\d.]+) ln λs \+ ([\d.]+) \+ N\(0, ([\d.]+)", brooks).groups())
    shot, read = _draws(sample_brooks2019)
    assert low <= shot.min() and shot.max() <= high
    assert stats.kstest((np.log(shot) - math.log(low)) / math.log(high / low), "uniform").pvalue > 0.01
    residual = np.log(read) - (slope * np.log(shot) + bias)
    assert abs(residual.mean()) < 0.03 and residual.std() == pytest.approx(spread, rel=0.06)

    ntire = re.sub(r"\s+", " ", presets_md[presets_md.index("NTIRE RAW"):].split("\n- ")[0])
    lo10, hi10 = _numbers(re.search(r"U\(([^)]+)\)", ntire).group(1))
    slope, bias, spread = map(float, re.search(r"= ([\d.]+) log10 λs \+ ([\d.]+) \+ N\(0, ([\d.]+)", ntire).groups())
    shot, read = _draws(sample_ntire_dslr)
    assert 10**lo10 <= shot.min() and shot.max() <= 10**hi10
    assert stats.kstest((np.log10(shot) - lo10) / (hi10 - lo10), "uniform").pvalue > 0.01
    residual = np.log10(read) - (slope * np.log10(shot) + bias)
    assert abs(residual.mean()) < 0.01 and residual.std() == pytest.approx(spread, rel=0.06)


@pytest.mark.parametrize("name", sorted(CALIBRATIONS))
def test_camera_level_samplers_are_k_over_span_and_the_gaussian_read_law(name):
    c = CALIBRATIONS[name]
    shot, read = _draws(NOISE_LEVELS[name], 2000)
    log_k = np.log(shot * c.span)
    assert c.log_k[0] - 1e-9 <= log_k.min() and log_k.max() <= c.log_k[1] + 1e-9
    assert stats.kstest((log_k - c.log_k[0]) / (c.log_k[1] - c.log_k[0]), "uniform").pvalue > 0.01
    slope, bias, spread = c.gaussian_scale
    residual = np.log(np.sqrt(read) * c.span) - (slope * log_k + bias)
    assert abs(residual.mean()) < 0.2 * spread + 1e-4 and residual.std() == pytest.approx(spread, rel=0.08)
    assert c.source in load_eld_preset(name).source and name in eld_preset_names()


def test_eld_draws_stay_in_the_calibrated_ranges():
    gen = torch.Generator().manual_seed(2)
    for name, c in CALIBRATIONS.items():
        preset = load_eld_preset(name)
        for _ in range(200):
            levels = sample_eld_levels(preset, gen)
            assert preset.k_min * (1 - 1e-12) <= levels.system_gain <= preset.k_max * (1 + 1e-12)
            assert levels.span == c.span
            if c.lambda_law == "uniform":
                assert c.tukey_lambdas[0] <= levels.tukey_lambda <= c.tukey_lambdas[1]
            else:
                assert levels.tukey_lambda in c.tukey_lambdas


def test_imx686_gain_range_is_its_iso_range(presets_md):
    # PMN's point calibration: K = 0.1366 at ISO 100 (K ~ 0.001366 ISO); the table says ISO 640-6400
    per_iso = _numbers(re.search(r"K = ([\d.]+) at ISO 100", presets_md).group(1))[0] / 100
    low, high = (math.exp(v) / per_iso for v in CALIBRATIONS["imx686"].log_k)
    assert low == pytest.approx(640, rel=0.06) and high == pytest.approx(6400, rel=0.01)


@pytest.mark.parametrize("model, levels", [("heteroscedastic", "imx686"), ("poisson_gaussian", "brooks2019"),
                                           ("eld", "iso1600near")])
def test_a_bracket_can_share_one_iso_or_draw_per_frame(model, levels):
    scene = torch.full((1, 3, 16, 32), 0.05)
    info = {}
    for mode in ("shared", "per_frame"):
        config = load_simulation_config("bracketire", [
            "motion.model=none", "output.size=[32, 16]", f"noise.model={model}", f"noise.levels={levels}",
            "noise.eld_preset=canon_5d4", f"noise.bracket_iso={mode}"])
        sample = simulate_sample(config, scene, torch.Generator().manual_seed(4))
        info[mode] = sample.info["noise"]
        raws = sample.raws[1].float()
        assert not torch.equal(raws[2] - raws[2].mean(), raws[1] * 4 - (raws[1] * 4).mean())  # own noise per frame
    assert all(level == info["shared"][0] for level in info["shared"])  # one ISO for the bracket
    assert len({str(level) for level in info["per_frame"]}) == 5  # published: a new draw per frame
    assert load_simulation_config("bracketire").noise.bracket_iso == "per_frame"


def test_info_names_each_calibrated_preset_with_its_source():
    from click.testing import CliRunner

    import cli

    result = CliRunner().invoke(cli.cli, ["info"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    eld = lines[lines.index("eld presets:") + 1:]
    levels = lines[lines.index("noise level samplers:") + 1:]

    def line_of(section, name):
        return next(line for line in section if line.split()[0] == name)

    for name in ("imx686", "a7s2_low", "a7s2_high", "d850"):
        assert "PMN" in line_of(eld, name) and "Apache-2.0" in line_of(eld, name)
        assert "PMN" in line_of(levels, name)
    assert "ELD" in line_of(eld, "canon_5d4") and "MIT" in line_of(eld, "canon_5d4")
    assert "RViDeNet" in line_of(levels, "imx385") and "Brooks" in line_of(levels, "brooks2019")
    assert "NTIRE" in line_of(levels, "ntire_dslr")
