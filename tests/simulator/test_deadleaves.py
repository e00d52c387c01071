"""Dead-leaves scenes (simulator/deadleaves.py): the laws they are built on, HDR statistics, layered motion."""

import math

import numpy as np
import pytest
import torch

from simulator.core.errors import DataError
from simulator.deadleaves import (
    LayeredScene,
    SceneLayer,
    dead_leaves_layers,
    dead_leaves_scene,
    dead_leaves_video,
    power_law_field,
    sample_radii,
)


def test_scene_is_deterministic_hdr_and_nonnegative():
    a = dead_leaves_scene(96, 160, torch.Generator().manual_seed(3))
    b = dead_leaves_scene(96, 160, torch.Generator().manual_seed(3))
    c = dead_leaves_scene(96, 160, torch.Generator().manual_seed(4))
    assert a.shape == (3, 96, 160) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and torch.isfinite(a).all()


def test_radii_follow_the_inverse_cube_law():
    r = sample_radii(200_000, 2.0, 200.0, torch.Generator().manual_seed(0)).numpy()
    assert r.min() >= 2.0 and r.max() <= 200.0
    for x in (3.0, 5.0, 20.0):  # CDF of a density proportional to r^-3 on [2, 200]
        expected = (2.0**-2 - x**-2) / (2.0**-2 - 200.0**-2)
        assert abs((r < x).mean() - expected) < 0.005
    counts, edges = np.histogram(r, bins=np.geomspace(2, 50, 9))
    density = counts / np.diff(edges)
    slope = np.polyfit(np.log(np.sqrt(edges[1:] * edges[:-1])), np.log(density), 1)[0]
    assert slope == pytest.approx(-3, abs=0.15)


@pytest.mark.parametrize("beta", [0.8, 1.6])
def test_texture_fields_have_a_power_law_spectrum(beta):
    field = power_law_field(256, 256, beta, torch.Generator().manual_seed(1))
    assert field.mean().abs() < 1e-4 and field.std() == pytest.approx(1, abs=1e-3)
    power = torch.fft.fft2(field.double()).abs() ** 2
    f = torch.sqrt(torch.fft.fftfreq(256)[:, None] ** 2 + torch.fft.fftfreq(256)[None, :] ** 2)
    bands = np.geomspace(0.02, 0.4, 8)
    means = [float(power[(f >= lo) & (f < hi)].mean()) for lo, hi in zip(bands[:-1], bands[1:])]
    slope = np.polyfit(np.log(np.sqrt(bands[1:] * bands[:-1])), np.log(means), 1)[0]
    assert slope == pytest.approx(-2 * beta, abs=0.2)  # power spectrum 1/f^(2 beta)


def test_statistics_of_a_night_scene():
    scenes = [dead_leaves_scene(128, 224, torch.Generator().manual_seed(s)) for s in range(2)]
    for scene in scenes:
        lum = scene.mean(0)
        median = float(lum.median())
        assert float(lum.max()) > 200 * median  # lights and highlights far above the median
        logs = torch.log(lum.clamp_min(1e-4 * median))
        diff = (logs[:, 1:] - logs[:, :-1]).flatten()
        kurtosis = float(((diff - diff.mean()) ** 4).mean() / diff.var() ** 2)
        assert kurtosis > 6  # heavy-tailed gradients (a Gaussian field gives 3)
    dark = sum(float((s.mean(0) < 0.05 * s.mean(0).median()).float().mean()) for s in scenes) / len(scenes)
    assert dark > 0.01  # deep shadows


def test_layers_move_at_their_own_velocity():
    gen = torch.Generator().manual_seed(0)
    far = SceneLayer(torch.rand(3, 40, 60, generator=gen), torch.ones(1, 40, 60), (0.0, 0.0))
    alpha = torch.zeros(1, 40, 60)
    alpha[:, 15:25, 20:30] = 1
    near = SceneLayer(torch.full((3, 40, 60), 5.0) * alpha, alpha, (3.0, -1.0))
    scene = LayeredScene((far, near), 20, 30, margin=10)
    first, later = scene.frame(0), scene.frame(2)
    assert torch.equal(first[:, 15:], later[:, 15:])  # the far layer stands still where the near one is absent
    assert torch.equal(first[:, 5:15, 10:20] == 5, torch.ones(3, 10, 10, dtype=torch.bool))
    assert torch.equal(later[:, 3:13, 16:26] == 5, torch.ones(3, 10, 10, dtype=torch.bool))  # moved by (6, -2)
    assert torch.allclose(scene.render([(0, 0), (1.5, 0)])[:, 5:15, 12:21], torch.full((3, 10, 9), 5.0))  # sub-pixel
    with pytest.raises(DataError, match="margin"):
        scene.frame(5)


def test_video_layers_move_apart():
    frames = dead_leaves_video(64, 96, 4, torch.Generator().manual_seed(2))
    assert frames.shape == (4, 3, 64, 96) and frames.min() >= 0
    assert not torch.equal(frames[0], frames[3])
    scene = dead_leaves_layers(64, 96, torch.Generator().manual_seed(2), margin=10)
    speeds = [math.hypot(*layer.velocity) for layer in scene.layers]
    assert len(scene.layers) == 3 and speeds[0] <= 0.4 and speeds[2] >= 0.5  # near layers move faster
    assert torch.equal(scene.layers[0].alpha, torch.ones_like(scene.layers[0].alpha))  # the far layer is opaque


def test_tiny_sizes_are_refused():
    with pytest.raises(DataError, match="at least 16x16"):
        dead_leaves_scene(8, 64, torch.Generator())


def _config(*overrides):
    from simulator.settings import load_simulation_config

    return load_simulation_config("bracketire", ["output.size=[96, 64]", "num_samples=2", *overrides])


def test_sources_builtin_shapes_and_video():
    from simulator.scenes import list_scene_specs, load_scene_frames
    from simulator.sources import builtin_scene

    shapes = _config("source.name=shapes")
    spec = list_scene_specs(shapes)[1]
    assert (spec.scene, spec.frame) == ("shapes", "000001")
    old = load_scene_frames(shapes, spec, torch.Generator().manual_seed(5))
    assert torch.equal(old[0], builtin_scene(64, 96, torch.Generator().manual_seed(5)))  # the first generator, unchanged
    still = load_scene_frames(_config(), list_scene_specs(_config())[0], torch.Generator().manual_seed(5))
    assert torch.equal(still[0], dead_leaves_scene(64, 96, torch.Generator().manual_seed(5)))
    video = _config("motion.model=video", "source.frames_per_group=6")
    clip = load_scene_frames(video, list_scene_specs(video)[0], torch.Generator().manual_seed(5))
    assert clip.shape == (6, 3, 64, 96) and not torch.equal(clip[0], clip[5])


def test_photos_source_reads_the_shipped_photographs():
    pytest.importorskip("skimage")
    from simulator.core.errors import UnknownNameError
    from simulator.photos import PHOTOS, load_photo
    from simulator.scenes import list_scene_specs, load_scene_frames

    config = _config("source.name=photos", "num_samples=9")
    specs = list_scene_specs(config)
    assert [s.scene for s in specs] == list(PHOTOS) and all(PHOTOS.values())  # each with its licence
    frames = load_scene_frames(config, specs[1], torch.Generator())
    assert frames.shape == (1, 3, 64, 96) and 0 <= frames.min() and frames.max() <= 1
    photo = load_photo("chelsea")
    assert photo.shape == (3, 300, 451)
    with pytest.raises(UnknownNameError, match="did you mean 'coffee'"):
        load_photo("cofee")


@pytest.mark.parametrize("source", ["builtin", "shapes"])
def test_scene_frames_do_not_depend_on_the_thread_count(source):
    """The same seed gives the same scene (hence the same RAW bytes and ``data_sha256``) whatever torch's thread
    count: with 2 threads a 640x384 dead-leaves scene differed from 1 thread's by 5e-7 before it was pinned."""
    from simulator.scenes import list_scene_specs, load_scene_frames
    from simulator.settings import load_simulation_config

    config = load_simulation_config("bracketire", [f"source.name={source}", "output.size=[640, 384]", "num_samples=1"])
    spec = list_scene_specs(config)[0]
    before = torch.get_num_threads()
    frames = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            frames.append(load_scene_frames(config, spec, torch.Generator().manual_seed(5)))
            assert torch.get_num_threads() == threads  # the caller's setting is restored
    finally:
        torch.set_num_threads(before)
    assert torch.equal(frames[0], frames[1])
