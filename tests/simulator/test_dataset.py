"""Dataset generation end to end through ``cli.py simulate``: layout, determinism, resume, bad sources."""

import json

import numpy as np
from click.testing import CliRunner

import cli
from simulator.core.weights import sha256_of
from simulator.layout import list_frames, read_frame

SMALL = ["--size", "128x64", "--no-progress"]


def _simulate(*args):
    result = CliRunner().invoke(cli.cli, ["simulate", *args])
    return result


def _tree(root):
    return {str(p.relative_to(root)): sha256_of(p) for p in sorted(root.rglob("*")) if p.is_file() and p.name != "manifest_Test.json"}


def test_bracketire_layout_read_back(tmp_path):
    result = _simulate("--out", str(tmp_path), "--num-samples", "2", *SMALL)
    assert result.exit_code == 0, result.output
    assert "2 sample(s) written" in result.output
    frames = list_frames(tmp_path)
    assert [(s, f) for s, f, _ in frames] == [("builtin", "000000"), ("builtin", "000001")]
    folder = frames[0][2]
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["alignratio.npy", "metadata.json", "metadata.npy", "raw_1.npy", "raw_16.npy", "raw_256.npy",
                     "raw_4.npy", "raw_64.npy", "raw_gt.npy", "sample.json"]
    raw = np.load(folder / "raw_4.npy")
    assert raw.dtype == np.uint16 and raw.shape == (32, 64, 4) and raw.max() <= 1023  # fixture README layout
    gt = np.load(folder / "raw_gt.npy")
    assert gt.dtype == np.float32 and gt.shape == (32, 64, 4) and gt.min() >= 0
    assert np.load(folder / "alignratio.npy").shape == ()
    sample = read_frame(folder)
    assert sample.raws.shape == (5, 4, 32, 64) and sample.exposures == (1, 4, 16, 64, 256)
    manifest = json.loads((tmp_path / "manifest_Test.json").read_text())
    record = manifest["samples"][0]
    assert manifest["count"] == 2 and manifest["config"]["output"]["size"] == [128, 64]
    assert len(record["noise"]) == 5 and len(record["motion_length_px"]) == 5
    assert record["files"]["raw_gt.npy"] == sha256_of(folder / "raw_gt.npy")


def test_bracketire_plus_layout(tmp_path):
    result = _simulate("--preset", "bracketire_plus", "--out", str(tmp_path), "--num-samples", "1", *SMALL)
    assert result.exit_code == 0, result.output
    folder = list_frames(tmp_path)[0][2]
    assert np.load(folder / "x4" / "raw_1.npy").shape == (8, 16, 4)
    assert np.load(folder / "x2" / "raw_1.npy").shape == (16, 32, 4)
    assert np.load(folder / "raw_gt.npy").shape == (32, 64, 4)
    assert read_frame(folder, scale=4).raws.shape == (5, 4, 8, 16)


def test_output_does_not_depend_on_worker_count(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert _simulate("--out", str(one), "--num-samples", "3", "--workers", "1", *SMALL).exit_code == 0
    assert _simulate("--out", str(two), "--num-samples", "3", "--workers", "2", *SMALL).exit_code == 0
    assert _tree(one) == _tree(two)
    assert json.loads((one / "manifest_Test.json").read_text()) == json.loads((two / "manifest_Test.json").read_text())


def test_resume_keeps_verified_samples_and_remakes_damaged_ones(tmp_path):
    assert _simulate("--out", str(tmp_path), "--num-samples", "2", *SMALL).exit_code == 0
    before = _tree(tmp_path)
    (tmp_path / "Test" / "builtin" / "000001" / "raw_4.npy").write_bytes(b"damaged")
    refused = _simulate("--out", str(tmp_path), "--num-samples", "3", *SMALL)
    assert refused.exit_code == 2 and "use --resume" in refused.stderr
    result = _simulate("--out", str(tmp_path), "--num-samples", "3", "--resume", *SMALL)
    assert result.exit_code == 0, result.output
    assert "2 sample(s) written, 1 kept" in result.output
    after = _tree(tmp_path)
    assert {k: v for k, v in after.items() if "000002" not in k} == before  # the damaged one is remade identically
    changed = _simulate("--out", str(tmp_path), "--resume", "--set", "noise.bit_depth=12", *SMALL)
    assert changed.exit_code == 2 and "different settings (noise)" in changed.stderr


def test_bad_sources_are_skipped_or_stop_the_run(tmp_path):
    sources = tmp_path / "hdr"
    sources.mkdir()
    rng = np.random.default_rng(0)
    np.save(sources / "a_good.npy", rng.uniform(0, 4, (80, 160, 3)).astype(np.float32))
    np.save(sources / "b_nan.npy", np.full((80, 160, 3), np.nan, np.float32))
    np.save(sources / "c_small.npy", np.ones((20, 20, 3), np.float32))
    out = tmp_path / "out"
    result = _simulate("--source", "hdr", "--source-path", str(sources), "--out", str(out), *SMALL)
    assert result.exit_code == 0, result.output
    assert "1 sample(s) written" in result.output and "2 source(s) skipped" in result.output
    assert "b_nan.npy: contains NaN" in result.stderr and "c_small.npy" in result.stderr
    assert [s for s, _, _ in list_frames(out)] == ["a_good"]
    strict = _simulate("--source", "hdr", "--source-path", str(sources), "--out", str(tmp_path / "strict"),
                       "--fail-fast", *SMALL)
    assert strict.exit_code == 2 and "b_nan.npy" in strict.stderr
    # samples finished before the bad source stay complete and listed; nothing partial is left
    manifest = json.loads((tmp_path / "strict" / "manifest_Test.json").read_text())
    assert [r["scene"] for r in manifest["samples"]] == ["a_good"]
    assert not [p for p in (tmp_path / "strict").rglob(".*")]


def test_bad_options_are_one_line_errors(tmp_path):
    result = _simulate("--out", str(tmp_path), "--size", "big", "--no-progress")
    assert result.exit_code == 2 and result.stderr.startswith("error: --size 'big'; expected WIDTHxHEIGHT")
    result = _simulate("--out", str(tmp_path), "--preset", "bracketire_pls", *SMALL)
    assert result.exit_code == 2 and "did you mean 'bracketire_plus'" in result.stderr
    result = _simulate("--out", str(tmp_path), "--set", "noise.modle=eld", *SMALL)
    assert result.exit_code == 2 and "did you mean 'noise.model'" in result.stderr


def test_video_source_with_frame_interpolation(tmp_path):
    import torch

    from simulator.sources import builtin_scene

    clip = tmp_path / "clips" / "pan_left"
    clip.mkdir(parents=True)
    base = builtin_scene(80, 200, torch.Generator().manual_seed(1))
    for k in range(12):  # the camera pans 2 px per source frame
        np.save(clip / f"pan_{936 + k:06d}.npy", base[:, :, 2 * k : 2 * k + 128].permute(1, 2, 0).numpy())
    out = tmp_path / "out"
    result = _simulate("--source", "video", "--source-path", str(tmp_path / "clips"), "--out", str(out),
                       "--set", "motion.model=video", "--set", "motion.subframes=4", *SMALL)
    assert result.exit_code == 0, result.output
    [(scene, frame, folder)] = list_frames(out)
    assert (scene, frame) == ("pan_left", "000936")  # published naming: clip, number of the group's first frame
    sample = read_frame(folder)
    assert sample.raws.shape == (5, 4, 32, 64)
    manifest = json.loads((out / "manifest_Test.json").read_text())
    assert len(manifest["samples"][0]["sources"]) == 12


def test_previews_are_the_protocol_render_of_the_ground_truth(tmp_path):
    import cv2

    from simulator.render import to_uint16, tonemap_raw

    out = tmp_path / "out"
    result = _simulate("--out", str(out), "--num-samples", "1", "--set", "output.previews=true",
                       "--set", "motion.model=none", *SMALL)
    assert result.exit_code == 0, result.output
    folder = list_frames(out)[0][2]
    gt_png = cv2.imread(str(folder / "rgb_vis_gt.png"), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert gt_png.dtype == np.uint16 and gt_png.shape == (64, 128, 3)
    sample = read_frame(folder)
    expected = to_uint16(tonemap_raw(sample.gt.clamp(0, 16), sample.meta))
    assert np.array_equal(gt_png, expected)
    preview = cv2.imread(str(folder / "rgb_vis_16.png"), cv2.IMREAD_UNCHANGED)
    assert preview.dtype == np.uint8 and preview.shape == (64, 128, 3)


def test_cluster_backends_need_the_dist_extra_and_threads_give_the_same_files(tmp_path, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real_find_spec(name, *a))
    result = _simulate("--out", str(tmp_path / "ray"), "--workers", "2", "--backend", "ray", *SMALL)
    assert result.exit_code == 2 and "pip install '.[dist]'" in result.stderr
    assert not (tmp_path / "ray").exists()  # refused before any work
    monkeypatch.setattr(importlib.util, "find_spec", real_find_spec)
    assert _simulate("--out", str(tmp_path / "t"), "--num-samples", "2", "--workers", "2", "--backend", "threading",
                     *SMALL).exit_code == 0
    assert _simulate("--out", str(tmp_path / "l"), "--num-samples", "2", *SMALL).exit_code == 0
    assert _tree(tmp_path / "t") == _tree(tmp_path / "l")


def _threads_after_limit(threads):
    import cv2
    import torch

    from simulator.dataset import limit_threads

    limit_threads(threads)
    return torch.get_num_threads(), cv2.getNumThreads()


def test_workers_times_threads_never_exceed_the_cores_and_the_progress_line_says_so(tmp_path):
    import os

    from joblib import Parallel, delayed

    from simulator.dataset import generate_dataset, worker_threads
    from simulator.settings import load_simulation_config

    cores = os.cpu_count() or 1
    for workers in (1, 2, 3, 64):
        assert 1 <= worker_threads(workers) and (workers * worker_threads(workers) <= cores or worker_threads(workers) == 1)
    # in real loky worker processes, as generate_dataset runs them
    threads = worker_threads(2)
    assert Parallel(n_jobs=2)(delayed(_threads_after_limit)(threads) for _ in range(2)) == [(threads, threads)] * 2
    import contextlib
    import io

    stream = io.StringIO()
    with contextlib.redirect_stderr(stream):
        generate_dataset(load_simulation_config("bracketire", ["output.size=[64, 32]", "num_samples=1"]), tmp_path / "d")
    assert f"simulate (1 worker(s) x {worker_threads(1)} thread(s))" in stream.getvalue()
