"""Burst and HDR baselines re-implemented for bracketed RAW, one file per architecture.

Every module here defines, besides its model class:

* ``TINY``: constructor arguments of a small configuration for CPU tests (input ``[B, T, 4, 32, 32]``);
* ``CARD``: ``{"kwargs": {...}, "params_m": float}``, the constructor arguments that rebuild the published
  network at its native input (frames, channels, upscaling) and its parameter count in millions to three
  decimals as counted in ``shared/model_cards.md``.

``BASELINES`` maps registry names to ``"module:attr"`` paths; ``models.MODELS`` includes it.
"""

BASELINES = {
    "rbsr": "models.baselines.rbsr:RBSR",
    "dbsr": "models.baselines.dbsr:DBSR",
    "bipnet": "models.baselines.bipnet:BIPNet",
    "burstormer": "models.baselines.burstormer:Burstormer",
    "ahdrnet": "models.baselines.ahdrnet:AHDRNet",
    "kalantari17": "models.baselines.kalantari17:Kalantari17",
    "hdr_transformer": "models.baselines.hdr_transformer:HDRTransformer",
    "sctnet": "models.baselines.sctnet:SCTNet",
    "kim2023": "models.baselines.kim2023:Kim2023",
}
