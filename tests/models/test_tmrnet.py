import json

import numpy as np
import pytest
import torch

from models import MODELS
from models.tmrnet import TMRNet

CASES = {"syn": (MODELS["tmrnet"], 13_285_704), "synplus": (MODELS["tmrnet_plus"], 13_581_192)}


@pytest.mark.parametrize("task", CASES)
def test_state_dict_equals_the_published_manifest(shared, task):
    manifest = json.loads((shared / "fixtures/official/networks" / f"tmrnet_{task}_state_dict.json").read_text())
    model = CASES[task][0]()
    ours = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert ours == [[name, shape] for name, shape, _ in manifest["state_dict"]]  # names, shapes and order
    assert sum(p.numel() for p in model.parameters()) == CASES[task][1]


@pytest.mark.parametrize("task", CASES)
def test_forward_matches_the_reference_fixture(shared, task):
    f = np.load(shared / "fixtures/official/networks" / f"tmrnet_{task}_forward.npz", allow_pickle=False)
    model = CASES[task][0]()
    model.load_state_dict({k: torch.from_numpy(f[k]) for k in f.files if not k.startswith(("io/", "debug/"))})
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(f["io/raws"]))  # raws as stored: the exposure gains are applied inside
    assert np.abs(out.numpy() - f["io/out"]).max() <= 1e-4  # README: float32 re-implementations, atol 1e-4
    with torch.no_grad():
        out64 = model.double()(torch.from_numpy(f["io/raws"]).double())
    assert np.abs(out64.numpy() - f["io/out_f64"]).max() <= 1e-9  # README: float64 re-runs, atol 1e-9


def test_frames_and_ratio_are_arguments_and_gradients_reach_every_parameter():
    model = TMRNet(mid_channels=8, num_frames=3, exposure_ratio=2.0, extract_blocks=1, shared_blocks=1,
                   frame_blocks=1, reconstruction_blocks=1)
    assert model.normalization_gains(3, torch.zeros(1)).flatten().tolist() == [2.0, 1.0, 0.5]
    with torch.no_grad():  # the published init zeroes these, which blocks gradients until the first step
        model.learn_para.fill_(0.1)
        model.dcn_alignment.conv_offset[-1].weight.normal_(0, 0.01)
    out = model(torch.rand(2, 3, 4, 16, 16))
    assert out.shape == (2, 4, 16, 16)
    out.abs().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing
    plus = MODELS["tmrnet_plus"](**MODELS.spec("tmrnet_plus").tiny)
    assert plus(torch.rand(1, 5, 4, 8, 8)).shape == (1, 4, 32, 32)
