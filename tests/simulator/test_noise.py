import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.errors import DataError
from simulator.noise import (
    NOISE_MODELS,
    NoiseLevels,
    dequantize,
    iso1600near_levels,
    quantize,
    sample_iso1600near,
)


def test_level_law_matches_reference_fixture(official):
    table = json.loads(official("noise.json").read_text())["random_iso1600near_levels"]["table"]  # rel 1e-5
    for row in table:
        for z, expected_read in row["read_noise_by_z"].items():
            shot, read = iso1600near_levels(torch.tensor(row["u"]), torch.tensor([float(z)]))
            assert abs(shot.item() - row["shot_noise"]) <= 1e-5 * row["shot_noise"]
            assert abs(read.item() - expected_read) <= 1e-5 * expected_read


def test_sampled_levels_follow_the_published_draw_order():
    gen = torch.Generator().manual_seed(5)
    levels = sample_iso1600near(gen)
    gen = torch.Generator().manual_seed(5)
    u, z = torch.rand(1, generator=gen)[0], torch.randn(1, generator=gen)
    shot, read = iso1600near_levels(u, z)
    assert levels == NoiseLevels(float(shot), float(read[0]))
    assert 0.0012 * (1 - 1e-6) <= levels.shot <= 0.0048 * (1 + 1e-6)


def test_variance_examples_match_reference_fixture(official):
    example = json.loads(official("noise.json").read_text())["add_noise"]["examples"]
    levels = NoiseLevels(example["shot_noise"], example["read_noise"])
    var = levels.variance(torch.tensor(example["image"], dtype=torch.float32))
    np.testing.assert_allclose(var.numpy(), example["var"], rtol=1e-5)


@pytest.mark.parametrize("model", ["heteroscedastic", "poisson_gaussian"])
@pytest.mark.parametrize("level", [0.02, 0.3, 0.8])
def test_noise_has_the_model_mean_and_variance(model, level):
    levels = NoiseLevels(shot=0.004, read=2e-5)
    clean = torch.full((4, 200, 200), level)
    noisy = NOISE_MODELS[model](clean, levels, torch.Generator().manual_seed(1))
    expected_var = levels.shot * level + levels.read
    assert abs(noisy.mean().item() - level) < 4 * (expected_var / clean.numel()) ** 0.5
    assert abs(noisy.var().item() / expected_var - 1) < 0.03  # 160k samples: ~0.4% std error


def test_noise_is_reproducible_from_the_generator():
    clean = torch.rand(4, 8, 8, generator=torch.Generator().manual_seed(0))
    levels = NoiseLevels(0.003, 1e-5)
    for model in ("heteroscedastic", "poisson_gaussian"):  # eld has its own levels (test_eld.py)
        a = NOISE_MODELS[model](clean, levels, torch.Generator().manual_seed(3))
        b = NOISE_MODELS[model](clean, levels, torch.Generator().manual_seed(3))
        assert torch.equal(a, b)


def test_quantize_is_the_published_10_bit_rounding():
    x = torch.tensor([-0.1, 0.0, 0.4999 / 1023, 0.5001 / 1023, 0.5, 1.0, 1.7])
    assert quantize(x).tolist() == [0, 0, 0, 1, 512, 1023, 1023]
    assert quantize(torch.tensor([0.0, 1.0]), bit_depth=12, black_level=64).tolist() == [64, 4095]
    with pytest.raises(DataError, match="bit_depth=17"):
        quantize(x, bit_depth=17)


@settings(max_examples=100, deadline=None)
@given(st.floats(0, 1), st.integers(8, 16), st.integers(0, 200))
def test_dequantize_inverts_quantize_to_half_a_step(value, bits, black):
    digital = quantize(torch.tensor([value]), bits, black)
    step = 1 / (2**bits - 1 - black)
    assert abs(dequantize(digital, bits, black).item() - value) <= step / 2 + 1e-6
