"""Bench a registered model: inference over a test split, the published rendering, scoring, a runs row.

With no data folder it uses the **built-in benchmark**: a small test split simulated deterministically
from built-in scenes (``bracketire`` preset, 4 samples of 640x384, seed 2024) and cached, with the
``rgb_vis_gt.png`` ground truth rendered as the protocol renders outputs.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmark.images import write_png16
from benchmark.protocols import Protocol, get_protocol
from benchmark.render import render_png_array
from benchmark.scoring import ScoreResult, score
from models import MODELS, build_model, parameter_count, weight_free_models
from models.checkpoints import load_checkpoint, read_model_config
from models.inference import tiled_forward
from simulator.dataset import manifest_path
from simulator.errors import DataError, WeightsNotFoundError
from simulator.files import runs_dir as default_runs_dir
from simulator.layout import STORED_WHITE, list_frames, read_frame
from simulator.weights import cache_dir, resolve_weights, sha256_of

BUILTIN_BENCHMARK = ("builtin_benchmark_v1", ["output.size=[640, 384]", "num_samples=4", "seed=2024",
                                              "output.previews=true"])
TEST_CROP = {"bracketire": 5, "bracketire_plus": 2, "ntire2024": 5}  # packed pixels removed per side at test time


@dataclass
class BenchResult:
    """Scores plus what was run."""

    model: str
    params: int
    seconds_per_image: float
    score: ScoreResult
    row: dict[str, object]


def builtin_benchmark(progress: bool = False) -> Path:
    """The built-in benchmark dataset root, simulated on first use and cached (``$BRACKETIRE_CACHE``)."""
    from simulator.dataset import generate_dataset
    from simulator.settings import load_simulation_config

    name, overrides = BUILTIN_BENCHMARK
    root = cache_dir() / name
    generate_dataset(load_simulation_config("bracketire", overrides), root, resume=True, progress=progress)
    return root


def _checksum_dir(root: Path) -> str:
    manifest = manifest_path(root, "Test")
    return sha256_of(manifest)[:16] if manifest.is_file() else "unknown"


def bench(model_name: str, weights: str | os.PathLike[str] | None = None, data: str | os.PathLike[str] | None = None,
          protocol: str = "bracketire", device: str = "cpu", tile: int | None = 256, progress: bool = False,
          runs_dir: str | os.PathLike[str] | None = None) -> BenchResult:
    """Run ``model_name`` over the test split of ``data`` (or the built-in benchmark) and score it.

    Raises:
        DataError: a model that needs weights was given none (the message lists what runs without).
    """
    proto: Protocol = get_protocol(protocol)
    weights = _find_weights(model_name, weights)
    saved = read_model_config(weights) if weights is not None else None
    if saved is not None and saved["name"] != model_name:
        raise DataError(f"{weights}: a checkpoint of model {saved['name']!r}, not {model_name!r}")
    model = build_model(model_name, **(saved["kwargs"] if saved else {}))
    if weights is not None:
        load_checkpoint(model, weights)
    model = model.to(device).eval()
    root = Path(data) if data is not None else builtin_benchmark(progress)
    frames = list_frames(root)
    crop = TEST_CROP.get(proto.name, 5)
    seconds = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for scene, frame, folder in frames:
            sample = read_frame(folder, scale=getattr(model, "scale", 1))
            raws = (sample.raws.float() / STORED_WHITE)[None, ..., crop:-crop, crop:-crop]
            start = time.perf_counter()
            out = tiled_forward(model, raws, tile=tile, device=device).clamp_min(0)
            seconds += time.perf_counter() - start
            png = render_png_array(out[0].cpu(), sample.meta, padding=proto.padding)
            write_png16(Path(tmp) / f"{scene}-{frame}.png", png)
        result = score(tmp, root, proto.name, progress=progress)
    row = {
        "model": model_name, "task": "bracketire_plus" if getattr(model, "scale", 1) == 4 else "bracketire",
        "protocol": proto.tag, "psnr": result.mean.get("psnr"), "ssim": result.mean.get("ssim"),
        "lpips": result.mean.get("lpips"), "params_m": round(parameter_count(model) / 1e6, 4),
        "runtime_s": round(seconds / max(1, len(frames)), 4), "hardware": f"{platform.processor() or platform.machine()} ({device})",
        "source": "bench" + (" (built-in benchmark)" if data is None else f" ({root})"), "read_or_inferred": "measured",
        "date": dt.date.today().isoformat(),
        "weights_sha256": sha256_of(Path(weights))[:16] if weights else "", "data_sha256": _checksum_dir(root),
    }
    _append_run(row, runs_dir)
    return BenchResult(model_name, parameter_count(model), seconds / max(1, len(frames)), result, row)


def _find_weights(model_name: str, weights: str | os.PathLike[str] | None) -> Path | None:
    """The weight file for ``model_name``: ``weights``, else the published file from its variable or the cache.

    Raises:
        DataError: a learned model with no weights; the message says what to get or how to train it, and
            lists the models that run without weights.
    """
    if weights is not None:
        return Path(weights)
    spec = MODELS.spec(model_name)  # a typo gets its did-you-mean before any talk of weights
    if not spec.needs_weights:
        return None
    free = f"models that run without weights: {', '.join(weight_free_models())}"
    published = spec.weights().get("published")
    if published is not None:
        try:
            return resolve_weights(published, allow_download=False)
        except WeightsNotFoundError as err:
            raise DataError(f"model {model_name!r} needs weights: pass --weights PATH. {err} ({free})") from None
    raise DataError(f"model {model_name!r} needs weights: pass --weights PATH, e.g. a run of "
                    f"'python cli.py train --model {model_name} --data DIR --out RUN' (RUN/checkpoints/last.pt); {free}")


def runs_folder(runs_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where bench rows go: ``runs_dir``, ``$BRACKETIRE_RUNS``, or ``./runs`` (never the installed package)."""
    return default_runs_dir(runs_dir)


def _append_run(row: dict[str, object], runs_dir: str | os.PathLike[str] | None) -> Path:
    folder = runs_folder(runs_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench.csv"
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
    return path


def bench_table(result: BenchResult) -> str:
    """Markdown summary: the metric means, parameters and seconds per image."""
    mean = result.score.mean
    def fmt(value: object, digits: str) -> str:
        return "unavailable" if value is None else format(value, digits)
    return (f"| model | protocol | PSNR | SSIM | LPIPS | params (M) | s / image |\n|---|---|---|---|---|---|---|\n"
            f"| {result.model} | {result.score.protocol} | {fmt(mean.get('psnr'), '.2f')} | {fmt(mean.get('ssim'), '.4f')} "
            f"| {fmt(mean.get('lpips'), '.4f')} | {result.params / 1e6:.2f} | {result.seconds_per_image:.3f} |\n")
