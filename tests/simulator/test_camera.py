import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.camera import CAMERAS, CameraMeta, sample_camera
from simulator.core.errors import DataError, UnknownNameError

FIXTURE_SEEDS = {"unprocess.npz": 0, "process.npz": 1, "demosaicnet.npz": 2, "render.npz": 3}


@pytest.mark.parametrize("name,seed", FIXTURE_SEEDS.items())
def test_reference_camera_draws_the_fixture_metadata(official, name, seed):
    # Each fixture's gains were drawn by the reference after torch.manual_seed(seed): red, then blue.
    f = official(name)
    meta = sample_camera("bracketire", torch.Generator().manual_seed(seed))
    assert meta.red_gain.item() == f["red_gain"][0]
    assert meta.blue_gain.item() == f["blue_gain"][0]
    assert meta.rgb_gain.item() == f["rgb_gain"][0] == 1.0
    assert np.array_equal(meta.rgb2cam.numpy(), f["rgb2cam"])
    assert np.abs(meta.cam2rgb.numpy() - f["cam2rgb"]).max() <= 1e-7  # inverse, to LAPACK rounding


def test_reference_camera_gain_ranges_and_row_sums():
    gen = torch.Generator().manual_seed(123)
    metas = CameraMeta.stack([sample_camera("bracketire", gen) for _ in range(500)])
    assert metas.batch_shape == (500,)
    assert 1 / 0.91 <= metas.red_gain.min() and metas.red_gain.max() <= 1 / 0.40
    assert 1 / 0.75 <= metas.blue_gain.min() and metas.blue_gain.max() <= 1 / 0.39
    assert torch.allclose(metas.rgb2cam[0].sum(-1), torch.ones(3), atol=1e-6)


def test_brooks2019_camera_is_seeded_and_normalised():
    a = sample_camera("brooks2019", torch.Generator().manual_seed(7))
    b = sample_camera("brooks2019", torch.Generator().manual_seed(7))
    c = sample_camera("brooks2019", torch.Generator().manual_seed(8))
    assert torch.equal(a.rgb2cam, b.rgb2cam) and a.red_gain == b.red_gain
    assert not torch.equal(a.rgb2cam, c.rgb2cam)
    assert torch.allclose(a.rgb2cam.sum(-1), torch.ones(3), atol=1e-6)
    assert torch.allclose(a.rgb2cam @ a.cam2rgb, torch.eye(3), atol=1e-5)
    assert 1.9 <= a.red_gain <= 2.4 and 1.5 <= a.blue_gain <= 1.9


floats32 = st.floats(min_value=-1e6, max_value=1e6, width=32, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(st.lists(floats32, min_size=21, max_size=21))
def test_json_round_trip_is_exact(values):
    v = torch.tensor(values, dtype=torch.float32)
    meta = CameraMeta(v[:9].reshape(3, 3), v[9:18].reshape(3, 3), v[18], v[19], v[20])
    back = CameraMeta.from_json(meta.to_json())
    for name in ("rgb2cam", "cam2rgb", "rgb_gain", "red_gain", "blue_gain"):
        assert torch.equal(getattr(back, name), getattr(meta, name))


def test_published_array_form_round_trip_single_and_batched(official):
    f = official("process.npz")
    meta = CameraMeta.from_arrays(f)
    assert meta.batch_shape == ()
    arrays = meta.to_arrays()
    assert arrays["red_gain"].shape == (1,) and arrays["cam2rgb"].shape == (3, 3)
    assert all(arrays[k].dtype == np.float32 for k in arrays)
    assert np.array_equal(arrays["red_gain"], f["red_gain"])
    # what a DataLoader gives: gains (N, 1), matrices (N, 3, 3)
    batched = {k: np.stack([f[k], f[k]]) for k in ("rgb2cam", "cam2rgb", "rgb_gain", "red_gain", "blue_gain")}
    assert CameraMeta.from_arrays(batched).batch_shape == (2,)


def test_bad_metadata_is_reported():
    with pytest.raises(DataError, match=r"meta\.npy: missing camera metadata key\(s\) \['blue_gain'\]"):
        CameraMeta.from_arrays({"rgb2cam": np.eye(3), "cam2rgb": np.eye(3), "rgb_gain": [1], "red_gain": [2]}, "meta.npy")
    with pytest.raises(DataError, match="red_gain has shape"):
        CameraMeta.from_arrays({"rgb2cam": np.eye(3), "cam2rgb": np.eye(3), "rgb_gain": [1], "red_gain": [2, 3], "blue_gain": [1]})
    with pytest.raises(DataError, match="m.json: not valid JSON"):
        CameraMeta.from_json("{", "m.json")
    with pytest.raises(UnknownNameError, match="did you mean 'bracketire'"):
        sample_camera("braketire", torch.Generator())
    assert set(CAMERAS) == {"bracketire", "brooks2019"}
