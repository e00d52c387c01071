"""How the runner trains a model: a typed :class:`TrainingBehaviour`, declared by the model's spec.

The default is the published recipe: one parameter group, every SPyNet treated as the flow network (frozen
for ``train.flow_warmup_iters``), ``net(raws)`` as the training forward and L1 on ``mu_law(max(x, 0) / 16)``
(or plain L1) as the loss. A model that trains differently names a subclass in its spec
(``ModelSpec(training="package.module:attribute")``); what the loss needs travels explicitly from
:meth:`TrainingBehaviour.forward` to :meth:`TrainingBehaviour.loss`, never on the network.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from models.bracket import mu_law_l1
from models.layers.spynet import SPyNet
from simulator.layout import UNIT_FRAME_WHITE

__all__ = ["DEFAULT_TRAINING", "TrainingBehaviour", "TrainingStep"]

TrainingStep = tuple[torch.Tensor, dict[str, torch.Tensor]]
"""What a training forward returns: the output ``[B, 4, s*h, s*w]`` and named extra tensors for the loss."""


class TrainingBehaviour:
    """The runner's view of a model in training; subclass and override what differs (every method but
    :meth:`begin_step` is pure)."""

    needs_bracket_data = True
    """Whether the run reads a bracket dataset (``--data``); False when :meth:`dataset` makes its own."""

    def dataset(self, config: Any) -> Any:
        """The training dataset (items are dicts); ``None``: the bracket dataset of ``config.data`` (default)."""
        return None

    def prepare(self, batch: dict[str, torch.Tensor], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """``(inputs, target)`` of a batch on ``device``; default ``(raws [B, T, 4, h, w], gt [B, 4, H, W])``."""
        return batch["raws"].to(device, non_blocking=True), batch["gt"].to(device, non_blocking=True)

    def validator(self, config: Any) -> Any:
        """A validator of its own (``validate(model, step) -> dict``), or ``None`` for the bench's (default)."""
        return None

    def param_groups(self, model: nn.Module, lr: float) -> list[dict[str, Any]]:
        """Optimiser parameter groups (a group may carry ``lr_scale``); default: every trainable parameter."""
        return [{"params": [p for p in model.parameters() if p.requires_grad]}]

    def flow_modules(self, model: nn.Module) -> list[nn.Module]:
        """Modules frozen for the first ``train.flow_warmup_iters`` steps; default: every SPyNet inside."""
        return [m for m in model.modules() if isinstance(m, SPyNet)]

    def check(self, config: Any) -> None:
        """Refuse a run configuration this recipe cannot train (:class:`ConfigError`), before anything is
        written. Default: nothing to check."""

    def begin_step(self, model: nn.Module, optimizer: torch.optim.Optimizer, step: int, config: Any) -> None:
        """Called before step ``step``'s forward, after the learning rates are set: a staged recipe may
        (re)initialise parts of ``model`` at a stage's first step, scale the groups' ``lr`` and remember the
        stage for :meth:`forward`. Must depend on ``step`` and ``config`` only, so that ``--resume`` is exact.
        Default: nothing."""

    def forward(self, model: nn.Module, net: nn.Module, raws: torch.Tensor) -> TrainingStep:
        """One training forward through ``net`` (``model`` itself, or its DistributedDataParallel wrapper).

        ``raws``: ``[B, T, 4, h, w]`` as stored. Returns ``(output, extras)``; default ``(net(raws), {})``.
        """
        return net(raws), {}

    def loss(self, output: torch.Tensor, extras: dict[str, torch.Tensor], gt: torch.Tensor, kind: str) -> torch.Tensor:
        """The training loss (float32 scalar) of ``output`` against ``gt`` (both ``[B, 4, H, W]``, unit frame scale).

        ``kind``: ``train.loss``, ``"mu_law_l1"`` (published: L1 on ``mu_law(max(x, 0) / 16)``) or ``"l1"``.
        """
        if kind == "l1":
            return (output - gt).abs().mean()
        return mu_law_l1(output, gt, UNIT_FRAME_WHITE)


DEFAULT_TRAINING = TrainingBehaviour()
