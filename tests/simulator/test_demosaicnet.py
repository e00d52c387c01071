import hashlib

import numpy as np
import pytest
import torch

from simulator.bayer import unpack
from simulator.camera import CameraMeta
from simulator.core.errors import DataError, WeightsNotFoundError
from simulator.core.weights import WeightSpec, resolve_weights
from simulator.demosaic.demosaicnet import (
    DEMOSAICNET_WEIGHTS,
    BayerDemosaicNet,
    _rggb_to_grbg_input,
    demosaic_demosaicnet,
    load_demosaicnet,
)
from simulator.isp import apply_gains, process
from tests.helpers import max_abs, to_chw, to_hwc


@pytest.fixture(scope="module")
def weights_path(official):
    return official("demosaicnet_bayer.bin")


def test_network_matches_reference_fixture(official, weights_path):
    f = official("demosaicnet.npz")  # bayer_in 1e-6, net_rgb 1e-5, net_lin 2e-5, net_srgb 5e-5
    meta = CameraMeta.from_arrays(f)
    raw = to_chw(f["raw"])
    bayer_in = unpack(apply_gains(raw, meta).clamp(0, 1)) ** (1 / 2.2)
    assert max_abs(bayer_in.numpy(), f["bayer_in"]) <= 1e-6
    net = load_demosaicnet(weights_path)
    net_rgb = net(_rggb_to_grbg_input(torch.from_numpy(f["bayer_in"])[None]))[..., 1:-1].clamp(0, 1)[0]
    assert max_abs(to_hwc(net_rgb), f["net_rgb"]) <= 1e-5
    assert max_abs(to_hwc(process(raw, meta, "demosaicnet", weights=weights_path)), f["net_lin"]) <= 2e-5
    srgb = process(raw, meta, "demosaicnet", srgb=True, weights=weights_path)
    assert max_abs(to_hwc(srgb), f["net_srgb"]) <= 5e-5


def test_published_file_has_the_documented_checksum(weights_path):
    digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    assert digest in DEMOSAICNET_WEIGHTS.sha256


def test_batched_demosaic_equals_per_image(weights_path):
    packed = torch.rand(2, 3, 4, 6, 8, generator=torch.Generator().manual_seed(0))
    together = demosaic_demosaicnet(packed, weights=weights_path)
    assert together.shape == (2, 3, 3, 12, 16)
    assert torch.allclose(together[1, 2], demosaic_demosaicnet(packed[1, 2], weights=weights_path), atol=1e-6)
    assert 0 <= together.min() and together.max() <= 1


def test_weights_found_through_environment_variable(monkeypatch, weights_path, tmp_path):
    monkeypatch.setenv("BRACKETIRE_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("BRACKETIRE_DEMOSAICNET", str(weights_path))
    assert resolve_weights(DEMOSAICNET_WEIGHTS) == weights_path
    monkeypatch.setenv("BRACKETIRE_DEMOSAICNET", str(tmp_path / "nope.bin"))
    with pytest.raises(WeightsNotFoundError, match=r"nope\.bin \(from \$BRACKETIRE_DEMOSAICNET\)"):
        resolve_weights(DEMOSAICNET_WEIGHTS)


def test_installed_demosaicnet_package_carries_the_same_weights(monkeypatch, weights_path, tmp_path):
    # demosaicnet is a dependency of the toolkit; only its data file is used, never its code
    monkeypatch.delenv("BRACKETIRE_DEMOSAICNET", raising=False)
    monkeypatch.setenv("BRACKETIRE_CACHE", str(tmp_path))
    found = resolve_weights(DEMOSAICNET_WEIGHTS, allow_download=False)
    assert found.name == "bayer.pth"
    ours, published = torch.load(found, weights_only=True), torch.load(weights_path, weights_only=True)
    assert ours.keys() == published.keys() and all(torch.equal(ours[k], published[k]) for k in ours)


def test_missing_explicit_file_says_how_to_get_it(tmp_path):
    with pytest.raises(WeightsNotFoundError) as info:
        load_demosaicnet(tmp_path / "model.bin")
    assert str(tmp_path / "model.bin") in str(info.value)
    assert "pip install demosaicnet" in str(info.value)


def test_nothing_found_offline_lists_where_it_looked(monkeypatch, tmp_path):
    spec = WeightSpec("Test net", "test.pth", "BRACKETIRE_TEST_WEIGHTS", how_to_get="Ask the authors.")
    monkeypatch.setenv("BRACKETIRE_CACHE", str(tmp_path))
    monkeypatch.setenv("BRACKETIRE_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError, match=r"\$BRACKETIRE_TEST_WEIGHTS.*test\.pth.*BRACKETIRE_OFFLINE.*Ask the authors"):
        resolve_weights(spec)


def test_download_is_checked_and_cached(monkeypatch, tmp_path):
    source = tmp_path / "remote.pth"
    torch.save(BayerDemosaicNet().state_dict(), source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    monkeypatch.setenv("BRACKETIRE_CACHE", str(cache))
    monkeypatch.delenv("BRACKETIRE_OFFLINE", raising=False)
    good = WeightSpec("Test net", "net.pth", "BRACKETIRE_TEST_WEIGHTS", (digest,), (source.as_uri(),))
    assert resolve_weights(good) == cache / "net.pth"
    assert (cache / "net.pth").read_bytes() == source.read_bytes()
    assert isinstance(load_demosaicnet(cache / "net.pth"), BayerDemosaicNet)

    bad = WeightSpec("Test net", "other.pth", "BRACKETIRE_TEST_WEIGHTS", ("0" * 64,), (source.as_uri(),))
    with pytest.raises(WeightsNotFoundError, match="SHA-256"):
        resolve_weights(bad)
    assert sorted(p.name for p in cache.iterdir()) == ["net.pth"]  # no partial or unchecked file left


def test_files_that_are_not_demosaicnet_weights_are_rejected(tmp_path):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="garbage.bin: not a PyTorch state dict"):
        load_demosaicnet(garbage)
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, other)
    with pytest.raises(DataError, match="other.pth: not the DemosaicNet Bayer weights"):
        load_demosaicnet(other)
    pickled = tmp_path / "pickled.pth"
    torch.save({"main_processor.pack_mosaic.weight": np.zeros(3, dtype=object)}, pickled)
    with pytest.raises(DataError, match=r"pickled.pth: holds non-tensor objects \(numpy\.[\w.]+\); refusing to load$"):
        load_demosaicnet(pickled)
