"""Faithful video mode (issue 14): published sub-frame times, AWG constants, previews from unrounded values."""

import numpy as np
import pytest
import torch

from simulator.core.errors import BracketIREError, ConfigError
from simulator.exposure import exposure_windows, video_subframe_times
from simulator.pipeline import simulate_sample
from simulator.settings import load_simulation_config
from simulator.sources import AWG_TO_SRGB_PUBLISHED, alexa_to_srgb_matrix, alexa_wide_gamut_to_srgb


def test_published_timing_takes_every_whole_sub_frame_from_the_ground_truth_instant():
    # syn_data_gen/gen_bracket.py (cszhilu1998/BracketIRE): exposure n averages list_imgs[start + i], i < 4**n,
    # with start = 0, 1, 5, 21, 85: the 341 consecutive sub-frames 0..340, raw_1 being sub-frame 0 (the GT's).
    times = [video_subframe_times(w, "published") for w in exposure_windows(5, 4.0)]
    assert [len(t) for t in times] == [1, 4, 16, 64, 256]
    assert times[0] == [0.0]
    assert sum(times, []) == [float(j) for j in range(341)]


@pytest.mark.parametrize("count", [1, 3, 8, 100])
def test_subsampled_timing_keeps_each_exposures_mean_time_and_raw_1_at_time_0(count):
    for window in exposure_windows(5, 4.0):
        published = video_subframe_times(window, "published")
        fast = video_subframe_times(window, "subsampled", count)
        assert len(fast) == min(count, len(published))
        assert np.mean(fast) == pytest.approx(np.mean(published), abs=1e-9)
        assert published[0] <= fast[0] and fast[-1] <= published[-1] and fast == sorted(fast)
        if count >= len(published):
            assert fast == pytest.approx(published, abs=1e-12)
    assert video_subframe_times((0.0, 1.0), "subsampled", count) == [0.0]


def test_bad_video_timing_settings_are_config_errors():
    with pytest.raises(ConfigError, match="motion.video_timing='midpoint'"):
        video_subframe_times((1.0, 5.0), "midpoint")
    with pytest.raises(ConfigError, match="motion.subframes=0"):
        video_subframe_times((1.0, 5.0), "subsampled", 0)
    with pytest.raises(BracketIREError, match="motion.video_timing='fast'"):
        load_simulation_config("bracketire", ["motion.video_timing=fast"])


def _ramp_clip(size=(16, 32)) -> torch.Tensor:
    """12 grey source frames whose brightness grows linearly with time (blend interpolation keeps it linear)."""
    values = 0.001 + 0.0032 * torch.arange(12, dtype=torch.float32)
    return values.view(12, 1, 1, 1).expand(12, 3, *size).contiguous()


def _video(frames, overrides):
    config = load_simulation_config("bracketire", [
        "motion.model=video", "motion.interpolator=blend", "motion.video_peak=none", "output.size=[32, 16]",
        "noise.bit_depth=16",
        "noise.shot_noise=0.0", "noise.read_noise=0.0", *overrides])
    return simulate_sample(config, frames, torch.Generator().manual_seed(3))


@pytest.mark.parametrize("timing", ["published", "subsampled"])
def test_each_exposure_of_a_linear_ramp_is_the_scene_at_its_mean_published_time(timing):
    # brightness v(j) = 0.001 + 0.0001 j at sub-frame j (32 per source frame); every exposure stays below
    # white, where the camera model is linear, so averaging v over the exposure's sub-frames equals v at their
    # mean time: 0, 2.5, 12.5, 52.5, 212.5 for the published whole times (midpoints would give +0.5)
    sample = _video(_ramp_clip(), [f"motion.video_timing={timing}", "motion.subframes=8"])
    for t, window in enumerate(exposure_windows(5, 4.0)):
        mean_time = np.mean(video_subframe_times(window, "published"))
        still = (0.001 + 0.0001 * float(mean_time)) * torch.ones(1, 3, 16, 32)
        expected = _video(still, ["motion.model=none"]).raws[1][t]
        assert (sample.raws[1][t] - expected).abs().max() <= 1, (timing, t)  # 16-bit DN


def test_raw_1_sees_only_the_first_source_frame():
    moving = _ramp_clip()
    still = moving[:1].expand(12, -1, -1, -1).contiguous()
    fast = ["motion.video_timing=subsampled", "motion.subframes=2"]  # raw_1 is the same in both timings
    assert torch.equal(_video(moving, fast).raws[1][0], _video(still, fast).raws[1][0])
    assert not torch.equal(_video(moving, fast).raws[1][1], _video(still, fast).raws[1][1])


def test_published_awg_constants_are_the_generators_transposed():
    # AlexaWideGamut2sRGB in read_exr, syn_data_gen/function.py (cszhilu1998/BracketIRE), applied as pixels @ M
    row_form = np.array([[1.617523436306807, -0.070572740897816, -0.021101728042793],
                         [-0.537286622188294, 1.334613062330328, -0.226953875218266],
                         [-0.080236814118512, -0.264040321432512, 1.248055603261060]])
    assert np.array_equal(alexa_to_srgb_matrix("published"), row_form.T)
    assert np.array_equal(np.array(AWG_TO_SRGB_PUBLISHED), row_form.T)
    colour = alexa_to_srgb_matrix("colour_science")
    gap = np.abs(colour - row_form.T).max()
    assert 1e-6 < gap < 1e-3  # close, but not the same numbers
    for matrix in (row_form.T, colour):  # both keep D65 white
        assert np.allclose(matrix.sum(axis=1), 1.0, atol=1e-3)


@pytest.mark.parametrize("matrix", ["published", "colour_science"])
def test_alexa_conversion_is_the_published_read_exr_arithmetic(matrix):
    rng = np.random.default_rng(0)
    exr = (rng.random((8, 6, 3)) * 300).astype(np.float32)  # (H, W, 3), as imageio reads it
    m = alexa_to_srgb_matrix(matrix)
    reference = ((exr * 2.0**-4) @ m.T).astype(np.float32).clip(0, None)  # read_exr: float32 x float64 matrix
    ours = alexa_wide_gamut_to_srgb(torch.from_numpy(exr).permute(2, 0, 1), matrix=matrix)
    assert np.array_equal(ours.permute(1, 2, 0).numpy(), reference)
    with pytest.raises(ConfigError, match="source.awg_matrix='arri'"):
        alexa_to_srgb_matrix("arri")


def test_faithful_presets_use_the_published_timing_and_constants():
    for preset in ("bracketire", "bracketire_plus"):
        config = load_simulation_config(preset)
        assert config.motion.video_timing == "published" and config.source.awg_matrix == "published"


def test_previews_render_the_unrounded_noisy_values(tmp_path):
    import cv2

    from simulator.isp import process
    from simulator.noise import quantize
    from simulator.previews import write_previews

    config = load_simulation_config("bracketire", ["motion.model=none", "output.size=[32, 16]", "output.previews=true",
                                                   "output.preview_demosaicer=bilinear"])
    scene = 0.3 * torch.rand(1, 3, 16, 32, generator=torch.Generator().manual_seed(0))
    sample = simulate_sample(config, scene, torch.Generator().manual_seed(1))
    unrounded = sample.unrounded[1]
    assert unrounded.dtype == torch.float32 and unrounded.min() >= 0 and unrounded.max() <= 1
    assert torch.equal(quantize(unrounded, 10, 0), sample.raws[1])  # the stored DN are these values rounded
    assert not torch.equal(unrounded, sample.raws[1] / 1023.0)  # and they are not already round
    plain = load_simulation_config("bracketire", ["motion.model=none", "output.size=[32, 16]"])
    assert simulate_sample(plain, scene, torch.Generator().manual_seed(1)).unrounded is None
    write_previews(tmp_path, sample, config)
    srgb = process(unrounded, sample.meta, "bilinear", srgb=True)
    rounded = process(sample.raws[1] / 1023.0, sample.meta, "bilinear", srgb=True)
    for t, multiple in enumerate(sample.exposures):
        png = cv2.imread(str(tmp_path / f"rgb_vis_{multiple}.png"), cv2.IMREAD_UNCHANGED)[..., ::-1]
        assert np.array_equal(png, (srgb[t] * 255).permute(1, 2, 0).numpy().astype(np.uint8))
    assert not np.array_equal((srgb * 255).numpy().astype(np.uint8), (rounded * 255).numpy().astype(np.uint8))


def test_first_frame_peak_clips_only_what_is_interpolated():
    # published frame_inter feeds its interpolator frames divided by the first frame's peak and clamped at 1;
    # the source frames themselves (whole multiples of 32 sub-frames) stay unclipped. Three exposures of ratio 8
    # (windows [0, 1), [1, 9), [9, 73)) keep this quick; the last one holds source frames 1 and 2 (times 32, 64).
    bright = torch.full((4, 3, 16, 32), 0.002)
    bright[1:, :, 4:8, 4:8] = 0.02  # a light brighter than anything in frame 0 from frame 1 on
    clipped = bright.clamp(max=0.002)
    short = ["exposure.frames=3", "exposure.ratio=8"]
    for peak in ("first_frame", "none"):
        a = _video(bright, [*short, f"motion.video_peak={peak}"]).raws[1]
        b = _video(clipped, [*short, f"motion.video_peak={peak}"]).raws[1]
        assert torch.equal(a[0], b[0])  # frame 0 only
        assert torch.equal(a[1], b[1]) == (peak == "first_frame")  # interpolated between frames 0 and 1 only
        assert not torch.equal(a[2], b[2])  # holds source frames 1 and 2 themselves
    assert load_simulation_config("bracketire").motion.video_peak == "first_frame"
