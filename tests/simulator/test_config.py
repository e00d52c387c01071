from dataclasses import dataclass, field
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.config import apply_overrides, from_dict, load_config, to_dict
from simulator.core.errors import ConfigError, UnknownNameError


@dataclass(frozen=True)
class Noise:
    model: str = "heteroscedastic"
    shot_noise: float | None = None
    bit_depth: int = 10


@dataclass(frozen=True)
class Sim:
    size: tuple[int, int] = (1920, 1080)
    clip: Literal["srgb", "raw"] = "srgb"
    png: bool = False
    scales: tuple[int, ...] = (2, 4)
    noise: Noise = field(default_factory=Noise)


def test_overrides_are_parsed_by_field_type():
    cfg = apply_overrides(Sim(), ["noise.shot_noise=0.01", "noise.bit_depth=12", "png=true", "size=[64, 32]",
                                  "noise.model=eld", "clip=raw", "scales=[4]"])
    assert cfg == Sim(size=(64, 32), clip="raw", png=True, scales=(4,), noise=Noise("eld", 0.01, 12))
    assert apply_overrides(cfg, ["noise.shot_noise=null"]).noise.shot_noise is None
    assert apply_overrides(Sim(), ["noise.shot_noise=1"]).noise.shot_noise == 1.0  # int accepted as float
    assert apply_overrides(Sim(), ["noise.shot_noise=1e-5"]).noise.shot_noise == 1e-5  # YAML 1.1 reads it as text


def test_unknown_keys_list_the_valid_ones():
    with pytest.raises(UnknownNameError, match=r"'noise.modle'; did you mean 'noise.model'\?.*noise.bit_depth"):
        apply_overrides(Sim(), ["noise.modle=x"])
    with pytest.raises(ConfigError, match=r"cfg.yaml: unknown key 'noise.levels'; valid keys: noise.model"):
        from_dict(Sim, {"noise": {"levels": 1}}, "cfg.yaml")


@pytest.mark.parametrize(
    "override,message",
    [
        ("noise.bit_depth=ten", r"noise.bit_depth='ten'; expected int"),
        ("png=3", r"png=3; expected bool"),
        ("clip=linear", r"clip='linear'; expected one of \['srgb', 'raw'\]"),
        ("size=[1, 2, 3]", r"size=\[1, 2, 3\]; expected 2 values"),
        ("size", r"'size' is not KEY=VALUE"),
        ("png.x=1", r"png has no sub-keys"),
    ],
)
def test_bad_values_name_the_key_and_the_expected_type(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(Sim(), [override])


def test_yaml_file_then_overrides(tmp_path):
    path = tmp_path / "preset.yaml"
    path.write_text("size: [128, 64]\nnoise:\n  model: poisson_gaussian\n")
    cfg = load_config(Sim, path, ["noise.bit_depth=14"])
    assert cfg.size == (128, 64) and cfg.noise == Noise("poisson_gaussian", None, 14)
    path.write_text("size: [128, 64\n")
    with pytest.raises(ConfigError, match="preset.yaml: not valid YAML"):
        load_config(Sim, path)
    with pytest.raises(ConfigError, match="missing.yaml: cannot read config"):
        load_config(Sim, tmp_path / "missing.yaml")


@settings(max_examples=50, deadline=None)
@given(st.tuples(st.integers(1, 10_000), st.integers(1, 10_000)), st.booleans(),
       st.none() | st.floats(0, 1), st.integers(1, 16), st.lists(st.integers(1, 8), max_size=3))
def test_dict_round_trip(size, png, shot, bits, scales):
    cfg = Sim(size=size, png=png, scales=tuple(scales), noise=Noise("eld", shot, bits))
    assert from_dict(Sim, to_dict(cfg)) == cfg
