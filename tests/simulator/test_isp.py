import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from simulator.camera import CameraMeta, sample_camera
from simulator.color import apply_ccm, srgb_to_linear
from simulator.core.errors import DataError, UnknownNameError
from simulator.demosaic import demosaic
from simulator.isp import apply_gains, process, safe_invert_gains, unprocess
from tests.helpers import max_abs, to_chw, to_hwc


def test_unprocess_matches_reference_fixture(official):
    f = official("unprocess.npz")  # tolerance 1e-5 for float arrays
    meta = CameraMeta.from_arrays(f)
    image = to_chw(f["image"])
    assert max_abs(to_hwc(unprocess(image, meta)), f["out"]) <= 1e-5
    stage = safe_invert_gains(apply_ccm(srgb_to_linear(image), meta.rgb2cam), meta)
    assert max_abs(to_hwc(stage), f["stage_after_gains"]) <= 1e-5


def test_process_bilinear_matches_reference_fixture(official):
    f = official("process.npz")  # wb_clipped, demosaic_default: 1e-6; default_*: 1e-5
    meta = CameraMeta.from_arrays(f)
    raw = to_chw(f["raw"])
    balanced = apply_gains(raw, meta).clamp(0, 1)
    assert max_abs(to_hwc(balanced), f["wb_clipped"]) <= 1e-6
    assert max_abs(to_hwc(demosaic(balanced, "bilinear")), f["demosaic_default"]) <= 1e-6
    assert max_abs(to_hwc(process(raw, meta, "bilinear")), f["default_lin"]) <= 1e-5
    assert max_abs(to_hwc(process(raw, meta, "bilinear", srgb=True)), f["default_srgb"]) <= 1e-5


def test_process_menon2007_matches_reference_fixture(official):
    f = official("process.npz")  # menon2007_lin: 1e-5
    meta = CameraMeta.from_arrays(f)
    out = process(to_chw(f["raw"]), meta, "menon2007")
    assert out.dtype == torch.float32
    assert max_abs(to_hwc(out), f["menon2007_lin"]) <= 1e-5


def test_batched_equals_per_image_with_per_image_metadata(official):
    f = official("process.npz")
    raw = to_chw(f["raw"])
    metas = [sample_camera("bracketire", torch.Generator().manual_seed(s)) for s in range(3)]
    batch = torch.stack([raw * (1 + 0.1 * i) for i in range(3)])
    together = process(batch, CameraMeta.stack(metas))
    for i, meta in enumerate(metas):
        assert torch.allclose(together[i], process(batch[i], meta), atol=1e-6, rtol=0)
    rgb = together.clamp(0, 1)
    packed = unprocess(rgb, CameraMeta.stack(metas))
    assert torch.allclose(packed[2], unprocess(rgb[2], metas[2]), atol=1e-6, rtol=0)


@settings(max_examples=60, deadline=None)
@given(
    st.tuples(*[st.floats(0.05, 0.85) for _ in range(3)]),
    st.integers(0, 10_000),
    st.sampled_from(["bracketire", "brooks2019"]),
    st.sampled_from(["bilinear", "menon2007"]),
)
def test_process_inverts_unprocess_away_from_clipping(colour, seed, camera, demosaicer):
    meta = sample_camera(camera, torch.Generator().manual_seed(seed)).to(dtype=torch.float64)
    rgb = torch.tensor(colour, dtype=torch.float64)[:, None, None].expand(3, 8, 10).contiguous()
    raw = unprocess(rgb, meta)
    # clipped or in the highlight-protection range: not invertible by design
    assume(0 < raw.min() and raw.max() < 1 and rgb.mean() <= 0.9)
    back = process(raw, meta, demosaicer, srgb=True)
    assert torch.allclose(back, rgb, atol=1e-6, rtol=0)


def test_float64_and_float32_agree(official):
    f = official("unprocess.npz")
    meta = CameraMeta.from_arrays(f)
    image = to_chw(f["image"])
    single = unprocess(image, meta)
    double = unprocess(image.double(), meta.to(dtype=torch.float64))
    assert double.dtype == torch.float64
    assert max_abs(single.numpy(), double.numpy()) <= 1e-5


@pytest.mark.parametrize(
    "bad,message",
    [
        (torch.zeros(3, 7, 8), "even height and width"),
        (torch.zeros(4, 8, 8), r"expected shape \[\.\.\., 3, H, W\], got \(4, 8, 8\)"),
        (torch.zeros(8, 8), r"expected shape \[\.\.\., 3, H, W\], got \(8, 8\)"),
        (torch.zeros(3, 8, 8, dtype=torch.int32), "floating-point"),
        (torch.full((3, 8, 8), float("nan")), "NaN or infinite"),
        (np.zeros((3, 8, 8), np.float32), "expected a torch.Tensor, got ndarray"),
    ],
)
def test_unprocess_rejects_bad_input(bad, message):
    meta = sample_camera("bracketire", torch.Generator().manual_seed(0))
    with pytest.raises(DataError, match=message) as info:
        unprocess(bad, meta)
    assert str(info.value).startswith("rgb: ")


def test_process_rejects_bad_input_and_unknown_demosaicer():
    meta = sample_camera("bracketire", torch.Generator().manual_seed(0))
    with pytest.raises(DataError, match=r"^packed: expected shape \[\.\.\., 4, H, W\]"):
        process(torch.zeros(3, 4, 4), meta)
    with pytest.raises(DataError, match=r"^packed: 1 value\(s\) are NaN or infinite"):
        process(torch.zeros(4, 4, 4).index_put_((torch.tensor([0]),) * 3, torch.tensor(float("inf"))), meta)
    with pytest.raises(UnknownNameError, match="no demosaicer named 'menon'; did you mean 'menon2007'"):
        process(torch.zeros(4, 4, 4), meta, "menon")
