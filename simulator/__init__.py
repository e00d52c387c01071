"""Simulator: camera model (ISP both ways), and later motion, noise, exposure and the dataset writer.

The lowest layer of the toolkit: it imports nothing from ``models``, ``benchmark`` or ``leaderboards``.
Importing this package is cheap (no torch); import the submodules you need.
"""

__version__ = "0.1.0"
