import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.bayer import CFA_OFFSETS, mosaic, pack, unpack
from simulator.core.errors import DataError, UnknownNameError

CFAS = sorted(CFA_OFFSETS)


@st.composite
def mosaics(draw):
    lead = draw(st.lists(st.integers(1, 3), max_size=2))
    height, width = 2 * draw(st.integers(1, 6)), 2 * draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    return torch.rand(*lead, height, width, generator=torch.Generator().manual_seed(seed))


@settings(max_examples=100, deadline=None)
@given(mosaics(), st.sampled_from(CFAS))
def test_unpack_inverts_pack_exactly(bayer, cfa):
    packed = pack(bayer, cfa)
    assert packed.shape == (*bayer.shape[:-2], 4, bayer.shape[-2] // 2, bayer.shape[-1] // 2)
    assert torch.equal(unpack(packed, cfa), bayer)


@settings(max_examples=100, deadline=None)
@given(mosaics(), st.sampled_from(CFAS))
def test_pack_inverts_unpack_exactly(bayer, cfa):
    packed = pack(bayer, "RGGB")  # any packed array
    assert torch.equal(pack(unpack(packed, cfa), cfa), packed)


@pytest.mark.parametrize("cfa", CFAS)
def test_mosaic_samples_each_colour_at_its_site(cfa):
    rgb = torch.stack([torch.full((4, 6), float(c + 1)) for c in range(3)])
    bayer = unpack(mosaic(rgb, cfa), cfa)
    letters = {"R": 1.0, "G": 2.0, "B": 3.0}
    for row in range(2):
        for col in range(2):
            assert torch.all(bayer[row::2, col::2] == letters[cfa[2 * row + col]])


def test_rggb_packing_matches_published_convention():
    bayer = torch.arange(16.0).reshape(4, 4)
    packed = pack(bayer)
    assert torch.equal(packed[0], bayer[0::2, 0::2])  # R  (even row, even col)
    assert torch.equal(packed[1], bayer[0::2, 1::2])  # Gr (even row, odd col)
    assert torch.equal(packed[2], bayer[1::2, 0::2])  # Gb (odd row, even col)
    assert torch.equal(packed[3], bayer[1::2, 1::2])  # B  (odd row, odd col)


def test_bad_input_is_reported():
    with pytest.raises(DataError, match="even H and W"):
        pack(torch.zeros(5, 4))
    with pytest.raises(DataError, match=r"\[\.\.\., 4, h, w\]"):
        unpack(torch.zeros(3, 2, 2))
    with pytest.raises(UnknownNameError, match="no CFA order named 'RGBG'; did you mean 'RGGB'"):
        pack(torch.zeros(4, 4), "RGBG")
    with pytest.raises(DataError, match="even height and width"):
        mosaic(torch.zeros(3, 5, 4))
