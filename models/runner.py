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

Model hooks (optional methods, found by name):
    ``training_param_groups(lr) -> list[dict]``   parameter groups (default: one group, all parameters);
    ``training_loss(output, gt) -> Tensor``       replaces the configured loss;
    ``flow_modules() -> list[nn.Module]``         not updated for the first ``train.flow_warmup_iters`` steps
                                                  (default: every SPyNet in the model).
"""

from __future__ import annotations

import copy
import csv
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from models.bracket import mu_law_l1
from models.data import BracketDataset, augment_published, published_batch_flips
from models.layers.spynet import SPyNet
from models.run_checks import build_run_model, check_resumable, check_run_config, check_training_data
from models.run_folder import open_run_folder, roll_back_log
from models.train_config import RunConfig, learning_rate, save_run_config
from simulator import __version__
from simulator.errors import DataError, TrainingError
from simulator.ownership import replace_atomically
from simulator.weights import load_weights_only

Validator = Callable[[nn.Module, int], dict[str, float]]
UNIT_WHITE = 16.0  # the shortest exposure's white level on the unit frame's scale


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


class _EpochIndexed(Dataset):
    """Index ``epoch * n + i`` -> item ``i`` with ``epoch``'s random crop, so workers need no shared state."""

    def __init__(self, dataset: BracketDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: int) -> dict[str, object]:
        epoch, index = divmod(key, len(self.dataset))
        return self.dataset.sample(index, epoch)


class StepBatches(Sampler[list[int]]):
    """Batches from ``start`` on, each a pure function of ``(seed, step)`` (so resuming needs only the step).

    Step ``s`` of a global batch ``B * world`` takes its slice of the permutation of epoch
    ``s // steps_per_epoch``; rank ``r`` keeps positions ``[r B, (r + 1) B)`` of it.
    """

    def __init__(self, size: int, batch: int, seed: int, start: int, stop: int, rank: int = 0, world: int = 1) -> None:
        self.size, self.batch, self.seed, self.start, self.stop = size, batch, seed, start, stop
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def batch_at(self, step: int) -> list[int]:
        global_batch = self.batch * self.world
        per_epoch = max(1, self.size // global_batch)
        epoch, position = divmod(step, per_epoch)
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + epoch))
        order = order.repeat(-(-global_batch // self.size))  # tiny datasets: cycle the permutation
        chosen = order[position * global_batch:(position + 1) * global_batch] if per_epoch > 1 else order[:global_batch]
        mine = chosen[self.rank * self.batch:(self.rank + 1) * self.batch]
        return [epoch * self.size + int(i) for i in mine]

    def __iter__(self) -> Iterator[list[int]]:
        return (self.batch_at(step) for step in range(self.start, self.stop))


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
        raise DataError(f"train.device={name!r} but no CUDA device is available; use train.device=cpu")
    return torch.device(name)


def flow_modules(model: nn.Module) -> list[nn.Module]:
    """The model's ``flow_modules()`` hook, or every SPyNet inside it."""
    hook = getattr(model, "flow_modules", None)
    return list(hook()) if callable(hook) else [m for m in model.modules() if isinstance(m, SPyNet)]


def training_loss(model: nn.Module, output: torch.Tensor, gt: torch.Tensor, kind: str) -> torch.Tensor:
    """The model's ``training_loss`` hook, or L1 on ``mu_law(max(x, 0) / 16)`` (published) or plain L1."""
    hook = getattr(model, "training_loss", None)
    if callable(hook):
        return hook(output, gt)
    if kind == "l1":
        return (output - gt).abs().mean()
    return mu_law_l1(output, gt, UNIT_WHITE)


def _param_groups(model: nn.Module, lr: float) -> list[dict[str, Any]]:
    hook = getattr(model, "training_param_groups", None)
    return list(hook(lr)) if callable(hook) else [{"params": [p for p in model.parameters() if p.requires_grad]}]


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
    path.parent.mkdir(parents=True, exist_ok=True)
    with replace_atomically(path) as tmp:  # a unique temporary: concurrent writers never share one
        torch.save(payload, tmp)


def load_training_state(path: Path) -> dict[str, Any]:
    """A run checkpoint, read with ``weights_only=True``."""
    state = load_weights_only(path, "training checkpoint")
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
                raise DataError("train.tensorboard=true needs the tensorboard package (pip install tensorboard)") from None
            self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        new = not self.path.exists()
        with open(self.path, "a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(["key", "step", "value"])
            for key, value in row.items():
                if key != "step":
                    writer.writerow([key, row["step"], f"{value:.6g}"])
        if self.writer is not None:
            for key, value in row.items():
                if key != "step":
                    self.writer.add_scalar(key, value, row["step"])


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
            end, with the EMA weights when EMA is on; returns metric means (``benchmark.training`` builds one
            from the benchmark's metrics).
        stop_at: stop after this step without finishing the schedule (an interruption, for tests and
            time-boxed jobs); the checkpoint is written there.

    Raises:
        DataError: missing data, an existing run without ``resume``, a missing checkpoint with ``resume``.
    """
    cfg, run_dir = config.train, Path(run_dir)
    last = run_dir / "checkpoints" / "last.pt"
    if resume and not last.is_file():
        raise DataError(f"{run_dir}: nothing to resume (no checkpoints/last.pt)")
    if not resume and last.exists():
        raise DataError(f"{run_dir}: already holds a run; pass --resume to continue it or choose another --out")
    if not config.data.root:
        raise DataError("no training data: pass --data DIR (a dataset root in the published layout)")
    rank, local_rank, world = _distributed()
    device = _device(cfg.device, local_rank)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)

    model = build_run_model(config).to(device)
    ema = ModelEMA(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    optimizer = torch.optim.AdamW(_param_groups(model, cfg.lr), lr=cfg.lr, betas=cfg.betas,
                                  weight_decay=cfg.weight_decay)
    for group in optimizer.param_groups:
        group.setdefault("lr_scale", 1.0)
    use_amp = cfg.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    step = 0
    if resume:
        state = load_training_state(last)
        check_resumable(state, config, model, last)
        model.load_state_dict(state["params"])
        if ema is not None and "params_ema" in state:
            ema.module.load_state_dict(state["params_ema"])
            ema.updates = int(state["ema_updates"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        step = int(state["scheduler"]["step"])
        if rank == 0:
            roll_back_log(run_dir, step)  # rows after the checkpoint are logged again by this run
        _set_rng_state(state["rng"])
    if rank == 0:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        save_run_config(config, run_dir / "config.yaml", __version__)
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    dataset = BracketDataset(config.data.root, config.data.train_split, "train", config.data.scale, cfg.patch,
                             config.data.white, cfg.seed, augment=config.data.augment == "bayer")
    stop = min(cfg.iters, stop_at if stop_at is not None else cfg.iters)
    loader = DataLoader(_EpochIndexed(dataset),
                        batch_sampler=StepBatches(len(dataset), cfg.batch_size, cfg.seed, step, stop, rank, world),
                        num_workers=config.data.workers, pin_memory=config.data.pin_memory and device.type == "cuda",
                        persistent_workers=False,
                        # its own generator: starting the iterator must not draw from the global RNG, which holds
                        # the model's random state (RBSR's supervised step) and is restored exactly on resume
                        generator=torch.Generator().manual_seed(cfg.seed))
    log = _Log(run_dir, cfg.tensorboard, rank == 0)
    flow_parameters = [p for m in flow_modules(model) for p in m.parameters()]

    def checkpoint() -> None:
        if rank != 0:
            return
        payload = {"params": model.state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
                   "scheduler": {"kind": "cosine_warmup", "step": step}, "rng": _rng_state(),
                   "model_config": {"name": config.model, "kwargs": dict(config.model_args)},
                   "toolkit": __version__}
        if ema is not None:
            payload["params_ema"], payload["ema_updates"] = ema.module.state_dict(), ema.updates
        save_checkpoint(last, payload)

    def run_validation() -> dict[str, float]:
        if validate is None or rank != 0:
            return {}
        evaluated = ema.module if ema is not None else model
        was_training = evaluated.training
        scores = validate(evaluated.eval(), step)
        evaluated.train(was_training)
        log.write({"step": step, **{f"val_{k}": v for k, v in scores.items()}})
        return scores

    progress = None
    if cfg.progress and rank == 0:
        from tqdm.auto import tqdm

        progress = tqdm(total=stop, initial=step, desc=f"train {config.model}", unit="it", dynamic_ncols=True)
    loss_value, validation, step_seconds, data_seconds, timed = float("nan"), {}, 0.0, 0.0, 0
    model.train()
    start, ticked = step, time.perf_counter()
    for batch in loader:
        fetched = time.perf_counter()
        if world == 1:  # one process: no graph through a frozen flow network at all (DDP needs fixed flags)
            for p in flow_parameters:
                p.requires_grad_(step >= cfg.flow_warmup_iters)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg) * group["lr_scale"]
        raws = batch["raws"].to(device, non_blocking=True)
        gt = batch["gt"].to(device, non_blocking=True)
        if config.data.augment == "published":
            raws, gt = augment_published(raws, gt, published_batch_flips(cfg.seed, step))
        with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
            output = net(raws)
        loss = training_loss(model, output.float(), gt, cfg.loss)
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):  # stop before a NaN reaches backward (grid_sample can crash on it)
            raise DataError(f"{run_dir}: the loss is {loss_value} at step {step + 1}; the last checkpoint is kept. "
                            "Lower train.lr, set train.clip_grad_norm, or check the data")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if step < cfg.flow_warmup_iters:  # frozen flow: drop its gradients (AdamW then skips it entirely)
            for p in flow_parameters:
                p.grad = None
        if cfg.clip_grad_norm > 0:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        if ema is not None:
            ema.update(model)
        step += 1
        done = time.perf_counter()
        if step - start > 1 or stop - start == 1:  # the first step pays for worker start-up: not in the rates
            step_seconds, data_seconds, timed = step_seconds + done - ticked, data_seconds + fetched - ticked, timed + 1
        ticked = done
        if step % cfg.log_every == 0 or step == stop:
            log.write({"step": step, "loss": loss_value, "lr": optimizer.param_groups[0]["lr"],
                       "step_s": step_seconds / max(timed, 1), "data_s": data_seconds / max(timed, 1)})
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{loss_value:.4f}", refresh=False)
        if step % cfg.save_every == 0 and step != stop:
            checkpoint()
        if cfg.val_every and step % cfg.val_every == 0 and step != cfg.iters:
            validation = run_validation()
    if progress is not None:
        progress.close()
    checkpoint()
    if step >= cfg.iters:
        validation = run_validation()
    if world > 1:
        dist.barrier()
    return TrainResult(run_dir, step, loss_value, validation, step_seconds / max(timed, 1),
                       data_seconds / max(step_seconds, 1e-12))
