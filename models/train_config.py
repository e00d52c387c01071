"""Configuration of a training run: typed sections, YAML, ``--set`` overrides, the published schedule.

A run's configuration has three sections. ``train`` and ``data`` are frozen dataclasses (below);
``model`` holds the registered model's name and its constructor arguments, checked against the
constructor's signature, so ``--set model.mid_channels=16`` reaches ``TMRNet(mid_channels=16)`` and
``--set model.mid_chanels=16`` is an error that suggests the right name. The defaults are the published
BracketIRE training settings (``shared/fixtures/official/networks/README.md`` section 4).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from simulator.core.config import _coerce as coerce_value
from simulator.core.config import apply_overrides, from_dict, to_dict
from simulator.core.errors import ConfigError
from simulator.core.files import read_yaml, write_text_atomic
from simulator.core.registry import unknown_name
from simulator.layout import STORED_WHITE


@dataclass(frozen=True)
class TrainSection:
    iters: int = 200_000  # published: 400 epochs x 500 iterations
    batch_size: int = 8  # published: 8 (over 2 GPUs)
    patch: int = 128  # input patch, packed pixels (published: 128 BracketIRE, 64 BracketIRE+)
    lr: float = 1e-4
    lr_min: float = 1e-6
    warmup_lr: float = 1e-5  # first learning rate of the warm-up
    schedule_epochs: int = 400  # the cosine is stepped this many times over the run (published: once per epoch)
    warmup_epochs: int = 5  # of those steps, linear warm-up (published: 5 epochs)
    weight_decay: float = 0.01  # AdamW
    betas: tuple[float, float] = (0.9, 0.999)
    loss: Literal["mu_law_l1", "l1"] = "mu_law_l1"  # published: L1 on mu_law(x / 16)
    ema_decay: float = 0.999  # 0 switches EMA off; validation and bench use the EMA weights when on
    clip_grad_norm: float = 0.0  # 0: no clipping (published)
    flow_warmup_iters: int = 0  # flow networks (SPyNet) frozen for the first N iterations (BasicVSR habit)
    flow_levels: str = ""  # spynet only: "level:iters,..." trains one pyramid level at a time ("" all at once)
    amp: bool = True  # mixed precision on CUDA (bfloat16 where supported); ignored on CPU
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    seed: int = 0
    log_every: int = 50
    val_every: int = 5000  # 0: validate only at the end
    save_every: int = 1000  # checkpoint period (and at the end)
    save_minutes: float = 10.0  # also checkpoint after this much wall time (0: only by steps); and on Ctrl-C
    tensorboard: bool = False  # also write TensorBoard events (needs the tensorboard package)
    progress: bool = True


@dataclass(frozen=True)
class DataSection:
    root: str = ""  # dataset root in the published layout (``<split>/<scene>/<frame>/``)
    train_split: str = "Train"
    val_split: str | None = "Test"  # None: no validation
    val_limit: int = 16  # at most this many validation crops
    scale: int = 1  # 1 BracketIRE, 4 BracketIRE+ (inputs from x4/)
    white: float = STORED_WHITE
    workers: int = 2
    pin_memory: bool = True
    augment: Literal["bayer", "published", "none"] = "bayer"  # published: one draw per batch, no Gr/Gb swap
    pool: int = 0  # spynet only: draw from this many fixed flow pairs, made once per process (0: a stream)


@dataclass(frozen=True)
class RunConfig:
    model: str = "tmrnet"
    model_args: Mapping[str, Any] = field(default_factory=dict)
    train: TrainSection = TrainSection()
    data: DataSection = DataSection()

    def as_dict(self) -> dict[str, Any]:
        """The YAML form: ``{"model": {"name": ..., **args}, "train": {...}, "data": {...}}``."""
        return {"model": {"name": self.model, **dict(self.model_args)}, "train": to_dict(self.train),
                "data": to_dict(self.data)}


def model_constructor(name: str):
    from models import MODELS

    return MODELS[name]


def _check_model_args(name: str, args: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Check ``args`` against the constructor of model ``name`` (names, and types where annotated)."""
    from models import MODELS

    constructor = MODELS.spec(name).load()  # the class itself: a preset only changes defaults
    target = constructor.__init__ if inspect.isclass(constructor) else constructor
    parameters = {k: p for k, p in inspect.signature(target).parameters.items()
                  if k != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # unresolvable annotations: check names only
        hints = {}
    from models.pretrained import check_part_source, part_keys

    parts = part_keys(MODELS.spec(name))
    checked = {}
    for key, value in args.items():
        if key in parts:  # a pretrained part's source (models/pretrained.py), not a constructor argument
            checked[key] = check_part_source(key, value)
            continue
        if key not in parameters:
            raise unknown_name(f"argument of model {name!r}", key, [f"model.{k}" for k in [*parameters, *parts]])
        hint = hints.get(key)
        if hint is not None:
            value = coerce_value(value, hint, f"model.{key}", source)
        checked[key] = value
    return checked


def load_run_config(path: str | Path | None = None, overrides: Sequence[str] = (), model: str | None = None,
                    base: RunConfig | None = None) -> RunConfig:
    """Defaults (or ``base``), then the YAML file at ``path``, then ``model``, then ``--set`` overrides.

    Raises:
        ConfigError: unreadable file, unknown keys (listing valid ones), values of the wrong type.
    """
    data: dict[str, Any] = base.as_dict() if base is not None else RunConfig().as_dict()
    source = str(path or "config")
    if path is not None:
        loaded = read_yaml(path)
        if not isinstance(loaded, Mapping) or not set(loaded) <= {"model", "train", "data", "toolkit"}:
            raise ConfigError(f"{path}: expected sections model, train and data at the top level")
        for section in ("train", "data", "model"):
            if not isinstance(loaded.get(section) or {}, Mapping):
                raise ConfigError(f"{path}: section {section!r} must be a mapping of keys, got {loaded[section]!r}")
        for section in ("train", "data"):
            data[section] = {**data[section], **(loaded.get(section) or {})}
        if "model" in loaded:
            data["model"] = dict(loaded["model"] or {})
    model_data = dict(data["model"])
    if model is not None and model != model_data.get("name"):
        model_data = {"name": model}
    model_overrides = [o for o in overrides if o.startswith("model.")]
    other = [o for o in overrides if not o.startswith("model.")]
    for item in model_overrides:
        key, sep, text = item[len("model."):].partition("=")
        if not sep or not key:
            raise ConfigError(f"--set: {item!r} is not model.KEY=VALUE (e.g. model.mid_channels=16)")
        try:
            model_data[key] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            model_data[key] = text
    name = str(model_data.pop("name", "tmrnet"))
    sections = _Sections(from_dict(TrainSection, data["train"], source, "train."),
                         from_dict(DataSection, data["data"], source, "data."))
    sections = apply_overrides(sections, other)
    return RunConfig(name, _check_model_args(name, model_data, source), sections.train, sections.data)


@dataclass(frozen=True)
class _Sections:
    train: TrainSection = TrainSection()
    data: DataSection = DataSection()


def learning_rate(step: int, train: TrainSection) -> float:
    """Learning rate at iteration ``step`` (0-based): the published warm-up + cosine, stepped.

    The run is divided into ``schedule_epochs`` equal parts ("epochs"); part ``e`` runs at
    ``warmup_lr + e (lr - warmup_lr) / warmup_epochs`` for ``e < warmup_epochs``, else
    ``lr_min + (lr - lr_min) (1 + cos(pi e / schedule_epochs)) / 2`` (timm's ``CosineLRScheduler`` with
    ``t_initial=400, warmup_t=5``, as the published scripts use it). With the defaults (200k iterations,
    400 parts) a part is exactly the published 500-iteration epoch.
    """
    epoch = step * train.schedule_epochs // max(train.iters, 1)
    if epoch < train.warmup_epochs:
        return train.warmup_lr + epoch * (train.lr - train.warmup_lr) / train.warmup_epochs
    return train.lr_min + 0.5 * (train.lr - train.lr_min) * (1 + math.cos(math.pi * epoch / train.schedule_epochs))


def save_run_config(config: RunConfig, path: Path, version: str) -> None:
    """Write the resolved configuration (with the toolkit version) as YAML, atomically."""
    write_text_atomic(path, yaml.safe_dump({"toolkit": version, **config.as_dict()}, sort_keys=False))



def settings_help() -> str:
    """Every ``train.*`` and ``data.*`` key with its default and its comment in the dataclass, one per line
    (what ``train --help`` shows; generated here so it cannot drift from :class:`TrainSection`/:class:`DataSection`)."""
    lines = []
    for prefix, section in (("train", TrainSection), ("data", DataSection)):
        notes = _field_comments(section)
        for item in dataclasses.fields(section):
            default = getattr(section(), item.name)
            text = yaml.safe_dump(list(default) if isinstance(default, tuple) else default, default_flow_style=True)
            shown = f"{prefix}.{item.name}={text.strip().removesuffix('...').strip()}"
            lines.append(shown + (f"  {notes[item.name]}" if item.name in notes else ""))
    return "\n".join(lines)


def _field_comments(section: type) -> dict[str, str]:
    """``name -> trailing comment`` of a dataclass's field lines (empty when its source is not available)."""
    try:
        source = inspect.getsource(section)
    except (OSError, TypeError):
        return {}
    found = {}
    for line in source.splitlines():
        name, _, rest = line.strip().partition(":")
        if name.isidentifier() and "#" in rest:
            found[name] = rest.split("#", 1)[1].strip()
    return found
