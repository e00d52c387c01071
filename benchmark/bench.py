"""Bench a registered model: inference over a test split, the published rendering, scoring, a runs row.

With no data folder it uses the **built-in benchmark**: a small test split simulated deterministically
(``bracketire`` preset, 4 samples of 640x384, seed 2024) and cached, with the ``rgb_vis_gt.png`` ground
truth rendered as the protocol renders outputs. Version 2 (the default) is made of the dead-leaves scenes of
the ``builtin`` source; version 1 of the first procedural scenes (now the ``shapes`` source). Each version has
its own cache folder, so its own manifest and ``data_sha256`` in the runs rows: rows of the two versions are
never ranked together (:func:`leaderboards.table.ranked` refuses to mix checksums), and version 1 rows stay
valid, reproducible with ``builtin_benchmark(version=1)``.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from benchmark.ground_truth import ground_truth_folder, list_test_frames
from benchmark.outputs import OutputFolder, encode_png, preview_of
from benchmark.protocols import Protocol, check_model_fits, get_protocol
from benchmark.render import render_png_arrays
from benchmark.scoring import ScoreResult, score
from benchmark.timing import Timing, hardware_name, median_time
from models import MODELS, build_model, parameter_count, weight_free_models
from models.checkpoints import load_checkpoint, read_model_config
from models.inference import tiled_forward
from models.pretrained import split_part_args
from models.run_checks import check_device
from models.train_config import _check_model_args as check_model_args
from simulator.camera import CameraMeta
from simulator.core.errors import ConfigError, DataError, WeightsNotFoundError
from simulator.core.files import runs_dir as default_runs_dir
from simulator.core.weights import cache_dir, resolve_weights, sha256_of
from simulator.dataset import manifest_path
from simulator.layout import list_frames, read_frame

_BENCHMARK_SETTINGS = ["output.size=[640, 384]", "num_samples=4", "seed=2024", "output.previews=true"]
BUILTIN_BENCHMARKS = {  # version -> (cache folder, overrides of the bracketire preset)
    1: ("builtin_benchmark_v1", ["source.name=shapes", *_BENCHMARK_SETTINGS]),
    2: ("builtin_benchmark_v2", ["source.name=builtin", *_BENCHMARK_SETTINGS]),
}
BUILTIN_BENCHMARK_VERSION = 2  # the one bench uses without a data folder
BUILTIN_BENCHMARK = BUILTIN_BENCHMARKS[BUILTIN_BENCHMARK_VERSION]
RUN_COLUMNS = ["model", "label", "task", "protocol", "psnr", "ssim", "lpips", "params_m", "runtime_s", "runtime_repeats",
               "hardware", "source", "read_or_inferred", "date", "weights_sha256", "data_sha256"]  # a bench.csv row
_OLD_RUN_COLUMNS = [c for c in RUN_COLUMNS if c not in ("label", "runtime_repeats")]  # bench.csv before labels
RENDER_BATCH_VALUES = 4 * 4 * 270 * 480  # outputs rendered in one DemosaicNet pass: up to four 1080p images
TEST_CROP = {"bracketire": 5, "bracketire_plus": 2, "ntire2024": 5}  # packed pixels removed per side at test time


@dataclass
class BenchResult:
    """Scores plus what was run: the runs row, and everything ``bench --json`` stores (:meth:`to_dict`).

    ``seconds_per_image`` is ``timing.median_s``: the median of ``timing.repeats`` runs of the model on the first
    test image, after the pass over the whole test split served as warm-up.
    """

    model: str
    params: int
    seconds_per_image: float
    score: ScoreResult
    row: dict[str, object]
    timing: Timing | None = None
    weights: dict[str, str] | None = None  # {"path", "sha256", "which"}: which is published, shipped, run or file
    data: dict[str, object] | None = None  # {"root", "sha256", "images", "builtin_benchmark"}
    runs_csv: Path | None = None  # where the row was appended

    def to_dict(self) -> dict[str, object]:
        """The score document (``protocol, count, mean, per_image, unavailable, warnings``) plus ``model, label,
        task, parameters, runtime {median_s, repeats, warmup, times_s, per, hardware, device}, weights, data,
        date, toolkit``."""
        from simulator import __version__

        runtime = {**(self.timing.to_dict() if self.timing else {}), "per": "image",
                   "hardware": self.row["hardware"], "device": self.row.get("device", "")}
        return {**self.score.to_dict(), "model": self.model, "label": self.row["label"], "task": self.row["task"],
                "parameters": self.params, "runtime": runtime, "weights": self.weights, "data": self.data,
                "date": self.row["date"], "toolkit": __version__}

    def weights_line(self) -> str:
        """Which weights ran, for the output: ``"shipped tmrnet_bracketire.pth sha256:<12>"``, or weight-free."""
        w = self.weights
        return f"{w['which']} {Path(w['path']).name} sha256:{w['sha256'][:12]}" if w else "none (weight-free model)"

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` as strict JSON (``inf`` as ``"inf"``, as the score's own JSON), atomically."""
        import json

        from simulator.core.files import write_atomic

        write_atomic(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")


def builtin_benchmark(progress: bool = False, version: int = BUILTIN_BENCHMARK_VERSION) -> Path:
    """The built-in benchmark dataset root, simulated on first use and cached (``$BRACKETIRE_CACHE``).

    The cache folder is named after the version and a hash of every simulation setting, so a toolkit whose
    settings changed (a new key, a new default) simulates a fresh copy instead of refusing the stale one.

    Raises:
        ConfigError: an unknown ``version``.
    """
    import json

    from simulator.core.config import to_dict
    from simulator.dataset import generate_dataset
    from simulator.lock import OutputLock
    from simulator.settings import load_simulation_config

    if version not in BUILTIN_BENCHMARKS:
        raise ConfigError(f"built-in benchmark version {version}; expected one of {sorted(BUILTIN_BENCHMARKS)}")
    name, overrides = BUILTIN_BENCHMARKS[version]
    config = load_simulation_config("bracketire", overrides)
    settings = json.dumps(to_dict(config), sort_keys=True).encode()
    root = cache_dir() / f"{name}-{hashlib.sha256(settings).hexdigest()[:8]}"  # a toolkit whose settings gained a key
    with OutputLock(root, "builtin-benchmark", f"built-in benchmark v{version}", wait_s=3600):  # a second bench waits
        generate_dataset(config, root, resume=True, progress=progress)  # caches anew, never over the old one
    return root


def _checksum_dir(root: Path) -> str:
    """The test set's identity: its manifest's checksum, else one over every ground truth file of the split."""
    manifest = manifest_path(root, "Test")
    if manifest.is_file():
        return sha256_of(manifest)[:16]
    digest = hashlib.sha256()
    for scene, frame, folder in list_frames(root):
        gt = folder / "raw_gt.npy"
        digest.update(f"{scene}/{frame}:{sha256_of(gt) if gt.is_file() else '-'}\n".encode())
    return digest.hexdigest()[:16]


def bench(model_name: str, weights: str | os.PathLike[str] | None = None, data: str | os.PathLike[str] | None = None,
          protocol: str = "bracketire", device: str = "cpu", tile: int | None = 256, progress: bool = False,
          runs_dir: str | os.PathLike[str] | None = None, memory_gb: float | None = None,
          save: str | os.PathLike[str] | None = None, label: str | None = None, repeats: int = 3) -> BenchResult:
    """Run ``model_name`` over the test split of ``data`` (or the built-in benchmark) and score it.

    The ground truth is each sample's ``rgb_vis_gt.png``, or rendered from its ``raw_gt.npy`` where those
    are missing (once per dataset, cached: ``benchmark/ground_truth.py``). ``save``: keep the rendered
    outputs in that folder, laid out as ``predict`` writes them (``png16/``, ``preview/``, ``predict.json``).
    ``tile`` is the tile core side for inference (None: whole images); ``memory_gb`` instead picks the largest
    tile whose activations, overlap included, fit that budget (``models.inference.tile_for_budget``).
    The runtime is the median of ``repeats`` runs on the first test image after the pass over the split
    (the warm-up), on the hardware the row names. ``label`` tells rows of one model apart (default
    :func:`default_label`: the model, and the run folder or kind of its weights).

    Raises:
        DataError: a model that needs weights was given none (the message lists what runs without); inputs
            without ground truth (the message points to ``predict``); a foreign file in the ``save`` folder.
    """
    proto: Protocol = get_protocol(protocol)
    check_device("--device", device)
    if repeats < 1:
        raise ConfigError(f"--repeats {repeats}; expected at least 1 timed run")
    _runs_csv(runs_dir, RUN_COLUMNS)  # a results file we cannot append to is refused before any work
    explicit = weights is not None
    model, weights = load_model(model_name, weights, device)
    which = weights_origin(model_name, weights, explicit)
    label = label or default_label(model_name, weights, which)
    check_model_fits(proto, model_name, getattr(model, "scale", 1))
    root = Path(data) if data is not None else builtin_benchmark(progress)
    frames = list_test_frames(root)
    check_data_fits(frames, getattr(model, "scale", 1), model_name)
    truth = ground_truth_folder(root, proto, frames)
    crop = TEST_CROP.get(proto.name, 5)
    first = None  # the first image's forward, timed after the pass over the split
    run = {"model": model_name, "weights_sha256": sha256_of(Path(weights))[:16] if weights else "",
           "input": str(root.resolve()), "layout": "synthetic", "protocol": proto.tag, "tile": tile, "memory_gb": memory_gb, "device": device}
    with tempfile.TemporaryDirectory() as tmp:
        outputs = OutputFolder(save if save is not None else tmp, run)
        pending: list[tuple[str, torch.Tensor, CameraMeta]] = []  # outputs waiting to be rendered together

        def render_pending() -> None:
            pngs = render_png_arrays(torch.stack([o for _, o, _ in pending]), [m for _, _, m in pending],
                                     padding=proto.padding)
            for (name, _, _), png in zip(pending, pngs):
                outputs.write(f"png16/{name}", encode_png(png))
                if save is not None:
                    outputs.write(f"preview/{name}", encode_png(preview_of(png, proto.padding)))
            if save is not None:
                outputs.save_manifest()
            pending.clear()

        for scene, frame, folder in frames:
            sample = read_frame(folder, scale=getattr(model, "scale", 1))
            raws = sample.normalised_raws()[None, ..., crop:-crop, crop:-crop]
            exposures = torch.tensor(sample.exposures, dtype=torch.float32)  # the bracket's own ratios

            def forward(raws: torch.Tensor = raws, exposures: torch.Tensor = exposures) -> torch.Tensor:
                return tiled_forward(model, raws, tile=None if memory_gb else tile, memory_gb=memory_gb,
                                     device=device, exposures=exposures)
            out = forward().clamp_min(0)
            first = first or forward
            if pending and (pending[0][1].shape != out[0].shape or
                            (len(pending) + 1) * out[0].numel() > RENDER_BATCH_VALUES):
                render_pending()
            pending.append((proto.file_pattern.format(scene=scene, frame=frame), out[0].cpu(), sample.meta))
        if pending:
            render_pending()
        result = score(outputs.path("png16"), truth, proto.name, progress=progress)
    timing = None
    if first is not None:  # warmed up by the pass over the split, which ran this image once
        timing = dataclasses.replace(median_time(first, repeats, warmup=0, device=device), warmup=1)
    seconds = timing.median_s if timing else 0.0
    row = {
        "model": model_name, "label": label, "task": "bracketire_plus" if getattr(model, "scale", 1) == 4 else "bracketire",
        "protocol": proto.tag, "psnr": result.mean.get("psnr"), "ssim": result.mean.get("ssim"),
        "lpips": result.mean.get("lpips"), "params_m": round(parameter_count(model) / 1e6, 4),
        "runtime_s": round(seconds, 4), "runtime_repeats": repeats, "hardware": hardware_name(device),
        "source": "bench" + (f" (built-in benchmark v{BUILTIN_BENCHMARK_VERSION})" if data is None else f" ({root})"), "read_or_inferred": "measured",
        "date": dt.date.today().isoformat(),
        "weights_sha256": sha256_of(Path(weights))[:16] if weights else "", "data_sha256": _checksum_dir(root),
    }
    runs_csv = _append_run(row, runs_dir)
    weights_doc = {"path": str(Path(weights).resolve()), "sha256": sha256_of(Path(weights)), "which": which} if weights else None
    data_doc = {"root": str(root.resolve()), "sha256": row["data_sha256"], "images": len(frames),
                "builtin_benchmark": BUILTIN_BENCHMARK_VERSION if data is None else None}
    return BenchResult(model_name, parameter_count(model), seconds, result, {**row, "device": device}, timing,
                       weights_doc, data_doc, runs_csv)


def check_data_fits(frames: list[tuple[str, str, Path]], scale: int, model_name: str) -> None:
    """The test split has inputs at the model's scale: ``x4/raw_*.npy`` for a x4 model, ``raw_*.npy`` beside
    ``raw_gt.npy`` for a x1 one (checked on the first sample, before any work).

    Raises:
        DataError: naming the sample folder, what the model needs and what the data holds.
    """
    if not frames:
        return
    folder = frames[0][2]
    if any((folder if scale == 1 else folder / f"x{scale}").glob("raw_*.npy")):
        return
    held = [f"x{s}" for s in (1, 2, 4) if any((folder if s == 1 else folder / f"x{s}").glob("raw_*.npy"))]
    need = "x4 inputs (x4/raw_*.npy, e.g. simulate --preset bracketire_plus)" if scale == 4 else "x1 inputs (raw_*.npy)"
    raise DataError(f"{folder}: model {model_name!r} is a x{scale} model and needs {need}; the data holds "
                    f"{', '.join(held) or 'no'} inputs" + (" (use a x1 model and --protocol bracketire)" if held == ["x1"] else ""))


def weights_origin(model_name: str, found: Path | None, explicit: bool) -> str:
    """What kind of weights ``found`` is: ``""`` (none), ``published`` or ``shipped`` (the model's own files),
    ``run`` (a checkpoint written by ``train``) or ``file`` (any other file the user named)."""
    if found is None:
        return ""
    saved = read_model_config(found)
    if not explicit or saved is None:
        for which, spec in MODELS.spec(model_name).weights().items():
            if which in ("published", "shipped"):
                try:
                    if resolve_weights(spec, allow_download=False).resolve() == found.resolve():
                        return which
                except WeightsNotFoundError:
                    continue
    return "run" if saved is not None else "file"


def default_label(model_name: str, found: Path | None, which: str) -> str:
    """A row's default label: the model, with the run folder (``RUN/checkpoints/*.pt``), the kind of its weights
    (``published``, ``shipped``) or the weight file's name: ``tmrnet:my_run``, ``tmrnet:published``, ``merge``."""
    if found is None:
        return model_name
    if which in ("published", "shipped"):
        return f"{model_name}:{which}"
    if found.parent.name == "checkpoints" and found.parent.parent.name:
        return f"{model_name}:{found.parent.parent.name}"
    return f"{model_name}:{found.stem}"


def load_model(model_name: str, weights: str | os.PathLike[str] | None = None,
               device: str = "cpu") -> tuple[nn.Module, Path | None]:
    """The registered model ``model_name`` in eval mode on ``device``, with its weights, and the weight file used.

    Weights: ``weights``, else the published file from its variable or the cache (see :func:`_find_weights`);
    a checkpoint saved by the runner rebuilds the model with its saved constructor arguments.

    Raises:
        DataError: a learned model with no weights, or a checkpoint of another model.
    """
    found = _find_weights(model_name, weights)
    saved = read_model_config(found) if found is not None else None
    if saved is not None and saved["name"] != model_name:
        raise DataError(f"{found}: a checkpoint of model {saved['name']!r}, not {model_name!r}")
    # the checkpoint's own arguments meet the same typed checks as --set model.KEY=VALUE
    args = check_model_args(model_name, saved["kwargs"], str(found)) if saved else {}
    model = build_model(model_name, **split_part_args(MODELS.spec(model_name), args)[0])
    if found is not None:
        load_checkpoint(model, found)
    return model.to(device).eval(), found


def _find_weights(model_name: str, weights: str | os.PathLike[str] | None) -> Path | None:
    """The weight file for ``model_name``: ``weights``; else the published file (its variable or the cache); else
    the weights shipped with the toolkit (``models/weights/``).

    Raises:
        DataError: a learned model with no weights; the message says what to get or how to train it, and
            lists the models that run without weights.
    """
    if weights is not None:
        return Path(weights)
    spec = MODELS.spec(model_name)  # a typo gets its did-you-mean before any talk of weights
    if spec.task != "restoration":
        raise ConfigError(f"model {model_name!r} is a {spec.task} network, not a bracket model; bench runs "
                          f"{', '.join(MODELS.names())}")
    if not spec.needs_weights:
        return None
    free = f"models that run without weights: {', '.join(weight_free_models())}"
    found = spec.weights()
    missing = ""
    for kind in ("published", "shipped"):
        if kind in found:
            try:
                return resolve_weights(found[kind], allow_download=False)
            except WeightsNotFoundError as err:
                missing = missing or str(err)
    if missing:
        raise DataError(f"model {model_name!r} needs weights: pass --weights PATH. {missing} ({free})")
    raise DataError(f"model {model_name!r} needs weights: pass --weights PATH, e.g. a run of "
                    f"'python cli.py train --model {model_name} --data DIR --out RUN' (RUN/checkpoints/last.pt); {free}")


def runs_folder(runs_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where bench rows go: ``runs_dir``, ``$BRACKETIRE_RUNS``, or ``./runs`` (never the installed package)."""
    return default_runs_dir(runs_dir)


def _runs_csv(runs_dir: str | os.PathLike[str] | None, columns: list[str]) -> tuple[Path, list[str]]:
    """Where a bench row goes and the column order to write it in: the existing file's header, or ``columns``.

    Raises:
        DataError: the file exists but is not a regular file, is unreadable, or has other columns.
    """
    path = runs_folder(runs_dir) / "bench.csv"
    if not path.exists():
        return path, columns
    if not path.is_file():
        raise DataError(f"{path}: not a regular file; expected the bench results CSV")
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: not a readable CSV ({err}); move it aside or set $BRACKETIRE_RUNS") from None
    if sorted(header) == sorted(_OLD_RUN_COLUMNS) and sorted(columns) == sorted(RUN_COLUMNS):
        return path, header  # written before rows had labels: _append_run adds the two columns first
    if sorted(header) != sorted(columns):
        raise DataError(f"{path}: has columns {header}; expected {columns}. Move it aside or set $BRACKETIRE_RUNS "
                        "to another folder; nothing was appended")
    return path, header


def _add_label_columns(path: Path, header: list[str]) -> list[str]:
    """Rewrite a bench.csv of the toolkit's previous columns with ``label`` and ``runtime_repeats`` added (empty
    in the old rows: their runtimes were single cold runs), atomically; returns the new header."""
    from simulator.core.files import write_atomic

    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    new = [*header[:header.index("model") + 1], "label", *header[header.index("model") + 1:]]
    new.insert(new.index("runtime_s") + 1, "runtime_repeats")

    def write(handle: object) -> None:
        import io

        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=new)
        writer.writeheader()
        writer.writerows({**r, "label": r.get("model", ""), "runtime_repeats": ""} for r in rows)
        handle.write(text.getvalue().encode("utf-8"))  # type: ignore[attr-defined]

    write_atomic(path, write)
    return new


def _append_run(row: dict[str, object], runs_dir: str | os.PathLike[str] | None) -> Path:
    path, header = _runs_csv(runs_dir, list(row))
    if sorted(header) == sorted(_OLD_RUN_COLUMNS):
        header = _add_label_columns(path, header)
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as handle:
        if not new and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            handle.write("\n")  # a file saved without a final newline: the row must not join its last line
        writer = csv.DictWriter(handle, fieldnames=header)
        if new:
            writer.writeheader()
        writer.writerow(row)
    return path


def bench_table(result: BenchResult) -> str:
    """Markdown summary: the metric means, parameters and seconds per image, then how the runtime was measured."""
    mean = result.score.mean
    def fmt(value: object, digits: str) -> str:
        return "unavailable" if value is None else format(value, digits)
    timing = result.timing
    how = (f"median of {timing.repeats} runs on the first image after a warm-up pass" if timing else "not measured")
    return (f"| model | label | protocol | PSNR | SSIM | LPIPS | params (M) | s / image |\n|---|---|---|---|---|---|---|---|\n"
            f"| {result.model} | {result.row['label']} | {result.score.protocol} | {fmt(mean.get('psnr'), '.2f')} "
            f"| {fmt(mean.get('ssim'), '.4f')} | {fmt(mean.get('lpips'), '.4f')} | {result.params / 1e6:.2f} "
            f"| {result.seconds_per_image:.3f} |\n\nruntime: {how}, on {result.row['hardware']}\n"
            + (f"row {result.row['label']!r} appended to {result.runs_csv}\n" if result.runs_csv else ""))
