"""The README is a tested script: its ```bash blocks run, in order, at a small size, in a temporary folder.

What the test does with README.md:

* Every ```bash block, in order; a line ending in ``\\`` continues on the next. A ```python block whose first
  line is ``# NAME.py`` is written to ``NAME.py`` when it is reached (the plugin example).
* Skipped, and only these: ``make ...`` (the set-up that made this environment), ``torchrun ...``
  (multi-GPU), and lines whose comment ends with ``not run in tests`` (your own files, Jupyter).
* Sizes come down (:data:`SMALLER`): ``--num-samples N`` -> 2, ``--size WxH`` -> 128x128, ``--iters N`` -> 2,
  ``--workers N`` -> 1, ``train.patch=N`` -> 16, ``train.batch_size=N`` -> 2, and the built-in benchmark is
  2 samples of 128x128 instead of 4 of 640x384 (:data:`SMALL_BENCHMARK`).
* ``.venv/bin/python cli.py ARGS`` and ``.venv/bin/bracketire ARGS`` (optionally after ``NAME=value``
  assignments) run in this process through click, as ``tests/test_cli.py`` does; a line loading a
  ``--plugin``, ``.venv/bin/python -m ...`` and any other line run in a subprocess (bash for shell lines),
  so plugins never register into the test process.
* The folder is a new empty one (the README's commands write only under it: ``data/``, ``results/``,
  ``runs/``); ``HOME``, ``$BRACKETIRE_CACHE`` and ``$BRACKETIRE_RUNS`` point into it, downloads are off.

A failure names the README line, its exit code and its output.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from tests.conftest import REPO

README = REPO / "README.md"
SMALLER = [  # (pattern, replacement) applied to every command line
    (r"--num-samples \d+", "--num-samples 2"),
    (r"--size \d+x\d+", "--size 128x128"),
    (r"--iters \d+", "--iters 2"),
    (r"--workers \d+", "--workers 1"),
    (r"train\.patch=\d+", "train.patch=16"),
    (r"train\.batch_size=\d+", "train.batch_size=2"),
]
SMALL_BENCHMARK = ["output.size=[128, 128]", "num_samples=2", "seed=2024"]
NOT_RUN = "not run in tests"
PYTHON_PREFIXES = (".venv/bin/python cli.py ", ".venv/bin/bracketire ")


@dataclass(frozen=True)
class Step:
    """One README command line (continuations joined), or a file a ```python block defines."""

    line: int  # 1-based line number in README.md
    text: str
    file: str | None = None  # for a ```python block: the file name it is written to


def readme_steps(text: str) -> list[Step]:
    """The README's bash command lines and named python files, in order."""
    steps: list[Step] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        fence = lines[index].strip()
        if fence in ("```bash", "```python"):
            start = index + 1
            end = next(i for i in range(start, len(lines)) if lines[i].strip() == "```")
            body = lines[start:end]
            if fence == "```python":
                match = re.fullmatch(r"#\s*(\w+\.py)\s*", body[0]) if body else None
                if match:
                    steps.append(Step(start + 1, "\n".join(body[1:]) + "\n", match.group(1)))
            else:
                pending, first = "", 0
                for offset, raw in enumerate(body):
                    if not pending:
                        first = start + offset + 1
                    pending += raw.rstrip().removesuffix("\\") + " " if raw.rstrip().endswith("\\") else raw
                    if not raw.rstrip().endswith("\\"):
                        if pending.strip() and not pending.strip().startswith("#"):
                            steps.append(Step(first, " ".join(pending.split())))
                        pending = ""
            index = end
        index += 1
    return steps


def skipped(command: str) -> bool:
    """``make``/``torchrun`` lines and lines whose comment ends with ``not run in tests``."""
    comment = command.partition(" #")[2].strip()
    return command.startswith(("make ", "torchrun ")) or comment.endswith(NOT_RUN)


def smaller(command: str) -> str:
    """The command at the test's size (:data:`SMALLER`), its trailing comment removed."""
    command = shlex.join(shlex.split(command, comments=True))
    for pattern, replacement in SMALLER:
        command = re.sub(pattern, replacement, command)
    return command


def test_readme_is_parsed_into_the_commands_it_shows():
    steps = readme_steps(README.read_text())
    commands = [s.text for s in steps if s.file is None]
    assert any(c.startswith(".venv/bin/python cli.py bench --model merge") for c in commands)
    assert [s.file for s in steps if s.file] == ["my_models.py"]
    joined = [c for c in commands if c.startswith(".venv/bin/python cli.py train --model tmrnet")]
    assert len(joined) == 1 and "train.lr=5e-4" in joined[0]  # a continued line is one command
    assert sum(skipped(c) for c in commands) <= 8 and not skipped(".venv/bin/python cli.py info")
    assert with_interpreter(".venv/bin/bracketire info && .venv/bin/python -m x", "/v/.venv/bin/python", "c.py") == \
        "/v/.venv/bin/python c.py info && /v/.venv/bin/python -m x"
    assert smaller("x --num-samples 24 --size 640x384 --iters 400 --set train.patch=64  # two") == \
        "x --num-samples 2 --size 128x128 --iters 2 --set train.patch=16"


@pytest.fixture
def small_builtin_benchmark(monkeypatch):
    """The built-in benchmark at 2 samples of 128x128 (its own cache folder name, so nothing is mixed up)."""
    from benchmark import bench

    version = bench.BUILTIN_BENCHMARK_VERSION
    name, overrides = bench.BUILTIN_BENCHMARKS[version]
    kept = [o for o in overrides if o.startswith(("source.", "output.previews"))]
    monkeypatch.setitem(bench.BUILTIN_BENCHMARKS, version, (name + "_readme_test", [*kept, *SMALL_BENCHMARK]))


def _split_assignments(command: str) -> tuple[dict[str, str], str]:
    """``NAME=value`` assignments that start a command line, and the rest of it."""
    words, assigned = shlex.split(command), {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        assigned[key] = os.path.expanduser(value)
    return assigned, shlex.join(words)


def _in_process(command: str, env: dict[str, str], monkeypatch) -> tuple[int, str]:
    assigned, rest = _split_assignments(command)
    words = shlex.split(rest)
    args = words[2:] if words[0] == ".venv/bin/python" else words[1:]
    with monkeypatch.context() as patch:
        for key, value in {**env, **assigned}.items():
            patch.setenv(key, value)
        result = CliRunner().invoke(cli.cli, args)
    failure = f"\n{type(result.exception).__name__}: {result.exception}" if result.exit_code == 1 else ""
    return result.exit_code, result.output + failure


def with_interpreter(command: str, python: str, cli_path: str) -> str:
    """``.venv/bin/python`` -> ``python`` and ``.venv/bin/bracketire`` -> ``python cli_path`` (shell-quoted)."""
    programs = {"python": shlex.quote(python), "bracketire": f"{shlex.quote(python)} {shlex.quote(cli_path)}"}
    return re.sub(r"(?<![\w/.])\.venv/bin/(python|bracketire)\b", lambda m: programs[m.group(1)], command)


def _subprocess(command: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    command = with_interpreter(command.replace(" cli.py ", f" {shlex.quote(str(REPO / 'cli.py'))} "), sys.executable,
                               str(REPO / "cli.py"))
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=600)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.readme
def test_readme_commands_run_in_order(tmp_path, monkeypatch, small_builtin_benchmark):
    monkeypatch.chdir(tmp_path)
    env = {"HOME": str(tmp_path / "home"), "BRACKETIRE_OFFLINE": "1", "BRACKETIRE_CACHE": str(tmp_path / "home" / "cache"),
           "BRACKETIRE_RUNS": str(tmp_path / "runs"), "OMP_NUM_THREADS": "2"}
    ran = 0
    for step in readme_steps(README.read_text()):
        if step.file is not None:
            (tmp_path / step.file).write_text(step.text)
            continue
        if skipped(step.text):
            continue
        command = smaller(step.text)
        in_process = _split_assignments(command)[1].startswith(PYTHON_PREFIXES)
        if in_process and "--plugin" not in command and not re.search(r"[|;&<>$`]", command):
            code, output = _in_process(command, dict(env), monkeypatch)
        else:
            code, output = _subprocess(command, env, tmp_path)
        assert code == 0, f"README.md line {step.line}: `{command}` exited {code}:\n{output[-3000:]}"
        ran += 1
    assert ran >= 15
    assert (tmp_path / "runs" / "bench.csv").is_file() and (tmp_path / "results" / "merge" / "png16").is_dir()
