"""Physics of the simulated bracket (issue 3): exposure ratios, noise variance, clipping, ground truth."""

import pytest
import torch

from simulator.bayer import mosaic
from simulator.camera import sample_camera
from simulator.core.errors import DataError
from simulator.isp import linear_rgb_to_camera
from simulator.noise import dequantize
from simulator.pipeline import simulate_sample
from simulator.settings import load_simulation_config
from simulator.sources import builtin_scene

SIZE = ["output.size=[256,256]"]


def _flat(value: float, size: int = 256) -> torch.Tensor:
    return torch.full((1, 3, size, size), value)


def _sample(overrides, scene, seed=0):
    config = load_simulation_config("bracketire", SIZE + overrides)
    return config, simulate_sample(config, scene, torch.Generator().manual_seed(seed))


def test_consecutive_unclipped_exposures_differ_by_the_ratio():
    # fixed noise of about 2 DN dithers the 10-bit rounding, so means over many pixels are unbiased
    config, sample = _sample(["motion.model=none", "noise.shot_noise=1e-5", "noise.read_noise=4e-6"], _flat(0.2))
    means = dequantize(sample.raws[1]).mean(dim=(2, 3))  # [T, 4]
    for t in range(3):  # frames 0..3 are unclipped: 0.2 x (1/16, 1/4, 1, 4) x white-balance inverse < 1
        assert torch.allclose(means[t + 1] / means[t], torch.full((4,), config.exposure.ratio), rtol=0.02)
    assert sample.exposures == (1, 4, 16, 64, 256)


@pytest.mark.parametrize("model", ["heteroscedastic", "poisson_gaussian"])
def test_noise_variance_is_shot_times_signal_plus_read(model):
    shot, read = 0.004, 2e-5
    overrides = ["motion.model=none", f"noise.model={model}", f"noise.shot_noise={shot}", f"noise.read_noise={read}"]
    _, noisy = _sample(overrides, _flat(0.1))
    _, clean = _sample(["motion.model=none", "noise.shot_noise=0", "noise.read_noise=0"], _flat(0.1))
    step = 1 / 1023
    for t in (2, 3):  # far enough from 0 and 1 that the published clamping does not cut the noise
        signal = dequantize(clean.raws[1][t]).mean(dim=(1, 2))
        variance = dequantize(noisy.raws[1][t]).var(dim=(1, 2))
        expected = shot * signal + read + step**2 / 12  # plus the quantisation step's variance
        assert torch.allclose(variance, expected, rtol=0.05), (t, variance, expected)


@pytest.mark.parametrize("clipping", ["srgb_subframe", "raw"])
def test_long_exposures_clip_at_the_white_level(clipping):
    _, sample = _sample(["motion.model=none", f"exposure.clipping={clipping}", "noise.shot_noise=0",
                         "noise.read_noise=0"], _flat(0.5))
    longest = sample.raws[1][-1]
    assert int(longest.max()) == 1023
    assert (longest == 1023).all()  # 0.5 x 16 is far above white in every channel
    assert int(sample.raws[1][0].max()) < 1023


def test_ground_truth_is_unclipped_hdr_on_the_unit_frames_scale():
    scene = builtin_scene(256, 256, torch.Generator().manual_seed(3))[None]
    config, sample = _sample(["motion.model=none", "noise.shot_noise=0", "noise.read_noise=0"], scene)
    assert sample.gt.min() >= 0
    assert sample.gt.max() > 16  # light sources stay above the white level of the unit frame
    assert sample.alignratio == pytest.approx(scene.max().item())
    unit = dequantize(sample.raws[1][config.exposure.unit_frame])
    # where the unit frame did not clip (scene below 0.9 in every channel: no clipping, no highlight mask)
    dark = mosaic((scene[0].amax(0, keepdim=True) < 0.9).float().expand(3, -1, -1)) > 0.5
    assert (unit[dark] - sample.gt[dark]).abs().max() <= 0.5 / 1023 + 1e-4


def test_raw_clipping_uses_the_exact_inverse_white_balance():
    meta = sample_camera("bracketire", torch.Generator().manual_seed(0))
    scene = _flat(0.3)
    _, sample = _sample(["motion.model=none", "exposure.clipping=raw", "noise.shot_noise=0", "noise.read_noise=0"], scene)
    expected = linear_rgb_to_camera(scene[0], meta, highlight_safe=False)[:, 0, 0]  # R, G, B camera values
    unit = dequantize(sample.raws[1][2])[:, 0, 0]
    assert torch.allclose(unit[[0, 1, 3]], expected, atol=0.5 / 1023)


def test_bracketire_plus_downsamples_inputs_and_keeps_the_ground_truth():
    config = load_simulation_config("bracketire_plus", SIZE + ["motion.model=none"])
    sample = simulate_sample(config, _flat(0.2), torch.Generator().manual_seed(0))
    assert sorted(sample.raws) == [2, 4]
    assert sample.raws[4].shape == (5, 4, 32, 32) and sample.raws[2].shape == (5, 4, 64, 64)
    assert sample.gt.shape == (4, 128, 128)


def test_bad_settings_are_reported():
    with pytest.raises(DataError, match="must be given together"):
        _sample(["motion.model=none", "noise.shot_noise=0.01"], _flat(0.2))
    with pytest.raises(DataError, match=r"expected \[K, 3, 256, 256\]"):
        _sample(["motion.model=none"], _flat(0.2, size=128))
    config = load_simulation_config("bracketire_plus", ["output.size=[100,64]"])
    with pytest.raises(DataError, match="multiples of 8"):
        simulate_sample(config, _flat(0.2), torch.Generator())


def test_area_downsampling_averages_packed_blocks():
    config = load_simulation_config("bracketire_plus", SIZE + ["motion.model=none", "downsample.method=area",
                                                              "noise.shot_noise=0", "noise.read_noise=0"])
    scene = builtin_scene(256, 256, torch.Generator().manual_seed(1))[None]
    area = simulate_sample(config, scene, torch.Generator().manual_seed(0))
    full = simulate_sample(load_simulation_config("bracketire", SIZE + ["motion.model=none", "noise.shot_noise=0",
                                                                        "noise.read_noise=0"]),
                           scene, torch.Generator().manual_seed(0))
    expected = torch.nn.functional.avg_pool2d(dequantize(full.raws[1]), 4)
    assert (dequantize(area.raws[4]) - expected).abs().max() <= 1 / 1023  # rounding of both quantisations
