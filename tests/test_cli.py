import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

import cli
from simulator import __version__
from simulator.core.errors import DataError
from tests.conftest import REPO


def test_version():
    result = CliRunner().invoke(cli.cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_info_lists_every_registry():
    result = CliRunner().invoke(cli.cli, ["info"])
    assert result.exit_code == 0, result.output
    for expected in ("demosaicers:", "bilinear", "menon2007", "demosaicnet", "cameras:", "bracketire",
                     "brooks2019", "cfa orders:", "GRBG", "protocols:", "bracketire@1", "ntire2024@1",
                     "simulation presets:", "bracketire_plus", "noise models:", "poisson_gaussian", "eld",
                     "iso1600near", "generic14", "frame interpolators:", "dis", "metrics:", "ssim", "lpips", "models:", "13.29 M params", "13.58 M params", "weights:", "DemosaicNet (Bayer)"):
        assert expected in result.output
    for title, first in (("scene sources:", "builtin"), ("motion models:", "none")):  # from their registries
        assert f"{title}\n  {first} " in result.output


@pytest.fixture
def failing_commands():
    """Temporarily add commands that fail in each way the error policy distinguishes."""

    @cli.cli.command("fail-data")
    def fail_data() -> None:
        raise DataError("scene/raw_4.npy: has shape (540, 960, 3); expected (H, W, 4) packed RGGB")

    @cli.cli.command("fail-bug")
    def fail_bug() -> None:
        raise ZeroDivisionError("division by zero")

    yield
    cli.cli.commands.pop("fail-data")
    cli.cli.commands.pop("fail-bug")


def test_toolkit_error_is_one_line_with_exit_code_2(failing_commands):
    result = CliRunner().invoke(cli.cli, ["fail-data"])
    assert result.exit_code == 2
    assert result.stderr == "error: scene/raw_4.npy: has shape (540, 960, 3); expected (H, W, 4) packed RGGB\n"
    assert "Traceback" not in result.output


def test_unexpected_error_exits_1_without_traceback_unless_debug(failing_commands):
    result = CliRunner().invoke(cli.cli, ["fail-bug"])
    assert result.exit_code == 1
    assert result.stderr.startswith("unexpected error: ZeroDivisionError: division by zero")
    assert "--debug" in result.stderr and "Traceback" not in result.stderr
    debug = CliRunner().invoke(cli.cli, ["--debug", "fail-bug"])
    assert isinstance(debug.exception, ZeroDivisionError)


def test_usage_errors_keep_clicks_exit_code():
    result = CliRunner().invoke(cli.cli, ["no-such-command"])
    assert result.exit_code == 2 and "No such command" in result.output
    assert isinstance(cli.cli, click.Group)


def test_python_cli_py_runs_as_a_script():
    done = subprocess.run([sys.executable, "cli.py", "info"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "demosaicnet" in done.stdout
