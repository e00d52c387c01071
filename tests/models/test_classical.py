import torch

from models import build_model
from simulator.color import mu_law
from simulator.noise import dequantize
from simulator.pipeline import simulate_sample
from simulator.settings import load_simulation_config
from simulator.sources import builtin_scene


def _loss(out, gt):  # the published training loss: L1 on mu-law(x / 16)
    return float((mu_law((out / 16).clamp_min(0)) - mu_law((gt / 16).clamp(0, 1))).abs().mean())


def _bracket(overrides, seed=5):
    config = load_simulation_config("bracketire", ["output.size=[256,128]", *overrides])
    generator = torch.Generator().manual_seed(seed)
    sample = simulate_sample(config, builtin_scene(128, 256, generator)[None], generator)
    return dequantize(sample.raws[1])[None], sample.gt[None]


def test_reference_is_the_normalised_shortest_exposure():
    raws = torch.rand(2, 5, 4, 8, 8)
    assert torch.equal(build_model("reference")(raws), raws[:, 0] * 16)
    assert build_model("reference", num_frames=3, exposure_ratio=2.0)(raws[:, :3]).equal(raws[:, 0] * 2)


def test_merge_beats_the_reference_frame_with_and_without_motion():
    for overrides in (["motion.model=none"], ["motion.model=trajectory", "motion.length=[2.0, 6.0]"]):
        raws, gt = _bracket(overrides)
        reference, merged = build_model("reference")(raws), build_model("merge")(raws)
        assert _loss(merged, gt) < 0.7 * _loss(reference, gt), overrides


def test_merge_realigns_a_globally_shifted_frame():
    raws, gt = _bracket(["motion.model=none", "noise.shot_noise=1e-6", "noise.read_noise=1e-8"])
    shifted = raws.clone()
    shifted[:, 3] = torch.roll(raws[:, 3], shifts=(3, -2), dims=(-2, -1))
    assert _loss(build_model("merge")(shifted), gt) < 1.2 * _loss(build_model("merge")(raws), gt) + 1e-3
