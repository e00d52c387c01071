import numpy as np
import pytest
import torch

from models import build_model, list_models, model_spec, parameter_count
from models.checkpoints import load_checkpoint, read_state_dict
from simulator.core.errors import DataError, UnknownNameError

TINY = dict(model_spec("tmrnet").tiny)


def test_registry_builds_by_name_with_arguments():
    assert list_models()[:4] == ["tmrnet", "tmrnet_plus", "reference", "merge"] and "rbsr" in list_models()
    model = build_model("tmrnet", **TINY)
    assert model.scale == 1 and build_model("tmrnet_plus", **TINY).scale == 4
    assert parameter_count(build_model("tmrnet")) == 13_285_704
    with pytest.raises(UnknownNameError, match="did you mean 'tmrnet'"):
        build_model("tmrnett")


def test_published_checkpoint_form_loads_and_matches_the_fixture(shared, tmp_path):
    f = np.load(shared / "fixtures/official/networks/tmrnet_syn_forward.npz", allow_pickle=False)
    weights = {k: torch.from_numpy(f[k]) for k in f.files if not k.startswith(("io/", "debug/"))}
    path = tmp_path / "TMRNet_model_400.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in weights.items()}}, path)  # wrapped, DataParallel keys
    model = load_checkpoint(build_model("tmrnet"), path).eval()
    with torch.no_grad():
        out = model(torch.from_numpy(f["io/raws"]))
    assert np.abs(out.numpy() - f["io/out"]).max() <= 1e-4


def test_mismatches_are_reported_by_name(tmp_path):
    model = build_model("tmrnet", **TINY)
    state = model.state_dict()
    state.pop("conv_last.bias")
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(DataError, match=r"bad.pth: does not fit TMRNet: missing conv_last.bias; unexpected extra.weight"):
        load_checkpoint(build_model("tmrnet", **TINY), path)
    load_checkpoint(build_model("tmrnet", **TINY), path, strict=False)  # loads what fits
    wide = tmp_path / "wide.pth"
    torch.save(build_model("tmrnet", **{**TINY, "mid_channels": 16}).state_dict(), wide)
    with pytest.raises(DataError, match="shape mismatch"):
        load_checkpoint(build_model("tmrnet", **TINY), wide)
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(DataError, match="junk.pth: not a PyTorch checkpoint"):
        read_state_dict(tmp_path / "junk.pth")
    with pytest.raises(DataError, match="nope.pth: checkpoint not found"):
        read_state_dict(tmp_path / "nope.pth")
