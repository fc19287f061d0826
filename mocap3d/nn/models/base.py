"""What the pose head needs from a backbone."""

from __future__ import annotations

from torch import nn


class Backbone(nn.Module):
    """A feature extractor: ``forward(x (N, 3, H, W)) -> (N, out_channels, H / stride, W / stride)``."""

    stride: int
    out_channels: int
