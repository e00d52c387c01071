"""PSNR / SSIM against the official numbers, scikit-image and numpy; the metric registry; the pyiqa wrappers."""

from __future__ import annotations

import json
import math
import os
import sys
import types

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import structural_similarity

from benchmark import metrics
from benchmark.metrics import (
    Metric,
    MetricUnavailableError,
    create_metric,
    metric_names,
    psnr,
    ssim,
    tile_average,
    tile_bounds,
)
from simulator.core.errors import BracketIREError, DataError, UnknownNameError

CROPS = {"crop0": 0, "crop10": 10, "crop16": 16}


def crop(image: np.ndarray, pixels: int) -> np.ndarray:
    return image[pixels:-pixels, pixels:-pixels] if pixels else image


def skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """The call of the published syn_metrics.py."""
    return structural_similarity(a, b, win_size=11, data_range=65535.0, channel_axis=2, gaussian_weights=True)


def noisy_pair(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> tuple[np.ndarray, np.ndarray]:
    gt = rng.integers(0, 65536, shape, dtype=np.uint16)
    out = np.clip(gt + rng.normal(0, sigma, shape).round(), 0, 65535).astype(np.uint16)
    return out, gt


@pytest.mark.parametrize("crop_name", sorted(CROPS))
def test_psnr_and_ssim_match_official_fixture(official, crop_name):
    # metrics.npz / metrics.json: syn_metrics.py values; README tolerances PSNR 1e-4 dB, SSIM 1e-6
    images = official("metrics.npz")
    expected = json.loads(official("metrics.json").read_text())["pairs"]
    assert len(expected) == 6
    pixels = CROPS[crop_name]
    gt = crop(images["gt"], pixels)
    for pair, values in expected.items():
        out = crop(images[f"out_{pair}"], pixels)
        reference = values[crop_name]
        if reference["psnr"] is None:  # the official code raises on mse == 0; we return inf
            assert math.isinf(psnr(out, gt)) and np.array_equal(out, gt), pair
        else:
            assert abs(psnr(out, gt) - reference["psnr"]) <= 1e-4, pair
        assert abs(ssim(out, gt) - reference["ssim"]) <= 1e-6, pair


def test_metrics_fixture_argument_order_is_output_then_gt(official):
    # metrics.json: calc_metrics(output, gt); SSIM and PSNR are symmetric, so check our order is irrelevant
    images = official("metrics.npz")
    out, gt = images["out_noisy_sigma3000"], images["gt"]
    assert "output first" in json.loads(official("metrics.json").read_text())["argument_order"]
    assert ssim(out, gt) == pytest.approx(ssim(gt, out), abs=1e-14)
    assert psnr(out, gt) == pytest.approx(psnr(gt, out), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(11, 60),
    width=st.integers(11, 60),
    sigma=st.sampled_from([0.0, 30.0, 3000.0, 40000.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_ssim_equals_skimage_on_random_sizes(height, width, sigma, seed):
    # independent cross-check: scikit-image's structural_similarity, the official implementation
    out, gt = noisy_pair(np.random.default_rng(seed), (height, width, 3), sigma)
    assert abs(ssim(out, gt) - skimage_ssim(out, gt)) <= 1e-9


@settings(max_examples=20, deadline=None)
@given(band_rows=st.integers(1, 40), threads=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))
def test_ssim_does_not_depend_on_how_the_rows_are_split_into_bands(band_rows, threads, seed):
    # each band reloads its own 10 rows of context: any split, on any number of threads, gives skimage's value
    out, gt = noisy_pair(np.random.default_rng(seed), (57, 43, 3), 2000.0)
    total = metrics.ssim_sum(out.reshape(57, -1), gt.reshape(57, -1), threads, band_rows)
    assert abs(total / (47 * 33 * 3) - skimage_ssim(out, gt)) <= 1e-9


@settings(max_examples=20, deadline=None)
@given(chunk=st.integers(1, 120), seed=st.integers(0, 2**31 - 1))
def test_ssim_does_not_depend_on_the_kernel_s_column_strips(chunk, seed):
    # the kernel walks the interior in strips of `chunk` values (with 30 values of context): any width agrees
    out, gt = noisy_pair(np.random.default_rng(seed), (30, 43, 3), 2000.0)
    total = metrics.ssim_sum(out.reshape(30, -1), gt.reshape(30, -1), threads=1, chunk=chunk)
    assert abs(total / (20 * 33 * 3) - skimage_ssim(out, gt)) <= 1e-9


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 70),
    width=st.integers(1, 70),
    sigma=st.sampled_from([1.0, 300.0, 30000.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_psnr_equals_float64_formula(height, width, sigma, seed):
    out, gt = noisy_pair(np.random.default_rng(seed), (height, width, 3), sigma)
    mse = np.mean((out.astype(np.float64) - gt.astype(np.float64)) ** 2) / 65535.0**2
    expected = math.inf if mse == 0 else -10 * math.log10(mse)
    assert psnr(out, gt) == pytest.approx(expected, abs=1e-5)


def test_psnr_equals_the_official_float32_numpy_code_on_a_large_image():
    out, gt = noisy_pair(np.random.default_rng(3), (300, 700, 3), 500.0)  # several chunks of the float32 sum
    diff = (out.astype(np.float32) - gt.astype(np.float32)) / 65535.0     # syn_metrics.calc_psnr_np
    official_value = -10 * math.log10(np.power(diff, 2).mean())
    assert abs(psnr(out, gt) - official_value) <= 1e-6


def test_identical_images_give_inf_psnr_and_unit_ssim():
    image = np.random.default_rng(0).integers(0, 65536, (40, 50, 3), dtype=np.uint16)
    assert psnr(image, image.copy()) == math.inf
    assert ssim(image, image.copy()) == pytest.approx(1.0, abs=1e-12)
    flat = np.full((20, 20, 3), 1234, np.uint16)
    assert ssim(flat, flat) == pytest.approx(1.0, abs=1e-12)


def test_known_values():
    gt = np.zeros((16, 16, 3), np.uint16)
    out = np.full((16, 16, 3), 65535, np.uint16)
    assert psnr(out, gt) == pytest.approx(0.0, abs=1e-12)  # mse = 1
    assert psnr(np.full_like(out, 6554), gt) == pytest.approx(-20 * math.log10(6554 / 65535), abs=1e-5)
    # constant images: S = C1 / (mu_x^2 + C1) with mu_y = 0 (structure term 1)
    c1 = (0.01 * 65535) ** 2
    assert ssim(out, gt) == pytest.approx(c1 / (65535.0**2 + c1), rel=1e-9)


def test_registry_names_kinds_and_directions():
    assert metric_names() == ["psnr", "ssim", "lpips", "clipiqa", "maniqa"]
    kinds = {name: (metrics.METRIC_SPECS[name].kind, metrics.METRIC_SPECS[name].lower_better) for name in metric_names()}
    assert kinds == {"psnr": ("FR", False), "ssim": ("FR", False), "lpips": ("FR", True),
                     "clipiqa": ("NR", False), "maniqa": ("NR", False)}
    assert sorted(metrics.METRICS.names()) == sorted(metric_names())
    assert metrics.METRICS.summary("ssim").startswith("SSIM")


def test_create_metric_returns_named_callables():
    out, gt = noisy_pair(np.random.default_rng(1), (30, 40, 3), 1000.0)
    for name, fn in (("psnr", psnr), ("ssim", ssim)):
        metric = create_metric(name)
        assert isinstance(metric, Metric)
        assert (metric.name, metric.kind, metric.lower_better) == (name, "FR", False)
        assert metric(out, gt) == fn(out, gt)
        assert name in repr(metric)


def test_unknown_metric_and_option_names():
    with pytest.raises(UnknownNameError, match="did you mean 'ssim'"):
        create_metric("ssmi")
    with pytest.raises(UnknownNameError, match="no metric named 'niqe'.*available: psnr, ssim, lpips"):
        create_metric("niqe")
    with pytest.raises(UnknownNameError, match="option of metric 'psnr'"):
        create_metric("psnr", data_range=255)


@pytest.mark.parametrize(
    "out, gt, message",
    [
        (np.zeros((20, 20, 3), np.uint16), np.zeros((20, 21, 3), np.uint16), r"expected the ground truth's shape \(20, 21, 3\)"),
        (np.zeros((20, 20, 3), np.uint8), np.zeros((20, 20, 3), np.uint16), "output: expected dtype uint16"),
        (np.zeros((20, 20, 3), np.uint16), np.zeros((20, 20, 3), np.float32), "gt: expected dtype uint16"),
        (np.zeros((20, 20, 4), np.uint16), np.zeros((20, 20, 4), np.uint16), r"expected shape \(H, W, 3\)"),
        (np.zeros((20, 20), np.uint16), np.zeros((20, 20), np.uint16), r"expected shape \(H, W, 3\)"),
        (torch.zeros(20, 20, 3), np.zeros((20, 20, 3), np.uint16), "expected a numpy uint16"),
    ],
)
def test_bad_images_raise_data_error(out, gt, message):
    for fn in (psnr, ssim, create_metric("ssim")):
        with pytest.raises(DataError, match=message):
            fn(out, gt)


def test_ssim_needs_its_window_and_fr_metrics_need_gt():
    small = np.zeros((10, 30, 3), np.uint16)
    with pytest.raises(DataError, match="at least 11x11"):
        ssim(small, small)
    assert math.isinf(psnr(small, small))  # PSNR has no minimum size
    with pytest.raises(DataError, match=r"metric\(output, gt\)"):
        create_metric("psnr")(small)


@pytest.mark.parametrize("name", ["maniqa", "clipiqa"])
def test_nr_metric_without_pyiqa_is_unavailable_with_install_hint(monkeypatch, name):
    monkeypatch.setitem(sys.modules, "pyiqa", None)  # import fails even where pyiqa is installed
    with pytest.raises(MetricUnavailableError, match=r"pip install '\.\[iqa\]'") as caught:
        create_metric(name)
    assert name in str(caught.value) and "pyiqa" in str(caught.value)
    assert isinstance(caught.value, BracketIREError)


def test_tile_bounds_cover_the_side_like_the_real_data_script():
    # real_metrics.py: tar_img[0:H//4], [H//4:H//2], [H//2:3*H//4], [3*H//4:H]
    assert tile_bounds(10) == [(0, 2), (2, 5), (5, 7), (7, 10)]
    assert tile_bounds(1080) == [(0, 270), (270, 540), (540, 810), (810, 1080)]


def test_tile_average_scores_each_of_the_16_tiles_once():
    height, width = 10, 13
    image = np.zeros((height, width, 3), np.uint16)
    for i, (top, bottom) in enumerate(tile_bounds(height)):
        for j, (left, right) in enumerate(tile_bounds(width)):
            image[top:bottom, left:right] = 4 * i + j  # tile index as its value
    seen = []

    def fake_score(tile: np.ndarray) -> float:
        assert tile.flags.c_contiguous and tile.dtype == np.uint16
        assert len(np.unique(tile)) == 1  # exactly one tile, nothing of its neighbours
        seen.append((int(tile[0, 0, 0]), tile.shape[:2]))
        return float(tile[0, 0, 0]) ** 2

    assert tile_average(image, fake_score) == pytest.approx(sum(k * k for k in range(16)) / 16)
    assert [index for index, _ in seen] == list(range(16))  # row by row
    assert seen[0][1] == (2, 3) and seen[-1][1] == (3, 4)
    assert tile_average(image, lambda tile: float(tile.size), grid=1) == height * width * 3  # whole image
    with pytest.raises(DataError, match="4x4 tiles"):
        tile_average(np.zeros((3, 8, 3), np.uint16), fake_score)


def test_nr_metric_through_a_fake_pyiqa(monkeypatch):
    calls = []

    def create(name, device, as_loss):
        assert name == "maniqa" and not as_loss

        def net(x: torch.Tensor) -> torch.Tensor:
            calls.append(tuple(x.shape))
            assert x.dtype == torch.float32 and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
            return x.mean().reshape(1) + torch.rand(1) * 0  # uses the (seeded, forked) RNG
        return net

    monkeypatch.setitem(sys.modules, "pyiqa", types.SimpleNamespace(create_metric=create))
    metric = create_metric("maniqa", device="cpu")
    assert (metric.kind, metric.lower_better) == ("NR", False)
    image = np.random.default_rng(0).integers(0, 65536, (40, 48, 3), dtype=np.uint16)
    state = torch.random.get_rng_state()
    value = metric(image)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG is untouched
    assert calls == [(1, 3, 10, 12)] * 16
    expected = np.mean([image[r0:r1, c0:c1].astype(np.float32).mean() / 65535 for r0, r1 in tile_bounds(40)
                        for c0, c1 in tile_bounds(48)])
    assert value == pytest.approx(expected, rel=1e-6)
    with pytest.raises(DataError, match="no-reference"):
        metric(image, image)


def test_strided_views_as_cv2_returns_them_are_accepted():
    # syn_metrics.py reads with cv2.imread(...)[..., ::-1]: negative strides, not contiguous
    out, gt = noisy_pair(np.random.default_rng(5), (30, 33, 3), 2000.0)
    out_view, gt_view = out[..., ::-1], gt[..., ::-1]
    assert not out_view.flags.c_contiguous
    assert ssim(out_view, gt_view) == pytest.approx(skimage_ssim(out_view, gt_view), abs=1e-12)
    assert psnr(out_view, gt_view) == psnr(out, gt)


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_ssim_in_bands_on_threads_equals_skimage(threads):
    # 300 rows: 4 bands of at least 64 output rows, each reloading its 10 rows of overlap; any thread count
    out, gt = noisy_pair(np.random.default_rng(threads), (300, 37, 3), 2500.0)
    assert abs(ssim(out, gt, threads=threads) - skimage_ssim(out, gt)) <= 1e-9


def test_metric_thread_budget_is_per_thread_and_the_scoring_pool_shares_the_cores():
    import threading

    from benchmark import scoring

    seen: dict[str, int] = {}

    def in_pool_thread() -> None:
        scoring._limit_threads(1)
        seen["budget"], seen["torch"] = metrics.metric_threads(), torch.get_num_threads()

    torch_before = torch.get_num_threads()
    worker = threading.Thread(target=in_pool_thread)
    worker.start()
    worker.join()
    assert seen == {"budget": 1, "torch": 1}
    assert metrics.metric_threads() == max(1, os.cpu_count() or 1)  # the caller's own budget is untouched
    assert torch.get_num_threads() == torch_before
