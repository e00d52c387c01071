"""The one shape check every input check uses (``simulator.core.checks.check_shape``)."""

import pytest

from simulator.core.checks import check_shape
from simulator.core.errors import DataError


@pytest.mark.parametrize(("shape", "expected"), [
    ((2, 5, 4, 8, 8), ["B", 5, 4, "h", "w"]),
    ((3, 4, 8, 8), ["...", 4, "H", "W"]),
    ((4, 8, 8), ["...", 4, "H", "W"]),  # "..." may stand for no dimension at all
    ((16, 16, 3), ["H", "W", 3]),
])
def test_matching_shapes_pass(shape, expected):
    check_shape(shape, expected, "x")


@pytest.mark.parametrize(("shape", "expected", "message"), [
    ((2, 3, 4, 8, 8), ["B", 5, 4, "h", "w"], r"^raws: expected shape \[B, 5, 4, h, w\], got \(2, 3, 4, 8, 8\)$"),
    ((8, 8), ["...", 4, "H", "W"], r"^raws: expected shape \[\.\.\., 4, H, W\], got \(8, 8\)$"),
    ((2, 5, 4, 0, 8), ["B", 5, 4, "h", "w"], r"got \(2, 5, 4, 0, 8\)"),  # a symbolic size is at least 1
    ((5, 4, 8, 8), ["B", 5, 4, "h", "w"], r"\[B, 5, 4, h, w\]"),  # no leading "...": the rank must match
])
def test_mismatches_name_the_argument_and_both_shapes(shape, expected, message):
    with pytest.raises(DataError, match=message):
        check_shape(shape, expected, "raws")


def test_numpy_style_messages_use_parentheses():
    with pytest.raises(DataError, match=r"^output: expected shape \(H, W, 3\), got \(4, 4, 4\)$"):
        check_shape((4, 4, 4), ["H", "W", 3], "output", brackets="()")
