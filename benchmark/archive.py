"""Opening a submission (a folder or a flat .zip of PNGs) safely.

A submission comes from someone else, so a .zip is treated as hostile until proven otherwise. Every entry
of its central directory is validated *before* a single byte is extracted, and extraction happens only
into a fresh :class:`tempfile.TemporaryDirectory` that is removed when the ``with`` block ends.

Rules (the NTIRE 2024 rule is a flat archive of ``<scene>-<frame>.png`` files):

* only regular ``*.png`` files at the top level; a nested folder (any ``/`` in an entry name, or a
  directory entry) is an error, and so is any other file type;
* no absolute paths (``/x``, ``C:x``, ``\\\\server``), no ``..`` components, no backslashes in names;
* no symbolic links or other special files (Unix mode bits in ``external_attr``), no encrypted entries,
  no duplicate names;
* at most ``limits.max_files`` entries (junk included) and ``limits.max_bytes`` uncompressed bytes in
  total, checked on the header sizes first and again on the bytes actually decompressed, since headers
  can lie;
* when the expected names and image sizes are given (``score`` knows them from the ground truth), and still
  before anything is extracted: the names are checked (``check_names``), each entry's first bytes, read
  through ``ZipFile.open``, must be a PNG header of a 16-bit RGB image of the expected height and width,
  and each entry's uncompressed size may not exceed :func:`max_png16_bytes` of that size (so a small zip
  cannot fill the disk with an entry far larger than any PNG of that size can be).

The NTIRE ``readme.txt`` at the top level (runtime, CPU/GPU, extra data, description; ``predict --zip``
writes one) is allowed and ignored, never extracted. Junk that archivers add on their own is ignored
silently, never extracted: anything under ``__MACOSX/``
and files named ``.DS_Store`` or ``Thumbs.db`` (at any depth). A folder submission follows the same rules
(flat, only PNGs, no links, same junk ignored), so a folder that passes also passes once zipped; its
``max_bytes`` is not checked, since nothing is extracted.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmark.images import PNG_HEADER_BYTES, check_png16_header, parse_png_header
from simulator.core.errors import DataError

JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db"})
JUNK_PREFIX = "__MACOSX/"
README_NAME = "readme.txt"
_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ArchiveLimits:
    """What a submission may contain.

    Attributes:
        max_files: entries in an archive (or files in a folder), junk included. The BracketIRE test set has
            290 images; a macOS archive doubles that with ``__MACOSX/`` entries.
        max_bytes: total uncompressed size of an archive's entries: also the disk space extraction may use.
            290 16-bit 1080p PNGs take at most ~3.6 GB.
    """

    max_files: int = 5000
    max_bytes: int = 8 << 30  # 8 GiB


DEFAULT_LIMITS = ArchiveLimits()
PNG_METADATA_BYTES = 1 << 20  # ancillary chunks a PNG may carry (ICC profile, text, EXIF): generous


def max_png16_bytes(height: int, width: int) -> int:
    """An upper bound on the file size of a 16-bit RGB PNG of ``height`` x ``width`` pixels.

    The filtered image is ``height * (1 + 6 * width)`` bytes (a filter byte per row, 6 bytes per pixel);
    deflate can only grow it by its stored-block headers (5 bytes per block, counted here per 16 KiB although
    blocks hold up to 64 KiB) plus the zlib header and checksum; IDAT chunks cost 12 bytes each (counted per
    1 KiB of data, although encoders write 8 KiB or more); signature, IHDR and IEND take 45 bytes; and
    :data:`PNG_METADATA_BYTES` is left for ancillary chunks. Generous, but finite: about 1.02x the raw size.
    """
    raw = height * (1 + 6 * width)
    deflated = raw + 5 * (raw // (16 << 10) + 1) + 6
    return 8 + 25 + 12 + deflated + 12 * (deflated // 1024 + 1) + PNG_METADATA_BYTES


@contextmanager
def open_submission(
    path: str | os.PathLike[str],
    limits: ArchiveLimits | None = None,
    expected: Mapping[str, tuple[int, int]] | None = None,
    check_names: Callable[[list[str]], None] | None = None,
) -> Iterator[dict[str, Path]]:
    """Open a submission folder or flat .zip archive.

    Args:
        path: a folder of ``*.png`` files, or a ``.zip`` archive of them (no folders inside).
        limits: see :class:`ArchiveLimits`; ``DEFAULT_LIMITS`` when None.
        expected: PNG name -> ``(height, width)`` it must have. For an archive every PNG entry must be
            named here, and its header and size are checked (see the module notes) before anything is
            extracted; a folder's files are not read here (the caller reads their headers).
        check_names: called with the sorted PNG names before anything is extracted; raises DataError to
            refuse them (``score`` lists missing and unexpected names).

    Yields:
        File name (e.g. ``"carousel_fireworks_02-000936.png"``) -> path of a readable PNG file, sorted by
        name. For an archive the paths lie in a temporary directory that is deleted on exit.

    Raises:
        DataError: one line naming the submission and the offending entry.
    """
    limits = limits or DEFAULT_LIMITS
    source = Path(path)
    if source.is_dir():
        files = _folder_files(source, limits)
        if check_names is not None:
            check_names(sorted(files))
        yield files
    elif source.is_file() and source.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="bracketire-submission-") as tmp:
            yield _extract_zip(source, Path(tmp), limits, expected, check_names)
    elif source.exists():
        raise DataError(f"{source}: a submission is a folder or a .zip archive of 16-bit PNGs")
    else:
        raise DataError(f"{source}: no such file or folder")


def is_readme(name: str) -> bool:
    """True for the NTIRE submission's ``readme.txt`` at the top level (any case): allowed, not scored."""
    return name.lower() == README_NAME


def is_junk(name: str) -> bool:
    """True for archiver junk ignored in submissions: ``__MACOSX/...``, ``.DS_Store``, ``Thumbs.db``."""
    name = name.replace("\\", "/")
    return name.startswith(JUNK_PREFIX) or name == JUNK_PREFIX.rstrip("/") or name.rsplit("/", 1)[-1] in JUNK_NAMES


def _folder_files(folder: Path, limits: ArchiveLimits) -> dict[str, Path]:
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=lambda e: e.name)
    if len(entries) > limits.max_files:
        raise DataError(f"{folder}: has {len(entries)} entries; at most {limits.max_files} allowed")
    files: dict[str, Path] = {}
    for entry in entries:
        if is_junk(entry.name) or (is_readme(entry.name) and entry.is_file() and not entry.is_symlink()):
            continue
        where = f"{folder}: {entry.name!r}"
        if entry.is_symlink():
            raise DataError(f"{where} is a symbolic link; submissions hold regular files only")
        if entry.is_dir():
            raise DataError(f"{where} is a folder; submissions are flat (<scene>-<frame>.png at the top level)")
        if not entry.is_file():
            raise DataError(f"{where} is not a regular file")
        if not entry.name.lower().endswith(".png"):
            raise DataError(f"{where} is not a .png file; submissions hold 16-bit PNGs only")
        files[entry.name] = Path(entry.path)
    return files


def _extract_zip(
    archive: Path,
    target: Path,
    limits: ArchiveLimits,
    expected: Mapping[str, tuple[int, int]] | None,
    check_names: Callable[[list[str]], None] | None,
) -> dict[str, Path]:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = _validate_entries(archive, zf.infolist(), limits)
            if check_names is not None:
                check_names(sorted(info.filename for info, _ in members))
            if expected is not None:
                for info, _ in members:
                    _check_png_entry(archive, zf, info, expected)
            files = {
                info.filename: _extract_entry(archive, zf, info, target, limits, budget) for info, budget in members
            }
            return dict(sorted(files.items()))
    except zipfile.BadZipFile as err:
        raise DataError(f"{archive}: not a valid zip archive ({err})") from None
    except OSError as err:
        raise DataError(f"{archive}: cannot be read ({err.strerror or err})") from None


def _validate_entries(
    archive: Path, infos: list[zipfile.ZipInfo], limits: ArchiveLimits
) -> list[tuple[zipfile.ZipInfo, int]]:
    """Check every entry; return the PNG entries with the byte budget left before each."""
    if len(infos) > limits.max_files:
        raise DataError(f"{archive}: has {len(infos)} entries; at most {limits.max_files} allowed")
    seen: set[str] = set()
    members: list[tuple[zipfile.ZipInfo, int]] = []
    total = 0
    for info in infos:
        name = info.filename
        where = f"{archive}: entry {name!r}"
        if name.startswith(("/", "\\")) or _DRIVE.match(name):
            raise DataError(f"{where} is an absolute path")
        if ".." in re.split(r"[/\\]", name):
            raise DataError(f"{where} has a '..' component; unsafe path")
        if "\\" in name:
            raise DataError(f"{where} contains a backslash; unsafe path")
        if is_junk(name):
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise DataError(f"{where} is a symbolic link; submissions hold regular files only")
        if info.is_dir() or "/" in name:
            raise DataError(f"{where} is in a folder; submissions are flat (<scene>-<frame>.png at the top level)")
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
            raise DataError(f"{where} is not a regular file")
        if is_readme(name):
            continue
        if not name.lower().endswith(".png"):
            raise DataError(f"{where} is not a .png file; submissions hold 16-bit PNGs only")
        if info.flag_bits & 0x1:
            raise DataError(f"{where} is encrypted")
        if name in seen:
            raise DataError(f"{where} appears twice")
        seen.add(name)
        if total + info.file_size > limits.max_bytes:
            raise DataError(
                f"{where} brings the uncompressed size over the limit of {limits.max_bytes} bytes "
                f"({total + info.file_size} bytes so far)"
            )
        members.append((info, limits.max_bytes - total))
        total += info.file_size
    return members


def _check_png_entry(
    archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, expected: Mapping[str, tuple[int, int]]
) -> None:
    """Refuse an entry not in ``expected``, larger than a 16-bit PNG of its size can be, or whose first bytes
    are not the header of a 16-bit RGB PNG of that size; only the header's bytes are decompressed."""
    where = f"{archive}: entry {info.filename!r}"
    if info.filename not in expected:
        raise DataError(f"{where} is not expected (no ground-truth image of that name)")
    height, width = expected[info.filename]
    bound = max_png16_bytes(height, width)
    if info.file_size > bound:
        raise DataError(
            f"{where} is {info.file_size} bytes uncompressed; a 16-bit RGB PNG of {height}x{width} pixels "
            f"(the ground truth's size) is at most {bound} bytes"
        )
    try:
        with zf.open(info) as src:
            head = src.read(PNG_HEADER_BYTES)
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise DataError(f"{where} is corrupt ({err})") from None
    except NotImplementedError as err:
        raise DataError(f"{where} uses an unsupported compression ({err})") from None
    header = check_png16_header(parse_png_header(head, where), where)
    if (header.height, header.width) != (height, width):
        raise DataError(
            f"{where}: image is {header.height}x{header.width}; the ground truth is {height}x{width} "
            "(height x width)"
        )


def _extract_entry(
    archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limits: ArchiveLimits, budget: int
) -> Path:
    """Stream one validated entry into ``target``, counting the bytes actually decompressed."""
    where = f"{archive}: entry {info.filename!r}"
    out = target / info.filename
    if out.parent != target:  # validated above; kept as a last line of defence
        raise DataError(f"{where} would be written outside the extraction folder")
    written = 0
    try:
        with zf.open(info) as src, open(out, "xb") as dst:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > info.file_size:
                    raise DataError(f"{where} decompresses to more than the {info.file_size} bytes its header says")
                if written > budget:
                    raise DataError(f"{where} brings the uncompressed size over the limit of {limits.max_bytes} bytes")
                dst.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise DataError(f"{where} is corrupt ({err})") from None
    except NotImplementedError as err:
        raise DataError(f"{where} uses an unsupported compression ({err})") from None
    except OSError as err:
        raise DataError(f"{where} cannot be extracted to {target} ({err.strerror or err})") from None
    return out
