"""Checks of a training run before anything is created: every setting, the data, the device, the resume state.

    check_run_config(config)                  # ConfigError naming the key, value and what was expected
    check_training_data(config)               # DataError naming the folder or sample, before the run folder exists
    check_resumable(state, config, model, p)  # TrainingError for another model's or an incomplete checkpoint
    build_run_model(config)                   # ConfigError when the constructor rejects the model arguments
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.train_config import RunConfig
from simulator.core.errors import BracketIREError, ConfigError, DataError, TrainingError

_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")
CHECKPOINT_KEYS = ("params", "optimizer", "scaler", "scheduler", "rng")


def _number(key: str, value: float, low: float, high: float | None = None, *, open_low: bool = False,
            open_high: bool = False) -> None:
    """``value`` finite and within ``[low, high]`` (ends open where asked)."""
    bad = not math.isfinite(value) or (value <= low if open_low else value < low)
    if high is not None:
        bad = bad or (value >= high if open_high else value > high)
    if bad:
        upper = "" if high is None else f" and {'<' if open_high else '<='} {high}"
        raise ConfigError(f"{key}={value}; expected a finite number {'>' if open_low else '>='} {low}{upper}")


def _integer(key: str, value: int, low: int) -> None:
    if value < low:
        raise ConfigError(f"{key}={value}; expected an integer >= {low}")


def _folder_name(key: str, value: str) -> None:
    if not value or value in (".", "..") or any(c in value for c in "/\\\0"):
        raise ConfigError(f"{key}={value!r}; expected a plain folder name such as Train or Test")


def check_device(key: str, name: str) -> None:
    """``name`` is auto, cpu, cuda or cuda:N, and a CUDA device is there when one is asked for.

    Raises:
        ConfigError: naming ``key`` (``train.device``, ``--device``).
    """
    if not _DEVICE.match(name):
        raise ConfigError(f"{key}={name!r}; expected auto, cpu, cuda or cuda:N")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"{key}={name} but no CUDA device is available here; use cpu")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ConfigError(f"{key}={name}; only {torch.cuda.device_count()} CUDA device(s) here")


def check_run_config(config: RunConfig) -> None:
    """Check every ``train.*`` and ``data.*`` setting (model arguments are typed by ``load_run_config``).

    Raises:
        ConfigError: the first bad setting, naming its key and value and what was expected.
    """
    t, d = config.train, config.data
    for key in ("iters", "batch_size", "schedule_epochs", "log_every", "save_every"):
        _integer(f"train.{key}", getattr(t, key), 1)
    for key in ("warmup_epochs", "flow_warmup_iters", "val_every", "seed"):
        _integer(f"train.{key}", getattr(t, key), 0)
    _integer("train.patch", t.patch, 2)
    if t.patch % 2:
        raise ConfigError(f"train.patch={t.patch}; expected an even number of packed pixels")
    if t.warmup_epochs > t.schedule_epochs:
        raise ConfigError(f"train.warmup_epochs={t.warmup_epochs}; expected at most train.schedule_epochs={t.schedule_epochs}")
    _number("train.lr", t.lr, 0.0, open_low=True)
    _number("train.lr_min", t.lr_min, 0.0, t.lr)
    _number("train.warmup_lr", t.warmup_lr, 0.0)
    _number("train.weight_decay", t.weight_decay, 0.0)
    for i, beta in enumerate(t.betas):
        _number(f"train.betas[{i}]", beta, 0.0, 1.0, open_high=True)
    _number("train.ema_decay", t.ema_decay, 0.0, 1.0, open_high=True)
    _number("train.clip_grad_norm", t.clip_grad_norm, 0.0)
    check_device("train.device", t.device)
    _folder_name("data.train_split", d.train_split)
    if d.val_split is not None:
        _folder_name("data.val_split", d.val_split)
    _integer("data.val_limit", d.val_limit, 1)
    _integer("data.workers", d.workers, 0)
    if d.scale not in (1, 4):
        raise ConfigError(f"data.scale={d.scale}; expected 1 (BracketIRE) or 4 (BracketIRE+)")
    _number("data.white", d.white, 0.0, open_low=True)
    _integer("data.pool", d.pool, 0)
    from models import MODELS

    MODELS.spec(config.model).training_behaviour().check(config)  # what only this model's recipe knows


def check_training_data(config: RunConfig) -> None:
    """The training split exists and its first sample can be read and cropped (nothing is created).

    Raises:
        DataError: no ``data.root``, no split folder, no samples, or a first sample too small or unreadable.
    """
    from models import MODELS
    from models.data import BracketDataset

    if not MODELS.spec(config.model).training_behaviour().needs_bracket_data:
        return  # the model makes its own training data (the flow network's simulated pairs)
    root = config.data.root
    if not root:
        raise ConfigError("no training data: pass --data DIR (a dataset root in the published layout)")
    if not (Path(root) / config.data.train_split).is_dir():
        raise DataError(f"{Path(root) / config.data.train_split}: no such folder; expected the training split of "
                        f"--data {root} (data.train_split={config.data.train_split})")
    dataset = BracketDataset(root, config.data.train_split, "train", config.data.scale, config.train.patch,
                             config.data.white, config.train.seed)
    dataset.sample(0, 0)


def check_resumable(state: Mapping[str, Any], config: RunConfig, model: nn.Module, path: Path) -> None:
    """``state`` (a runner checkpoint) continues ``config``: same model and arguments, every key and shape.

    Raises:
        TrainingError: naming ``path`` and what differs.
    """
    missing = [k for k in CHECKPOINT_KEYS if k not in state]
    if missing:
        raise TrainingError(f"{path}: not a complete training checkpoint (missing {', '.join(missing)})")
    saved = state.get("model_config")
    if isinstance(saved, Mapping) and (saved.get("name") != config.model or dict(saved.get("kwargs") or {}) != dict(config.model_args)):
        raise TrainingError(f"{path}: a checkpoint of model {saved.get('name')!r} with {dict(saved.get('kwargs') or {})}, "
                            f"but the run's config asks for {config.model!r} with {dict(config.model_args)}; "
                            "resume with the run's own config.yaml (or --config)")
    own = model.state_dict()
    for key in ("params", "params_ema"):
        params = state.get(key)
        if params is None and key == "params_ema":
            continue
        if not isinstance(params, Mapping):
            raise TrainingError(f"{path}: {key} is not a state dict")
        absent = [k for k in own if k not in params]
        extra = [k for k in params if k not in own]
        shapes = [k for k in own if k in params and getattr(params[k], "shape", None) != own[k].shape]
        if absent or extra or shapes:
            first = (absent or extra or shapes)[0]
            raise TrainingError(f"{path}: {key} does not fit {config.model} ({len(absent)} missing, {len(extra)} "
                                f"unexpected, {len(shapes)} mis-shaped keys, e.g. {first})")


def build_run_model(config: RunConfig) -> nn.Module:
    """The registered model with the run's arguments (pretrained-part sources left out: ``models/pretrained.py``);
    a constructor that rejects them is a setting error.

    Raises:
        ConfigError: naming the model, its arguments and the constructor's complaint.
    """
    from models import MODELS, build_model
    from models.pretrained import split_part_args

    args, _ = split_part_args(MODELS.spec(config.model), config.model_args)
    try:
        return build_model(config.model, **args)
    except BracketIREError:
        raise
    except (TypeError, ValueError, RuntimeError, ZeroDivisionError, AssertionError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(f"model {config.model!r} cannot be built with {dict(config.model_args)}: {first}") from None
