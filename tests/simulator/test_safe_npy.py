import hashlib
import os

import numpy as np
import pytest

from simulator.camera import CameraMeta
from simulator.core.errors import DataError
from simulator.core.safe_npy import load_array, load_legacy_dict


def test_reads_the_genuine_published_metadata(shared):
    sample = shared / "fixtures" / "published_sample" / "000936"
    meta = load_legacy_dict(sample / "metadata.npy")
    assert sorted(meta) == ["blue_gain", "cam2rgb", "red_gain", "rgb2cam", "rgb_gain"]
    assert meta["rgb2cam"].shape == (3, 3) and meta["red_gain"].shape == (1,)
    assert all(v.dtype == np.float32 for v in meta.values())
    camera = CameraMeta.from_arrays(meta, "metadata.npy")
    assert np.allclose(camera.rgb2cam.numpy() @ camera.cam2rgb.numpy(), np.eye(3), atol=1e-5)
    assert load_array(sample / "alignratio.npy").item() == pytest.approx(47.136616)
    sums = dict(line.split()[::-1] for line in (shared / "fixtures" / "published_sample" / "SHA256SUMS").read_text().splitlines())
    assert hashlib.sha256((sample / "metadata.npy").read_bytes()).hexdigest() == sums["000936/metadata.npy"]


def test_round_trip_of_a_dict_we_write(tmp_path):
    data = {"rgb2cam": np.eye(3, dtype=np.float32), "red_gain": np.array([2.0], np.float32)}
    np.save(tmp_path / "m.npy", data)
    back = load_legacy_dict(tmp_path / "m.npy")
    assert back.keys() == data.keys() and all(np.array_equal(back[k], data[k]) for k in data)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "evil.npy", np.array({"x": _Evil()}, dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"evil.npy: not a safe metadata dict \(global posix.system is not allowed\)"):
        load_legacy_dict(tmp_path / "evil.npy")
    assert not (tmp_path / "pwned").exists()


def test_plain_array_loader_refuses_pickles_and_reports_files(tmp_path):
    np.save(tmp_path / "obj.npy", np.array({"a": 1}, dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="obj.npy: holds pickled Python objects"):
        load_array(tmp_path / "obj.npy")
    (tmp_path / "junk.npy").write_bytes(b"junk")
    with pytest.raises(DataError, match="junk.npy: not a readable .npy array"):
        load_array(tmp_path / "junk.npy")
    with pytest.raises(DataError, match="nope.npy: file not found"):
        load_array(tmp_path / "nope.npy")
    np.save(tmp_path / "arr.npy", np.zeros(3))
    with pytest.raises(DataError, match="expected a pickled dict"):
        load_legacy_dict(tmp_path / "arr.npy")
    np.save(tmp_path / "list.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="list.npy"):
        load_legacy_dict(tmp_path / "list.npy")


def test_a_fifo_where_an_npy_is_expected_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "raw_1.npy"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    with pytest.raises(DataError, match="raw_1.npy: not a regular file; expected a .npy array"):
        load_array(fifo)
