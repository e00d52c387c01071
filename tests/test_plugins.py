"""A user's own model and noise model, registered from the user's own file, simulated, trained and benched.

The plugin file below is what the README's "Your own model and noise model" section shows.
"""

from __future__ import annotations

import textwrap

import pytest
import torch
from click.testing import CliRunner

import cli
from models import MODELS
from simulator.core.errors import ConfigError
from simulator.core.plugins import load_plugin
from simulator.noise import NOISE_MODELS

PLUGIN = textwrap.dedent('''
    import torch
    from torch import nn

    from models import ModelSpec, register_model
    from models.bracket import normalize_exposures
    from simulator.noise import NOISE_MODELS, NoiseLevels, add_heteroscedastic_noise


    class FrameMean(nn.Module):
        """Mean of the exposure-normalised frames times a learned gain per channel."""

        def __init__(self, num_frames: int = 5, exposure_ratio: float = 4.0, init_gain: float = 1.0) -> None:
            super().__init__()
            self.exposure_ratio = exposure_ratio
            self.gain = nn.Parameter(torch.full((1, 4, 1, 1), init_gain))

        def forward(self, raws: torch.Tensor) -> torch.Tensor:
            return normalize_exposures(raws, self.exposure_ratio).mean(1) * self.gain


    register_model(ModelSpec("frame_mean", FrameMean, tiny={"init_gain": 1.0}, fewer_frames=True, scales=(1,)))


    @NOISE_MODELS.register("loud_read")
    def loud_read(clean, levels, generator):
        """Heteroscedastic noise with four times the read-noise variance."""
        return add_heteroscedastic_noise(clean, NoiseLevels(levels.shot, 4 * levels.read), generator)
''')


def _plugin_file(folder, name, text, registered):
    """Write the plugin ``text`` to ``folder/name``; afterwards unregister what it registered."""
    path = folder / name
    path.write_text(text)
    yield path
    for registry, entry in registered:
        if entry in registry:
            registry.unregister(entry)


@pytest.fixture
def plugin(tmp_path):
    yield from _plugin_file(tmp_path, "my_models.py", PLUGIN, ((MODELS, "frame_mean"), (NOISE_MODELS, "loud_read")))


def _cli(*args):
    return CliRunner().invoke(cli.cli, [str(a) for a in args])


def test_a_users_model_and_noise_model_simulate_train_and_bench_from_their_own_file(plugin, tmp_path, monkeypatch):
    monkeypatch.setenv("BRACKETIRE_RUNS", str(tmp_path / "runs"))
    data = tmp_path / "data"
    for split, seed, previews in (("Train", 0, "false"), ("Test", 3, "true")):  # bench scores rgb_vis_gt.png
        done = _cli("--plugin", plugin, "simulate", "--out", data, "--split", split, "--num-samples", 1, "--size",
                    "128x128", "--seed", seed, "--set", "noise.model=loud_read", "--set", "motion.model=none",
                    "--set", f"output.previews={previews}", "--no-progress")
        assert done.exit_code == 0, done.output
    assert "frame_mean" in MODELS and "loud_read" in NOISE_MODELS
    run = tmp_path / "run"
    trained = _cli("--plugin", plugin, "train", "--model", "frame_mean", "--data", data, "--out", run, "--iters", 2,
                   "--set", "train.patch=32", "--set", "train.batch_size=1", "--set", "data.workers=0",
                   "--set", "train.progress=false", "--set", "train.device=cpu", "--set", "model.init_gain=0.5")
    assert trained.exit_code == 0, trained.output
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["model_config"] == {"name": "frame_mean", "kwargs": {"init_gain": 0.5}}
    assert not torch.equal(state["params"]["gain"], torch.full((1, 4, 1, 1), 0.5))  # it trained
    benched = _cli("--plugin", plugin, "bench", "--model", "frame_mean", "--weights", run / "checkpoints" / "last.pt",
                   "--data", data, "--no-progress")
    assert benched.exit_code == 0, benched.output
    assert "| frame_mean | frame_mean:run | bracketire@1 |" in benched.output  # labelled by its run folder
    listed = _cli("--plugin", plugin, "info")
    assert "frame_mean" in listed.output and "loud_read" in listed.output


def test_the_registered_noise_model_is_the_one_the_simulation_used(plugin, tmp_path):
    load_plugin(plugin)
    from simulator.pipeline import simulate_sample
    from simulator.settings import load_simulation_config
    from simulator.sources import builtin_scene

    def sample(model):
        config = load_simulation_config("bracketire", ["output.size=[64,64]", "motion.model=none",
                                                       f"noise.model={model}", "noise.shot_noise=0.0",
                                                       "noise.read_noise=0.0001"])
        g = torch.Generator().manual_seed(1)
        return simulate_sample(config, builtin_scene(64, 64, g)[None], g).raws[1].float()

    quiet, again, loud = sample("heteroscedastic"), sample("heteroscedastic"), sample("loud_read")
    assert torch.equal(quiet, again)  # same seed: the same draws, so any difference comes from the noise model
    assert (loud - quiet).abs().mean() > 1.0  # twice the noise amplitude: about 10 DN more at 10 bits
    assert load_plugin(plugin) is load_plugin(plugin)  # loading again imports nothing new


def test_a_plugin_that_is_not_a_python_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not a Python file"):
        load_plugin(tmp_path / "missing.py")
    result = _cli("--plugin", tmp_path / "missing.py", "info")
    assert result.exit_code == 2 and "missing.py" in result.output


def test_registering_a_taken_name_is_refused_and_a_typo_gets_a_did_you_mean():
    from simulator.core.errors import UnknownNameError

    with pytest.raises(ConfigError, match="already registered"):
        NOISE_MODELS.register("eld", "simulator.eld:add_eld_noise")
    with pytest.raises(UnknownNameError, match="did you mean 'frame_mean'"):
        MODELS.register("frame_mean", "models.classical:ReferenceFrame")
        try:
            MODELS["frame_maen"]
        finally:
            MODELS.unregister("frame_mean")


SCENE_PLUGIN = textwrap.dedent('''
    import torch

    from simulator.motion_models import MOTION_MODELS, MotionModel
    from simulator.scenes import SCENE_SOURCES, SceneSource, numbered_scenes


    @SCENE_SOURCES.register("ramp")
    class Ramp(SceneSource):
        """A horizontal grey ramp with a bright bar (no files needed)."""

        needs_path = False

        def scenes(self, config):
            return numbered_scenes(config, "ramp")

        def frames(self, config, spec, generator):
            width, height = config.output.size
            image = torch.linspace(0.05, 0.6, width).expand(3, height, width).clone()
            image[:, :, width // 3 : width // 3 + 4] = 2.0
            return image[None]


    @MOTION_MODELS.register("drift")
    class Drift(MotionModel):
        """The scene slides 2 pixels right per exposure (no randomness)."""

        def __init__(self, config, frames, windows, generator):
            super().__init__(config, frames, windows, generator)
            self.windows = windows
            self.lengths = [2.0 * t for t in range(len(windows))]

        def expose(self, window, transform):
            return transform(torch.roll(self.frames[0], 2 * self.windows.index(window), dims=-1))
''')


@pytest.fixture
def scene_plugin(tmp_path):
    from simulator.motion_models import MOTION_MODELS
    from simulator.scenes import SCENE_SOURCES

    yield from _plugin_file(tmp_path, "my_scenes.py", SCENE_PLUGIN, ((SCENE_SOURCES, "ramp"), (MOTION_MODELS, "drift")))


def test_a_users_scene_source_and_motion_model_simulate_from_their_own_file(scene_plugin, tmp_path):
    import json

    listed = _cli("--plugin", scene_plugin, "info")
    assert "ramp" in listed.output and "slides 2 pixels" in listed.output  # info reads both registries
    data = tmp_path / "data"
    done = _cli("--plugin", scene_plugin, "simulate", "--out", data, "--source", "ramp", "--num-samples", 1,
                "--size", "64x32", "--set", "motion.model=drift", "--no-progress")
    assert done.exit_code == 0, done.output
    (frame,) = (data / "Test" / "ramp").iterdir()
    info = json.loads((frame / "sample.json").read_text())
    assert info["motion"] == "drift" and info["motion_length_px"] == [0.0, 2.0, 4.0, 6.0, 8.0]
    typo = _cli("--plugin", scene_plugin, "simulate", "--out", tmp_path / "x", "--source", "rmap", "--no-progress")
    assert typo.exit_code == 2 and "did you mean 'ramp'" in typo.output


def test_the_registered_motion_model_moves_the_scene_as_it_says(scene_plugin):
    load_plugin(scene_plugin)
    from simulator.pipeline import simulate_sample
    from simulator.scenes import list_scene_specs, load_scene_frames
    from simulator.settings import load_simulation_config

    def sample(motion):
        config = load_simulation_config("bracketire", ["output.size=[64,32]", "source.name=ramp", f"motion.model={motion}",
                                                       "noise.shot_noise=0.0", "noise.read_noise=0.0"])
        g = torch.Generator().manual_seed(4)
        frames = load_scene_frames(config, list_scene_specs(config)[0], g)
        return simulate_sample(config, frames, g).raws[1]

    still, drifted = sample("none"), sample("drift")
    for t in range(5):  # 2 full-resolution pixels = 1 packed pixel: every per-pixel step commutes with the shift
        assert torch.equal(drifted[t], torch.roll(still[t], t, dims=-1))
    assert not torch.equal(drifted[1], still[1])


def test_unknown_motion_model_and_scene_source_get_a_did_you_mean():
    from simulator.core.errors import UnknownNameError
    from simulator.settings import load_simulation_config
    from simulator.settings_checks import check_simulation_config

    with pytest.raises(UnknownNameError, match="no motion model named 'trajectori'; did you mean 'trajectory'"):
        check_simulation_config(load_simulation_config("bracketire", ["motion.model=trajectori"]))
    with pytest.raises(UnknownNameError, match="no scene source named 'photo'; did you mean 'photos'"):
        check_simulation_config(load_simulation_config("bracketire", ["source.name=photo"]))
