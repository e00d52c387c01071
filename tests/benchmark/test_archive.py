"""Hostile and sloppy submissions, each through ``cli.py score``: exit code 2, one line on stderr naming the
archive and the offending entry, and nothing written outside the (removed) temporary directory.

``tempfile.tempdir`` is pointed into ``tmp_path`` so that the extraction directory is observable: an entry
that escaped it (``../x``) would land in ``tmp_path`` or its parent, and both are snapshotted.
"""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import cli
from benchmark import archive
from benchmark.archive import ArchiveLimits, open_submission
from simulator.core.errors import DataError
from tests.benchmark.test_scoring import write_folder, write_gt, zip_folder

REAL_TMP = Path(tempfile.gettempdir())
EVIL = "bracketire-test-evil.png"  # what an escaping entry would create
NAMES = sorted(f"scene{'ABC'[i % 3]}-{i:06d}.png" for i in range(12))
SIZE = (40, 48)  # > 2 x 10 px crop + the 11 px SSIM window


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Never try to download LPIPS weights from a test (without them LPIPS is reported unavailable)."""
    monkeypatch.setenv("BRACKETIRE_OFFLINE", "1")


def png16(value: int = 1000, size: tuple[int, int] = SIZE) -> bytes:
    """A valid 16-bit RGB PNG file's bytes."""
    return cv2.imencode(".png", np.full((*size, 3), value, np.uint16))[1].tobytes()


def make_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    """A zip with exactly these entry names (``ZipInfo`` keeps ``..``, ``/`` and ``\\`` as given)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = name if isinstance(name, zipfile.ZipInfo) else zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return path


def good_entries() -> list[tuple[str, bytes]]:
    return [(name, png16(1000 + i)) for i, name in enumerate(NAMES)]


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Flat ground truth for NAMES and a private temporary directory inside tmp_path."""
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    gt = write_gt(tmp_path / "gt", {n: np.full((*SIZE, 3), 1000 + i, np.uint16) for i, n in enumerate(NAMES)}, "flat")
    return tmp_path, gt


def snapshot(tmp_path: Path) -> tuple:
    return (
        sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")),
        sorted(os.listdir(tmp_path.parent)),
        (REAL_TMP / EVIL).exists(),
        Path("/", EVIL).exists(),
    )


def assert_rejected(env, submission: Path, *fragments: str) -> str:
    """Score through the CLI; check exit 2, one stderr line naming ``fragments``, and no stray file."""
    tmp_path, gt = env
    before = snapshot(tmp_path)
    result = CliRunner().invoke(cli.cli, ["score", str(submission), "--gt", str(gt), "--no-progress"])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in (str(submission), *fragments):
        assert fragment in lines[0], (fragment, lines[0])
    assert snapshot(tmp_path) == before
    assert not any((tmp_path / "systmp").iterdir())  # the extraction directory was removed
    return lines[0]


@pytest.mark.parametrize("name", [f"../{EVIL}", f"../../{EVIL}", f"ok/../../{EVIL}", f"..\\{EVIL}"])
def test_dotdot_entry(env, name):
    submission = make_zip(env[0] / "sub.zip", [*good_entries(), (name, png16())])
    assert_rejected(env, submission, "'..' component")
    assert not (env[0].parent / EVIL).exists() and not (env[0] / EVIL).exists()


@pytest.mark.parametrize(
    "name", [f"/tmp/{EVIL}", f"/{EVIL}", f"C:/{EVIL}", f"C:\\{EVIL}", f"\\\\server\\share\\{EVIL}"]
)
def test_absolute_path_entry(env, name):
    submission = make_zip(env[0] / "sub.zip", [(name, png16()), *good_entries()])
    assert_rejected(env, submission, "absolute path", EVIL)


def test_symlink_entry(env):
    link = zipfile.ZipInfo(NAMES[0])
    link.create_system = 3  # Unix
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    submission = make_zip(env[0] / "sub.zip", [(link, b"/etc/passwd"), *good_entries()[1:]])
    assert_rejected(env, submission, "symbolic link", NAMES[0])


def test_nested_folder_entry(env):
    entries = [(f"results/{name}", data) for name, data in good_entries()]
    submission = make_zip(env[0] / "sub.zip", entries)
    assert_rejected(env, submission, "in a folder", f"results/{NAMES[0]}", "flat")


def test_too_many_files(env, monkeypatch):
    monkeypatch.setattr(archive, "DEFAULT_LIMITS", ArchiveLimits(max_files=5))
    submission = make_zip(env[0] / "sub.zip", good_entries())
    assert_rejected(env, submission, f"has {len(NAMES)} entries; at most 5 allowed")


def test_zip_bomb_over_the_byte_limit(env, monkeypatch):
    monkeypatch.setattr(archive, "DEFAULT_LIMITS", ArchiveLimits(max_bytes=10 << 20))
    bomb = b"\0" * (50 << 20)  # 50 MB of zeros deflate to ~50 kB
    submission = make_zip(env[0] / "sub.zip", [(NAMES[0], bomb), *good_entries()[1:]])
    assert submission.stat().st_size < 1 << 20
    assert_rejected(env, submission, "over the limit of 10485760 bytes", NAMES[0])


def test_entry_whose_header_understates_its_size(env):
    # headers can lie: the central directory and local header claim 1000 bytes for 50 MB of zeros;
    # extraction must stop at the claimed size (here: the CRC then fails) instead of trusting the stream
    submission = make_zip(env[0] / "sub.zip", [(NAMES[0], b"\0" * (50 << 20)), *good_entries()[1:]])
    data = bytearray(submission.read_bytes())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 22 : local + 26] = (1000).to_bytes(4, "little")
    data[central + 24 : central + 28] = (1000).to_bytes(4, "little")
    submission.write_bytes(bytes(data))
    assert_rejected(env, submission, NAMES[0], "corrupt")


def test_non_png_entry(env):
    submission = make_zip(env[0] / "sub.zip", [*good_entries(), ("notes.txt", b"our method is great")])
    assert_rejected(env, submission, "'notes.txt'", "not a .png file")


def test_the_ntire_readme_is_allowed_and_not_extracted(env):
    readme = b"runtime per image [s] : 1.00\nCPU[1] / GPU[0] : 1\n"
    submission = make_zip(env[0] / "sub.zip", [*good_entries(), ("readme.txt", readme)])
    with open_submission(submission) as files:
        assert sorted(files) == sorted(NAMES)
    nested = make_zip(env[0] / "nested.zip", [*good_entries(), ("docs/readme.txt", readme)])
    assert_rejected(env, nested, "'docs/readme.txt'", "is in a folder")


def test_eight_bit_png(env):
    eight = cv2.imencode(".png", np.full((*SIZE, 3), 100, np.uint8))[1].tobytes()
    submission = make_zip(env[0] / "sub.zip", [*good_entries()[:-1], (NAMES[-1], eight)])
    assert_rejected(env, submission, NAMES[-1], "8-bit PNG; expected 16-bit RGB")


def test_wrong_image_size(env):
    submission = make_zip(env[0] / "sub.zip", [*good_entries()[:-1], (NAMES[-1], png16(size=(36, 48)))])
    assert_rejected(env, submission, NAMES[-1], "36x48", "40x48")


def test_missing_names_are_listed(env):
    submission = make_zip(env[0] / "sub.zip", good_entries()[:1])
    line = assert_rejected(env, submission, "11 missing file(s)", NAMES[1], NAMES[10], "... and 1 more")
    assert NAMES[11] not in line and NAMES[0] not in line.split("missing")[1]


def test_unexpected_names_are_listed(env):
    extra = [("sceneZ-999999.png", png16()), ("final_output.png", png16())]
    submission = make_zip(env[0] / "sub.zip", [*good_entries(), *extra])
    assert_rejected(env, submission, "2 unexpected file(s)", "final_output.png", "sceneZ-999999.png")


@pytest.mark.parametrize("kind", ["garbage", "truncated", "bad_crc"])
def test_corrupt_zip(env, kind):
    path = make_zip(env[0] / "sub.zip", good_entries())
    data = bytearray(path.read_bytes())
    if kind == "garbage":
        data = bytearray(os.urandom(4096))
    elif kind == "truncated":
        data = data[: len(data) // 2]
    else:  # flip bytes inside the first entry's compressed data: the CRC check catches it
        start = data.find(b"PK\x03\x04") + 30 + len(NAMES[0])
        data[start + 20 : start + 40] = bytes(b ^ 0xFF for b in data[start + 20 : start + 40])
    path.write_bytes(bytes(data))
    assert_rejected(env, path, "zip" if kind != "bad_crc" else "corrupt")


def test_duplicate_entry(env):
    with pytest.warns(UserWarning, match="Duplicate name"):
        submission = make_zip(env[0] / "sub.zip", [*good_entries(), (NAMES[0], png16(7))])
    assert_rejected(env, submission, NAMES[0], "appears twice")


def test_nested_folder_in_a_folder_submission(env):
    folder = write_folder(env[0] / "sub", {})
    (folder / "results").mkdir()
    assert_rejected(env, folder, "'results' is a folder")


def test_mac_junk_is_ignored_and_extraction_directory_removed(env):
    junk = [("__MACOSX/", b""), (f"__MACOSX/._{NAMES[0]}", b"\0\5\26\7"), (".DS_Store", b"\0\0\0\1Bud1")]
    submission = make_zip(env[0] / "sub.zip", [*good_entries(), *junk])
    with open_submission(submission) as files:
        assert sorted(files) == NAMES
        extraction = files[NAMES[0]].parent
        assert extraction.parent == env[0] / "systmp"
        assert files[NAMES[3]].read_bytes() == png16(1003)
    assert not extraction.exists()
    result = CliRunner().invoke(cli.cli, ["score", str(submission), "--gt", str(env[1]), "--no-progress"])
    assert result.exit_code == 0, result.stderr


def test_folder_and_zip_of_it_are_accepted_alike(env):
    folder = write_folder(env[0] / "sub", {n: np.full((*SIZE, 3), 5, np.uint16) for n in NAMES})
    with open_submission(folder) as direct, open_submission(zip_folder(folder, env[0] / "sub.zip")) as zipped:
        assert sorted(direct) == sorted(zipped) == NAMES
        assert all(direct[n].read_bytes() == zipped[n].read_bytes() for n in NAMES)


def test_not_a_folder_or_zip(env):
    other = env[0] / "sub.tar"
    other.write_bytes(b"x")
    with pytest.raises(DataError, match=r"sub\.tar: a submission is a folder or a \.zip"):
        with open_submission(other):
            pass


@pytest.fixture
def no_extraction(monkeypatch):
    """Fail the test if any entry is extracted: the checks below must refuse the archive before that."""

    def refuse(*args, **kwargs):
        raise AssertionError("an entry was extracted before the archive was refused")

    monkeypatch.setattr(archive, "_extract_entry", refuse)


def test_entry_larger_than_any_png_of_the_ground_truth_size_is_refused_before_extraction(env, no_extraction):
    # a valid 16-bit PNG header of the right size followed by 50 MB of zeros: under the default byte limit,
    # but far beyond what a 40x48 16-bit PNG can be
    bomb = png16()[:33] + b"\0" * (50 << 20)
    submission = make_zip(env[0] / "sub.zip", [(NAMES[0], bomb), *good_entries()[1:]])
    assert submission.stat().st_size < 1 << 20
    bound = archive.max_png16_bytes(*SIZE)
    assert_rejected(env, submission, NAMES[0], f"at most {bound} bytes", f"{len(bomb)} bytes uncompressed")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"GIF89a" + bytes(100), "not a PNG file"),
        (cv2.imencode(".png", np.full((*SIZE, 3), 100, np.uint8))[1].tobytes(), "8-bit PNG; expected 16-bit RGB"),
        (png16(size=(36, 48)), "image is 36x48; the ground truth is 40x48"),
    ],
    ids=["not_png", "eight_bit", "wrong_size"],
)
def test_png_headers_are_checked_through_zf_open_before_extraction(env, no_extraction, data, fragment):
    submission = make_zip(env[0] / "sub.zip", [*good_entries()[:-1], (NAMES[-1], data)])
    assert_rejected(env, submission, NAMES[-1], fragment)


def test_unexpected_names_are_refused_before_extraction(env, no_extraction):
    submission = make_zip(env[0] / "sub.zip", [*good_entries(), ("sceneZ-999999.png", png16())])
    assert_rejected(env, submission, "1 unexpected file(s)", "sceneZ-999999.png")


@pytest.mark.parametrize("size", [(1, 1), (40, 48), (257, 301)])
def test_png16_bound_holds_for_incompressible_images(size):
    # uniform noise stored without compression is the largest PNG an encoder writes for this size
    noise = np.random.default_rng(0).integers(0, 1 << 16, (*size, 3), dtype=np.uint16)
    largest = len(cv2.imencode(".png", noise, [cv2.IMWRITE_PNG_COMPRESSION, 0])[1])
    raw = size[0] * (1 + 6 * size[1])
    bound = archive.max_png16_bytes(*size)
    assert largest <= bound <= 1.03 * raw + archive.PNG_METADATA_BYTES + 1024
