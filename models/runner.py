"""One training loop for every registered model.

    result = train(load_run_config(overrides=["model.mid_channels=16", "train.iters=300"]), "runs/tmrnet16")

What a run folder holds::

    config.yaml              the resolved configuration and the toolkit version
    log.csv                  step, loss, learning rate, seconds per step, data-loading seconds, validation
    checkpoints/last.pt      model ("params"), EMA ("params_ema"), optimiser, scheduler, step, RNG states
    tensorboard/             events, when ``train.tensorboard`` is on

Habits of the restoration codebases: AdamW with the published warm-up + cosine (``learning_rate``), L1 on
``mu_law(x / 16)``, EMA weights, optional gradient clipping, AMP on CUDA, atomic checkpoints, and a resume
that continues bit-identically (batches are a function of ``(seed, step)``, never of worker count or
history). Multi-GPU: launch with ``torchrun --nproc_per_node N cli.py train ...``; each process trains a
``DistributedDataParallel`` replica on its share of every global batch and rank 0 writes the run folder.

A model that trains differently (parameter groups, flow modules, an extra output for its loss) says so in its
spec with a :class:`~models.training.TrainingBehaviour`; ``train`` is the orchestration of named steps:
``_start`` (check, build, restore, write the config), ``_optimisation_step``, ``_periodic`` (log, save,
validate) and ``_finish``.
"""

from __future__ import annotations

import copy
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from models import MODELS, run_guard
from models.batches import StepBatches, _EpochIndexed
from models.data import BracketDataset, augment_published, published_batch_flips
from models.pretrained import load_pretrained_parts, split_part_args
from models.run_checks import build_run_model, check_resumable, check_run_config, check_training_data
from models.run_folder import append_log_rows, open_run_folder, roll_back_log
from models.train_config import RunConfig, learning_rate, save_run_config
from models.training import DEFAULT_TRAINING, TrainingBehaviour
from simulator import __version__
from simulator.core.errors import ConfigError, DataError, MissingDependencyError, TrainingError
from simulator.core.files import load_torch_file, save_torch_atomic

Validator = Callable[[nn.Module, int], dict[str, float]]


@dataclass
class TrainResult:
    """What a run did: final step, last logged loss, last validation, timings and where it wrote."""

    run_dir: Path
    step: int
    loss: float
    validation: dict[str, float] = field(default_factory=dict)
    seconds_per_step: float = 0.0
    data_share: float = 0.0


class ModelEMA:
    """Exponential moving average of a model's parameters (buffers are copied).

    ``decay`` ramps up as ``min(decay, (1 + n) / (10 + n))`` over the first updates, so a short run's
    EMA is not dominated by the initialisation.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay, self.updates = decay, 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        for ema, live in zip(self.module.parameters(), model.parameters()):
            ema.mul_(d).add_(live.detach(), alpha=1 - d)
        for ema, live in zip(self.module.buffers(), model.buffers()):
            ema.copy_(live)


def _distributed() -> tuple[int, int, int]:
    """(rank, local rank, world size); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world


def _device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        name = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device={name!r} but no CUDA device is available; use train.device=cpu")
    return torch.device(name)


def flow_modules(model: nn.Module, behaviour: TrainingBehaviour = DEFAULT_TRAINING) -> list[nn.Module]:
    """The modules frozen during the flow warm-up (the behaviour's ``flow_modules``; default: every SPyNet)."""
    return list(behaviour.flow_modules(model))


def training_loss(behaviour: TrainingBehaviour, output: torch.Tensor, extras: dict[str, torch.Tensor],
                  gt: torch.Tensor, kind: str) -> torch.Tensor:
    """The loss of one step: ``behaviour.loss`` (default L1 on ``mu_law(max(x, 0) / 16)``, or plain L1)."""
    return behaviour.loss(output, extras, gt, kind)


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: never a half-written checkpoint."""
    save_torch_atomic(path, payload)


def load_training_state(path: Path) -> dict[str, Any]:
    """A run checkpoint, read with ``weights_only=True``."""
    state = load_torch_file(path, "training checkpoint")
    if not isinstance(state, dict):
        raise TrainingError(f"{path}: not a training checkpoint of this toolkit (expected a dict, got {type(state).__name__})")
    return state


class _Log:
    """CSV log (rank 0), plus TensorBoard when asked for and installed."""

    def __init__(self, run_dir: Path, tensorboard: bool, enabled: bool) -> None:
        self.path, self.enabled, self.writer = run_dir / "log.csv", enabled, None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise MissingDependencyError("train.tensorboard=true needs the tensorboard package (pip install tensorboard)") from None
            self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        append_log_rows(self.path, [[key, row["step"], f"{value:.6g}"] for key, value in row.items() if key != "step"])
        if self.writer is not None:
            for key, value in row.items():
                if key != "step":
                    self.writer.add_scalar(key, value, row["step"])


@dataclass
class _Run:
    """Everything one training run holds between its steps (one process; rank 0 writes the folder)."""

    config: RunConfig
    run_dir: Path
    rank: int
    world: int
    device: torch.device
    model: nn.Module
    net: nn.Module  # ``model`` or its DistributedDataParallel wrapper
    behaviour: TrainingBehaviour
    ema: ModelEMA | None
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    use_amp: bool
    amp_dtype: torch.dtype
    validate: Validator | None
    step: int = 0
    log: _Log | None = None
    flow_parameters: list[nn.Parameter] = field(default_factory=list)
    parts: dict[str, str] = field(default_factory=dict)  # pretrained part -> what it started from (a new run)
    saved_at: float = field(default_factory=time.monotonic)  # last checkpoint (or start), for train.save_minutes
    estimated: bool = False  # the start-of-run estimate was printed

    @property
    def last(self) -> Path:
        return self.run_dir / "checkpoints" / "last.pt"


@dataclass
class _Timing:
    """Seconds per step and data-loading seconds, the first step (worker start-up) left out of the rates."""

    step_seconds: float = 0.0
    data_seconds: float = 0.0
    timed: int = 0

    def per_step(self) -> float:
        return self.step_seconds / max(self.timed, 1)

    def data_per_step(self) -> float:
        return self.data_seconds / max(self.timed, 1)


def train(config: RunConfig, run_dir: str | os.PathLike[str], resume: bool = False,
          validate: Validator | None = None, stop_at: int | None = None) -> TrainResult:
    """Train ``config.model`` on ``config.data.root``, writing the run folder ``run_dir`` (see :func:`_train`).

    Every setting, the training data and the folder are checked first, so a bad run creates nothing; the
    folder is then locked for the run (:func:`models.run_folder.open_run_folder`).
    """
    check_run_config(config)
    check_training_data(config)
    with open_run_folder(Path(run_dir), resume, rank=int(os.environ.get("RANK", "0"))):
        return _train(config, run_dir, resume, validate, stop_at)


def _train(config: RunConfig, run_dir: str | os.PathLike[str], resume: bool = False,
           validate: Validator | None = None, stop_at: int | None = None) -> TrainResult:
    """Train ``config.model`` on ``config.data.root``, writing the run folder ``run_dir``.

    Args:
        config: the resolved run configuration (``load_run_config``).
        run_dir: output folder; must not hold a run unless ``resume``.
        resume: continue from ``run_dir/checkpoints/last.pt``.
        validate: called as ``validate(model, step)`` on rank 0 every ``train.val_every`` steps and at the
            end, with the EMA weights when EMA is on; returns metric means (``benchmark.validation`` builds one
            from the benchmark's rendering and metrics).
        stop_at: stop after this step without finishing the schedule (an interruption, for tests and
            time-boxed jobs); the checkpoint is written there.

    Raises:
        DataError: an existing run without ``resume``, a missing checkpoint with ``resume``.
        ConfigError: no data folder, a device that is not there.
        TrainingError: a non-finite loss (the last checkpoint is kept).
    """
    run = _start(config, Path(run_dir), resume, validate)
    stop = min(config.train.iters, stop_at if stop_at is not None else config.train.iters)
    loader = _loader(run, stop)
    progress = _progress(run, stop)
    loss, validation, timing = float("nan"), {}, _Timing()
    run.model.train()
    start, ticked = run.step, time.perf_counter()
    with run_guard.StopRequest(announce=run.rank == 0) as request:
        for batch in loader:
            fetched = time.perf_counter()
            loss = _optimisation_step(run, batch)
            done = time.perf_counter()
            if run.step - start > 1 or stop - start == 1:  # the first step pays for worker start-up: not in the rates
                timing.step_seconds += done - ticked
                timing.data_seconds += fetched - ticked
                timing.timed += 1
            ticked = done
            validation = _periodic(run, stop, loss, timing, progress) or validation
            _guard(run, stop, timing, progress, request)
    return _finish(run, loss, validation, timing, progress)


def _start(config: RunConfig, run_dir: Path, resume: bool, validate: Validator | None, load_parts: bool = True) -> _Run:
    """Check the folder, build model, EMA, optimiser and scaler, restore a resumed run, write ``config.yaml``.

    ``load_parts``: fill a new run's pretrained parts (``models/pretrained.py``); off when the caller loads whole weights.
    """
    cfg = config.train
    last = run_dir / "checkpoints" / "last.pt"
    if resume and not last.is_file():
        raise DataError(f"{run_dir}: nothing to resume (no checkpoints/last.pt)")
    if not resume and last.exists():
        raise DataError(f"{run_dir}: already holds a run; pass --resume to continue it or choose another --out")
    behaviour = MODELS.spec(config.model).training_behaviour()
    if behaviour.needs_bracket_data and not config.data.root:
        raise ConfigError("no training data: pass --data DIR (a dataset root in the published layout)")
    rank, local_rank, world = _distributed()
    device = _device(cfg.device, local_rank)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)

    model = build_run_model(config)
    parts = {} if resume or not load_parts else load_pretrained_parts(model, MODELS.spec(config.model),
                                                     split_part_args(MODELS.spec(config.model), config.model_args)[1])
    model = model.to(device)
    ema = ModelEMA(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    optimizer = torch.optim.AdamW(behaviour.param_groups(model, cfg.lr), lr=cfg.lr, betas=cfg.betas,
                                  weight_decay=cfg.weight_decay)
    for group in optimizer.param_groups:
        group.setdefault("lr_scale", 1.0)
    use_amp = cfg.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    run = _Run(config, run_dir, rank, world, device, model, model, behaviour, ema, optimizer, scaler, use_amp,
               amp_dtype, validate)
    run.parts = parts
    if resume:
        _restore(run, last)
    if rank == 0:
        for prefix, origin in parts.items():  # a loaded file is worth a line; random starts are in the checkpoint
            if cfg.progress and not origin.startswith(("random", "absent")):
                print(f"{config.model}: {prefix} starts from {origin}", file=sys.stderr)
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        save_run_config(config, run_dir / "config.yaml", __version__)
    if world > 1:
        run.net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    run.log = _Log(run_dir, cfg.tensorboard, rank == 0)
    run.flow_parameters = [p for m in flow_modules(model, behaviour) for p in m.parameters()]
    return run


def _restore(run: _Run, path: Path) -> None:
    """Model, EMA, optimiser, scaler, step and RNG states from a run checkpoint."""
    state = load_training_state(path)
    check_resumable(state, run.config, run.model, path)
    run.model.load_state_dict(state["params"])
    if run.ema is not None and "params_ema" in state:
        run.ema.module.load_state_dict(state["params_ema"])
        run.ema.updates = int(state["ema_updates"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scaler.load_state_dict(state["scaler"])
    run.step = int(state["scheduler"]["step"])
    if run.rank == 0:
        roll_back_log(run.run_dir, run.step)  # rows after the checkpoint are logged again by this run
    _set_rng_state(state["rng"])


def _loader(run: _Run, stop: int) -> DataLoader:
    """Batches for steps ``run.step .. stop - 1`` of this rank (a pure function of ``(seed, step)``)."""
    config, cfg = run.config, run.config.train
    dataset = run.behaviour.dataset(config)
    if dataset is None:
        dataset = BracketDataset(config.data.root, config.data.train_split, "train", config.data.scale, cfg.patch,
                                 config.data.white, cfg.seed, augment=config.data.augment == "bayer")
    return DataLoader(_EpochIndexed(dataset),
                      batch_sampler=StepBatches(len(dataset), cfg.batch_size, cfg.seed, run.step, stop, run.rank,
                                                run.world),
                      num_workers=config.data.workers, worker_init_fn=run_guard.ignore_stop_signals,
                      pin_memory=config.data.pin_memory and run.device.type == "cuda", persistent_workers=False,
                      # its own generator: starting the iterator must not draw from the global RNG, which holds
                      # the model's random state (RBSR's supervised step) and is restored exactly on resume
                      generator=torch.Generator().manual_seed(cfg.seed))


def _progress(run: _Run, stop: int) -> Any:
    """A tqdm bar on rank 0 when ``train.progress``, else None."""
    if not (run.config.train.progress and run.rank == 0):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=stop, initial=run.step, desc=f"train {run.config.model}", unit="it", dynamic_ncols=True)


def _optimisation_step(run: _Run, batch: dict[str, torch.Tensor]) -> float:
    """One step: learning rate, forward (AMP), loss, backward, clipping, optimiser, EMA. Returns the loss.

    Raises:
        TrainingError: the loss is not finite (checked before backward: ``grid_sample`` can crash on NaN).
    """
    cfg, step = run.config.train, run.step
    if run.world == 1:  # one process: no graph through a frozen flow network at all (DDP needs fixed flags)
        for p in run.flow_parameters:
            p.requires_grad_(step >= cfg.flow_warmup_iters)
    for group in run.optimizer.param_groups:
        group["lr"] = learning_rate(step, cfg) * group["lr_scale"]
    run.behaviour.begin_step(run.model, run.optimizer, step, run.config)
    raws, gt = run.behaviour.prepare(batch, run.device)
    if run.config.data.augment == "published" and run.behaviour.needs_bracket_data:  # one flip/transpose draw per batch, as the published loader
        raws, gt = augment_published(raws, gt, published_batch_flips(cfg.seed, step))
    with torch.autocast(run.device.type, dtype=run.amp_dtype, enabled=run.use_amp):
        output, extras = run.behaviour.forward(run.model, run.net, raws)
    loss = training_loss(run.behaviour, output.float(), {k: v.float() for k, v in extras.items()}, gt, cfg.loss)
    loss_value = float(loss.detach())
    if not math.isfinite(loss_value):
        raise TrainingError(f"{run.run_dir}: the loss is {loss_value} at step {step + 1}; the last checkpoint is "
                            "kept. Lower train.lr, set train.clip_grad_norm, or check the data")
    # frozen flow: its gradients are dropped (AdamW then skips it entirely)
    apply_loss(run, loss, run.flow_parameters if step < cfg.flow_warmup_iters else [])
    return loss_value


def apply_loss(run: _Run, loss: torch.Tensor, frozen: list[nn.Parameter]) -> None:
    """Backward of ``loss`` (scaled under AMP), gradients of ``frozen`` dropped, clipping, optimiser and EMA
    updates, ``run.step`` advanced: the tail every optimisation step shares (``train`` and ``adapt``)."""
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    for p in frozen:
        p.grad = None
    if run.config.train.clip_grad_norm > 0:
        run.scaler.unscale_(run.optimizer)
        nn.utils.clip_grad_norm_(run.model.parameters(), run.config.train.clip_grad_norm)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    if run.ema is not None:
        run.ema.update(run.model)
    run.step += 1


def _periodic(run: _Run, stop: int, loss: float, timing: _Timing, progress: Any) -> dict[str, float] | None:
    """After a step: log every ``log_every``, checkpoint every ``save_every``, validate every ``val_every``."""
    cfg, step = run.config.train, run.step
    if step % cfg.log_every == 0 or step == stop:
        run.log.write({"step": step, "loss": loss, "lr": run.optimizer.param_groups[0]["lr"],
                       "step_s": timing.per_step(), "data_s": timing.data_per_step()})
    if progress is not None:
        progress.update(1)
        progress.set_postfix(loss=f"{loss:.4f}", refresh=False)
    if step % cfg.save_every == 0 and step != stop:
        _save(run)
    if cfg.val_every and step % cfg.val_every == 0 and step != cfg.iters:
        return _validate(run)
    return None


def _guard(run: _Run, stop: int, timing: _Timing, progress: Any, request: run_guard.StopRequest) -> None:
    """After a step: the estimate once enough steps are timed, a checkpoint when ``train.save_minutes`` of
    wall time passed since the last one, and on SIGINT/SIGTERM a checkpoint then :class:`~models.run_guard.TrainingInterrupted`."""
    cfg = run.config.train
    if run.rank == 0 and not run.estimated and run.step < stop and run_guard.estimate_due(timing.timed, timing.step_seconds):
        run.estimated = True
        from tqdm.auto import tqdm

        tqdm.write(run_guard.estimate_line(run.config.model, timing.per_step(), run.step, stop, cfg.save_every,
                                              cfg.save_minutes), file=sys.stderr)
    if request.signal_number is not None:
        if progress is not None:
            progress.close()
        _save(run)
        raise run_guard.TrainingInterrupted(
            f"{run.run_dir}: stopped by {run_guard.signal_name(request.signal_number)} at step {run.step}/{cfg.iters}, "
            f"checkpoint saved; continue with: python cli.py train --out {run.run_dir} --resume",
            request.signal_number)
    if run.step != stop and run_guard.due_by_time(run.saved_at, cfg.save_minutes):
        _save(run)


def _save(run: _Run) -> None:
    """``checkpoints/last.pt`` (rank 0): model, EMA, optimiser, scaler, step, RNG states, model config."""
    run.saved_at = time.monotonic()
    if run.rank != 0:
        return
    payload = {"params": run.model.state_dict(), "optimizer": run.optimizer.state_dict(),
               "scaler": run.scaler.state_dict(), "scheduler": {"kind": "cosine_warmup", "step": run.step},
               "rng": _rng_state(), "model_config": {"name": run.config.model, "kwargs": dict(run.config.model_args)},
               "toolkit": __version__}
    if run.parts:
        payload["pretrained_parts"] = dict(run.parts)
    if run.ema is not None:
        payload["params_ema"], payload["ema_updates"] = run.ema.module.state_dict(), run.ema.updates
    save_checkpoint(run.last, payload)


def _validate(run: _Run) -> dict[str, float]:
    """``validate(model, step)`` on rank 0 with the EMA weights when EMA is on; logged as ``val_*``."""
    if run.validate is None or run.rank != 0:
        return {}
    evaluated = run.ema.module if run.ema is not None else run.model
    was_training = evaluated.training
    scores = run.validate(evaluated.eval(), run.step)
    evaluated.train(was_training)
    run.log.write({"step": run.step, **{f"val_{k}": v for k, v in scores.items()}})
    return scores


def _finish(run: _Run, loss: float, validation: dict[str, float], timing: _Timing, progress: Any) -> TrainResult:
    """Close the bar, write the last checkpoint, validate a completed schedule, wait for the other ranks."""
    if progress is not None:
        progress.close()
    _save(run)
    if run.step >= run.config.train.iters:
        validation = _validate(run)
    if run.world > 1:
        dist.barrier()
    return TrainResult(run.run_dir, run.step, loss, validation, timing.per_step(),
                       timing.data_seconds / max(timing.step_seconds, 1e-12))
