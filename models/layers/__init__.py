"""Shared network layers: modulated deformable convolution (more arrive with TMRNet and the baselines)."""
