"""A small read-only TIFF/DNG tag reader (IFD0, its SubIFDs and its EXIF IFD), standard library only.

DNG files and most TIFF-based camera RAW files (CR2, NEF, ARW, PEF, ...) keep the tags the real-world rendering
needs (AsShotNeutral, ColorMatrix1/2, CalibrationIlluminant1/2, Orientation, ExposureTime, ISO, capture time) in
IFD0 or in the EXIF IFD it points to. rawpy (LibRaw) does not expose the raw DNG tag values, so they are read here.
Values come back as tuples of Python numbers: RATIONAL/SRATIONAL as ``num / den`` floats, ASCII as ``str``,
UNDEFINED/BYTE as ints.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

# TIFF field type -> (struct code, byte size); rationals are read as two LONGs.
_TYPES: dict[int, tuple[str, int]] = {
    1: ("B", 1), 2: ("s", 1), 3: ("H", 2), 4: ("I", 4), 5: ("II", 8), 6: ("b", 1), 7: ("B", 1),
    8: ("h", 2), 9: ("i", 4), 10: ("ii", 8), 11: ("f", 4), 12: ("d", 8), 13: ("I", 4), 16: ("Q", 8),
}
TAG_SUBIFDS = 330
TAG_EXIF_IFD = 34665
TAG_NAMES: dict[int, str] = {
    254: "NewSubfileType", 256: "ImageWidth", 257: "ImageLength", 262: "PhotometricInterpretation",
    271: "Make", 272: "Model", 274: "Orientation", 306: "DateTime", 33421: "CFARepeatPatternDim",
    33422: "CFAPattern", 33434: "ExposureTime", 34855: "ISOSpeedRatings", 36867: "DateTimeOriginal",
    37521: "SubSecTimeOriginal", 50714: "BlackLevel", 50717: "WhiteLevel", 50721: "ColorMatrix1",
    50722: "ColorMatrix2", 50728: "AsShotNeutral", 50778: "CalibrationIlluminant1",
    50779: "CalibrationIlluminant2", 51041: "NoiseProfile",
}


@dataclass(frozen=True)
class TiffTags:
    """The tags of one file: ``ifd0`` (IFD0 by tag name), ``exif`` (EXIF IFD), ``subifds`` (IFD0's SubIFDs)."""

    ifd0: dict[str, tuple] = field(default_factory=dict)
    exif: dict[str, tuple] = field(default_factory=dict)
    subifds: tuple[dict[str, tuple], ...] = ()

    def first(self, name: str) -> tuple | None:
        """``name`` from IFD0, else the EXIF IFD, else the first SubIFD that has it; None if absent."""
        for table in (self.ifd0, self.exif, *self.subifds):
            if name in table:
                return table[name]
        return None


def _read_ifd(data: bytes, offset: int, order: str, big: bool) -> tuple[dict[int, tuple], int]:
    count_fmt, entry_size, head = (("Q", 20, 8) if big else ("H", 12, 2))
    (count,) = struct.unpack_from(order + count_fmt, data, offset)
    tags: dict[int, tuple] = {}
    for index in range(count):
        entry = offset + head + index * entry_size
        tag, kind = struct.unpack_from(order + "HH", data, entry)
        (n,) = struct.unpack_from(order + ("Q" if big else "I"), data, entry + 4)
        if kind not in _TYPES:
            continue
        code, size = _TYPES[kind]
        inline = 8 if big else 4
        where = entry + (12 if big else 8)
        if n * size > inline:
            (where,) = struct.unpack_from(order + ("Q" if big else "I"), data, where)
        if where + n * size > len(data):
            continue  # a broken pointer: skip the tag rather than read garbage
        if kind == 2:
            tags[tag] = (data[where : where + n].split(b"\0")[0].decode("latin-1").strip(),)
            continue
        raw = struct.unpack_from(order + code[0] * (n * len(code)), data, where)
        if kind in (5, 10):
            tags[tag] = tuple(num / den if den else 0.0 for num, den in zip(raw[0::2], raw[1::2]))
        else:
            tags[tag] = tuple(raw)
    (next_offset,) = struct.unpack_from(order + ("Q" if big else "I"), data, offset + head + count * entry_size)
    return tags, next_offset


def _named(tags: dict[int, tuple]) -> dict[str, tuple]:
    return {TAG_NAMES.get(tag, f"Tag{tag}"): value for tag, value in tags.items()}


def read_tiff_tags(path: Path) -> TiffTags | None:
    """Read the tags of a TIFF-based file; None when the file is not TIFF-structured (CR3, RAF, ...).

    A TIFF header whose IFDs cannot be parsed (truncated or corrupt) gives a warning and None.
    """
    data = Path(path).read_bytes()
    if data[:4] in (b"II*\0", b"MM\0*"):
        order, big, first = ("<" if data[:2] == b"II" else ">"), False, 4
    elif data[:4] in (b"II+\0", b"MM\0+"):
        order, big, first = ("<" if data[:2] == b"II" else ">"), True, 8
    else:
        return None
    try:
        (ifd0_offset,) = struct.unpack_from(order + ("Q" if big else "I"), data, first)
        ifd0, _ = _read_ifd(data, ifd0_offset, order, big)
        exif = _read_ifd(data, ifd0[TAG_EXIF_IFD][0], order, big)[0] if TAG_EXIF_IFD in ifd0 else {}
        subs = tuple(_read_ifd(data, off, order, big)[0] for off in ifd0.get(TAG_SUBIFDS, ()))
    except struct.error as err:  # LibRaw may still read the pixels; its own metadata is used then
        warnings.warn(f"{path}: TIFF tags cannot be read ({err}); using LibRaw's metadata only")
        return None
    return TiffTags(_named(ifd0), _named(exif), tuple(_named(s) for s in subs))
