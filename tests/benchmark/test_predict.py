"""cli.py predict end to end, its input layouts and output folder, and bench --save / rendered ground truth.

The data: a small test split simulated once per module with the built-in benchmark's preset and previews
(2 samples of 160x128), and a crop of the genuine published NTIRE sample (``shared/fixtures/published_sample``).
"""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

import cli
from benchmark.images import read_png16
from benchmark.inputs import detect_layout, list_samples
from simulator.core.errors import DataError


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from simulator.dataset import generate_dataset
    from simulator.settings import load_simulation_config

    root = tmp_path_factory.mktemp("predict")
    patch = pytest.MonkeyPatch()
    patch.setenv("BRACKETIRE_CACHE", str(root / "cache"))
    patch.setenv("BRACKETIRE_RUNS", str(root / "runs"))
    patch.setenv("BRACKETIRE_OFFLINE", "1")
    overrides = ["output.size=[160, 128]", "num_samples=2", "seed=7", "output.previews=true"]
    generate_dataset(load_simulation_config("bracketire", overrides), root / "data", progress=False)
    yield root
    patch.undo()


def _cli(*args):
    return CliRunner().invoke(cli.cli, list(args))


def _copy_without(src, dst, *names):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*names))
    return dst


def test_predict_zip_scores_exactly_as_bench(data, tmp_path):
    out, sub = tmp_path / "out", tmp_path / "sub.zip"
    run = _cli("predict", "--model", "merge", "--input", str(data / "data"), "--out", str(out), "--zip", str(sub),
               "--no-progress", "--description", "noise-aware merge")
    assert run.exit_code == 0, run.output
    assert "| Test-" not in run.output and "written" in run.output  # names are <scene>-<frame>, not the split
    scored = _cli("score", str(sub), "--gt", str(data / "data"), "--json", str(tmp_path / "score.json"))
    assert scored.exit_code == 0, scored.output
    benched = _cli("bench", "--model", "merge", "--data", str(data / "data"), "--no-progress",
                   "--json", str(tmp_path / "bench.json"), "--save", str(tmp_path / "kept"))
    assert benched.exit_code == 0, benched.output
    score, bench = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("score", "bench"))
    assert score["count"] == bench["count"] == 2
    assert score["mean"] == bench["mean"] and score["per_image"] == bench["per_image"]
    names = sorted(p.name for p in (out / "png16").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "kept" / "png16").iterdir())
    for name in names:  # bench --save keeps the very files predict writes
        assert (out / "png16" / name).read_bytes() == (tmp_path / "kept" / "png16" / name).read_bytes()
    with zipfile.ZipFile(sub) as archive:
        assert sorted(archive.namelist()) == sorted([*names, "readme.txt"])
        readme = archive.read("readme.txt").decode().splitlines()
    assert readme[0].startswith("runtime per image [s] : ") and float(readme[0].split(":")[1]) > 0
    assert readme[1:] == ["CPU[1] / GPU[0] : 1", "Extra Data [1] / No Extra Data [0] : 0",
                          "Other description : noise-aware merge"]


def test_predict_resumes_and_never_overwrites_what_it_did_not_write(data, tmp_path):
    out = tmp_path / "out"
    args = ["predict", "--model", "reference", "--input", str(data / "data" / "Test"), "--out", str(out),
            "--no-progress", "--save-hdr"]
    assert _cli(*args).exit_code == 0
    first = {p: p.read_bytes() for p in out.rglob("*.*") if p.name != "predict.json"}
    assert len(first) == 6  # png16, preview and hdr of two samples
    hdr = np.load(next(out.glob("hdr/*.npy")), allow_pickle=False)
    assert hdr.dtype == np.float32 and hdr.shape == (64 - 10, 80 - 10, 4)  # the test crop of 5 packed pixels
    victim = sorted(out.glob("png16/*.png"))[0]
    victim.unlink()
    again = _cli(*args)
    assert again.exit_code == 0 and again.output.count("| kept") == 1 and "1 bracket(s) written, 1 kept" in again.output
    assert {p: p.read_bytes() for p in first} == first  # the rewritten file is identical, the other untouched

    foreign = tmp_path / "foreign"
    (foreign / "png16").mkdir(parents=True)
    mine = foreign / "png16" / victim.name
    mine.write_bytes(b"my own picture")
    refused = _cli(*[a if a != str(out) else str(foreign) for a in args])
    assert refused.exit_code == 2 and str(mine) in refused.stderr and "refusing to overwrite" in refused.stderr
    assert mine.read_bytes() == b"my own picture"
    other = _cli("predict", "--model", "merge", "--input", str(data / "data"), "--out", str(out), "--no-progress")
    assert other.exit_code == 2 and "another run" in other.stderr and "model" in other.stderr


def test_ground_truth_render_matches_the_written_rgb_vis_gt(data):
    from benchmark.ground_truth import render_ground_truth
    from simulator.layout import list_frames

    frames = list_frames(data / "data")
    assert len(frames) == 2
    for *_, folder in frames:
        assert np.array_equal(render_ground_truth(folder), read_png16(folder / "rgb_vis_gt.png"))


def test_bench_renders_missing_ground_truth_once_and_scores_the_same(data, tmp_path):
    bare = _copy_without(data / "data", tmp_path / "bare", "rgb_vis_*.png")
    with_files = _cli("bench", "--model", "reference", "--data", str(data / "data"), "--no-progress",
                      "--json", str(tmp_path / "a.json"))
    rendered = _cli("bench", "--model", "reference", "--data", str(bare), "--no-progress",
                    "--json", str(tmp_path / "b.json"))
    assert with_files.exit_code == 0 and rendered.exit_code == 0, rendered.output
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert a["mean"] == b["mean"] and a["per_image"] == b["per_image"]
    cached = sorted((data / "cache" / "rendered_gt").glob("*/*.png"))
    assert len(cached) == 2
    stamps = [p.stat().st_mtime_ns for p in cached]
    assert _cli("bench", "--model", "reference", "--data", str(bare), "--no-progress").exit_code == 0
    assert [p.stat().st_mtime_ns for p in cached] == stamps  # rendered once per dataset


def test_score_renders_missing_ground_truth_into_the_cache_not_the_data(data, tmp_path):
    """simulate's default (no previews) -> predict -> score, no extra option: the same numbers as scoring
    against the rgb_vis_gt.png that output.previews=true writes, from the dataset root or its Test/ folder."""
    bare = _copy_without(data / "data", tmp_path / "bare", "rgb_vis_*.png")
    before = sorted(p.relative_to(bare) for p in bare.rglob("*"))
    out = tmp_path / "results"
    assert _cli("predict", "--model", "merge", "--input", str(bare), "--out", str(out), "--no-progress").exit_code == 0
    reference = _cli("score", str(out / "png16"), "--gt", str(data / "data"), "--json", str(tmp_path / "a.json"))
    from_root = _cli("score", str(out / "png16"), "--gt", str(bare), "--json", str(tmp_path / "b.json"))
    from_split = _cli("score", str(out / "png16"), "--gt", str(bare / "Test"), "--json", str(tmp_path / "c.json"))
    assert reference.exit_code == 0 and from_root.exit_code == 0 and from_split.exit_code == 0, from_root.output
    a, b, c = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "abc")
    assert a["count"] == 2 and a["per_image"] == b["per_image"] == c["per_image"]
    assert sorted(p.relative_to(bare) for p in bare.rglob("*")) == before  # nothing written into the data
    assert not list(bare.rglob("rgb_vis_gt.png")) and len(list((data / "cache" / "rendered_gt").glob("*/*.png"))) >= 2


def test_bench_without_ground_truth_points_to_predict(data, tmp_path, shared):
    bare = _copy_without(data / "data", tmp_path / "inputs", "rgb_vis_*.png", "raw_gt.npy")
    for folder in (bare, shared / "fixtures" / "published_sample"):
        result = _cli("bench", "--model", "merge", "--data", str(folder), "--no-progress")
        assert result.exit_code == 2, result.output
        assert "no ground truth" in result.stderr and "cli.py predict --model NAME" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.fixture
def ntire_crop(shared, tmp_path):
    """The published NTIRE sample 000936 cropped to 64x64 packed pixels, its metadata.npy as published."""
    source = shared / "fixtures" / "published_sample" / "000936"
    target = tmp_path / "NTIRE_Val" / "000936"
    target.mkdir(parents=True)
    for path in source.glob("raw_*.npy"):
        np.save(target / path.name, np.load(path, allow_pickle=False)[200:264, 400:464], allow_pickle=False)
    shutil.copyfile(source / "metadata.npy", target / "metadata.npy")  # pickled: read by the restricted unpickler
    return target.parent


def test_predict_reads_the_published_ntire_layout(ntire_crop, tmp_path):
    assert detect_layout(ntire_crop) == "ntire" and detect_layout(ntire_crop / "000936") == "ntire"
    assert [name for name, _ in list_samples(ntire_crop, "ntire")] == ["NTIRE_Val-000936"]
    result = _cli("predict", "--model", "reference", "--input", str(ntire_crop), "--out", str(tmp_path / "o"),
                  "--protocol", "ntire2024", "--no-progress")
    assert result.exit_code == 0, result.output
    png = read_png16(tmp_path / "o" / "png16" / "NTIRE_Val-000936.png")
    assert png.shape == (128, 128, 3)  # (64 - 2 x 5) x 2 + 2 x 10 px border
    assert not png[:10].any() and png[10:-10, 10:-10].any()
    import cv2

    preview = cv2.imread(str(tmp_path / "o" / "preview" / "NTIRE_Val-000936.png"), cv2.IMREAD_UNCHANGED)
    assert preview.dtype == np.uint8 and preview.shape == (108, 108, 3)
    assert np.abs(preview[..., ::-1].astype(int) - png[10:-10, 10:-10] / 257).max() <= 0.5


def test_layouts_are_detected_and_bad_inputs_named(data, tmp_path):
    root = data / "data"
    sample = next((root / "Test").glob("*/*"))
    assert {detect_layout(p) for p in (root, root / "Test", sample)} == {"synthetic"}
    assert [n for n, _ in list_samples(sample, "synthetic")] == [f"{sample.parent.name}-{sample.name}"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no brackets found"):
        detect_layout(empty)
    result = _cli("predict", "--model", "merge", "--input", str(empty), "--out", str(tmp_path / "o"), "--no-progress")
    assert result.exit_code == 2 and str(empty) in result.stderr


def test_a_dng_bracket_goes_through_predict_and_the_published_real_rendering(tmp_path):
    # a real DNG bracket (tests/dng.py writes it; rawpy reads it) through predict: the measured exposures reach
    # the model and its output is rendered by simulator.real's published real-world pipeline
    pytest.importorskip("rawpy", reason="the raw extra (rawpy) is not installed")
    from fractions import Fraction

    from simulator.real import iter_raw_brackets, render_real
    from tests.dng import write_bracket

    times = tuple(Fraction(1, 6400) * 4 ** k * (1.0 if k < 3 else 0.97) for k in range(5))  # not exactly 4x
    write_bracket(tmp_path / "shots", cfa="GRBG", times=times, neutral=(0.5, 1.0, 0.625))
    (bracket,) = iter_raw_brackets(tmp_path / "shots")
    for model in ("reference", "merge"):
        result = _cli("predict", "--model", model, "--input", str(tmp_path / "shots"), "--out",
                      str(tmp_path / model), "--no-progress")
        assert result.exit_code == 0, result.output
        assert f"| {bracket.name} " in result.output and "62.08, 248.3" in result.output  # measured, not 64, 256
    png, _ = render_real(bracket.raws[0] * bracket.exposures[2], bracket.render_info)  # reference: frame 0 x e2/e0
    assert np.array_equal(read_png16(tmp_path / "reference" / "png16" / f"{bracket.name}.png"), png)
    merged = read_png16(tmp_path / "merge" / "png16" / f"{bracket.name}.png")
    assert merged.shape == png.shape and np.abs(merged.astype(float) - png).mean() < 0.05 * 65535


def test_real_layouts_without_their_readers_say_so_in_one_line(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "simulator.real", None)  # as if not importable (not merged / no rawpy)
    result = _cli("predict", "--model", "merge", "--input", str(tmp_path), "--out", str(tmp_path / "o"),
                  "--layout", "camera", "--no-progress")
    assert result.exit_code == 2 and "simulator.real" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_readme_runtime_never_reads_as_zero_for_a_fast_model():
    from benchmark.predict import readme_text

    fast, slow = (readme_text(seconds, "cpu", False, "x").splitlines()[0] for seconds in (0.0012, 10.434))
    assert fast == "runtime per image [s] : 0.0012" and float(fast.split(":")[1]) > 0
    assert slow == "runtime per image [s] : 10.43"  # the challenge's two decimals
