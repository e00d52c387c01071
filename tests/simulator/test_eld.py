import math

import numpy as np
import pytest
import torch
from scipy import stats

from simulator.core.errors import DataError, UnknownNameError
from simulator.eld import (
    EldLevels,
    EldPreset,
    LogLinear,
    add_eld_noise,
    calibrate_eld,
    eld_preset_names,
    load_eld_preset,
    sample_eld_levels,
    tukey_lambda_noise,
)
from simulator.pipeline import simulate_sample
from simulator.settings import load_simulation_config


def test_tukey_lambda_sampler_follows_the_distribution():
    for lam in (0.0, 0.1, -0.2):
        samples = tukey_lambda_noise((50_000,), lam, torch.Generator().manual_seed(0)).numpy()
        assert stats.kstest(samples, "tukeylambda", args=(lam,)).pvalue > 0.01


def test_noise_statistics_match_the_levels():
    levels = EldLevels(system_gain=2.0, tukey_lambda=0.1, read_scale=3.0, row_scale=1.5, span=16383 - 512)
    clean = torch.full((4, 128, 128), 0.05)
    noisy = add_eld_noise(clean, levels, torch.Generator().manual_seed(1))
    dn = ((noisy - clean) * levels.span).double()
    expected = levels.system_gain * 0.05 * levels.span + levels.read_scale**2 * stats.tukeylambda.var(0.1) + 1.5**2
    assert dn.var().item() == pytest.approx(expected, rel=0.05)
    assert abs(dn.mean().item()) < 0.5


def test_row_noise_is_shared_along_sensor_rows():
    levels = EldLevels(system_gain=1e-6, tukey_lambda=0.0, read_scale=1e-6, row_scale=5.0, span=1000.0)
    noisy = add_eld_noise(torch.zeros(4, 8, 16), levels, torch.Generator().manual_seed(2))
    from simulator.bayer import unpack

    bayer = unpack(noisy) * 1000
    assert torch.allclose(bayer, bayer[:, :1].expand_as(bayer), atol=1e-3)  # constant along each row
    assert bayer[:, 0].std() > 1


def test_calibration_recovers_a_known_sensor():
    truth = EldPreset("truth", 16383, 512, 0.5, 4.0, (0.1,), LogLinear(0.8, 1.0, 0.0), LogLinear(0.6, -0.5, 0.0))
    gen = torch.Generator().manual_seed(3)
    flats, darks = [], []
    for gain in (0.5, 1.0, 2.0, 4.0):
        read = math.exp(truth.read_scale.slope * math.log(gain) + truth.read_scale.bias)
        row = math.exp(truth.row_scale.slope * math.log(gain) + truth.row_scale.bias)
        levels = EldLevels(gain, 0.1, read, row, float(16383 - 512))
        flat = [[add_eld_noise(torch.full((4, 96, 96), v), levels, gen) for _ in range(2)] for v in (0.05, 0.2, 0.5)]
        flat = np.stack([[unpack_dn(f) for f in pair] for pair in flat])
        dark = np.stack([unpack_dn(add_eld_noise(torch.zeros(4, 96, 96), levels, gen)) for _ in range(4)])
        flats.append(flat)
        darks.append(dark)
    preset = calibrate_eld(flats, darks, 16383, 512, "fitted")
    assert preset.k_min == pytest.approx(0.5, rel=0.08) and preset.k_max == pytest.approx(4.0, rel=0.08)
    assert preset.read_scale.slope == pytest.approx(truth.read_scale.slope, abs=0.1)
    assert preset.row_scale.slope == pytest.approx(truth.row_scale.slope, abs=0.15)
    assert all(abs(lam - 0.1) < 0.06 for lam in preset.tukey_lambdas)
    assert EldPreset.from_json(preset.to_json()) == preset


def unpack_dn(packed: torch.Tensor) -> np.ndarray:
    from simulator.bayer import unpack

    return (unpack(packed) * (16383 - 512) + 512).numpy()


def test_presets_and_pipeline_integration():
    assert "generic14" in eld_preset_names()
    preset = load_eld_preset("generic14")
    levels = sample_eld_levels(preset, torch.Generator().manual_seed(0))
    assert preset.k_min <= levels.system_gain <= preset.k_max
    config = load_simulation_config("bracketire", ["output.size=[64,64]", "motion.model=none", "noise.model=eld"])
    sample = simulate_sample(config, torch.full((1, 3, 64, 64), 0.2), torch.Generator().manual_seed(0))
    assert sample.raws[1].shape == (5, 4, 32, 32)
    assert set(sample.info["noise"][0]) == {"system_gain", "tukey_lambda", "read_scale", "row_scale", "span"}
    with pytest.raises(UnknownNameError, match="no ELD preset named 'generic41'; did you mean 'generic14'"):
        load_eld_preset("generic41")
    with pytest.raises(DataError, match="no ELD preset file there"):
        load_eld_preset("/nonexistent/my_camera.json")
    with pytest.raises(DataError, match="at least 2 ISO settings"):
        calibrate_eld([np.zeros((2, 2, 4, 4))], [np.zeros((2, 4, 4))], 1023, 0)
