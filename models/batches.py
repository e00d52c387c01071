"""Training batches that are a pure function of ``(seed, step)``: resuming needs only the step, never history."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Dataset, Sampler

from models.data import BracketDataset

__all__ = ["StepBatches"]


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
