"""Camera RAW/DNG brackets written by tests/dng.py: read back exactly, grouped, ordered, checked."""

from __future__ import annotations

import sys
from fractions import Fraction

import numpy as np
import pytest
import torch

pytest.importorskip("rawpy")

from simulator.core.errors import ConfigError, DataError, MissingDependencyError  # noqa: E402
from simulator.isp import apply_gains  # noqa: E402
from simulator.real import detect_raw_layout, iter_raw_brackets, render_real  # noqa: E402
from tests.dng import CFA_CODES, CM1, CM2, bracket_mosaics, write_bracket, write_dng  # noqa: E402

# (row, column) of R, Gr, Gb, B in the 2x2 tile, written out independently of simulator.bayer.
SITES = {"RGGB": [(0, 0), (0, 1), (1, 0), (1, 1)], "GRBG": [(0, 1), (0, 0), (1, 1), (1, 0)],
         "GBRG": [(1, 0), (1, 1), (0, 0), (0, 1)], "BGGR": [(1, 1), (1, 0), (0, 1), (0, 0)]}
TIMES = (Fraction(1, 400), Fraction(1, 100), Fraction(1, 25))


@pytest.mark.parametrize("cfa", sorted(CFA_CODES))
def test_dng_bracket_reads_back_exactly(tmp_path, cfa):
    black = (60, 61, 62, 63)  # per 2x2 position (0,0), (0,1), (1,0), (1,1)
    paths = write_bracket(tmp_path, cfa=cfa, times=TIMES, isos=(100, 100, 200), black=black, white=1000,
                          neutral=(0.5, 1.0, 0.625), orientation=6)
    assert detect_raw_layout(tmp_path) == "camera"
    (bracket,) = iter_raw_brackets(tmp_path)
    assert bracket.files == tuple(paths) and bracket.name == paths[0].stem
    assert bracket.exposures == (1.0, 4.0, 32.0)  # 1/25 s at ISO 200 is 32x 1/400 s at ISO 100
    _, frames = bracket_mosaics(cfa=cfa, ratios=(1, 4, 32))  # the DN write_bracket wrote
    expected = np.stack([[(f[r::2, c::2].astype(np.float32) - np.float32(black[2 * r + c]))
                          / np.float32(1000 - black[2 * r + c]) for r, c in SITES[cfa]] for f in frames])
    assert bracket.raws.dtype == torch.float32 and bracket.raws.shape == (3, 4, 16, 24)
    assert np.array_equal(bracket.raws.numpy(), np.clip(expected, 0, 1))
    info = bracket.render_info
    assert info.cfa == cfa and info.cfa_pattern == CFA_CODES[cfa] and info.orientation == 6
    assert info.as_shot_neutral == (0.5, 1.0, 0.625) and info.white_level == 1000
    assert info.black_level == tuple(float(black[2 * r + c]) for r, c in SITES[cfa])
    assert info.color_matrix_1 == tuple(v for row in CM1 for v in row)  # rationals read back exactly
    assert info.color_matrix_2 == tuple(v for row in CM2 for v in row)
    assert info.calibration_illuminants == (17, 21)
    assert info.output_scale == 32.0  # frame 2 / frame 0
    meta = bracket.meta  # white balance of the toolkit's ISP divides by AsShotNeutral
    neutral = torch.tensor([0.5, 1.0, 1.0, 0.625]).reshape(4, 1, 1).expand(4, 2, 2)
    assert torch.allclose(apply_gains(neutral, meta), torch.ones(4, 2, 2), atol=1e-6)
    assert torch.allclose(meta.rgb2cam.sum(-1), torch.ones(3), atol=1e-6)
    assert torch.allclose(meta.rgb2cam @ meta.cam2rgb, torch.eye(3), atol=1e-5)


def test_brackets_grouped_by_pause_and_sorted_short_to_long(tmp_path):
    # Two brackets shot in the camera's AEB order (0, -2, +2 EV), ten seconds apart.
    order = (1, 0, 2)
    _, frames = bracket_mosaics(ratios=(1, 4, 16))
    for shot in range(2):
        for k, index in enumerate(order):
            write_dng(tmp_path / f"DSC{shot * 3 + k:04d}.dng", frames[index], exposure_time=TIMES[index],
                      captured=f"2024:05:01 10:00:{10 * shot + k:02d}.50")
    brackets = list(iter_raw_brackets(tmp_path))
    assert [b.name for b in brackets] == ["DSC0001", "DSC0004"]
    for shot, bracket in enumerate(brackets):
        assert [p.name for p in bracket.files] == [f"DSC{shot * 3 + k:04d}.dng" for k in (1, 0, 2)]
        assert bracket.exposures == (1.0, 4.0, 16.0)
        assert torch.all(bracket.raws[1].mean() > bracket.raws[0].mean())


def test_burst_without_pause_is_cut_by_its_distinct_exposures(tmp_path):
    _, frames = bracket_mosaics(ratios=(1, 4, 16))
    for k in range(6):
        write_dng(tmp_path / f"B{k}.dng", frames[k % 3], exposure_time=TIMES[k % 3], captured=f"2024:05:01 10:00:0{k}")
    assert [len(b.files) for b in iter_raw_brackets(tmp_path)] == [3, 3]
    assert [len(b.files) for b in iter_raw_brackets(tmp_path, group=3)] == [3, 3]


def test_forced_group_that_is_not_a_monotone_bracket_names_the_files(tmp_path):
    _, frames = bracket_mosaics(ratios=(1, 4, 16))
    for k in range(4):  # exposures 1, 4, 16, 1: group=2 gives (16, 1) fine, (1, 4) fine; group=4 repeats 1
        write_dng(tmp_path / f"F{k}.dng", frames[k % 3], exposure_time=TIMES[k % 3])
    with pytest.raises(DataError, match=r"F0\.dng .* F3\.dng|F3\.dng .* F0\.dng"):
        list(iter_raw_brackets(tmp_path, group=4))
    with pytest.raises(ConfigError, match="group=3"):
        list(iter_raw_brackets(tmp_path, group=3))


def test_real_layout_rejects_exposure_txt_of_wrong_length(tmp_path):
    scene = tmp_path / "Test" / "s1"
    write_bracket(scene, cfa="GRBG", times=TIMES)
    (scene / "exposure.txt").write_text("1\n4\n")
    assert detect_raw_layout(tmp_path) == "real"
    with pytest.raises(DataError, match=r"exposure\.txt.*expected one positive linear exposure per \.dng file \(3\)"):
        list(iter_raw_brackets(tmp_path))
    (scene / "exposure.txt").write_text("1\n4\n4\n")
    with pytest.raises(DataError, match="not strictly increasing"):
        list(iter_raw_brackets(tmp_path))
    (scene / "exposure.txt").write_text("0.0025\n0.01\n0.04\n")
    (bracket,) = iter_raw_brackets(tmp_path)
    assert bracket.name == "s1" and bracket.exposures == pytest.approx((1.0, 4.0, 16.0), rel=1e-7)
    assert bracket.render_info.output_scale == 16.0  # fixed, as in the published real test


def test_missing_rawpy_names_the_extra(tmp_path, monkeypatch):
    write_bracket(tmp_path, times=TIMES)
    monkeypatch.setitem(sys.modules, "rawpy", None)
    with pytest.raises(MissingDependencyError, match=r"bracketire-toolkit\[raw\]"):
        list(iter_raw_brackets(tmp_path))


@pytest.mark.parametrize("cfa", sorted(CFA_CODES))
def test_grey_flat_field_renders_grey_and_rotates(tmp_path, cfa):
    """A surface of the AsShotNeutral colour renders neutral in every CFA order; orientation 6 swaps H and W."""
    neutral = (0.5, 1.0, 0.625)
    mosaic = np.zeros((32, 48), np.uint16)  # LibRaw refuses images under 22 pixels a side
    for (r, c), value in zip(SITES[cfa], (neutral[0], 1.0, 1.0, neutral[2])):
        mosaic[r::2, c::2] = round(64 + 0.3 * value * 959)
    for k, t in enumerate(TIMES):
        write_dng(tmp_path / f"G{k}.dng", mosaic, cfa=cfa, exposure_time=t, neutral=neutral, orientation=6)
    (bracket,) = iter_raw_brackets(tmp_path)
    png16, preview = render_real(bracket.raws[0] * bracket.render_info.output_scale, bracket.render_info)
    assert png16.shape == preview.shape == (48, 32, 3)
    inner = png16[2:-2, 2:-2].astype(np.float64) / 65535  # DemosaicNet's borders are not exactly flat
    linear = (5001 ** inner - 1) / 5000  # undo the mu-law
    assert np.allclose(linear, 0.3, atol=0.01)
    assert np.ptp(linear.mean(axis=(0, 1))) < 0.002  # a wrong CFA or neutral would be off by >= 20 %
    assert np.ptp(linear, axis=-1).max() < 0.01  # DemosaicNet's ripple on a flat field
    assert np.ptp(preview[2:-2, 2:-2].astype(int), axis=-1).max() <= 2


def test_frame_without_exposure_time_is_named(tmp_path):
    _, frames = bracket_mosaics(ratios=(1, 4))
    write_dng(tmp_path / "A.dng", frames[0], exposure_time=TIMES[0])
    write_dng(tmp_path / "B.dng", frames[1], exposure_time=0)  # a zero ExposureTime means none
    with pytest.raises(DataError, match=r"B\.dng: no exposure time"):
        list(iter_raw_brackets(tmp_path))


def test_layout_detection_and_unreadable_files(tmp_path):
    assert detect_raw_layout(tmp_path) is None
    (tmp_path / "notes.txt").write_text("x")
    assert detect_raw_layout(tmp_path) is None
    with pytest.raises(DataError, match="no RAW brackets"):
        list(iter_raw_brackets(tmp_path))
    (tmp_path / "broken.dng").write_bytes(b"II*\0" + b"\0" * 64)
    assert detect_raw_layout(tmp_path) == "camera"
    with pytest.raises(DataError, match=r"broken\.dng: LibRaw cannot read it"), \
            pytest.warns(UserWarning, match="TIFF tags cannot be read"):
        list(iter_raw_brackets(tmp_path))
    with pytest.raises(ConfigError, match="layout='ntire'"):
        list(iter_raw_brackets(tmp_path, layout="ntire"))


def test_camera_meta_uses_the_d65_matrix(tmp_path):
    from simulator.camera import SRGB_TO_XYZ

    write_bracket(tmp_path, times=TIMES)
    (bracket,) = iter_raw_brackets(tmp_path)
    expected = np.asarray(CM2) @ np.asarray(SRGB_TO_XYZ)  # ColorMatrix2 is the D65 one (illuminant 21)
    expected /= expected.sum(axis=1, keepdims=True)
    assert np.allclose(bracket.meta.rgb2cam.numpy(), expected, atol=1e-6)


def test_real_layout_keeps_the_published_levels_and_warns_when_the_file_differs(tmp_path):
    scene = tmp_path / "Test" / "s1"
    paths = write_bracket(scene, cfa="GRBG", times=TIMES, white=4095)
    (scene / "exposure.txt").write_text("1\n4\n16\n")
    with pytest.warns(UserWarning, match="published real-world reader's fixed 64 / 1023"):
        (bracket,) = iter_raw_brackets(tmp_path)
    _, frames = bracket_mosaics(cfa="GRBG", ratios=(1, 4, 16))
    gr = (frames[0][0::2, 0::2].astype(np.float32) - 64) / np.float32(959)  # Gr of GRBG sits at (0, 0)
    assert np.array_equal(bracket.raws[0, 1].numpy(), np.clip(gr, 0, 1))
    assert bracket.files == tuple(paths)


def test_dng_with_the_raw_image_in_a_subifd(tmp_path):
    """The converter layout the published reader cannot read (CFAPattern not in IFD0) reads exactly here."""
    _, frames = bracket_mosaics(cfa="BGGR", ratios=(1, 4))
    for k, frame in enumerate(frames):
        write_dng(tmp_path / f"S{k}.dng", frame, cfa="BGGR", exposure_time=TIMES[k], raw_in_subifd=True)
    (bracket,) = iter_raw_brackets(tmp_path)
    assert bracket.render_info.cfa == "BGGR" and bracket.render_info.as_shot_neutral == (0.5, 1.0, 0.625)
    blue = (frames[1][0::2, 0::2].astype(np.float32) - 64) / np.float32(959)  # B of BGGR sits at (0, 0)
    assert np.array_equal(bracket.raws[1, 3].numpy(), np.clip(blue, 0, 1))
    assert bracket.exposures == (1.0, 4.0)
