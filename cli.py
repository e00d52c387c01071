"""Command line of the BracketIRE Toolkit: ``python cli.py COMMAND`` (or ``bracketire COMMAND``).

Thin by design: each command parses its options, calls one library function and prints. Errors follow one
policy: the toolkit's own errors (bad input) print one line and exit with code 2; anything unexpected
prints a short message and exits with code 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from benchmark.protocols import PROTOCOLS, protocol_names
from simulator import __version__
from simulator.core.errors import BracketIREError, ConfigError, DataError


def _one_line(err: BaseException) -> str:
    """The error's message on one line; for an error re-raised from a DataLoader worker, the worker's own line."""
    text = str(err).strip()
    if "Original Traceback" in text:  # torch wraps a worker's exception with the worker's traceback
        last = text.splitlines()[-1].strip()
        kind, sep, message = last.partition(": ")
        text = message if sep and kind.replace(".", "").replace("_", "").isalnum() else last
    elif isinstance(err, OSError) and not isinstance(err, BracketIREError) and err.strerror:
        text = f"{err.filename}: {err.strerror}" if err.filename else err.strerror  # disk full, permission
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


class _Terminated(SystemExit):
    """SIGTERM turned into an exception, so ``with`` blocks and ``finally`` clauses clean up on the way out."""


def _on_sigterm(signum: int, _frame: object) -> None:
    raise _Terminated(128 + signum)


class _Toolkit(click.Group):
    """A click group that applies the toolkit's error policy to every command."""

    def invoke(self, ctx: click.Context) -> Any:
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
        try:
            return super().invoke(ctx)
        except click.UsageError as err:  # a bad option value: one line too, with click's exit code 2
            click.echo(f"error: {' '.join(err.format_message().split())}", err=True)
            ctx.exit(2)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:  # `bracketire info | head`: the reader left; stop quietly, as a piped tool does
            _stdout_to_devnull()
            ctx.exit(141)  # 128 + SIGPIPE, what the shell reports for a tool killed by the closed pipe
        except _Terminated:
            click.echo("error: terminated (SIGTERM); temporary files removed", err=True)
            raise
        except (BracketIREError, OSError) as err:  # bad input, or what the machine refuses (disk full, permission)
            if ctx.meta.get("debug"):
                raise
            click.echo(f"error: {_one_line(err)}", err=True)
            ctx.exit(2)
        except Exception as err:
            if ctx.meta.get("debug"):
                raise
            click.echo(f"unexpected error: {type(err).__name__}: {_one_line(err)} (run with --debug for the traceback)",
                       err=True)
            ctx.exit(1)
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null so the interpreter's last flush at exit finds no closed pipe to complain about."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (CliRunner's buffer): nothing is flushed to a pipe
        pass
    finally:
        os.close(devnull)


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta["debug"] = value
    return value


@click.group(cls=_Toolkit, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bracketire")
@click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
              help="Show full tracebacks instead of one-line errors.")
@click.option("--plugin", "plugins", multiple=True, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.py",
              help="Import your own Python file first (it registers models, noise models, metrics, ...).")
def cli(plugins: tuple[Path, ...]) -> None:
    """BracketIRE Toolkit: simulate bracketed RAW data, train restoration models, benchmark them."""
    from simulator.core.plugins import load_plugin

    for path in plugins:
        load_plugin(path)
    click.get_current_context().meta["plugins"] = bool(plugins)


@cli.command()
@click.option("--model", "model_name", default=None,
              help="One model in detail: parameters, MACs and FLOPs at its stated input, weights, configurations.")
def info(model_name: str | None) -> None:
    """List every registry: models, metrics, protocols, noise models, demosaicers, ..., weight files."""
    if model_name is not None:
        from benchmark.info import model_card

        listing = {f"model {model_name}": [(e.name, e.summary) for e in model_card(model_name)]}
    else:
        from benchmark.info_cache import registry_listing

        listing = registry_listing(live=click.get_current_context().meta.get("plugins", False))
    click.echo(f"bracketire {__version__}")
    for title, entries in listing.items():
        click.echo(f"\n{title}:")
        width = max(len(name) for name, _ in entries)
        for name, summary in entries:
            click.echo(f"  {name:<{width}}  {summary}")
    if model_name is None:
        click.echo("\n(info --model NAME: a model's MACs and FLOPs at its stated input, its weights and configurations)")


@cli.command()
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@click.option("--gt", default=None, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Dataset root (holding Test/), its split folder, or a flat folder of <scene>-<frame>.png.")
@click.option("--no-reference", is_flag=True,
              help="No ground truth: CLIP-IQA / MANIQA (iqa extra) and classical diagnostics of each PNG.")
@click.option("--protocol", type=click.Choice(protocol_names()), default="bracketire", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the score as JSON.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write per-image scores as CSV.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Images scored in parallel (threads).")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when a terminal).")
def score(submission: Path, gt: Path | None, no_reference: bool, protocol: str, json_path: Path | None,
          csv_path: Path | None, workers: int | None, progress: bool | None) -> None:
    """Score a submission folder or flat .zip of 16-bit PNGs against ground truth (or without: --no-reference)."""
    from benchmark.scoring import score as score_submission
    from simulator.ownership import check_replaceable

    if (gt is None) == (not no_reference):
        raise ConfigError("score: pass --gt DIR to score against ground truth, or --no-reference (not both)")
    check_replaceable(json_path, "score json", "--json")  # before any work: never overwrite a file not ours
    check_replaceable(csv_path, "score csv", "--csv")
    if no_reference:
        from benchmark.noref import score_no_reference

        result = score_no_reference(submission, progress=bool(progress))
    else:
        result = score_submission(submission, gt, protocol, workers=workers, progress=progress)
    if json_path:
        result.write_json(json_path)
    if csv_path:
        result.write_csv(csv_path)
    for line in result.notes():
        click.echo(line, err=True)
    click.echo(result.to_markdown(), nl=False)


@cli.command("inspect")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Write every row as CSV.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write summary and rows as JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a figure (.png/.pdf/.svg).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Inspect at most this many samples.")
@click.option("--per-sample", is_flag=True, help="Print every (sample, exposure) row, not only the summary.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when a terminal).")
def inspect_command(data: Path, csv_path: Path | None, json_path: Path | None, plot_path: Path | None,
                    limit: int | None, per_sample: bool, progress: bool | None) -> None:
    """Statistics of bracketed RAW data: brightness, clipping, noise law, exposure ratios, dynamic range."""
    from benchmark.datastats import inspect_data, plot_inspection

    if plot_path is not None and plot_path.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise DataError(f"{plot_path}: expected a .png, .pdf or .svg file name")
    result = inspect_data(data, limit, progress=sys.stderr.isatty() if progress is None else progress)
    for path, write in ((csv_path, result.write_csv), (json_path, result.write_json)):
        if path is not None:
            write(path)
    if plot_path is not None:
        plot_inspection(result, plot_path, str(data))
    click.echo(result.to_markdown(per_sample), nl=False)


@cli.command()
@click.option("--preset", default="bracketire", show_default=True,
              help="A shipped preset (bracketire, bracketire_plus) or a YAML file.")
@click.option("--source", default=None, help="Scene source: builtin, shapes, hdr, ldr or video (default: the preset's).")
@click.option("--source-path", type=click.Path(exists=True, path_type=Path), default=None,
              help="File or folder for hdr / ldr / video sources.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Dataset root to write.")
@click.option("--split", default=None, help="Split folder name (default Test).")
@click.option("--num-samples", type=click.IntRange(min=1), default=None, help="Samples to make (at most).")
@click.option("--size", default=None, help="Ground-truth size WxH at full resolution, e.g. 1920x1080.")
@click.option("--seed", type=int, default=None, help="Dataset seed (sample seeds derive from it and the index).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Parallel processes.")
@click.option("--backend", type=click.Choice(["loky", "threading", "dask", "ray"]), default="loky", show_default=True,
              help="joblib backend for --workers > 1 (dask / ray: clusters, need the dist extra).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override any setting, e.g. noise.model=poisson_gaussian.")
@click.option("--resume", is_flag=True, help="Keep the samples already written and verified; make the rest.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first bad source file instead of skipping it.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
def simulate(preset: str, source: str | None, source_path: Path | None, out: Path, split: str | None,
             num_samples: int | None, size: str | None, seed: int | None, workers: int, backend: str,
             overrides: tuple[str, ...],
             resume: bool, fail_fast: bool, progress: bool) -> None:
    """Simulate a BracketIRE / BracketIRE+ dataset in the published layout."""
    from simulator.dataset import generate_dataset
    from simulator.settings import load_simulation_config, options_as_overrides

    extra = options_as_overrides(source=source, source_path=source_path, split=split, num_samples=num_samples,
                                 size=size, seed=seed)
    config = load_simulation_config(preset, [*extra, *overrides])
    summary = generate_dataset(config, out, workers=workers, resume=resume, progress=progress,
                               fail_fast=True if fail_fast else None, backend=backend)
    for _source, reason in summary.failed:
        click.echo(f"skipped: {reason}", err=True)
    click.echo(summary.line())


class _TrainCommand(click.Command):
    """``train --help`` ends with every train.* / data.* key and its default (generated, never out of date)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from models.train_config import settings_help

        formatter.write_paragraph()
        formatter.write_text("Settings (--set KEY=VALUE; defaults shown):")
        with formatter.indentation():
            for line in settings_help().splitlines():
                formatter.write(f"{' ' * formatter.current_indent}{line}\n")


@cli.command(cls=_TrainCommand)
@click.option("--model", "model_name", default=None, help="A registered model (default: the config's, else tmrnet).")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Dataset root in the published layout (Train/ for training, Test/ for validation).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run folder to write.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A run config YAML (e.g. a previous run's config.yaml).")
@click.option("--iters", type=click.IntRange(min=1), default=None, help="Total iterations (train.iters).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="model.<arg>=value for the model's constructor, train.<key>=value or data.<key>=value.")
def train(model_name: str | None, data: Path | None, out: Path, config_path: Path | None, iters: int | None,
          resume: bool, overrides: tuple[str, ...]) -> None:
    """Train a registered model with the published recipe; the run folder holds config, log and checkpoints."""
    from benchmark.validation import train_model
    from models.run_guard import TrainingInterrupted
    from models.train_config import load_run_config

    extra = [*([f"data.root={data}"] if data else []), *([f"train.iters={iters}"] if iters else [])]
    previous = out / "config.yaml"
    if resume and config_path is None and (out / "checkpoints" / "last.pt").is_file() and not previous.is_file():
        raise ConfigError(f"{previous}: missing, so the run's settings are unknown; pass --config with them to resume")
    base = load_run_config(previous) if resume and previous.is_file() and config_path is None else None
    config = load_run_config(config_path, [*extra, *overrides], model=model_name, base=base)
    try:
        result = train_model(config, out, resume=resume)
    except TrainingInterrupted as stopped:  # saved, so not an error: the signal's usual exit status (130, 143)
        click.echo(str(stopped), err=True)
        click.get_current_context().exit(128 + stopped.signal_number)
    scores = ", ".join(f"val {k} {v:.4f}" for k, v in result.validation.items())
    click.echo(f"{config.model}: step {result.step}/{config.train.iters}, loss {result.loss:.5f}"
               + (f", {scores}" if scores else "") + f"; {result.seconds_per_step:.3f} s/step, "
               f"data loading {100 * result.data_share:.0f}%; run in {out}")


@cli.command()
@click.option("--model", "model_name", required=True, help="A model that gives outputs from fewer frames (tmrnet, ...).")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The synthetic checkpoint student and teacher start from (a train run's checkpoints/last.pt).")
@click.option("--data", required=True, type=click.Path(exists=True, path_type=Path),
              help="Unlabelled brackets: anything predict reads (real-world DNG layout, camera RAW, published layouts).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run folder to write.")
@click.option("--iters", type=click.IntRange(min=1), default=None, help="Total iterations (default: published 5000).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--layout", type=click.Choice(["synthetic", "ntire", "real", "camera"]), default=None,
              help="Input layout (default: detected).")
@click.option("--group", type=click.IntRange(min=2), default=None, help="Frames per bracket for camera RAW folders.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="train.<key>=value (e.g. train.batch_size=4), data.<key>=value or model.<arg>=value.")
def adapt(model_name: str, weights: Path | None, data: Path, out: Path, iters: int | None, resume: bool,
          layout: str | None, group: int | None, overrides: tuple[str, ...]) -> None:
    """Adapt a synthetic-trained model to unlabelled brackets (EMA teacher + self-consistency, no ground truth)."""
    from benchmark.adaptation import adapt_to_folder

    result = adapt_to_folder(model_name, weights, data, out, iters, resume, overrides, layout, group)
    click.echo(f"{model_name}: adapted to step {result.step}, loss {result.loss:.5f}; "
               f"{result.seconds_per_step:.3f} s/step; run in {out} (predict --weights {out}/checkpoints/last.pt)")


@cli.command()
@click.option("--model", "model_name", required=True, help="A registered model (python cli.py info lists them).")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Checkpoint for models that need one (tmrnet, tmrnet_plus).")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Dataset root in the published layout (default: the built-in benchmark).")
@click.option("--protocol", type=click.Choice(protocol_names()), default="bracketire", show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the scores as JSON.")
@click.option("--save", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the rendered outputs there (png16/, preview/, as predict writes them).")
@click.option("--progress/--no-progress", default=True, help="Progress bars on stderr.")
@click.option("--tile", type=click.IntRange(min=0), default=256, show_default=True,
              help="Tile core side in packed pixels (32 of overlap around it); 0 runs each image whole.")
@click.option("--memory-gb", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Activation budget in GiB, overlap included; picks the largest tile that fits (overrides --tile).")
@click.option("--label", default=None,
              help="The row's label, to tell runs of one model apart (default: model:run-folder, model:published, ...).")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True,
              help="Timed runs on the first image after the warm-up pass; the runtime is their median.")
def bench(model_name: str, weights: Path | None, data: Path | None, protocol: str, device: str,
          json_path: Path | None, save: Path | None, progress: bool, tile: int, memory_gb: float | None,
          label: str | None, repeats: int) -> None:
    """Run a model over a test split, render and score it as published, and log a runs row.

    The row goes to ./runs/bench.csv (or $BRACKETIRE_RUNS/bench.csv); --json also keeps the parameters, the
    runtime (median of --repeats after a warm-up, with the hardware), the weights and data checksums.
    """
    from benchmark.bench import bench as run_bench
    from benchmark.bench import bench_table
    from simulator.ownership import check_replaceable

    check_replaceable(json_path, "score json", "--json")
    result = run_bench(model_name, weights, data, protocol, device, tile=tile or None, progress=progress,
                       memory_gb=memory_gb, save=save, label=label, repeats=repeats)
    if json_path:
        result.write_json(json_path)
    for line in result.score.notes():
        click.echo(line, err=True)
    click.echo(f"weights: {result.weights_line()}", err=True)
    click.echo(bench_table(result), nl=False)


@cli.command()
@click.option("--model", "model_name", required=True, help="A registered model (python cli.py info lists them).")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Checkpoint for learned models (default: found as bench finds it).")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, path_type=Path),
              help="Brackets: a dataset in the published layout, NTIRE <frame>/raw_*.npy folders, or camera RAW / DNG.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: png16/ (what score reads), preview/, hdr/, predict.json. Resumable.")
@click.option("--zip", "zip_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write an NTIRE-style submission: the flat PNGs plus readme.txt.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--tile", type=click.IntRange(min=8), default=256, show_default=True,
              help="Tile side in packed pixels (0 is not allowed; see --memory-gb).")
@click.option("--memory-gb", type=click.FloatRange(min=0.01), default=None,
              help="Pick the tile from an activation budget instead of --tile.")
@click.option("--save-hdr", is_flag=True, help="Also write hdr/<name>.npy, the linear HDR RAW result (float32 h x w x 4).")
@click.option("--layout", type=click.Choice(["synthetic", "ntire", "real", "camera"]), default=None,
              help="Input layout (default: detected).")
@click.option("--group", type=click.IntRange(min=2), default=None, help="Frames per bracket for camera RAW folders.")
@click.option("--protocol", type=click.Choice(protocol_names()), default="bracketire", show_default=True,
              help="Rendering protocol of synthetic / NTIRE inputs (test crop, zero border).")
@click.option("--description", default=None, help="readme.txt's free description (default: model and weights).")
@click.option("--extra-data", is_flag=True, help="readme.txt: the model was trained with extra data.")
@click.option("--score", "score_outputs", is_flag=True,
              help="Also score the outputs without ground truth (as score --no-reference does).")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
def predict(model_name: str, weights: Path | None, input_path: Path, out: Path, zip_path: Path | None, device: str,
            tile: int, memory_gb: float | None, save_hdr: bool, layout: str | None, group: int | None,
            protocol: str, description: str | None, extra_data: bool, score_outputs: bool, progress: bool) -> None:
    """Run a model over every bracket of an input and keep the results (16-bit PNG, preview, optional HDR)."""
    from benchmark.predict import predict as run_predict
    from benchmark.tables import to_markdown

    result = run_predict(model_name, input_path, out, weights, device, None if memory_gb else tile, memory_gb,
                         save_hdr, layout, group, protocol, zip_path, description, extra_data, progress)
    click.echo(to_markdown(result.table))
    click.echo(result.summary())
    if score_outputs:
        from benchmark.noref import score_no_reference

        scores = score_no_reference(result.out, names=list(result.table["name"]), progress=progress)
        for line in scores.notes():
            click.echo(line, err=True)
        click.echo(scores.to_markdown(), nl=False)


@cli.command()
@click.option("--task", type=click.Choice(["bracketire", "bracketire_plus"]), default="bracketire", show_default=True)
@click.option("--protocol", default="ntire2024@1", show_default=True, help="Rank one protocol (name or name@version).")
@click.option("--format", "fmt", type=click.Choice(["markdown", "csv", "json", "latex"]), default="markdown",
              show_default=True, help="latex: escaped, booktabs rules (\\usepackage{booktabs}).")
@click.option("--include-runs/--no-runs", default=True, show_default=True,
              help="Your own runs from ./runs (or $BRACKETIRE_RUNS) next to the published rows.")
@click.option("--test-set", default=None, help="Only results on this test set: a data_sha256 (prefix) or 'published'.")
def leaderboard(task: str, protocol: str, fmt: str, include_runs: bool, test_set: str | None) -> None:
    """Print the ranked result table of a task under one protocol (your rows filtered out are named in a note)."""
    from leaderboards.table import load_leaderboard, protocol_problem, ranked, render

    board = load_leaderboard(task, protocol, include_runs, test_set=test_set)
    for problem in board.problems:
        click.echo(f"note: {problem}", err=True)
    if board.rows.empty:
        raise DataError(protocol_problem(task, protocol, board, [p.tag for p in PROTOCOLS.values()]))
    try:
        table = ranked(board.rows)
    except ValueError as err:  # mixed protocols or test sets
        raise DataError(str(err)) from None
    click.echo(render(table, fmt), nl=False)


@cli.command()
@click.option("--task", type=click.Choice(["bracketire", "bracketire_plus"]), default="bracketire", show_default=True)
@click.option("--protocol", default="ntire2024@1", show_default=True)
@click.option("--x", "x_axis", type=click.Choice(["params", "flops", "runtime"]), default="params", show_default=True)
@click.option("--include-runs/--no-runs", default=True, show_default=True,
              help="Your own runs from ./runs (or $BRACKETIRE_RUNS) next to the published rows.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="A .png, .pdf or .svg file.")
@click.option("--test-set", default=None, help="Only results on this test set: a data_sha256 (prefix) or 'published'.")
@click.option("--per-scene", is_flag=True,
              help="Plot PSNR per scene of the SCORES files (per-image CSVs of score --csv), one bar per file.")
@click.argument("scores", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def plot(task: str, protocol: str, x_axis: str, include_runs: bool, out: Path, test_set: str | None,
         per_scene: bool, scores: tuple[Path, ...]) -> None:
    """Plot PSNR against model size, compute or runtime (one point per run label), or per scene (--per-scene A.csv B.csv)."""
    from leaderboards.plots import PlotInputError, plot_per_scene, plot_psnr
    from leaderboards.table import IncomparableRows, check_comparable, load_leaderboard, protocol_problem
    from simulator.ownership import check_replaceable

    if out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise DataError(f"{out}: expected a .png, .pdf or .svg file name")
    if bool(scores) != per_scene:
        raise ConfigError("--per-scene needs score CSV files (score --csv) as arguments" if per_scene else
                          f"{scores[0]}: score files are plotted with --per-scene")
    check_replaceable(out, "plot", "--out")
    try:  # PlotInputError (nothing to draw, not a score file) and mixed rows are bad input: no file is written
        if per_scene:
            written, table = plot_per_scene(scores, out)
            click.echo(f"{table}\n{written}")
            return
        board = load_leaderboard(task, protocol, include_runs, test_set=test_set)
        for problem in board.problems:
            click.echo(f"note: {problem}", err=True)
        if board.rows.empty:
            raise DataError(protocol_problem(task, protocol, board, [p.tag for p in PROTOCOLS.values()]))
        check_comparable(board.rows)  # as leaderboard ranks: one protocol version, one test set per plot
        click.echo(plot_psnr(board.rows, x_axis, out, f"{task}, {board.rows['protocol'].iloc[0]}"))
    except (PlotInputError, IncomparableRows) as err:
        raise DataError(str(err)) from None


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="bracketire")


if __name__ == "__main__":
    sys.exit(main())
