import math
import re
import subprocess
import sys

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.errors import DataError, UnknownNameError
from simulator.exposure import exposure_windows
from simulator.motion import (
    INTERPOLATORS,
    MOTION_MODELS,
    Trajectory,
    apply_kernel,
    displacement,
    interpolate_frames,
    path_length,
    render_subframes,
    sample_trajectory,
    trajectory_kernel,
)
from tests.conftest import REPO

WINDOWS = [(0.0, 1.0), (1.0, 5.0), (5.0, 21.0), (21.0, 85.0), (85.0, 341.0)]


def line_trajectory(velocity: tuple[float, float], duration: float = 10.0) -> Trajectory:
    """Constant velocity (pixels per sub-frame) from the origin, built by hand."""
    times = torch.tensor([0.0, duration], dtype=torch.float64)
    positions = torch.tensor([[0.0, 0.0], [velocity[0] * duration, velocity[1] * duration]], dtype=torch.float64)
    return Trajectory(times, positions, torch.zeros(2, dtype=torch.float64))


def kernel_moments(kernel: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean displacement (dx, dy) and its 2x2 covariance, from a kernel centred on zero displacement."""
    k = kernel.double().numpy()
    c = k.shape[0] // 2
    dy, dx = np.mgrid[-c:c + 1, -c:c + 1]
    d = np.stack([dx.ravel(), dy.ravel()])
    w = k.ravel()
    mean = d @ w
    centred = d - mean[:, None]
    return mean, (centred * w) @ centred.T


def smooth_hdr(height: int, width: int, seed: int, shift: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """A smooth textured HDR image [3, H, W] (about 0.05 .. 20): exp of random plane waves, periods 12 - 40 px.

    Analytic, so ``shift`` gives the same scene with its content displaced by exactly (dx, dy) pixels.
    """
    gen = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.arange(height, dtype=torch.float64) - shift[1],
                          torch.arange(width, dtype=torch.float64) - shift[0], indexing="ij")
    channels = []
    for _ in range(3):
        field = torch.zeros(height, width, dtype=torch.float64)
        for _ in range(6):
            angle, period, phase = torch.rand(3, generator=gen, dtype=torch.float64).tolist()
            kx, ky = (2 * math.pi / (12 + 28 * period) * f(2 * math.pi * angle) for f in (math.cos, math.sin))
            field += torch.cos(kx * x + ky * y + 2 * math.pi * phase)
        channels.append(torch.exp(field / math.sqrt(3)))  # log-std 1
    return torch.stack(channels).float()


# --- windows and trajectories ------------------------------------------------------------------------------

def test_exposure_windows_of_the_default_bracket():
    assert exposure_windows(5, 4.0) == WINDOWS
    assert exposure_windows(3, 2.0) == [(0.0, 1.0), (1.0, 3.0), (3.0, 7.0)]
    assert MOTION_MODELS.names() == ["none", "trajectory", "video"]


def test_trajectory_is_deterministic_for_a_seeded_generator():
    a = sample_trajectory(341, 50, torch.Generator().manual_seed(7), rotation=2.0)
    b = sample_trajectory(341, 50, torch.Generator().manual_seed(7), rotation=2.0)
    c = sample_trajectory(341, 50, torch.Generator().manual_seed(8), rotation=2.0)
    for field in ("times", "positions", "angles"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert not torch.allclose(a.positions, c.positions)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.5, 2000), st.floats(0.1, 500), st.integers(0, 10_000), st.integers(1, 8))
def test_trajectory_length_start_and_sampling(duration, length, seed, steps_per_unit):
    traj = sample_trajectory(duration, length, torch.Generator().manual_seed(seed), steps_per_unit=steps_per_unit,
                             max_steps=4096)
    steps = min(4096, math.ceil(steps_per_unit * duration - 1e-9))
    assert traj.times.shape == (steps + 1,) and traj.times.dtype == torch.float64
    assert traj.times[0] == 0 and math.isclose(float(traj.times[-1]), duration, rel_tol=1e-12)
    assert torch.allclose(traj.times.diff(), torch.full((steps,), duration / steps, dtype=torch.float64))
    assert traj.positions[0].tolist() == [0.0, 0.0] and traj.angles[0] == 0
    assert abs(path_length(traj, 0, duration) - length) <= 1e-6 * length


def test_rotation_reaches_its_maximum_and_leaves_the_path_alone():
    plain = sample_trajectory(341, 40, torch.Generator().manual_seed(3))
    turning = sample_trajectory(341, 40, torch.Generator().manual_seed(3), rotation=1.5)
    assert torch.equal(plain.positions, turning.positions)
    assert not plain.angles.any()
    assert math.isclose(float(turning.angles.abs().max()), math.radians(1.5), rel_tol=1e-12)
    assert float(turning.angles.diff().abs().max()) < math.radians(1.5) / 50  # smooth, no jumps


def test_path_is_not_a_straight_line_and_changes_direction():
    traj = sample_trajectory(341, 100, torch.Generator().manual_seed(11))
    net = float(traj.positions[-1].norm())
    assert net < 0.9 * 100  # a random walk with a pull back, not a ballistic flight
    steps = traj.positions.diff(dim=0)
    cos = (steps[1:] * steps[:-1]).sum(1) / (steps[1:].norm(dim=1) * steps[:-1].norm(dim=1))
    assert float(cos.median()) > 0.99  # inertia: consecutive steps nearly parallel ...
    assert float(cos.min()) < 0.5  # ... but the heading does turn somewhere


def test_still_camera_has_identity_kernels():
    traj = sample_trajectory(341, 0.0, torch.Generator().manual_seed(0))
    assert not traj.positions.any()
    for start, end in WINDOWS:
        kernel = trajectory_kernel(traj, start, end)
        assert kernel.dtype == torch.float32 and kernel.tolist() == [[1.0]]
        assert path_length(traj, start, end) == 0


def test_displacement_interpolates_linearly_and_checks_the_range():
    traj = line_trajectory((1.5, -0.5))
    assert displacement(traj, 0.0) == (0.0, 0.0)
    assert displacement(traj, 4.0) == pytest.approx((6.0, -2.0), abs=1e-12)
    with pytest.raises(DataError, match="within"):
        displacement(traj, 10.5)


def test_trajectory_rejects_a_path_not_starting_at_rest():
    times = torch.tensor([0.0, 1.0], dtype=torch.float64)
    with pytest.raises(DataError, match="expected 0"):
        Trajectory(times, torch.ones(2, 2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64))
    with pytest.raises(DataError, match="float64"):
        Trajectory(times.float(), torch.zeros(2, 2), torch.zeros(2))


# --- kernels -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bracket_kernels_are_normalised_odd_and_nonnegative(seed):
    traj = sample_trajectory(341, 60, torch.Generator().manual_seed(seed), rotation=1.0)
    for start, end in WINDOWS:
        kernel = trajectory_kernel(traj, start, end)
        k = kernel.shape[0]
        assert kernel.dtype == torch.float32 and kernel.shape == (k, k) and k % 2 == 1
        assert float(kernel.min()) >= 0 and abs(float(kernel.sum()) - 1) < 1e-6
        # just large enough: the outermost ring holds some mass
        ring = torch.cat([kernel[0], kernel[-1], kernel[:, 0], kernel[:, -1]])
        assert k == 1 or float(ring.sum()) > 0
        # centred on zero displacement: the kernel's mean is the path's mean displacement in the window
        mean, _ = kernel_moments(kernel)
        ts = torch.linspace(start, end, 2001, dtype=torch.float64)
        expected = np.mean([displacement(traj, float(t)) for t in ts], axis=0)
        assert np.abs(mean - expected).max() < 0.02 + 0.002 * path_length(traj, start, end)


def test_kernel_spread_grows_with_the_exposure_window():
    traj = sample_trajectory(341, 150, torch.Generator().manual_seed(4))
    ends = [1.0, 5.0, 21.0, 85.0, 341.0]
    lengths = [path_length(traj, 0, e) for e in ends]
    taps = [int((trajectory_kernel(traj, 0, e) > 0).sum()) for e in ends]
    spread = [np.trace(kernel_moments(trajectory_kernel(traj, 5.0, e))[1]) for e in ends[2:]]
    assert lengths == sorted(lengths) and lengths[-1] == pytest.approx(150)
    assert taps == sorted(taps) and taps[-1] > 20 * taps[0]
    assert spread == sorted(spread)


def test_constant_velocity_gives_a_line_of_the_right_length_and_direction():
    traj = line_trajectory((2.5, 0.0))
    kernel = trajectory_kernel(traj, 0.0, 4.0)  # content moves 10 px to the right
    assert kernel.shape == (21, 21)
    c = 10
    assert float(kernel[c].sum()) == pytest.approx(1.0, abs=1e-6)  # all mass on the zero-dy row
    assert torch.nonzero(kernel[c]).flatten().tolist() == list(range(c, c + 11))  # dx = 0 .. 10, never < 0
    mean, cov = kernel_moments(kernel)
    assert mean == pytest.approx([5.0, 0.0], abs=1e-6)
    # uniform on [0, L] has variance L^2/12; bilinear splatting of uniform fractions adds E[f(1 - f)] = 1/6
    assert cov[0, 0] == pytest.approx(100 / 12 + 1 / 6, rel=2e-3) and cov[1, 1] == pytest.approx(0, abs=1e-9)
    # a later window of the same motion sits further along, not re-centred
    later = trajectory_kernel(traj, 2.0, 4.0)
    assert torch.nonzero(later[later.shape[0] // 2]).flatten().min() - later.shape[0] // 2 == 5


def test_diagonal_motion_kernel_points_along_the_velocity():
    traj = line_trajectory((3.0, -4.0))
    kernel = trajectory_kernel(traj, 0.0, 2.0)  # 10 px along (0.6, -0.8)
    mean, cov = kernel_moments(kernel)
    assert mean == pytest.approx([3.0, -4.0], abs=1e-6)
    values, vectors = np.linalg.eigh(cov)
    assert abs(abs(vectors[:, 1] @ np.array([0.6, -0.8])) - 1) < 1e-3
    assert math.sqrt(12 * (values[1] - 1 / 6)) == pytest.approx(10.0, rel=0.01)


def test_a_jump_and_rest_gives_a_delta_at_the_displacement():
    times = torch.tensor([0.0, 1e-9, 10.0], dtype=torch.float64)
    positions = torch.tensor([[0.0, 0.0], [3.0, -2.0], [3.0, -2.0]], dtype=torch.float64)
    kernel = trajectory_kernel(Trajectory(times, positions, torch.zeros(3, dtype=torch.float64)), 0.0, 10.0)
    c = kernel.shape[0] // 2
    assert kernel.shape == (7, 7) and float(kernel[c - 2, c + 3]) > 0.9999


def test_window_outside_the_trajectory_is_an_error():
    traj = line_trajectory((1.0, 0.0))
    for start, end in [(-1.0, 2.0), (3.0, 3.0), (5.0, 11.0)]:
        with pytest.raises(DataError, match="window"):
            trajectory_kernel(traj, start, end)


# --- applying kernels --------------------------------------------------------------------------------------

def test_impulse_is_moved_in_the_direction_of_the_content():
    kernel = trajectory_kernel(line_trajectory((2.0, 1.0)), 0.0, 3.0)  # content moves by (+6, +3)
    image = torch.zeros(1, 40, 40)
    image[0, 10, 12] = 1.0
    blurred = apply_kernel(image, kernel)[0]
    c = kernel.shape[0] // 2
    expected = torch.zeros(40, 40)
    expected[10 - c: 10 + c + 1, 12 - c: 12 + c + 1] = kernel
    assert torch.allclose(blurred, expected, atol=1e-6)
    rows, cols = torch.nonzero(blurred > 1e-4, as_tuple=True)
    assert rows.min() >= 10 and cols.min() >= 12 and cols.max() == 18 and rows.max() == 13


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 24), st.integers(1, 24), st.integers(0, 6), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_apply_kernel_equals_direct_convolution(height, width, radius, channels, seed):
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(channels, height, width, generator=gen)
    kernel = torch.rand(2 * radius + 1, 2 * radius + 1, generator=gen)
    kernel /= kernel.sum()
    out = apply_kernel(image, kernel)
    assert out.shape == image.shape and out.dtype == torch.float32
    padded = np.pad(image.double().numpy(), ((0, 0), (radius, radius), (radius, radius)), mode="edge")
    expected = np.stack([scipy.signal.convolve2d(p, kernel.double().numpy(), mode="valid") for p in padded])
    assert np.abs(out.double().numpy() - expected).max() < 1e-5
    # the same through torch: conv2d is a correlation, so it takes the flipped kernel
    flipped = kernel.flip(0, 1)[None, None]
    torch_ref = F.conv2d(torch.from_numpy(padded).float()[:, None], flipped)[:, 0]
    assert torch.allclose(out, torch_ref, atol=1e-5)


def test_apply_kernel_keeps_batch_shape_dtype_and_handles_1x1():
    image = torch.rand(2, 3, 9, 11, dtype=torch.float64)
    kernel = torch.rand(5, 5, dtype=torch.float64)
    out = apply_kernel(image, kernel)
    assert out.shape == image.shape and out.dtype == torch.float64
    assert torch.allclose(out[1, 2], apply_kernel(image[1, 2:3], kernel)[0], atol=1e-12)
    assert torch.equal(apply_kernel(image, torch.tensor([[0.5]], dtype=torch.float64)), image * 0.5)
    with pytest.raises(DataError, match="k odd"):
        apply_kernel(image, torch.ones(4, 4))


def test_blur_conserves_light():
    traj = sample_trajectory(341, 40, torch.Generator().manual_seed(5))
    kernel = trajectory_kernel(traj, 21.0, 85.0)
    r = kernel.shape[0] // 2
    gen = torch.Generator().manual_seed(0)
    image = torch.zeros(3, 64 + 2 * r, 80 + 2 * r)
    image[:, r:-r, r:-r] = torch.rand(3, 64, 80, generator=gen) * 100  # all light away from the borders
    blurred = apply_kernel(image, kernel)
    assert torch.allclose(blurred.sum(dim=(1, 2)), image.sum(dim=(1, 2)), rtol=1e-5)
    assert float(blurred.min()) > -1e-3  # no ringing worth the name
    flat = torch.full((3, 30, 30), 7.25)
    assert torch.allclose(apply_kernel(flat, kernel), flat, atol=1e-5)  # replicate padding: borders too


# --- sub-frames --------------------------------------------------------------------------------------------

def test_subframes_translate_content_by_the_displacement():
    traj = line_trajectory((1.5, 1.0))
    image = torch.rand(2, 30, 40, generator=torch.Generator().manual_seed(2))
    frames = render_subframes(image, traj, 0.0, 4.0, count=2)  # instants 1 and 3: shifts (1.5, 1), (4.5, 3)
    assert frames.shape == (2, 2, 30, 40)
    # frame 1 at (4.5, 3): the average of the integer shifts 4 and 5 in x
    expected = 0.5 * (image[:, :-3, :-4][:, :, 1:] + image[:, :-3, :-5])
    assert torch.allclose(frames[1][:, 3:, 5:], expected, atol=1e-5)
    single = render_subframes(image, line_trajectory((2.0, -1.0)), 0.0, 2.0, count=1)[0]  # instant 1: (2, -1)
    assert torch.allclose(single[:, :-1, 2:], image[:, 1:, :-2], atol=1e-5)


def test_subframe_rotation_turns_content_clockwise_about_the_centre():
    times = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    angles = torch.tensor([0.0, math.pi / 2, math.pi / 2], dtype=torch.float64)
    traj = Trajectory(times, torch.zeros(3, 2, dtype=torch.float64), angles)
    image = torch.rand(3, 15, 15, generator=torch.Generator().manual_seed(1))
    out = render_subframes(image, traj, 1.0, 2.0, count=1)[0]
    # from +x towards +y on screen (y down): a point right of the centre ends up below it
    assert torch.allclose(out, torch.rot90(image, k=-1, dims=(1, 2)), atol=1e-4)


def test_average_of_subframes_approaches_the_kernel_blur():
    traj = sample_trajectory(341, 60, torch.Generator().manual_seed(9))
    image = smooth_hdr(48, 56, seed=3)
    start, end = 21.0, 85.0
    blurred = apply_kernel(image, trajectory_kernel(traj, start, end))
    errors = {n: float((render_subframes(image, traj, start, end, n).mean(0) - blurred).abs().mean()) for n in (4, 256)}
    change = float((image - blurred).abs().mean())
    assert errors[256] < 0.02 * change and errors[256] < 0.25 * errors[4]


# --- frame interpolation -----------------------------------------------------------------------------------

def test_interpolators_are_registered_and_named():
    assert INTERPOLATORS.names() == ["dis", "blend"]
    with pytest.raises(UnknownNameError, match="did you mean 'blend'"):
        interpolate_frames(torch.ones(3, 8, 8), torch.ones(3, 8, 8), [0.5], method="blnd")


@pytest.mark.parametrize("method", ["dis", "blend"])
def test_interpolation_endpoints_reproduce_the_inputs(method):
    f0, f1 = smooth_hdr(40, 48, 0), smooth_hdr(40, 48, 1)
    out = interpolate_frames(f0, f1, [0.0, 1.0, 0.5], method)
    assert out.shape == (3, 3, 40, 48) and out.dtype == torch.float32
    assert torch.equal(out[0], f0) and torch.equal(out[1], f1)
    with pytest.raises(DataError, match="outside"):
        interpolate_frames(f0, f1, [1.5], method)


def test_dis_midpoint_follows_the_motion_and_blend_does_not():
    motion = (6.0, -4.0)  # content moves by (+6, -4) px from frame 0 to frame 1
    f0, f1 = smooth_hdr(128, 160, 5), smooth_hdr(128, 160, 5, motion)
    inner = (slice(None), slice(16, -16), slice(16, -16))
    for t in (0.5, 0.25):
        truth = smooth_hdr(128, 160, 5, (t * motion[0], t * motion[1]))
        error = {method: float((interpolate_frames(f0, f1, [t], method)[0] - truth)[inner].abs().mean())
                 for method in ("dis", "blend")}
        assert error["dis"] * 3 < error["blend"], (t, error)


def test_dis_blends_in_linear_light_with_weights_1_minus_t_and_t():
    f0 = smooth_hdr(64, 80, 2)
    out = interpolate_frames(f0, 1.5 * f0, [0.25, 0.75], "dis")  # no motion, the light grows by half
    for frame, t in zip(out, (0.25, 0.75)):
        assert float(((frame - (1 + 0.5 * t) * f0) / f0).abs().max()) < 0.01


# --- perf script -------------------------------------------------------------------------------------------

def test_perf_motion_quick_reports_every_stage():
    done = subprocess.run([sys.executable, "perf/motion.py", "--quick"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    stages = ["sample_trajectory", *(f"trajectory_kernel[{i}]" for i in range(5)),
              *(f"apply_kernel[{i}]" for i in range(5)), "apply_kernel[line] 41x41", "render_subframes[8, 1 deg]",
              "interpolate_frames[dis, 4]"]
    for stage in stages:
        line = next(l for l in lines if l.startswith(stage))
        assert re.search(r"\d+\.\d ms(\s+\d+\.\d MP/s)?$", line), line


def test_dis_pair_warps_each_frame_where_super_slomo_s_flows_point():
    # DisPair keeps the flows in grid_sample's normalised units; an independent warp in pixel units must agree
    from simulator.interpolate import DisPair, dis_flows

    f0, f1 = smooth_hdr(48, 64, 7), smooth_hdr(48, 64, 7, (3.0, -2.0))
    f01, f10 = dis_flows(f0, f1)
    ys, xs = torch.meshgrid(torch.arange(48.0), torch.arange(64.0), indexing="ij")

    def read(image, flow):  # bilinear at x + flow with border replication, pixel centres at integers
        x = (xs + flow[..., 0]).clamp(0, 63)
        y = (ys + flow[..., 1]).clamp(0, 47)
        x0, y0 = x.floor().clamp(max=62).long(), y.floor().clamp(max=46).long()
        wx, wy = x - x0, y - y0
        at = lambda dy, dx: image[:, y0 + dy, x0 + dx]  # noqa: E731
        return (at(0, 0) * (1 - wx) + at(0, 1) * wx) * (1 - wy) + (at(1, 0) * (1 - wx) + at(1, 1) * wx) * wy

    pair = DisPair(f0, f1)
    for t in (0.25, 0.5, 0.8):
        flow_t0 = -(1 - t) * t * f01 + t * t * f10
        flow_t1 = (1 - t) ** 2 * f01 - t * (1 - t) * f10
        expected = (1 - t) * read(f0, flow_t0) + t * read(f1, flow_t1)
        assert float((pair.frame(t) - expected).abs().max() / expected.abs().max()) < 1e-5
    assert torch.equal(pair.frame(0.0), f0) and torch.equal(pair.frame(1.0), f1)


def test_video_mode_computes_each_pair_s_flows_once(monkeypatch):
    # the published timing's 341 sub-frames at 32 per source frame span 11 pairs; exposures 3-5 each start
    # inside the pair the previous one ended in, and that pair's flows are reused, not computed again
    import simulator.interpolate as interpolate
    from simulator.pipeline import simulate_sample
    from simulator.settings import load_simulation_config

    calls = []
    real = interpolate.dis_flows
    monkeypatch.setattr(interpolate, "dis_flows", lambda f0, f1: calls.append(1) or real(f0, f1))
    frames = torch.stack([smooth_hdr(16, 32, 2, (0.5 * k, 0.0)) for k in range(12)]) / 20
    config = load_simulation_config("bracketire", ["motion.model=video", "output.size=[32, 16]"])
    sample = simulate_sample(config, frames, torch.Generator().manual_seed(1))
    assert len(calls) == 11 and sample.raws[1].shape == (5, 4, 8, 16)


def test_perf_simulate_counts_two_warps_per_interpolated_sub_frame(monkeypatch):
    # the published timing's 341 sub-frames, 11 of them whole source frames (every 32nd): 330 interpolated
    import importlib.util

    monkeypatch.syspath_prepend(str(REPO / "perf"))  # the perf scripts import their own helpers from there
    spec = importlib.util.spec_from_file_location("perf_simulate", REPO / "perf" / "simulate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    floor = module.warp_floor("bracketire", 32, 16)
    assert floor["warps"] == 660 and floor["seconds"] > 0
