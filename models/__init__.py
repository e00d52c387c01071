"""Models: the registry, shared layers, TMRNet, the burst / HDR baselines, data and the training runner.

Depends on ``simulator`` only. The model registry arrives with TMRNet (issue 5).
"""
