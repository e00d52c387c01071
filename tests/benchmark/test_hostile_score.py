"""``score`` / ``bench`` and image decoding used as a careless or hostile user would (issue 12): result files the
toolkit did not write are never overwritten, SIGTERM removes the extracted submission, bad metadata and noisy
native decoders give one line."""

from __future__ import annotations

import json
import os
import signal
import time
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

import cli
from benchmark.images import write_png16
from tests.helpers import one_error_line


@pytest.fixture
def pair(tmp_path):
    """A flat ground-truth folder and a .zip submission of one 16-bit PNG."""
    gt = tmp_path / "gt"
    gt.mkdir()
    image = (np.arange(64 * 64 * 3, dtype=np.uint16).reshape(64, 64, 3) * 7)
    write_png16(gt / "scene-000001.png", image)
    archive = tmp_path / "sub.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(gt / "scene-000001.png", "scene-000001.png")
    return gt, archive


def _score(gt, submission, *args):
    return CliRunner(env={"BRACKETIRE_OFFLINE": "1"}).invoke(
        cli.cli, ["score", str(submission), "--gt", str(gt), "--protocol", "bracketire", "--no-progress", *args])


def test_result_files_not_written_by_the_toolkit_are_never_overwritten(pair, tmp_path):
    gt, archive = pair
    mine = tmp_path / "paper.json"
    mine.write_text('{"draft": "do not lose"}')
    one_error_line(_score(gt, archive, "--json", str(mine)), "--json", "paper.json", "not a score json")
    assert mine.read_text() == '{"draft": "do not lose"}'
    table = tmp_path / "results.csv"
    table.write_text("a,b\n1,2\n")
    one_error_line(_score(gt, archive, "--csv", str(table)), "--csv", "not a score csv")
    assert table.read_text() == "a,b\n1,2\n"
    ours_json, ours_csv = tmp_path / "ours.json", tmp_path / "ours.csv"
    for _ in range(2):  # the toolkit's own results are replaced on the next run
        result = _score(gt, archive, "--json", str(ours_json), "--csv", str(ours_csv))
        assert result.exit_code == 0, result.output
    assert json.loads(ours_json.read_text())["count"] == 1
    one_error_line(_score(gt, archive, "--json", str(tmp_path)), "--json", "is a directory")


def test_sigterm_while_scoring_removes_the_extracted_submission(pair, tmp_path, monkeypatch):
    import tempfile

    import benchmark.scoring as scoring

    gt, archive = pair
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen = []

    def killed_mid_way(job, names, workers, progress):
        seen.extend(os.listdir(scratch))  # the extracted submission is there now
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # interrupted by the handler at once
        raise AssertionError("SIGTERM was not handled")

    monkeypatch.setattr(scoring, "_run_parallel", killed_mid_way)
    before = signal.getsignal(signal.SIGTERM)
    result = _score(gt, archive)
    assert result.exit_code == 128 + signal.SIGTERM
    assert "terminated (SIGTERM)" in result.stderr
    assert [name for name in seen if name.startswith("bracketire-submission-")]
    assert os.listdir(scratch) == []
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is the command's only


def test_metadata_json_of_the_wrong_types_is_one_line(tmp_path):
    from simulator.camera import CameraMeta

    good = json.loads(_reference().to_json())
    for key, value, needle in (("rgb2cam", "abc", "rgb2cam is 'abc'"), ("red_gain", [[1, 2], [3]], "red_gain"),
                               ("blue_gain", None, "blue_gain is None"), ("cam2rgb", [1, 2, 3], "cam2rgb")):
        bad = {**good, key: value}
        path = tmp_path / "metadata.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(Exception) as caught:
            CameraMeta.from_json(path.read_text(), str(path))
        assert type(caught.value).__name__ == "DataError" and str(path) in str(caught.value)
        assert needle in str(caught.value)


def _reference():
    import torch

    from simulator.camera import reference_camera

    return reference_camera(torch.Generator().manual_seed(0))


def test_broken_images_give_one_line_and_no_native_noise_on_stdout_or_stderr(tmp_path, capfd):
    import OpenEXR

    from simulator.sources import read_hdr_image, read_ldr_image

    exr = tmp_path / "cut.exr"
    pixels = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    with OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage},
                      {"RGB": pixels}) as image:
        image.write(str(exr))
    exr.write_bytes(exr.read_bytes()[:-200])  # header intact, last chunk cut: OpenEXR prints on stdout and stderr
    png = tmp_path / "broken.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    capfd.readouterr()
    for reader, path in ((read_hdr_image, exr), (read_ldr_image, png), (read_ldr_image, tmp_path / "missing.png")):
        with pytest.raises(Exception) as caught:
            reader(path)
        assert type(caught.value).__name__ == "DataError" and str(path) in str(caught.value)
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # OpenCV's [ERROR...] lines, libpng and OpenEXR's text all silenced


def test_plot_replaces_its_own_figure_but_never_the_users_image(tmp_path):
    photo = tmp_path / "holiday.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    result = CliRunner().invoke(cli.cli, ["plot", "--out", str(photo)])
    one_error_line(result, "--out", "holiday.png", "not a plot written by bracketire")
    assert photo.read_bytes() == b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    figure = tmp_path / "figure.png"
    for _ in range(2):
        result = CliRunner().invoke(cli.cli, ["plot", "--out", str(figure)])
        assert result.exit_code == 0, result.output
