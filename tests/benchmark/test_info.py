"""``info``: the registry listing cached per version of the source files (no torch import once cached), weight
files looked up on every call, ``info --model NAME`` for compute, and a reader that leaves early (``| head``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

import cli
from benchmark.info_cache import cache_file, registry_listing, source_fingerprint
from tests.conftest import REPO
from tests.helpers import one_error_line

_TORCH_AFTER_INFO = ("import sys, cli\n"
                     "try:\n    cli.cli(['info'], prog_name='bracketire')\nexcept SystemExit:\n    pass\n"
                     "print('torch imported' if 'torch' in sys.modules else 'no torch', file=sys.stderr)\n")


def _env(cache, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRACKETIRE_ALEXNET")}
    return {**env, "BRACKETIRE_CACHE": str(cache), "BRACKETIRE_OFFLINE": "1", **extra}


@pytest.fixture(scope="module")
def primed(tmp_path_factory):
    """A cache folder holding the listing, and the first (building) ``info``'s output."""
    cache = tmp_path_factory.mktemp("info_cache")
    first = CliRunner().invoke(cli.cli, ["info"], env={"BRACKETIRE_CACHE": str(cache), "BRACKETIRE_ALEXNET": ""})
    assert first.exit_code == 0, first.output
    return cache, first


def test_info_is_cached_by_source_version_and_then_needs_no_torch(primed, tmp_path):
    cache, first = primed
    stored = json.loads((cache / cache_file().name).read_text())
    assert stored["key"] == source_fingerprint() and "models" in stored["registries"]
    assert "13.29 M params" in first.output and "--model NAME" in first.output
    alexnet = tmp_path / "my_alexnet.pth"
    alexnet.write_bytes(b"not read by info")
    again = subprocess.run([sys.executable, "-c", _TORCH_AFTER_INFO], cwd=REPO, capture_output=True, text=True,
                           env=_env(cache, BRACKETIRE_ALEXNET=str(alexnet)), timeout=300)
    assert again.returncode == 0, again.stderr
    assert again.stderr.strip() == "no torch"  # the listing came from the cache
    # same listing, except the weight file that appeared meanwhile: where weights are is never cached
    assert f"found {alexnet}" in again.stdout and f"found {alexnet}" not in first.output
    keep = [line for line in first.output.splitlines() if "AlexNet (torchvision" not in line]
    assert keep == [line for line in again.stdout.splitlines() if "AlexNet (torchvision" not in line]


def test_a_changed_source_file_makes_a_new_fingerprint_and_foreign_caches_are_left_alone(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    package.mkdir()
    module = package / "models.py"
    module.write_text("A = 1\n")
    before = source_fingerprint([package])
    assert source_fingerprint([package]) == before
    module.write_text("A = 22\n")  # another size (and mtime)
    assert source_fingerprint([package]) != before
    monkeypatch.setenv("BRACKETIRE_CACHE", str(tmp_path / "cache"))
    foreign = cache_file()
    foreign.parent.mkdir()
    foreign.write_text("my own notes\n")
    assert [name for name, _ in registry_listing()["protocols"]] == ["bracketire@1", "bracketire_plus@1", "ntire2024@1"]
    assert foreign.read_text() == "my own notes\n"  # not the toolkit's file: never overwritten


def test_info_model_counts_macs_and_flops_on_demand():
    result = CliRunner().invoke(cli.cli, ["info", "--model", "tmrnet"])
    assert result.exit_code == 0, result.output
    assert "13.286 M" in result.output and "337.4 GMACs / 674.7 GFLOPs at input 1x5x4x128x128" in result.output
    assert "$BRACKETIRE_TMRNET" in result.output or "TMRNet (BracketIRE): found" in result.output
    one_error_line(CliRunner().invoke(cli.cli, ["info", "--model", "tmrnt"]), "no model named 'tmrnt'",
                   "did you mean 'tmrnet'")


def test_info_into_a_closed_pipe_stops_quietly(primed):
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first line, as `bracketire info | head -0` would
    try:
        done = subprocess.run([sys.executable, "cli.py", "info"], cwd=REPO, stdout=write, stderr=subprocess.PIPE,
                              text=True, env=_env(primed[0]), timeout=300)
    finally:
        os.close(write)
    assert done.stderr == ""  # no "error: [Errno 32] Broken pipe", no "Exception ignored ... BrokenPipeError"
    assert done.returncode == 141
