"""Self-supervised adaptation to unlabelled brackets: the paper's second stage (``cli.py adapt``).

    result = adapt(adapt_config("tmrnet", ["train.iters=500"]), "runs/adapted", patches, initial_state)

A student and an EMA teacher both start from the synthetic checkpoint. Every step, with ``mu`` the protocol's
mu-law and outputs on the unit frame's scale (white 16), as the published real-world training does
(``shared/fixtures/official/networks/README.md`` section 4)::

    teacher term  L1( mu(max(y_s / 16, 0)), mu(clamp(y_t / 16, 0, 1)) )        y_s, y_t: full-bracket outputs
    self term     L1( mu(max(y_k / 16, 0)), mu(clamp(y_s.detach() / 16, 0, 1)) )  y_k: student, first k+1 frames
    loss          teacher term + 1 * self term,  k drawn uniformly from {0, 1, 2} (here from ``(seed, step)``)

after which the teacher follows ``p_t <- 0.999 p_t + 0.001 p_s`` over parameters only (buffers are not
updated, no warm-up ramp). Defaults are the published settings: AdamW at 7.5e-5 with a cosine to 1e-6 stepped
10 times over 10 x 500 iterations, batch 8, patch 128 (64 for BracketIRE+).

Only models that produce an output from a shorter bracket take part (``ModelSpec.fewer_frames``); the others
are refused with one line that names those that can. A model's ``min_frames`` attribute (default 2; TMRNet 1)
bounds the shorter bracket from below.

The run folder is the runner's (``models.runner``): ``config.yaml``, ``log.csv`` (``loss``, ``lr``, plus
``loss_teacher``, ``loss_self`` and ``k``), ``checkpoints/last.pt`` with the student as ``params`` and the
teacher as ``params_ema`` (what ``predict --weights RUN/checkpoints/last.pt`` uses), locked, owned and resumed
bit for bit by the runner's own steps (``_start``, ``_restore``, ``_periodic``, ``_save``, ``_finish``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from models import MODELS
from models.adapt_data import UnlabelledPatches
from models.batches import StepBatches, _EpochIndexed
from models.bracket import mu_law_l1
from models.run_checks import build_run_model, check_run_config
from models.run_folder import open_run_folder
from models.runner import ModelEMA, TrainResult, _finish, _periodic, _progress, _Run, _start, _Timing, apply_loss
from models.train_config import RunConfig, TrainSection, learning_rate, load_run_config
from simulator.core.errors import ConfigError, DataError, TrainingError
from simulator.layout import UNIT_FRAME_WHITE

SELF_WEIGHT = 1.0  # published weight of the self-consistency term
PREFIX_FRAMES = (1, 2, 3)  # the self term's shorter bracket: the first k + 1 frames, k in {0, 1, 2}
ADAPT_TRAIN = TrainSection(iters=5000, batch_size=8, patch=128, lr=7.5e-5, lr_min=1e-6, warmup_epochs=0,
                           schedule_epochs=10, ema_decay=0.999, val_every=0, save_every=500)


def adaptable_models() -> list[str]:
    """Registered learned models that give an output from fewer frames (the ones ``adapt`` accepts)."""
    return [s.name for s in MODELS.specs() if s.fewer_frames and s.needs_weights]


def check_adaptable(name: str) -> None:
    """Raise ``ConfigError`` (one line naming the adaptable models) unless model ``name`` can adapt."""
    spec = MODELS.spec(name)
    if not (spec.fewer_frames and spec.needs_weights):
        why = "has no parameters to adapt" if not spec.needs_weights else "cannot give an output from fewer frames"
        raise ConfigError(f"--model {name}: {why}, which the self-consistency loss needs; models that can adapt: "
                          f"{', '.join(adaptable_models())}")


def adapt_config(model: str, overrides: Sequence[str] = (), model_args: Mapping[str, object] | None = None,
                 base: RunConfig | None = None) -> RunConfig:
    """The run configuration of an adaptation: the published adaptation settings, then ``overrides``.

    The patch defaults to 64 for BracketIRE+ models (scale 4). ``base`` (a previous run's ``config.yaml``)
    replaces the defaults when resuming.
    """
    if base is None:
        spec = MODELS.spec(model)
        train = ADAPT_TRAIN if spec.scale == 1 else TrainSection(**{**ADAPT_TRAIN.__dict__, "patch": 64})
        base = RunConfig(model, dict(model_args or {}), train, RunConfig().data)
    return load_run_config(overrides=list(overrides), model=None, base=base)


def adaptation_loss(full: torch.Tensor, prefix: torch.Tensor, teacher: torch.Tensor,
                    self_weight: float = SELF_WEIGHT) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The published adaptation loss -> ``(total, teacher term, self term)``, float32 scalars.

    Args:
        full: student output from the full bracket ``[B, 4, H, W]``, unit frame's scale (white 16).
        prefix: student output from the first ``k + 1`` frames, same shape.
        teacher: teacher output from the full bracket (no gradient needed), same shape.
    """
    white = UNIT_FRAME_WHITE
    teacher_term = mu_law_l1(full, teacher.detach().clamp(0, white), white)
    self_term = mu_law_l1(prefix, full.detach().clamp(0, white), white)
    return teacher_term + self_weight * self_term, teacher_term, self_term


def prefix_frames(seed: int, step: int, minimum: int = 1) -> int:
    """Frames of step ``step``'s shorter bracket, ``k + 1`` with ``k`` uniform in {0, 1, 2} from ``(seed, step)``.

    ``minimum``: the fewest frames the model takes (its ``min_frames`` attribute; TMRNet 1). The burst baselines
    need 2, so for them ``k`` is drawn from {1, 2} (a departure: the published method is TMRNet's).
    """
    choices = [f for f in PREFIX_FRAMES if f >= minimum]
    return choices[int(np.random.default_rng([seed, step, 2]).integers(0, len(choices)))]


class TeacherEMA(ModelEMA):
    """The published teacher: ``p_t <- d p_t + (1 - d) p_s`` after every step, parameters only, no ramp."""

    def __init__(self, module: nn.Module, decay: float, updates: int = 0) -> None:
        self.module, self.decay, self.updates = module.eval().requires_grad_(False), decay, updates

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        for teacher, student in zip(self.module.parameters(), model.parameters()):
            teacher.mul_(self.decay).add_(student.detach(), alpha=1 - self.decay)


def adapt(config: RunConfig, run_dir: str | os.PathLike[str], patches: UnlabelledPatches,
          initial: Mapping[str, torch.Tensor] | None, resume: bool = False, stop_at: int | None = None) -> TrainResult:
    """Adapt ``config.model`` on ``patches`` without ground truth, writing the run folder ``run_dir``.

    Args:
        config: from :func:`adapt_config`; ``data.root`` names the unlabelled input (for the record).
        run_dir: output folder; must not hold a run unless ``resume``.
        patches: the unlabelled patches (:class:`~models.adapt_data.UnlabelledPatches`).
        initial: the synthetic checkpoint's state dict, loaded into student and teacher (ignored on resume).
        resume: continue from ``run_dir/checkpoints/last.pt``.
        stop_at: stop after this step without finishing the schedule (an interruption).

    Raises:
        ConfigError: a model that cannot adapt, ``train.ema_decay=0`` (the teacher is the EMA).
        DataError: no initial weights for a new run, weights that do not fit, a run already there.
        TrainingError: a non-finite loss (the last checkpoint is kept).
    """
    check_adaptable(config.model)
    check_run_config(config)
    if config.train.ema_decay <= 0:
        raise ConfigError("train.ema_decay=0: adaptation's teacher is the EMA of the student; expected 0 < decay < 1")
    if not resume and initial is None:
        raise DataError("adapt needs the synthetic checkpoint to start from: pass --weights")
    if not resume:  # before the folder exists: weights that do not fit leave nothing behind
        _load_initial(build_run_model(config), None, initial, config)
    with open_run_folder(Path(run_dir), resume, rank=int(os.environ.get("RANK", "0"))):
        run = _start(config, Path(run_dir), resume, None, load_parts=False)
        run.ema = TeacherEMA(run.ema.module, config.train.ema_decay, run.ema.updates)
        if not resume:
            _load_initial(run.model, run.ema.module, initial, config)
        return _loop(run, patches, stop_at)


def _load_initial(student: nn.Module, teacher: nn.Module | None, initial: Mapping[str, torch.Tensor],
                  config: RunConfig) -> None:
    """Student (and teacher) from the synthetic checkpoint (strict: every key and shape)."""
    try:
        for model in (student, teacher):
            if model is not None:
                model.load_state_dict(initial)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise DataError(f"--weights do not fit {config.model} with {dict(config.model_args)}: {first}") from None


def _loop(run: _Run, patches: UnlabelledPatches, stop_at: int | None) -> TrainResult:
    cfg = run.config.train
    stop = min(cfg.iters, stop_at if stop_at is not None else cfg.iters)
    loader = DataLoader(_EpochIndexed(patches),
                        batch_sampler=StepBatches(len(patches), cfg.batch_size, cfg.seed, run.step, stop, run.rank,
                                                  run.world),
                        num_workers=run.config.data.workers, persistent_workers=False,
                        pin_memory=run.config.data.pin_memory and run.device.type == "cuda",
                        generator=torch.Generator().manual_seed(cfg.seed))
    progress = _progress(run, stop)
    loss, timing = float("nan"), _Timing()
    run.model.train()
    start, ticked = run.step, time.perf_counter()
    for batch in loader:
        fetched = time.perf_counter()
        loss, teacher_term, self_term, frames = _adaptation_step(run, batch["raws"])
        done = time.perf_counter()
        if run.step - start > 1 or stop - start == 1:
            timing.step_seconds += done - ticked
            timing.data_seconds += fetched - ticked
            timing.timed += 1
        ticked = done
        if run.step % cfg.log_every == 0 or run.step == stop:
            run.log.write({"step": run.step, "loss_teacher": teacher_term, "loss_self": self_term, "k": frames - 1})
        _periodic(run, stop, loss, timing, progress)
    return _finish(run, loss, {}, timing, progress)


def _adaptation_step(run: _Run, raws: torch.Tensor) -> tuple[float, float, float, int]:
    """One step: learning rate, the three forwards, the loss, backward, AdamW, teacher update.

    Returns ``(loss, teacher term, self term, frames of the shorter bracket)``.
    """
    cfg, step = run.config.train, run.step
    for group in run.optimizer.param_groups:
        group["lr"] = learning_rate(step, cfg) * group["lr_scale"]
    raws = raws.to(run.device, non_blocking=True)
    frames = prefix_frames(cfg.seed, step, int(getattr(run.model, "min_frames", 2)))
    with torch.autocast(run.device.type, dtype=run.amp_dtype, enabled=run.use_amp):
        with torch.no_grad():
            teacher = run.ema.module(raws)
        full = run.net(raws)
        prefix = run.model(raws[:, :frames])
    loss, teacher_term, self_term = adaptation_loss(full.float(), prefix.float(), teacher.float())
    loss_value = float(loss.detach())
    if not math.isfinite(loss_value):
        raise TrainingError(f"{run.run_dir}: the adaptation loss is {loss_value} at step {step + 1}; the last "
                            "checkpoint is kept. Lower train.lr or set train.clip_grad_norm")
    apply_loss(run, loss, [])
    return loss_value, float(teacher_term.detach()), float(self_term.detach()), frames
