"""``cli.py adapt``: read unlabelled brackets the way ``predict`` does, then adapt a model to them.

    result = adapt_to_folder("tmrnet", "runs/syn/checkpoints/last.pt", "my_brackets/", "runs/adapted")

Every input ``predict`` reads works (the published real-world layout, a folder of camera RAW / DNG brackets,
synthetic or NTIRE layouts, whose ground truth is ignored); real brackets bring their measured exposures. The
model's constructor arguments come from the checkpoint when the runner wrote it. The adaptation itself is
:func:`models.adapt.adapt`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from benchmark.inputs import iter_brackets
from models.adapt import adapt, adapt_config, check_adaptable
from models.adapt_data import UnlabelledBracket, UnlabelledPatches
from models.bracket import default_unit_frame
from models.checkpoints import read_model_config, read_state_dict
from models.run_checks import build_run_model
from models.runner import TrainResult
from models.train_config import load_run_config
from simulator.core.errors import ConfigError, DataError


def adapt_to_folder(model_name: str, weights: str | os.PathLike[str] | None, data: str | os.PathLike[str],
                    out: str | os.PathLike[str], iters: int | None = None, resume: bool = False,
                    overrides: Sequence[str] = (), layout: str | None = None, group: int | None = None,
                    stop_at: int | None = None) -> TrainResult:
    """Adapt ``model_name`` from ``weights`` to the unlabelled brackets at ``data``; the run goes to ``out``.

    Args:
        model_name: a registered model that can adapt (:func:`models.adapt.adaptable_models`).
        weights: the synthetic checkpoint (a runner's ``last.pt`` or a published / plain state dict); needed
            for a new run, ignored on resume.
        data: any input of :mod:`benchmark.inputs` (its ground truth, if any, is not read).
        out: the run folder.
        iters: total iterations (``train.iters``; default the published 5000).
        resume: continue the run in ``out`` with its own ``config.yaml``.
        overrides: ``--set`` items (``train.*``, ``data.*``, ``model.*``).
        layout, group: see :func:`benchmark.inputs.iter_brackets`.
        stop_at: stop after this step (an interruption, for tests).

    Raises:
        ConfigError: a model that cannot adapt, a bad setting. DataError: unreadable inputs or weights.
    """
    check_adaptable(model_name)
    out = Path(out)
    extra = [f"data.root={Path(data).resolve()}", *([f"train.iters={iters}"] if iters else []), *overrides]
    initial = None
    if resume:
        previous = out / "config.yaml"
        if not previous.is_file():
            raise DataError(f"{out}: nothing to resume (no config.yaml of an adaptation run)")
        config = load_run_config(previous, extra)
        if config.model != model_name:
            raise ConfigError(f"--model {model_name}: the run in {out} adapts {config.model!r}")
    else:
        if weights is None:
            raise DataError(f"adapt --model {model_name} needs --weights: the synthetic checkpoint to start from "
                            "(a train run's checkpoints/last.pt or the published file)")
        saved = read_model_config(weights)
        if saved is not None and saved["name"] != model_name:
            raise DataError(f"{weights}: a checkpoint of model {saved['name']!r}, not {model_name!r}")
        config = adapt_config(model_name, extra, model_args=saved["kwargs"] if saved else None)
        initial = read_state_dict(weights)
    model = build_run_model(config)  # only its frame count, ratio and unit frame, for the exposures
    frames = int(getattr(model, "num_frames", 5))
    ratio = float(getattr(model, "exposure_ratio", 4.0))
    unit = default_unit_frame(frames, getattr(model, "unit_frame", None))
    patches = UnlabelledPatches(read_unlabelled(data, getattr(model, "scale", 1), layout, group), frames,
                                config.train.patch, ratio, unit, config.train.seed,
                                augment=config.data.augment != "none")
    return adapt(config, out, patches, initial, resume=resume, stop_at=stop_at)


def read_unlabelled(data: str | os.PathLike[str], scale: int = 1, layout: str | None = None,
                    group: int | None = None, progress: bool = False) -> list[UnlabelledBracket]:
    """Every bracket at ``data`` as :class:`~models.adapt_data.UnlabelledBracket` (held in memory, float32).

    Raises:
        DataError: nothing readable there.
    """
    found, count, brackets = iter_brackets(data, layout, scale=scale, group=group)
    read = [UnlabelledBracket(str(b.source), b.raws.float(), b.exposures)
            for b in tqdm(brackets, total=count, desc=f"read {found}", unit="bracket", disable=not progress)]
    if not read:
        raise DataError(f"{data}: no brackets found")
    return read
