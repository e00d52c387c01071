import numpy as np
import pytest
import torch

from models.layers.flow import flow_warp
from models.layers.spynet import SPyNet, load_spynet_weights
from simulator.core.errors import DataError, WeightsNotFoundError


@pytest.fixture(scope="module")
def spynet_fixture(shared):
    return np.load(shared / "fixtures" / "official" / "networks" / "spynet.npz", allow_pickle=False)


def _model(f, dtype=torch.float32):
    model = SPyNet()
    state = {k: torch.from_numpy(f[k]) for k in f.files if not k.startswith("io/")}
    model.load_state_dict(state, strict=True)  # the official key names, unchanged
    return model.to(dtype).eval()


@pytest.mark.parametrize("suffix", ["", "2"])  # 64x96, and 40x56 (the resize-to-multiple-of-32 path)
def test_flow_matches_the_reference_fixture(spynet_fixture, suffix):
    f = spynet_fixture  # spynet.npz; README tolerance for float32 re-implementations: 1e-4
    ref, supp = torch.from_numpy(f[f"io/ref{suffix}"]), torch.from_numpy(f[f"io/supp{suffix}"])
    with torch.no_grad():
        flow = _model(f)(ref, supp)
        flow64 = _model(f, torch.float64)(ref.double(), supp.double())
    assert np.abs(flow.numpy() - f[f"io/flow{suffix}"]).max() <= 1e-4
    assert np.abs(flow64.numpy() - f[f"io/flow{suffix}_f64"]).max() <= 1e-9


def test_flow_warp_moves_content_by_the_flow():
    image = torch.arange(5 * 6, dtype=torch.float64).reshape(1, 1, 5, 6)
    flow = torch.zeros(1, 2, 5, 6, dtype=torch.float64)
    flow[:, 0] = 1.0  # sample one pixel to the right
    out = flow_warp(image, flow)
    assert torch.allclose(out[..., :-1], image[..., 1:]) and torch.all(out[..., -1] == 0)
    assert torch.allclose(flow_warp(image, flow, "border")[..., -1], image[..., -1])


def test_pretrained_file_loading_and_errors(tmp_path, spynet_fixture):
    state = {f"spynet.{k}": torch.from_numpy(spynet_fixture[k]) for k in spynet_fixture.files if not k.startswith("io/")}
    wrapped = tmp_path / "spynet.pth"
    torch.save({"state_dict": state, "meta": {"epoch": 1}}, wrapped)
    model = load_spynet_weights(SPyNet(), wrapped)
    assert torch.equal(model.basic_module[0].basic_module[0].weight,
                       torch.from_numpy(spynet_fixture["basic_module.0.basic_module.0.weight"]))
    with pytest.raises(WeightsNotFoundError, match="spynet_20210409-c6c1bd09.pth"):
        load_spynet_weights(SPyNet(), tmp_path / "missing.pth")
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, other)
    with pytest.raises(DataError, match="other.pth: not SPyNet weights"):
        load_spynet_weights(SPyNet(), other)
