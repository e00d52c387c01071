"""Channel attention and dense residual blocks shared by the HDR baselines.

* :class:`ChannelAttention`: squeeze-and-excitation (Hu et al., CVPR 2018), the "CA layer" of RCAN.
* :class:`RCAB` and :class:`ResidualGroup`: residual channel attention block and group of RCAN
  (Zhang et al., "Image Super-Resolution Using Very Deep Residual Channel Attention Networks", ECCV 2018),
  used by Kim & Kim's demosaicing module.
* :class:`ResidualDenseBlock`: residual dense block (Zhang et al., CVPR 2018); ``dilation=2`` is AHDRNet's
  dilated residual dense block (DRDB).

All blocks map ``[N, C, H, W] -> [N, C, H, W]`` with 3x3 convolutions padded to keep the size.
"""

from __future__ import annotations

import torch
from torch import nn


class ChannelAttention(nn.Module):
    """Global average pool, 1x1 ``C -> C // reduction``, ReLU, 1x1 back to ``C``, sigmoid; scales the input.

    ``[N, C, H, W] -> [N, C, H, W]``; every channel is multiplied by a gate in (0, 1).
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class RCAB(nn.Module):
    """Residual channel attention block: ``x + CA(conv(relu(conv(x))))``; ``[N, C, H, W]`` in and out."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
            ChannelAttention(channels, reduction),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResidualGroup(nn.Module):
    """``blocks`` RCABs then a 3x3 conv, with a residual around them; ``[N, C, H, W]`` in and out."""

    def __init__(self, channels: int, blocks: int, reduction: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *(RCAB(channels, reduction) for _ in range(blocks)),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _DenseLayer(nn.Module):
    """``cat([x, relu(conv3x3(x))])``: ``[N, C, H, W] -> [N, C + growth, H, W]``."""

    def __init__(self, channels: int, growth: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, growth, 3, padding=dilation, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, torch.relu(self.conv(x))], dim=1)


class ResidualDenseBlock(nn.Module):
    """``layers`` densely connected conv+ReLU layers, a 1x1 local fusion back to ``channels``, and a residual.

    Layer ``i`` sees ``channels + i * growth`` channels; the fusion sees ``channels + layers * growth``.
    ``[N, C, H, W] -> [N, C, H, W]``. ``dilation=2`` gives AHDRNet's DRDB.
    """

    def __init__(self, channels: int, growth: int, layers: int, dilation: int = 1) -> None:
        super().__init__()
        self.dense = nn.Sequential(*(_DenseLayer(channels + i * growth, growth, dilation) for i in range(layers)))
        self.fusion = nn.Conv2d(channels + layers * growth, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fusion(self.dense(x))
