"""Generate a whole dataset: parallel, deterministic, resumable, with a manifest.

Every sample draws from its own generator seeded by ``(seed, sample index)``, so the files do not depend
on the number of workers or their order. Samples are written atomically (temporary folder + rename);
``manifest_<split>.json`` at the dataset root is rewritten atomically after each finished sample and lists the
configuration, the toolkit version and, per sample, its noise levels, motion lengths and file checksums.
``resume=True`` keeps every sample whose files match the manifest and makes the rest.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simulator import __version__
from simulator.backends import check_backend, parallel_results
from simulator.core.config import to_dict
from simulator.core.errors import BracketIREError, ConfigError, DataError
from simulator.core.files import write_json_atomic
from simulator.core.weights import sha256_of
from simulator.layout import write_frame
from simulator.lock import OutputLock
from simulator.ownership import WRITTEN_BY, check_output_folder, remove_ours, sweep_temporaries
from simulator.pipeline import simulate_sample
from simulator.scenes import SceneSpec, list_scene_specs, load_scene_frames
from simulator.settings import SimulationConfig
from simulator.settings_checks import check_simulation_config


def manifest_path(out: str | Path, split: str = "Test") -> Path:
    """``<out>/manifest_<split>.json``: one manifest per split, so Train and Test can share a root."""
    return Path(out) / f"manifest_{split}.json"


@dataclass
class GenerationSummary:
    """What a run did: counts, skipped sources with reasons, time, where the manifest is."""

    written: int = 0
    kept: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    manifest: Path | None = None

    def line(self) -> str:
        """One-line summary for the CLI."""
        text = f"{self.written} sample(s) written, {self.kept} kept from before, {len(self.failed)} source(s) skipped"
        return text + f" in {self.seconds:.1f} s; manifest {self.manifest}"


def sample_generator(seed: int, index: int) -> torch.Generator:
    """The generator of sample ``index``: a function of ``(seed, index)`` only."""
    state = np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & (2**63 - 1))


def frame_dir(out: Path, config: SimulationConfig, spec: SceneSpec) -> Path:
    """``<out>/<split>/<scene>/<frame>``."""
    return out / config.output.split / spec.scene / spec.frame


def _checksums(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256_of(p) for p in sorted(folder.rglob("*")) if p.is_file()}


_WATCHED: set[int] = set()


def _die_with_parent(parent: int) -> None:
    """In a worker process started by ``parent`` (loky): exit as soon as ``parent`` is gone (e.g. ``kill -9``).

    Orphaned loky workers would otherwise go on writing into ``--out`` for minutes, racing the ``--resume``
    that follows. ``parent`` is 0 for threads and remote (dask / ray) workers: nothing to watch.
    """
    if not parent or os.getpid() == parent or parent in _WATCHED:
        return
    if os.getppid() != parent:  # the parent died before this task reached us: write nothing
        os._exit(1)
    _WATCHED.add(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="bracketire-parent-watch", daemon=True).start()


def worker_threads(workers: int) -> int:
    """Threads for each of ``workers`` parallel workers: workers x threads <= this process's torch thread
    budget (by default the CPU count) and never more than the CPUs."""
    budget = min(torch.get_num_threads(), os.cpu_count() or 1)
    return max(1, budget // max(1, workers))


def limit_threads(threads: int) -> None:
    """Cap this process's compute threads (torch/OpenMP, MKL through torch, OpenCV) at ``threads``.

    Called first in every worker task, whatever the joblib backend (loky, dask, ray), so that parallel
    samples do not fight over the cores: two workers each running torch on every core were slower together
    than one alone.
    """
    torch.set_num_threads(threads)
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:  # pragma: no cover - OpenCV is a core dependency
        pass


def _make_sample(config: SimulationConfig, spec: SceneSpec, out: Path, threads: int, parent: int = 0) -> dict[str, Any]:
    """Simulate and write one sample (runs in a worker); returns its manifest record or a failure."""
    _die_with_parent(parent)
    limit_threads(threads)
    target = frame_dir(out, config, spec)
    try:
        generator = sample_generator(config.seed, spec.index)
        frames = load_scene_frames(config, spec, generator)
        sample = simulate_sample(config, frames, generator)
    except BracketIREError as err:
        return {"index": spec.index, "error": str(err), "source": spec.paths[0] if spec.paths else spec.scene}
    info = {"index": spec.index, "scene": spec.scene, "frame": spec.frame, "sources": list(spec.paths), **sample.info}
    write_frame(target, sample.raws, sample.exposures, sample.gt, sample.meta, sample.alignratio,
                {**info, "written_by": WRITTEN_BY})  # sample.json marks the folder as ours (simulator.ownership)
    if config.output.previews:
        from simulator.previews import write_previews

        write_previews(target, sample, config)
    record = {k: v for k, v in info.items() if k != "alignratio"}
    record["path"] = str(target.relative_to(out))
    record["files"] = _checksums(target)
    return record


def _write_json_atomic(path: Path, data: Any) -> None:
    write_json_atomic(path, data, indent=1, sort_keys=True)


def _read_manifest(path: Path) -> dict[str, Any]:
    """A manifest written by :func:`generate_dataset`, checked for the fields resume needs."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise DataError(f"{path}: not a readable manifest ({err}); move it away to start this split afresh") from None
    samples = data.get("samples") if isinstance(data, dict) else None
    if not isinstance(data.get("config") if isinstance(data, dict) else None, dict) or not isinstance(samples, list) or not all(
            isinstance(r, dict) and isinstance(r.get("index"), int) and isinstance(r.get("path"), str)
            and isinstance(r.get("files"), dict) and ".." not in Path(r["path"]).parts
            and not Path(r["path"]).is_absolute() for r in samples):
        raise DataError(f"{path}: not a bracketire manifest (expected config and samples with index, path and files)")
    return data


def _frame_folder(out: Path, config: SimulationConfig, spec: SceneSpec) -> Path | None:
    """The sample's folder if something is there; refuses folders reached through a symbolic link."""
    folder = frame_dir(out, config, spec)
    for part in (out / config.output.split, folder.parent, folder):
        if part.is_symlink():
            raise ConfigError(f"{part}: is a symbolic link inside --out; refusing to write or remove through it")
    return folder if folder.exists() else None


def _verified(out: Path, record: dict[str, Any]) -> bool:
    folder = out / record["path"]
    return folder.is_dir() and _checksums(folder) == record["files"]


def generate_dataset(
    config: SimulationConfig,
    out: str | Path,
    workers: int = 1,
    resume: bool = False,
    progress: bool = True,
    fail_fast: bool | None = None,
    backend: str = "loky",
) -> GenerationSummary:
    """Simulate every sample of ``config`` into ``out`` in the published layout.

    Args:
        config: the simulation settings (preset plus overrides).
        out: dataset root (created).
        workers: parallel processes (joblib's loky backend); the output is identical for any number.
        resume: keep samples already written and verified by the manifest; otherwise ``out`` must not
            already hold a dataset.
        progress: show a progress bar.
        fail_fast: stop at the first bad source (default: ``config.source.on_error == "fail"``).
        backend: joblib backend for ``workers > 1``: "loky" (processes), "threading", or the cluster
            backends "dask" and "ray" (the ``dist`` extra; see :mod:`simulator.backends` for how they find
            or start their cluster).

    Returns:
        A :class:`GenerationSummary`.
    """
    start = time.perf_counter()
    check_simulation_config(config)  # every setting, before anything is created
    check_backend(backend, workers)
    out = Path(out)
    check_output_folder(out)
    specs = list_scene_specs(config)  # the sources exist and are listed before the folder is made
    out.mkdir(parents=True, exist_ok=True)
    split = config.output.split
    with OutputLock(out, f"simulate-{split}", f"simulate --out {out} (split {split})"):
        summary = _generate_locked(config, out, specs, workers, resume, progress, fail_fast, backend)
    summary.seconds = time.perf_counter() - start
    return summary


def _generate_locked(config: SimulationConfig, out: Path, specs: list[SceneSpec], workers: int, resume: bool,
                     progress: bool, fail_fast: bool | None, backend: str) -> GenerationSummary:
    """:func:`generate_dataset` once ``out`` is locked."""
    from tqdm import tqdm

    split_dir = out / config.output.split
    manifest_file = manifest_path(out, config.output.split)
    sweep_temporaries(out, rf"\.{re.escape(manifest_file.name)}\.\w+\.tmp")  # a killed run's leftovers, named as
    if split_dir.is_dir() and not split_dir.is_symlink():                  # only we name them, under our lock
        sweep_temporaries(split_dir, r"\..+\.tmp-\w+", depth=1)
    settings = to_dict(config)
    records: dict[int, dict[str, Any]] = {}
    if manifest_file.exists():
        if not resume:
            raise ConfigError(f"{manifest_file}: this split is already there; use --resume to complete it or choose another --out")
        previous = _read_manifest(manifest_file)
        changed = sorted(k for k in settings.keys() | previous["config"].keys()
                         if k != "num_samples" and settings.get(k) != previous["config"].get(k))
        if changed:
            raise ConfigError(f"{manifest_file}: was made with different settings ({', '.join(changed)}); "
                              "resume needs the same settings (only num_samples may grow)")
        records = {r["index"]: r for r in previous["samples"] if _verified(out, r)}
    todo = [s for s in specs if s.index not in records]
    leftovers = [folder for spec in todo if (folder := _frame_folder(out, config, spec)) is not None]
    if leftovers and not resume:
        raise ConfigError(f"{leftovers[0]}: already exists ({len(leftovers)} sample folder(s) in the way); "
                          "pass --resume to replace the toolkit's own unfinished samples, or choose another --out")
    for folder in leftovers:  # a folder without a verified record is a leftover of an interrupted run ...
        remove_ours(folder)  # ... but only if the toolkit wrote it: anything else is refused, never deleted
    fail_fast = config.source.on_error == "fail" if fail_fast is None else fail_fast
    summary = GenerationSummary(kept=len(records), manifest=manifest_file)

    def save() -> None:
        if not records:  # a manifest without samples would only block the corrected re-run
            return
        ordered = [records[i] for i in sorted(records)]
        _write_json_atomic(manifest_file, {"toolkit_version": __version__, "config": settings, "seed": config.seed,
                                           "count": len(ordered), "samples": ordered})

    threads = worker_threads(workers)
    parent = os.getpid() if workers > 1 and backend in ("loky", "multiprocessing") else 0  # workers that are our children
    results = parallel_results(_make_sample, [(config, spec, out, threads, parent) for spec in todo], workers, backend)
    desc = f"simulate ({workers} worker(s) x {threads} thread(s))"
    for result in tqdm(results, total=len(todo), disable=not progress, desc=desc, unit="sample"):
        if "error" in result:
            if fail_fast:
                save()
                raise DataError(result["error"])
            summary.failed.append((result["source"], result["error"]))
            continue
        records[result["index"]] = result
        summary.written += 1
        save()
    save()
    if not records:
        first = summary.failed[0][1] if summary.failed else "no sample was asked for"
        raise DataError(f"no sample written to {out}: all {len(summary.failed)} source(s) failed; first: {first}")
    return summary
