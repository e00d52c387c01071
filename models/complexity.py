"""Model complexity: parameters and multiply-accumulates, counted without running real arithmetic.

MACs come from ``torch.utils.flop_counter.FlopCounterMode`` (convolutions, linear layers, matrix products;
``grid_sample``, pooling and element-wise operations are not counted), halved: FLOPs = 2 x MACs, the
convention of the NTIRE 2024 tables (whose THOP figures are 2 x MACs). The forward runs on the ``meta``
device, so counting a 13 M-parameter model at 128 x 128 takes a fraction of a second and no memory.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from models import build_model

FLOPS_INPUT = {1: (1, 5, 4, 128, 128), 4: (1, 5, 4, 64, 64)}  # the model cards' sizes: 5x4x128^2, 5x4x64^2 (x4)


def count_macs(model: nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one ``model(raws)`` call with ``raws`` of ``shape``, counted on ``meta``.

    Raises:
        RuntimeError (or NotImplementedError): the model has data-dependent control flow that ``meta``
            tensors cannot follow (e.g. the classical ``merge``'s phase correlation).
    """
    meta = model.to("meta") if next(model.parameters(), None) is not None else model
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        meta(torch.empty(shape, device="meta"))
    return counter.get_total_flops() // 2


def model_complexity(name: str, **kwargs) -> dict[str, float | None]:
    """``{"params_m", "gmacs", "gflops", "input"}`` of registered model ``name`` at its ``FLOPS_INPUT`` size.

    ``gmacs``/``gflops`` are None where the count cannot be made (data-dependent models).
    """
    with torch.device("meta"):
        model = build_model(name, **kwargs)
    params = sum(p.numel() for p in model.parameters())
    shape = FLOPS_INPUT[getattr(model, "scale", 1)]
    try:
        macs: int | None = count_macs(model.eval(), shape)
    except (RuntimeError, NotImplementedError, ValueError):
        macs = None
    return {"params_m": params / 1e6, "gmacs": None if macs is None else macs / 1e9,
            "gflops": None if macs is None else 2 * macs / 1e9, "input": "x".join(map(str, shape))}
