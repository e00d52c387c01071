"""The published real-world path against ../shared/fixtures/official/real (README there: stages and tolerances).

The fixtures come from the published code on two DNG brackets: ``scene_a_grbg`` (GRBG, the published packing's
native layout) and ``scene_b_rggb`` (RGGB, orientation 6, four black values). Our reader packs by CFA into
R, Gr, Gb, B; the published reader packs by position, which for RGGB gives Gr, R, B, Gb: ``_PUBLISHED_ORDER``
maps between them.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip("rawpy")

from simulator.real import detect_raw_layout, exposure_scales, iter_raw_brackets, render_real  # noqa: E402
from simulator.real.render import (  # noqa: E402
    apply_gamma,
    apply_tone_curve,
    fix_orientation,
    normalize_mosaic,
    render_stages,
    xyz_to_srgb,
)

SCENES = ("scene_a_grbg", "scene_b_rggb")
_PUBLISHED_ORDER = {"scene_a_grbg": [0, 1, 2, 3], "scene_b_rggb": [1, 0, 3, 2]}  # our channel c = published [c]
FLOAT_STAGES = ("stage_white_balance", "stage_demosaic", "stage_xyz", "stage_srgb")


@pytest.fixture(scope="module")
def brackets(official):
    root = official("real/dataset")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fixture DNGs have the published levels: no warning expected
        return {b.name: b for b in iter_raw_brackets(root)}


def _published_to_ours(packed: np.ndarray, scene: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(packed[..., _PUBLISHED_ORDER[scene], :, :]))


def test_real_layout_detected_and_scenes_sorted(official, brackets):
    assert detect_raw_layout(official("real/dataset")) == "real"
    read = official("real/read.npz")
    assert list(brackets) == list(SCENES)
    for scene, bracket in brackets.items():
        assert [p.name for p in bracket.files] == read[f"{scene}__file_names"].tolist()
    split, scene = official("real/dataset/Test"), official("real/dataset/Test/scene_b_rggb")
    assert detect_raw_layout(split) == detect_raw_layout(scene) == "real"
    assert [b.name for b in iter_raw_brackets(split)] == list(SCENES)
    (one,) = iter_raw_brackets(scene)
    assert torch.equal(one.raws, brackets["scene_b_rggb"].raws)


@pytest.mark.parametrize("scene", SCENES)
def test_reading_matches_read_fixture_exactly(official, brackets, scene):
    """read.npz: raws bit-identical (after the channel order), exposure scales e[2]/e bit-identical in float32."""
    read, bracket = official("real/read.npz"), brackets[scene]
    assert torch.equal(bracket.raws, _published_to_ours(read[f"{scene}__raws"], scene))
    assert bracket.raws.dtype == torch.float32 and bracket.exposures[0] == 1.0
    exposures = np.asarray(bracket.exposures)
    assert np.array_equal((exposures / exposures[0]).astype(np.float32),
                          read[f"{scene}__exposure_txt"] / read[f"{scene}__exposure_txt"][0])
    scales = exposure_scales(bracket.exposures)
    assert np.array_equal(scales.numpy(), read[f"{scene}__expos"])
    scaled = bracket.raws * scales[:, None, None, None]
    assert torch.equal(scaled, _published_to_ours(read[f"{scene}__raws_scaled"], scene))
    assert torch.equal(scaled[0].clamp_min(0), _published_to_ours(read[f"{scene}__data_in"], scene))


@pytest.mark.parametrize("scene", SCENES)
@pytest.mark.parametrize("fixture", ["render_modelout.npz", "render_frame2.npz"])
def test_render_stages_match_fixture(official, brackets, scene, fixture):
    """Every stage within the README's tolerances with a float64 DemosaicNet (atol 2e-6; mu 1e-6)."""
    ref, bracket = official(f"real/{fixture}"), brackets[scene]
    raw = (_published_to_ours(official("real/read.npz")[f"{scene}__data_out"], scene) if "modelout" in fixture
           else bracket.raws[2] * 16)  # frame 2 as it is: the renderer divides by 16
    stages = render_stages(raw, bracket.render_info, net_dtype=torch.float64)
    assert torch.equal(stages["isp_in"], torch.from_numpy(ref[f"{scene}__isp_in"]))
    for name in FLOAT_STAGES:
        np.testing.assert_allclose(stages[name].numpy(), ref[f"{scene}__{name}"], atol=2e-6, rtol=0, err_msg=name)
    np.testing.assert_allclose(stages["mu"].numpy(), ref[f"{scene}__mu"], atol=1e-6, rtol=0)


@pytest.mark.parametrize("scene", SCENES)
def test_render_real_png_matches_published_png(official, brackets, scene):
    """render_modelout.npz final_rgb_u16 and png/output_real_vispng: |d| <= 1 LSB on <= 1 % of pixels (float32 net)."""
    ref = official("real/render_modelout.npz")
    bracket = brackets[scene]
    raw = _published_to_ours(official("real/read.npz")[f"{scene}__data_out"], scene)
    png16, preview = render_real(raw, bracket.render_info)
    expected = ref[f"{scene}__final_rgb_u16"]
    on_disk = cv2.imread(str(official(f"real/png/output_real_vispng/{scene}.png")), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert np.array_equal(on_disk, expected)
    assert png16.dtype == np.uint16 and png16.shape == expected.shape
    diff = np.abs(png16.astype(np.int64) - expected)
    assert diff.max() <= 1 and (diff > 0).mean() <= 0.01
    assert preview.dtype == np.uint8 and preview.shape == expected.shape


@pytest.mark.parametrize("scene", SCENES)
def test_raw_input_stage_matches_dngraw_fixture(official, brackets, scene):
    """dngraw.npz: frame2.dng through raw -> normal (f32 for one black value, f64 for four)."""
    ref = official("real/dngraw.npz")[f"{scene}__frame2_normal"]
    mosaic = torch.from_numpy(official("real/read.npz")[f"{scene}__raw_mosaic"][2].astype(np.int32))
    black = (64,) if scene == "scene_a_grbg" else (64, 64, 64, 64)
    normal = normalize_mosaic(mosaic, black, 1023)
    assert normal.numpy().dtype == ref.dtype
    np.testing.assert_allclose(normal.numpy(), ref, atol=3e-8, rtol=0)


def test_orientation_gamma_and_tone_match_aux_fixture(official):
    aux = official("real/aux.npz")
    image = torch.from_numpy(aux["aux__orient_in"])
    for code in range(9):
        assert torch.equal(fix_orientation(image, code), torch.from_numpy(aux[f"aux__orient_{code}"])), code
    assert torch.equal(fix_orientation(image, [6]), torch.from_numpy(aux["aux__orient_list6"]))
    x = torch.from_numpy(aux["aux__tone_x"])
    np.testing.assert_allclose(apply_gamma(x).numpy(), aux["aux__gamma_y"], atol=1e-15, rtol=0)
    assert np.array_equal(apply_tone_curve(x, aux["aux__tone_curve_tc"]).numpy(), aux["aux__tone_y"])


def test_srgb_stage_maps_white_to_white():
    white = torch.ones(2, 2, 3, dtype=torch.float64)
    assert torch.allclose(xyz_to_srgb(white), white, atol=1e-12)


def test_tiled_demosaic_equals_whole_image():
    """Tiles with TILE_MARGIN context give the whole-image DemosaicNet output (up to float rounding).

    RGGB is padded to 64 x 98 before tiling; tile 48 leaves interior tile edges in both directions.
    """
    from simulator.real.render import demosaic_net_rgb

    bayer = torch.rand(64, 96, generator=torch.Generator().manual_seed(3))
    whole = demosaic_net_rgb(bayer, "RGGB")
    tiled = demosaic_net_rgb(bayer, "RGGB", tile=48)
    assert tiled.shape == whole.shape == (64, 96, 3)
    assert torch.allclose(tiled, whole, atol=2e-6, rtol=0)


def test_preview_is_monotone_and_spans_black_to_white():
    from simulator.real.render import preview_srgb

    linear = torch.linspace(0, 1, 4097, dtype=torch.float64)
    view = preview_srgb(linear, 16.0).to(torch.int64)
    assert view[0] == 0 and view[-1] == 255 and torch.all(view[1:] >= view[:-1])
    # the reference exposure's white (1/16 here) lands in the upper mid-tones, not clipped and not dark
    assert 150 < int(preview_srgb(torch.tensor(1 / 16), 16.0)) < 220
