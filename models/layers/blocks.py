"""Residual blocks and pixel-shuffle upsampling (BasicVSR-style), with TMRNet's parameter names."""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlockNoBN(nn.Module):
    """``x + conv2(relu(conv1(x)))`` with 3x3 convolutions; ``[N, C, H, W] -> [N, C, H, W]``."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(x)))


class ResidualBlocksWithInputConv(nn.Module):
    """3x3 conv ``in -> out``, LeakyReLU(0.1), then ``blocks`` residual blocks; ``[N, in, H, W] -> [N, out, H, W]``."""

    def __init__(self, in_channels: int, out_channels: int = 64, blocks: int = 30) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Sequential(*(ResidualBlockNoBN(out_channels) for _ in range(blocks))),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class PixelShufflePack(nn.Module):
    """3x3 conv ``in -> out * s^2`` then pixel shuffle by ``s``; ``[N, in, H, W] -> [N, out, sH, sW]``."""

    def __init__(self, in_channels: int, out_channels: int, scale: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.scale = scale
        self.upsample_conv = nn.Conv2d(in_channels, out_channels * scale * scale, kernel_size,
                                       padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.upsample_conv(x)
        return nn.functional.pixel_shuffle(x, self.scale) if self.scale > 1 else x
