"""Training the flow network on the simulator's own ground truth: ``python cli.py train --model spynet``.

The pairs come from :func:`simulator.flowpairs.flow_pair` (a bracket's shortest frame and a longer one, with
the exact flow between them), turned into what SPyNet sees inside TMRNet: exposure-normalised packed RAW as
RGB, clipped at 1 and gamma-encoded (:func:`models.bracket.packed_to_rgb`). The loss is the mean end-point
error (EPE, pixels) of every pyramid level refining the *true* flow of the level below it, offset by a random
error of up to a pixel, averaged over the levels (:meth:`SPyNet.guided_level_flows`; Ranjan & Black trained
SPyNet level by level). Measured here: with the end-to-end EPE as the loss (alone, or added to this one at
lr 5e-4), a network from random weights settled on predicting no motion for 300-600 iterations; with this loss at
lr 1e-4-3e-4 the levels start correcting their offsets within 75 iterations. Validation reports the EPE on a held-out stream of pairs (another seed),
over all pixels and over the pixels visible in both frames (``val_epe``, ``val_epe_visible``), beside the
EPE of a zero flow on the same pairs. The held-out set is ``data.val_limit`` pairs of twice the training patch.

Pairs are generated on the fly (no data folder): item ``i`` of the training stream is pair ``i`` of seed
``train.seed``, so batches stay a function of ``(seed, step)`` and ``--resume`` is exact. With ``data.pool=N``
the items are the first ``N`` pairs instead, made once per process and flipped at random (a function of seed,
epoch and item): a level trained at low resolution then costs its network, not the renderer.

**Level by level** (``train.flow_levels="3:2500,4:1500,5:800"``; Ranjan & Black's recipe): each listed level
trains alone, in turn, on the flow chained through the frozen coarser levels, with the EPE against the true flow
pooled to its resolution as the loss (:meth:`SPyNet.level_flow`). At the run's first step every level is set to
pass its input flow through (last convolution zeroed) and the first listed level's hidden layers get He
initialisation; each later level starts as a copy of the level below it, its weights on the incoming flow
zeroed. Each level's learning rate ramps up over :data:`LEVEL_WARMUP` steps. Measured here on 32x32 pairs
(level 3 of 6, stride 4): with PyTorch's default initialisation or a zeroed output and Adam at 3e-4-1e-3, the
network collapsed to predicting no motion within 200 steps, its last hidden layer's ReLUs dying (active fraction
0.47 -> 0.0-0.02); with He initialisation, lr 1e-4, this ramp and gradients clipped at norm 1 it left the plateau
after ~600 steps.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from models.bracket import packed_to_rgb
from models.layers.spynet import LEVELS, SPyNet
from models.training import TrainingBehaviour
from simulator.core.errors import ConfigError
from simulator.flowpairs import flow_pair

JITTER_LEVELS = 8  # jitter drawn for this many pyramid levels (SPyNet uses its first `levels`)
VALIDATION_SEED_OFFSET = 7_777  # the held-out stream: seed + this
STREAM_LENGTH = 100_000  # items per "epoch" of the stream; epoch e's item i is pair e * STREAM_LENGTH + i (never repeated)
LEVEL_WARMUP = 100  # steps of linear learning-rate ramp at the start of each level (train.flow_levels)
FLOW_INPUTS = slice(6, 8)  # a level's input channels carrying the incoming flow: [ref (3), warped supp (3), flow (2)]


class FlowPairDataset(Dataset):
    """Item ``i``: ``{"pair": [2, 3, p, p] (reference, supporting) RGB as SPyNet sees it, "flow": [2, p, p],
    "valid": [1, p, p], "jitter": [8, 2] uniform in [-1, 1] (the guided levels' start offsets)}``, all float32,
    from :func:`~simulator.flowpairs.flow_pair` (``index=i``, ``seed``). ``pool > 0``: ``pool`` fixed pairs, kept
    in memory once made, each epoch flipped at random (see the module docstring)."""

    def __init__(self, seed: int, patch: int, length: int = STREAM_LENGTH, pool: int = 0) -> None:
        self.seed, self.patch, self.pool = seed, patch, pool
        self.length = pool or length
        self._made: dict[int, dict[str, torch.Tensor]] = {}

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.sample(index, 0)

    def _make(self, number: int) -> dict[str, torch.Tensor]:
        pair = flow_pair(number, self.seed, self.patch, self.patch)
        jitter = torch.rand(JITTER_LEVELS, 2, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + number)) * 2 - 1
        return {"pair": torch.stack([packed_to_rgb(pair.ref), packed_to_rgb(pair.supp)]), "flow": pair.flow,
                "valid": pair.valid, "jitter": jitter}

    def sample(self, index: int, epoch: int) -> dict[str, torch.Tensor]:
        """Item ``index`` of epoch ``epoch`` (the runner's batches address items this way): pair
        ``epoch * len + index`` of the stream, or pool pair ``index`` with that epoch's flips."""
        if not self.pool:
            return self._make(epoch * self.length + int(index))
        index = int(index)
        if index not in self._made:
            self._made[index] = self._make(index)
        item = dict(self._made[index])
        flips = torch.rand(2, generator=torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) * 1_000_003 + index))
        for axis, sign, flip in ((-1, (-1.0, 1.0), flips[0] < 0.5), (-2, (1.0, -1.0), flips[1] < 0.5)):
            if flip:  # mirrored images move the other way along that axis
                item["pair"], item["valid"] = item["pair"].flip(axis), item["valid"].flip(axis)
                item["flow"] = item["flow"].flip(axis) * torch.tensor(sign).view(2, 1, 1)
        return item


def level_schedule(text: str, levels: int) -> list[tuple[int, int]]:
    """``train.flow_levels`` (``"level:iters,..."``, levels rising) -> ``[(level, first step), ...]``; ``[]`` for
    ``""``. The last listed level trains until the run's end.

    Raises:
        ConfigError: not that form, a level outside ``[0, levels)``, levels not rising, or iterations < 1.
    """
    if not text.strip():
        return []
    schedule, start = [], 0
    for part in text.split(","):
        try:
            level, iters = (int(x) for x in part.split(":"))
        except ValueError:
            raise ConfigError(f"train.flow_levels={text!r}: expected 'level:iters,...' such as '3:2500,4:1500'") from None
        if not 0 <= level < levels or iters < 1 or (schedule and level <= schedule[-1][0]):
            raise ConfigError(f"train.flow_levels={text!r}: levels must rise within 0..{levels - 1}, "
                              "each with at least 1 iteration")
        schedule.append((level, start))
        start += iters
    return schedule


@torch.no_grad()
def start_level(model: SPyNet, schedule: list[tuple[int, int]], level: int) -> None:
    """What a level's first step does to ``model`` (see the module docstring)."""
    first = level == schedule[0][0]
    if first:
        model.zero_output()
        for layer in list(model.basic_module[level].basic_module)[:-1]:
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
        return
    model.basic_module[level].load_state_dict(model.basic_module[level - 1].state_dict())
    model.basic_module[level].basic_module[0].weight[:, FLOW_INPUTS] = 0


def end_point_error(flow: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean Euclidean distance between ``flow`` and ``truth`` (``[N, 2, H, W]``, pixels), over ``mask [N, 1, H, W]``."""
    distance = (flow - truth).square().sum(1, keepdim=True).sqrt()
    if mask is None:
        return distance.mean()
    return (distance * mask).sum() / mask.sum().clamp_min(1)


class FlowTraining(TrainingBehaviour):
    """The runner's view of a flow network: pairs from the simulator, EPE loss, EPE validation."""

    needs_bracket_data = False

    def __init__(self) -> None:
        self.level: int | None = None  # the level training now (train.flow_levels), None: every level at once

    def dataset(self, config: Any) -> Dataset:
        return FlowPairDataset(config.train.seed, config.train.patch, pool=config.data.pool)

    def check(self, config: Any) -> None:
        """``train.flow_levels`` readable, and without EMA (each level's first step sets its weights afresh,
        which an average over earlier steps would blur)."""
        levels = int(config.model_args.get("levels", LEVELS))
        if level_schedule(config.train.flow_levels, levels) and config.train.ema_decay > 0:
            raise ConfigError("train.flow_levels needs train.ema_decay=0: each level's first step sets its weights "
                              "afresh, which an average over earlier steps would blur")

    def begin_step(self, model: nn.Module, optimizer: torch.optim.Optimizer, step: int, config: Any) -> None:
        """With ``train.flow_levels``: the active level, its first step's initialisation, its learning-rate ramp."""
        schedule = level_schedule(config.train.flow_levels, model.levels)
        if not schedule:
            self.level = None
            return
        self.level, start = [entry for entry in schedule if entry[1] <= step][-1]
        if step == start:
            start_level(model, schedule, self.level)
        for group in optimizer.param_groups:
            group["lr"] *= min(1.0, (step - start + 1) / LEVEL_WARMUP)

    def flow_modules(self, model: nn.Module) -> list[nn.Module]:
        return []  # the flow network is what trains: never frozen

    def prepare(self, batch: dict[str, torch.Tensor], device: torch.device) -> tuple[dict, torch.Tensor]:
        """Inputs: the pair, the true flow and the jitter (the guided levels need them); target: flow + valid."""
        inputs = {key: batch[key].to(device, non_blocking=True) for key in ("pair", "flow", "jitter")}
        return inputs, torch.cat([batch["flow"], batch["valid"]], dim=1).to(device, non_blocking=True)

    def forward(self, model: nn.Module, net: nn.Module, inputs: dict) -> tuple[torch.Tensor, dict]:
        """Output: the finest level's guided flow, extras: the mean guided EPE over the levels (the loss); or,
        level by level, the active level's chained flow and its EPE against the pooled true flow."""
        pair = inputs["pair"]
        if self.level is not None:
            ref, supp, truth = model.to_pyramid_size(pair[:, 0], pair[:, 1], inputs["flow"])
            flow = model.level_flow(ref, supp, self.level)
            stride = truth.shape[-1] // flow.shape[-1]
            truth = truth if stride == 1 else F.avg_pool2d(truth, stride) / stride
            return flow, {"epe": end_point_error(flow, truth)}
        levels = model.guided_level_flows(pair[:, 0], pair[:, 1], inputs["flow"], inputs["jitter"])
        guided = torch.stack([end_point_error(flow, truth) for flow, truth in levels]).mean()
        return levels[-1][0], {"epe": guided}

    def loss(self, output: torch.Tensor, extras: dict[str, torch.Tensor], gt: torch.Tensor, kind: str) -> torch.Tensor:
        return extras["epe"]

    def validator(self, config: Any):
        return FlowValidator(config.train.seed + VALIDATION_SEED_OFFSET, config.data.val_limit, 2 * config.train.patch)


class FlowValidator:
    """EPE of a flow network on a fixed held-out set of ``pairs`` pairs of ``size x size`` packed pixels (built on
    first use): ``validate(model, step) -> dict``."""

    def __init__(self, seed: int, pairs: int = 16, size: int = 128) -> None:
        self.seed, self.pairs, self.size = seed, pairs, size
        self.pair = self.flow = self.valid = torch.empty(0)

    def _build(self) -> None:
        items = [FlowPairDataset(self.seed, self.size)[i] for i in range(self.pairs)]
        self.pair = torch.stack([item["pair"] for item in items])
        self.flow = torch.stack([item["flow"] for item in items])
        self.valid = torch.stack([item["valid"] for item in items])

    @torch.no_grad()
    def __call__(self, model: nn.Module, step: int = 0) -> dict[str, float]:
        if not len(self.pair):
            self._build()
        device = next(model.parameters()).device
        flows = torch.cat([model(self.pair[i:i + 4, 0].to(device), self.pair[i:i + 4, 1].to(device)).cpu()
                           for i in range(0, len(self.pair), 4)])
        zero = torch.zeros_like(self.flow)
        return {"epe": float(end_point_error(flows, self.flow)),
                "epe_visible": float(end_point_error(flows, self.flow, self.valid)),
                "epe_zero_flow": float(end_point_error(zero, self.flow))}
