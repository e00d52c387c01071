"""Generate a whole dataset: parallel, deterministic, resumable, with a manifest.

Every sample draws from its own generator seeded by ``(seed, sample index)``, so the files do not depend
on the number of workers or their order. Samples are written atomically (temporary folder + rename);
``manifest_<split>.json`` at the dataset root is rewritten atomically after each finished sample and lists the
configuration, the toolkit version and, per sample, its noise levels, motion lengths and file checksums.
``resume=True`` keeps every sample whose files match the manifest and makes the rest.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simulator import __version__
from simulator.config import to_dict
from simulator.errors import BracketIREError, DataError
from simulator.files import write_json_atomic
from simulator.layout import write_frame
from simulator.pipeline import check_size, simulate_sample
from simulator.scenes import SceneSpec, list_scene_specs, load_scene_frames
from simulator.settings import SimulationConfig
from simulator.weights import sha256_of


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


def _make_sample(config: SimulationConfig, spec: SceneSpec, out: Path, threads: int) -> dict[str, Any]:
    """Simulate and write one sample (runs in a worker); returns its manifest record or a failure."""
    torch.set_num_threads(threads)
    target = frame_dir(out, config, spec)
    try:
        generator = sample_generator(config.seed, spec.index)
        frames = load_scene_frames(config, spec, generator)
        sample = simulate_sample(config, frames, generator)
    except BracketIREError as err:
        return {"index": spec.index, "error": str(err), "source": spec.paths[0] if spec.paths else spec.scene}
    info = {"index": spec.index, "scene": spec.scene, "frame": spec.frame, "sources": list(spec.paths), **sample.info}
    write_frame(target, sample.raws, sample.exposures, sample.gt, sample.meta, sample.alignratio, info)
    if config.output.previews:
        from simulator.previews import write_previews

        write_previews(target, sample, config)
    record = {k: v for k, v in info.items() if k != "alignratio"}
    record["path"] = str(target.relative_to(out))
    record["files"] = _checksums(target)
    return record


def _write_json_atomic(path: Path, data: Any) -> None:
    write_json_atomic(path, data, indent=1, sort_keys=True)


def _verified(out: Path, record: dict[str, Any]) -> bool:
    folder = out / record["path"]
    return folder.is_dir() and _checksums(folder) == record["files"]


def _prepare_backend(backend: str) -> None:
    """Make a joblib cluster backend available, or explain how to install it."""
    try:
        if backend == "ray":
            from ray.util.joblib import register_ray

            register_ray()
        elif backend == "dask":
            import distributed  # noqa: F401  (joblib registers its dask backend when this imports)
    except ImportError:
        raise DataError(f"--backend {backend} needs the cluster extra: pip install '.[dist]'") from None
    if backend not in ("loky", "threading", "multiprocessing", "dask", "ray"):
        raise DataError(f"--backend {backend!r}; expected loky, threading, multiprocessing, dask or ray")


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
            backends "dask" (connects to the running ``dask.distributed`` client) and "ray" (needs the
            ``dist`` extra).

    Returns:
        A :class:`GenerationSummary`.
    """
    from joblib import Parallel, delayed
    from tqdm import tqdm

    start = time.perf_counter()
    check_size(config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_file = manifest_path(out, config.output.split)
    settings = to_dict(config)
    records: dict[int, dict[str, Any]] = {}
    if manifest_file.exists():
        if not resume:
            raise DataError(f"{manifest_file}: this split is already there; use --resume to complete it or choose another --out")
        previous = json.loads(manifest_file.read_text())
        changed = sorted(k for k in settings.keys() | previous.get("config", {}).keys()
                         if k != "num_samples" and settings.get(k) != previous.get("config", {}).get(k))
        if changed:
            raise DataError(f"{manifest_file}: was made with different settings ({', '.join(changed)}); "
                            "resume needs the same settings (only num_samples may grow)")
        records = {r["index"]: r for r in previous.get("samples", []) if _verified(out, r)}
    specs = list_scene_specs(config)
    todo = [s for s in specs if s.index not in records]
    for spec in todo:  # a folder without a verified record is a leftover of an interrupted run
        leftover = frame_dir(out, config, spec)
        if leftover.exists():
            shutil.rmtree(leftover)
    fail_fast = config.source.on_error == "fail" if fail_fast is None else fail_fast
    summary = GenerationSummary(kept=len(records), manifest=manifest_file)

    def save() -> None:
        ordered = [records[i] for i in sorted(records)]
        _write_json_atomic(manifest_file, {"toolkit_version": __version__, "config": settings, "seed": config.seed,
                                           "count": len(ordered), "samples": ordered})

    threads = max(1, torch.get_num_threads() // max(1, workers))
    if workers > 1:
        _prepare_backend(backend)
        jobs = (delayed(_make_sample)(config, spec, out, threads) for spec in todo)
        results = Parallel(n_jobs=workers, backend=backend, return_as="generator_unordered")(jobs)
    else:
        results = (_make_sample(config, spec, out, threads) for spec in todo)
    for result in tqdm(results, total=len(todo), disable=not progress, desc="simulate", unit="sample"):
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
    summary.seconds = time.perf_counter() - start
    return summary
