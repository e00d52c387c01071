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
``train.seed``, so batches stay a function of ``(seed, step)`` and ``--resume`` is exact.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from models.bracket import packed_to_rgb
from models.training import TrainingBehaviour
from simulator.flowpairs import flow_pair

JITTER_LEVELS = 8  # jitter drawn for this many pyramid levels (SPyNet uses its first `levels`)
VALIDATION_SEED_OFFSET = 7_777  # the held-out stream: seed + this
STREAM_LENGTH = 100_000  # items per "epoch" of the stream; epoch e's item i is pair e * STREAM_LENGTH + i (never repeated)


class FlowPairDataset(Dataset):
    """Item ``i``: ``{"pair": [2, 3, p, p] (reference, supporting) RGB as SPyNet sees it, "flow": [2, p, p],
    "valid": [1, p, p], "jitter": [8, 2] uniform in [-1, 1] (the guided levels' start offsets)}``, all float32, from :func:`~simulator.flowpairs.flow_pair` (``index=i``, ``seed``)."""

    def __init__(self, seed: int, patch: int, length: int = STREAM_LENGTH) -> None:
        self.seed, self.patch, self.length = seed, patch, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.sample(index, 0)

    def sample(self, index: int, epoch: int) -> dict[str, torch.Tensor]:
        """Item ``index`` of epoch ``epoch`` (the runner's batches address items this way): pair ``epoch * len + index``."""
        number = epoch * self.length + int(index)
        pair = flow_pair(number, self.seed, self.patch, self.patch)
        jitter = torch.rand(JITTER_LEVELS, 2, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + number)) * 2 - 1
        return {"pair": torch.stack([packed_to_rgb(pair.ref), packed_to_rgb(pair.supp)]), "flow": pair.flow,
                "valid": pair.valid, "jitter": jitter}


def end_point_error(flow: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean Euclidean distance between ``flow`` and ``truth`` (``[N, 2, H, W]``, pixels), over ``mask [N, 1, H, W]``."""
    distance = (flow - truth).square().sum(1, keepdim=True).sqrt()
    if mask is None:
        return distance.mean()
    return (distance * mask).sum() / mask.sum().clamp_min(1)


class FlowTraining(TrainingBehaviour):
    """The runner's view of a flow network: pairs from the simulator, EPE loss, EPE validation."""

    needs_bracket_data = False

    def dataset(self, config: Any) -> Dataset:
        return FlowPairDataset(config.train.seed, config.train.patch)

    def flow_modules(self, model: nn.Module) -> list[nn.Module]:
        return []  # the flow network is what trains: never frozen

    def prepare(self, batch: dict[str, torch.Tensor], device: torch.device) -> tuple[dict, torch.Tensor]:
        """Inputs: the pair, the true flow and the jitter (the guided levels need them); target: flow + valid."""
        inputs = {key: batch[key].to(device, non_blocking=True) for key in ("pair", "flow", "jitter")}
        return inputs, torch.cat([batch["flow"], batch["valid"]], dim=1).to(device, non_blocking=True)

    def forward(self, model: nn.Module, net: nn.Module, inputs: dict) -> tuple[torch.Tensor, dict]:
        """Output: the finest level's guided flow; extras: the mean guided EPE over the levels (the loss)."""
        pair = inputs["pair"]
        levels = model.guided_level_flows(pair[:, 0], pair[:, 1], inputs["flow"], inputs["jitter"])
        guided = torch.stack([end_point_error(flow, truth) for flow, truth in levels]).mean()
        return levels[-1][0], {"guided_epe": guided}

    def loss(self, output: torch.Tensor, extras: dict[str, torch.Tensor], gt: torch.Tensor, kind: str) -> torch.Tensor:
        return extras["guided_epe"]

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
