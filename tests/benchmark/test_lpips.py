"""LPIPS (AlexNet, v0.1): weight loading and lookup, the network math against a naive recomputation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark import lpips
from benchmark.lpips import CHANNELS, LPIPS, load_lpips, lpips_distance, to_lpips_input
from benchmark.metrics import MetricUnavailableError, create_metric
from simulator.core.errors import DataError
from tests.conftest import REPO

# torchvision alexnet.features: (index, out, in, kernel)
CONVS = [(0, 64, 3, 11), (3, 192, 64, 5), (6, 384, 192, 3), (8, 256, 384, 3), (10, 256, 256, 3)]


def alexnet_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights with torchvision's keys and shapes (plus classifier keys, which must be ignored)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for index, out_ch, in_ch, k in CONVS:
        state[f"features.{index}.weight"] = torch.randn(out_ch, in_ch, k, k, generator=g) / (in_ch * k * k) ** 0.5
        state[f"features.{index}.bias"] = 0.1 * torch.randn(out_ch, generator=g)
    state["classifier.1.weight"] = torch.randn(8, 9216 // 1024, generator=g)
    return state


def heads_state(seed: int = 1) -> dict[str, torch.Tensor]:
    """LPIPS heads: non-negative, like the trained ones, keys of the lpips package's alex.pth."""
    g = torch.Generator().manual_seed(seed)
    return {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=g) / c for i, c in enumerate(CHANNELS)}


@pytest.fixture
def weight_files(tmp_path):
    alex, heads = tmp_path / "alexnet-owt-7be5be79.pth", tmp_path / "alex.pth"
    torch.save(alexnet_state(), alex)
    torch.save(heads_state(), heads)
    return alex, heads


@pytest.fixture
def no_weights_anywhere(tmp_path, monkeypatch):
    """Nothing to find: empty caches, no env vars, no lpips package, no downloads."""
    for var in ("BRACKETIRE_ALEXNET", "BRACKETIRE_LPIPS_ALEX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("BRACKETIRE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("BRACKETIRE_OFFLINE", "1")
    spec = dataclasses.replace(lpips.LPIPS_HEADS_WEIGHTS, package_file=("bracketire_no_such_package", "x.pth"))
    monkeypatch.setattr(lpips, "LPIPS_HEADS_WEIGHTS", spec)
    return tmp_path


def images(seed: int = 0, noise: float = 0.0, shape=(64, 80, 3)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(5000, 60000, shape[0] * shape[1]).reshape(shape[0], shape[1], 1)
    gt = np.clip(ramp + rng.normal(0, 3000, shape), 0, 65535).astype(np.uint16)
    out = np.clip(gt + rng.normal(0, noise, shape), 0, 65535).astype(np.uint16) if noise else gt.copy()
    return out, gt


def naive_lpips(x: torch.Tensor, y: torch.Tensor, net: dict, heads: dict) -> list[float]:
    """Per-layer LPIPS contributions in float64, written out from the paper's definition (no module code)."""
    shift = torch.tensor([-0.030, -0.088, -0.188], dtype=torch.float64).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450], dtype=torch.float64).view(1, 3, 1, 1)

    def features(z):
        z = (z.double() - shift) / scale
        taps = []
        for index, _, _, k in CONVS:
            if index in (3, 6):
                z = F.max_pool2d(z, 3, 2)
            stride, pad = (4, 2) if index == 0 else (1, k // 2)
            weight, bias = net[f"features.{index}.weight"].double(), net[f"features.{index}.bias"].double()
            z = F.relu(F.conv2d(z, weight, bias, stride, pad))
            taps.append(z)
        return taps

    contributions = []
    for i, (a, b) in enumerate(zip(features(x), features(y))):
        na = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        nb = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        w = heads[f"lin{i}.model.1.weight"].double().view(-1)
        contributions.append(float(torch.einsum("c,nchw->nhw", w, (na - nb) ** 2).mean()))
    return contributions


def test_loaded_weights_are_the_files_tensors(weight_files):
    model = load_lpips(*weight_files)
    net, heads = alexnet_state(), heads_state()
    for index, *_ in CONVS:
        assert torch.equal(model.net.features[index].weight, net[f"features.{index}.weight"])
        assert torch.equal(model.net.features[index].bias, net[f"features.{index}.bias"])
    for i in range(5):
        assert torch.equal(getattr(model, f"lin{i}"), heads[f"lin{i}.model.1.weight"])
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def test_distance_equals_naive_recomputation(weight_files):
    model = load_lpips(*weight_files)
    out, gt = images(noise=4000)
    x, y = to_lpips_input(out), to_lpips_input(gt)
    per_layer = naive_lpips(x, y, alexnet_state(), heads_state())
    assert all(c > 0 for c in per_layer)
    assert lpips_distance(out, gt, model) == pytest.approx(sum(per_layer), rel=1e-5)


def test_first_conv_feature_by_hand(weight_files):
    # one AlexNet activation computed with numpy: relu(sum(w * patch) + b) at output (c, i, j)
    model = load_lpips(*weight_files)
    out, _ = images(seed=2)
    x = to_lpips_input(out)
    scaled = ((x.double() - torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
              / torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)).numpy()[0]
    padded = np.pad(scaled, ((0, 0), (2, 2), (2, 2)))
    w, b = alexnet_state()["features.0.weight"].double().numpy(), alexnet_state()["features.0.bias"].double().numpy()
    taps = model.net((x - model.shift) / model.scale)
    positive = 0
    for c, i, j in ((0, 0, 0), (17, 5, 9), (63, 14, 18), (5, 7, 3), (40, 2, 11), (31, 9, 0), (50, 14, 1), (9, 3, 15)):
        patch = padded[:, 4 * i : 4 * i + 11, 4 * j : 4 * j + 11]
        by_hand = float((w[c] * patch).sum() + b[c])
        positive += by_hand > 0
        assert float(taps[0][0, c, i, j]) == pytest.approx(max(0.0, by_hand), abs=1e-4)
    assert positive >= 2  # the check covers the linear part, not only the ReLU's zeros
    assert [t.shape[1] for t in taps] == list(CHANNELS)


def test_identical_is_zero_symmetric_and_grows_with_noise(weight_files):
    model = load_lpips(*weight_files)
    _, gt = images()
    assert lpips_distance(gt, gt.copy(), model) == 0.0
    small, large = images(noise=500)[0], images(noise=8000)[0]
    d_small, d_large = lpips_distance(small, gt, model), lpips_distance(large, gt, model)
    assert 0 < d_small < d_large
    assert lpips_distance(gt, large, model) == pytest.approx(d_large, rel=1e-6)


def test_input_scaling_is_the_published_one():
    image = np.array([[[0, 32767, 65535]]], np.uint16).repeat(2, 0)
    x = to_lpips_input(image)
    assert x.dtype == torch.float32 and x.shape == (1, 3, 2, 1)
    np.testing.assert_allclose(x[0, :, 0, 0].numpy(), [-1.0, 32767 / 32767.5 - 1, 1.0], rtol=0, atol=1e-7)


def test_create_metric_finds_files_through_env_vars(weight_files, no_weights_anywhere, monkeypatch):
    monkeypatch.setenv("BRACKETIRE_ALEXNET", str(weight_files[0]))
    monkeypatch.setenv("BRACKETIRE_LPIPS_ALEX", str(weight_files[1]))
    metric = create_metric("lpips")
    assert (metric.name, metric.kind, metric.lower_better) == ("lpips", "FR", True)
    out, gt = images(noise=2000)
    assert metric(out, gt) == pytest.approx(lpips_distance(out, gt, load_lpips(*weight_files)), rel=1e-6)


def test_alexnet_is_found_in_torch_hub_cache(weight_files, no_weights_anywhere, monkeypatch):
    hub = no_weights_anywhere / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "alexnet-owt-7be5be79.pth").write_bytes(weight_files[0].read_bytes())
    monkeypatch.setenv("BRACKETIRE_LPIPS_ALEX", str(weight_files[1]))
    assert isinstance(load_lpips(), LPIPS)


def test_missing_weights_are_one_short_line_naming_both_files_and_variables(no_weights_anywhere):
    with pytest.raises(MetricUnavailableError) as caught:
        create_metric("lpips")
    message = str(caught.value)
    assert message == ("LPIPS needs 2 weight files: alexnet-owt-7be5be79.pth ($BRACKETIRE_ALEXNET): missing; "
                       "lpips weights/v0.1/alex.pth ($BRACKETIRE_LPIPS_ALEX): missing (README: LPIPS weights)")
    assert "\n" not in message and len(message) < 200  # it was a 1,377-character line
    readme = (REPO / "README.md").read_text()
    assert "**LPIPS weights**" in readme and "pip install --no-deps lpips" in readme  # never swaps the CPU torch


def test_one_missing_file_is_named_and_the_other_reported_found(weight_files, no_weights_anywhere, monkeypatch):
    monkeypatch.setenv("BRACKETIRE_ALEXNET", str(weight_files[0]))
    expected = r"alexnet-owt-7be5be79\.pth \(\$BRACKETIRE_ALEXNET\): found at .*alex\.pth \(\$BRACKETIRE_LPIPS_ALEX\): missing"
    with pytest.raises(MetricUnavailableError, match=expected):
        load_lpips()
    with pytest.raises(MetricUnavailableError, match="weight file not found"):
        load_lpips(heads=no_weights_anywhere / "typo.pth")  # an explicit path never falls back


def test_wrong_files_raise_data_error_naming_file_and_key(tmp_path, weight_files):
    alex, heads = weight_files
    with pytest.raises(DataError, match=r"alex\.pth: key 'features\.0\.weight' missing"):
        load_lpips(heads, heads)  # heads file given as AlexNet
    bad = heads_state()
    bad["lin2.model.1.weight"] = torch.zeros(1, 256, 1, 1)
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(DataError, match=r"'lin2\.model\.1\.weight' has shape \(1, 256, 1, 1\); expected \(1, 384, 1, 1\)"):
        load_lpips(alex, tmp_path / "bad.pth")
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(DataError, match="weights_only=True"):
        load_lpips(tmp_path / "text.pth", heads)


def test_too_small_or_mismatched_images(weight_files):
    model = load_lpips(*weight_files)
    tiny = np.zeros((20, 64, 3), np.uint16)
    with pytest.raises(DataError, match="at least 31x31"):
        lpips_distance(tiny, tiny, model)
    with pytest.raises(DataError, match="expected the ground truth's shape"):
        lpips_distance(np.zeros((40, 40, 3), np.uint16), np.zeros((40, 41, 3), np.uint16), model)
