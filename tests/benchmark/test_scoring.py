"""End-to-end scoring of small synthetic submissions through ``cli.py score`` and ``benchmark.scoring``.

The ground truth is written both in the published layout (``<root>/Test/<scene>/<frame>/rgb_vis_gt.png``,
fixtures/official/README.md "Dataset layout") and as a flat folder of ``<scene>-<frame>.png`` (NTIRE 2024).
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import cli
from benchmark import scoring
from benchmark.images import crop_border, read_png16, write_png16
from benchmark.protocols import get_protocol
from simulator.core.errors import DataError

SCENES = {"carousel_fireworks_02": ["000936", "000948"], "bistro_01": ["000012"]}
SIZE = (48, 64)  # H, W of the full-resolution 16-bit RGB images


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Never try to download LPIPS weights from a test (without them LPIPS is reported unavailable)."""
    monkeypatch.setenv("BRACKETIRE_OFFLINE", "1")


def names() -> list[str]:
    return sorted(f"{scene}-{frame}.png" for scene, frames in SCENES.items() for frame in frames)


def gt_images(seed: int = 0) -> dict[str, np.ndarray]:
    """Smooth random uint16 RGB images (SSIM of identical images is exactly 1), keyed by output name."""
    rng = np.random.default_rng(seed)
    images = {}
    for name in names():
        coarse = rng.uniform(2000, 60000, (6, 8, 3)).astype(np.float32)
        images[name] = cv2.resize(coarse, SIZE[::-1], interpolation=cv2.INTER_LINEAR).astype(np.uint16)
    return images


def write_gt(root: Path, images: dict[str, np.ndarray], layout: str = "published") -> Path:
    """Write ground truth in the published layout (returns the dataset root) or flat."""
    for name, image in images.items():
        scene, frame = name[:-4].rsplit("-", 1)
        if layout == "published":
            folder = root / "Test" / scene / frame
            folder.mkdir(parents=True, exist_ok=True)
            write_png16(folder / "rgb_vis_gt.png", image)
        else:
            root.mkdir(parents=True, exist_ok=True)
            write_png16(root / name, image)
    return root


def write_folder(folder: Path, images: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        write_png16(folder / name, image)
    return folder


def zip_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, path.name)
    return archive


def noisy(images: dict[str, np.ndarray], sigma: float, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        name: np.clip(image + rng.normal(0, sigma, image.shape), 0, 65535).astype(np.uint16)
        for name, image in images.items()
    }


def run_score(*args: str):
    return CliRunner().invoke(cli.cli, ["score", *map(str, args), "--no-progress"])


@pytest.fixture
def dataset(tmp_path):
    """GT (published layout and flat), identical outputs (frame 000936 only) and noisy outputs otherwise."""
    gt = gt_images()
    outputs = noisy(gt, 800.0)
    identical = "carousel_fireworks_02-000936.png"
    outputs[identical] = gt[identical]
    return {
        "gt": gt,
        "outputs": outputs,
        "identical": identical,
        "published": write_gt(tmp_path / "dataset", gt),
        "flat": write_gt(tmp_path / "flat_gt", gt, layout="flat"),
        "folder": write_folder(tmp_path / "submission", outputs),
    }


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_cli_scores_folder_and_zip_with_json(tmp_path, dataset, as_zip):
    submission = zip_folder(dataset["folder"], tmp_path / "sub.zip") if as_zip else dataset["folder"]
    result = run_score(submission, "--gt", dataset["published"], "--json", tmp_path / "score.json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads((tmp_path / "score.json").read_text())
    assert list(doc)[:4] == ["protocol", "count", "mean", "per_image"]
    assert doc["protocol"] == "bracketire@1" and doc["count"] == 3
    assert [row["name"] for row in doc["per_image"]] == names()
    assert set(doc["mean"]) == {"psnr", "ssim", "lpips"}
    by_name = {row["name"]: row for row in doc["per_image"]}
    same = by_name[dataset["identical"]]
    assert same["ssim"] == pytest.approx(1.0, abs=1e-12)
    assert same["psnr"] == "inf"  # JSON has no inf: the string "inf" (see ScoreResult.to_json)
    assert same["scene"] == "carousel_fireworks_02" and same["frame"] == "000936"
    finite = [row for name, row in by_name.items() if name != dataset["identical"]]
    for row in finite:
        assert 20 < row["psnr"] < 60 and 0 < row["ssim"] < 1
    assert doc["mean"]["psnr"] == "inf"  # one identical image makes the mean infinite
    assert doc["mean"]["ssim"] == pytest.approx(np.mean([row["ssim"] for row in doc["per_image"]]), rel=1e-12)
    assert "| bracketire@1 |" in result.stdout and "carousel_fireworks_02" in result.stdout
    assert "warning: 3 ground-truth images" in result.stderr  # expected_count 290: a partial test set


def test_means_and_per_scene_means_equal_means_of_per_image_values(dataset):
    result = scoring.score(dataset["folder"], dataset["flat"], "ntire2024", workers=2, progress=False)
    ssim = [row["ssim"] for row in result.per_image]
    assert result.mean["ssim"] == pytest.approx(float(np.mean(ssim)), rel=1e-12)
    assert math.isinf(result.mean["psnr"])  # one identical image
    table = result.per_scene().set_index("scene")
    fireworks = [row for row in result.per_image if row["scene"] == "carousel_fireworks_02"]
    assert table.loc["carousel_fireworks_02", "frames"] == 2
    assert table.loc["carousel_fireworks_02", "ssim"] == pytest.approx(np.mean([r["ssim"] for r in fireworks]))
    bistro = [row for row in result.per_image if row["scene"] == "bistro_01"]
    assert table.loc["bistro_01", "psnr"] == pytest.approx(bistro[0]["psnr"])


def test_noisy_psnr_mean_matches_per_image(tmp_path, dataset):
    folder = write_folder(tmp_path / "all_noisy", noisy(dataset["gt"], 1500.0, seed=7))
    result = scoring.score(folder, dataset["published"], "bracketire", progress=False)
    values = [row["psnr"] for row in result.per_image]
    assert all(math.isfinite(v) for v in values)
    assert result.mean["psnr"] == pytest.approx(float(np.mean(values)), rel=1e-12)


def test_published_layout_split_folder_and_flat_gt_agree(dataset):
    a = scoring.score(dataset["folder"], dataset["published"], progress=False)
    b = scoring.score(dataset["folder"], dataset["published"] / "Test", progress=False)
    c = scoring.score(dataset["folder"], dataset["flat"], progress=False)
    assert a.per_image == b.per_image == c.per_image
    assert a.mean == b.mean == c.mean


def test_crop_excludes_only_the_protocol_border(tmp_path, dataset):
    outputs = {}
    for name, image in dataset["gt"].items():
        out = image.copy()
        out[:10] = 0
        out[-10:] = 0
        out[:, :10] = 65535
        out[:, -10:] = 0
        outputs[name] = out
    folder = write_folder(tmp_path / "border_only", outputs)
    cropped = scoring.score(folder, dataset["published"], "bracketire", progress=False)   # crop 10
    full = scoring.score(folder, dataset["published"], "ntire2024", progress=False)       # crop 0
    for row in cropped.per_image:
        assert row["ssim"] == pytest.approx(1.0, abs=1e-12) and math.isinf(row["psnr"])
    for row in full.per_image:
        assert row["ssim"] < 0.9 and math.isfinite(row["psnr"])


def test_csv_option_writes_per_image_table(tmp_path, dataset):
    target = tmp_path / "scores.csv"
    result = run_score(dataset["folder"], "--gt", dataset["flat"], "--protocol", "ntire2024", "--csv", target)
    assert result.exit_code == 0, result.stderr
    lines = target.read_text().splitlines()
    assert lines[0] == "name,scene,frame,psnr,ssim,lpips"
    assert sorted(line.split(",")[0] for line in lines[1:]) == names()
    assert "warning" not in result.stderr  # ntire2024 has no fixed test-set size


def test_unavailable_metric_is_null_with_one_line_note(tmp_path, dataset, monkeypatch):
    real = scoring.create_metric

    def without_lpips(name):
        if name == "lpips":
            raise scoring.MetricUnavailableError("LPIPS needs AlexNet weights: set $LPIPS_WEIGHTS")
        return real(name)

    monkeypatch.setattr(scoring, "create_metric", without_lpips)
    result = run_score(dataset["folder"], "--gt", dataset["flat"], "--protocol", "ntire2024",
                       "--json", tmp_path / "s.json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["mean"]["lpips"] is None and all(row["lpips"] is None for row in doc["per_image"])
    assert doc["unavailable"] == {"lpips": "LPIPS needs AlexNet weights: set $LPIPS_WEIGHTS"}
    assert isinstance(doc["mean"]["ssim"], float)
    notes = [line for line in result.stderr.splitlines() if "lpips" in line]
    assert len(notes) == 1 and "$LPIPS_WEIGHTS" in notes[0]
    assert "n/a" in result.stdout


def test_parallel_and_sequential_scores_are_identical(dataset):
    one = scoring.score(dataset["folder"], dataset["flat"], "ntire2024", workers=1, progress=False)
    many = scoring.score(dataset["folder"], dataset["flat"], "ntire2024", workers=3, progress=False)
    assert one.per_image == many.per_image and one.to_json() == many.to_json()


def test_to_json_is_strict_json_and_frame_matches(dataset):
    result = scoring.score(dataset["folder"], dataset["flat"], "ntire2024", progress=False)
    text = result.to_json()
    assert "Infinity" not in text and "NaN" not in text
    back = json.loads(text)
    assert float(back["mean"]["psnr"]) == math.inf  # "inf" reads back with float()
    frame = result.to_frame()
    assert list(frame.columns) == ["name", "scene", "frame", "psnr", "ssim", "lpips"]
    assert len(frame) == 3 and frame["ssim"].max() == pytest.approx(1.0, abs=1e-12)


def test_gt_frame_folder_without_image_is_an_error(tmp_path, dataset):
    (dataset["published"] / "Test" / "bistro_01" / "000024").mkdir()
    with pytest.raises(DataError, match=r"000024: no rgb_vis_gt\.png"):
        scoring.score(dataset["folder"], dataset["published"], progress=False)


def test_gt_folder_without_images_is_an_error(tmp_path, dataset):
    (tmp_path / "empty").mkdir()
    result = run_score(dataset["folder"], "--gt", tmp_path / "empty")
    assert result.exit_code == 2
    assert "no ground truth found" in result.stderr and len(result.stderr.splitlines()) == 1


def test_png16_round_trip_keeps_rgb_order_on_disk(tmp_path):
    image = np.zeros((4, 6, 3), np.uint16)
    image[..., 0] = 60000  # pure red
    write_png16(tmp_path / "red.png", image)
    assert np.array_equal(read_png16(tmp_path / "red.png"), image)
    on_disk = cv2.imread(str(tmp_path / "red.png"), cv2.IMREAD_UNCHANGED)  # OpenCV gives BGR
    assert on_disk.dtype == np.uint16 and on_disk[0, 0].tolist() == [0, 0, 60000]
    assert [p.name for p in tmp_path.iterdir()] == ["red.png"]  # no temporary file left behind


def test_write_png16_rejects_8_bit(tmp_path):
    with pytest.raises(DataError, match=r"expected \(H, W, 3\) uint16"):
        write_png16(tmp_path / "x.png", np.zeros((4, 4, 3), np.uint8))
    assert not any(tmp_path.iterdir())


def test_crop_border():
    image = np.arange(6 * 8).reshape(6, 8)
    assert crop_border(image, 0) is image
    assert np.array_equal(crop_border(image, 2), image[2:4, 2:6])
    with pytest.raises(DataError, match="leaves nothing"):
        crop_border(image, 3)


def test_protocol_crops_are_the_published_ones():
    crops = [get_protocol(name).crop for name in ("bracketire", "bracketire_plus", "ntire2024")]
    assert crops == [10, 16, 0]


def test_read_png16_names_the_file_and_the_problem(tmp_path):
    cv2.imwrite(str(tmp_path / "gray.png"), np.zeros((4, 4), np.uint16))
    cv2.imwrite(str(tmp_path / "rgba.png"), np.zeros((4, 4, 4), np.uint16))
    (tmp_path / "fake.png").write_bytes(b"GIF89a" + bytes(40))
    with pytest.raises(DataError, match=r"gray\.png: PNG has 1 channel\(s\); expected 3"):
        read_png16(tmp_path / "gray.png")
    with pytest.raises(DataError, match=r"rgba\.png: PNG has 4 channel\(s\)"):
        read_png16(tmp_path / "rgba.png")
    with pytest.raises(DataError, match=r"fake\.png: not a PNG file"):
        read_png16(tmp_path / "fake.png")
    write_png16(tmp_path / "rgb.png", np.zeros((4, 4, 3), np.uint16))
    with pytest.raises(DataError, match=r"rgb\.png: PNG of 4x4 pixels is larger than the limit of 15"):
        read_png16(tmp_path / "rgb.png", max_pixels=15)
