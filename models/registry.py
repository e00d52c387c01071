"""The model registry: one :class:`~models.spec.ModelSpec` line per model, the only place its facts live.

Adding a model = its file (a plain ``nn.Module`` following the contract of ``models/bracket.py``) plus one
spec line here, or, from a user's own code, ``MODELS.register(ModelSpec(...))`` (README: "Your own model").
``tiny`` configurations take ``[B, T, 4, 32, 32]`` inputs in seconds on a CPU; ``card`` rebuilds the published
network at its native input with the parameter count of ``shared/model_cards.md``.
"""

from __future__ import annotations

from models.spec import ModelRegistry, ModelSpec
from simulator.core.weights import WEIGHT_FILES

_TMRNET_TINY = {"mid_channels": 8, "extract_blocks": 1, "shared_blocks": 1, "frame_blocks": 1,
                "reconstruction_blocks": 1}
_TMRNET_SMALL = {"mid_channels": 16, "extract_blocks": 2, "shared_blocks": 2, "frame_blocks": 2,
                 "reconstruction_blocks": 2}
_SPYNET = {"spynet": "spynet"}  # pretrained part: prefix -> the registered model whose weights fill it
_CLASSICAL = {"needs_weights": False, "card": {"kwargs": {}, "params_m": 0.0}, "fewer_frames": True, "scales": (1,)}

MODELS = ModelRegistry([
    ModelSpec("tmrnet", "models.tmrnet:TMRNet", tiny=_TMRNET_TINY, small=_TMRNET_SMALL,
              card={"kwargs": {}, "params_m": 13.286}, published_weights="models.tmrnet:TMRNET_WEIGHTS",
              shipped_weights="models.tmrnet:TMRNET_SHIPPED", pretrained_parts=_SPYNET, fewer_frames=True),
    ModelSpec("tmrnet_plus", "models.tmrnet:TMRNet", preset={"scale": 4}, tiny=_TMRNET_TINY, small=_TMRNET_SMALL,
              card={"kwargs": {}, "params_m": 13.581}, published_weights="models.tmrnet:TMRNET_PLUS_WEIGHTS",
              pretrained_parts=_SPYNET, fewer_frames=True),
    ModelSpec("reference", "models.classical:ReferenceFrame", **_CLASSICAL),
    ModelSpec("merge", "models.classical:NoiseAwareMerge", **_CLASSICAL),
    ModelSpec("rbsr", "models.baselines.rbsr:RBSR", fewer_frames=True, training="models.baselines.rbsr:RBSRTraining",
              tiny={"mid_channels": 16, "extract_blocks": 1, "backbone_blocks": 2, "reconstruction_blocks": 1,
                    "deform_groups": 4, "flow_levels": 2},
              # the published network: 14-frame same-exposure RAW burst -> x8 RGB (SyntheticBurst x4 SR)
              card={"kwargs": {"num_frames": 14, "exposure_ratio": 1.0, "scale": 8, "gamma_input": False,
                               "out_channels": 3}, "params_m": 6.417}),
    ModelSpec("dbsr", "models.baselines.dbsr:DBSR", fewer_frames=True, pretrained_parts=_SPYNET,
              tiny={"enc_channels": 16, "enc_blocks": 1, "enc_out": 32, "proj_channels": 8, "offset_channels": 8,
                    "weight_blocks": 1, "dec_channels": 16, "dec_blocks": 1, "post_channels": 8, "post_blocks": 1,
                    "flow_levels": 2},
              # the published network without its frozen PWC-Net (flow=False): 14-frame RAW burst -> x8 RGB
              card={"kwargs": {"num_frames": 14, "exposure_ratio": 1.0, "scale": 8, "gamma_input": False,
                               "out_channels": 3, "reference_skip": False, "flow": False}, "params_m": 3.637}),
    ModelSpec("bipnet", "models.baselines.bipnet:BIPNet",
              tiny={"num_features": 16, "align_blocks": 1, "align_rgca": 1, "msf_blocks": (1, 1, 1), "msf_rgca": 1,
                    "deform_groups": 4},
              card={"kwargs": {"num_frames": 14, "exposure_ratio": 1.0, "gamma_input": False, "out_channels": 3,
                               "upscale": 8, "reference_skip": False}, "params_m": 6.674}),
    ModelSpec("burstormer", "models.baselines.burstormer:Burstormer", fewer_frames=True,
              tiny={"num_features": 16, "heads": (1, 2), "blocks": 1, "deform_groups": 4},
              card={"kwargs": {"num_frames": 14, "exposure_ratio": 1.0, "gamma_input": False, "out_channels": 3,
                               "upscale": 8, "reference_skip": False}, "params_m": 2.488}),
    # AHDRNet: the official model.py also declares two 3x3 convs (attConv1, attConv3) its forward never uses;
    # with them the published network holds 1.515 M parameters. They are not declared here: 1.441 M.
    ModelSpec("ahdrnet", "models.baselines.ahdrnet:AHDRNet",
              tiny={"features": 16, "growth": 8, "dense_layers": 2, "blocks": 1},
              card={"kwargs": {"num_frames": 3, "in_channels": 6, "out_channels": 3, "reference": 1,
                               "output_sigmoid": True}, "params_m": 1.441}),
    # Kalantari17: the WE network of the paper, 3 LDR frames x 6 channels (LDR and HDR versions) in, 3 x 3
    # weights out; the optical flow is not a learned part of the published method and is not counted.
    ModelSpec("kalantari17", "models.baselines.kalantari17:Kalantari17", pretrained_parts=_SPYNET,
              tiny={"widths": (16, 16, 8), "flow_levels": 2},
              card={"kwargs": {"num_frames": 3, "frame_channels": 6, "weight_channels": 3, "flow": False},
                    "params_m": 0.384}),
    ModelSpec("hdr_transformer", "models.baselines.hdr_transformer:HDRTransformer",
              tiny={"embed_dim": 32, "depths": (1,), "heads": 2, "window": 4, "mlp_ratio": 2.0},
              card={"kwargs": {"num_frames": 3, "in_channels": 6, "out_channels": 3, "embed_dim": 60,
                               "depths": (6, 6, 6), "heads": 6, "window": 8, "mlp_ratio": 2.0}, "params_m": 1.222}),
    ModelSpec("sctnet", "models.baselines.sctnet:SCTNet",
              tiny={"embed_dim": 20, "depths": (1, 1), "heads": 2, "scab_heads": 1, "window": 4, "mlp_ratio": 2.0},
              card={"kwargs": {"num_frames": 3, "in_channels": 6, "out_channels": 3, "embed_dim": 60,
                               "depths": (6, 6, 6, 6), "heads": 6, "scab_heads": 4, "window": 8, "mlp_ratio": 2.0},
                    "params_m": 0.995}),
    # Kim2023: 3 exposure groups of 8, 16 and 8 channels at H/4, features upsampled x2 by the demosaicing
    # module and x2 by the head, RGB out through a sigmoid.
    ModelSpec("kim2023", "models.baselines.kim2023:Kim2023",
              tiny={"features": 8, "blocks": (1, 1, 1), "heads": (1, 2, 4), "window": 4, "reduction": 4},
              card={"kwargs": {"num_frames": 3, "in_channels": (8, 16, 8), "out_channels": 3, "feature_upscale": 2,
                               "head_upscale": 2, "output_sigmoid": True}, "params_m": 12.049}),
    # the flow network alone, trained on the simulator's exact flow (models/flow_training.py)
    ModelSpec("spynet", "models.layers.spynet:SPyNet", tiny={"levels": 3}, task="flow",
              published_weights="models.layers.spynet:SPYNET_WEIGHTS",
              training="models.flow_training:FlowTraining", scales=(1,),
              shipped_weights="models.layers.spynet:SPYNET_SHIPPED"),
])


def _register_weight_files() -> None:
    """Every model's published, shipped and pretrained-part weight files in ``WEIGHT_FILES`` (for ``info``)."""
    for spec in MODELS.specs(task=None):
        named = {spec.name: spec.published_weights, f"{spec.name} (shipped)": spec.shipped_weights}
        for name, target in named.items():
            if target is not None and name not in WEIGHT_FILES:
                WEIGHT_FILES.register(name, target)


_register_weight_files()
