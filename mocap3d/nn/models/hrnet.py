"""A small high-resolution network (HRNet-W18-like).

HRNet (Sun et al., CVPR 2019) keeps a stride-4 branch through the whole network
and adds lower-resolution branches (strides 8, 16, 32) that exchange
information at every stage; keypoints are read from the full-resolution branch
with the others upsampled into it. This version keeps that structure with basic
residual blocks, ``channels`` for the first branch (18 as HRNet-W18; each
lower branch doubles it) and ``blocks`` per branch and stage, so that it trains
from scratch on a CPU. No ImageNet checkpoint matches it; it starts from
random weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Backbone


def _conv_bn(cin: int, cout: int, kernel: int = 3, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = _conv_bn(cin, cout)
        self.conv2 = _conv_bn(cout, cout, relu=False)
        self.skip = nn.Identity() if cin == cout else _conv_bn(cin, cout, 1, relu=False)
        bn = self.conv2[1]
        if isinstance(bn, nn.BatchNorm2d):
            nn.init.zeros_(bn.weight)  # residual branch starts as identity

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.skip(x) + self.conv2(self.conv1(x)))


class _Fuse(nn.Module):
    """Every branch receives the sum of all branches brought to its resolution."""

    def __init__(self, widths: list[int]) -> None:
        super().__init__()
        n = len(widths)
        self.paths = nn.ModuleList()
        for i in range(n):
            row = nn.ModuleList()
            for j in range(n):
                if j == i:
                    row.append(nn.Identity())
                elif j > i:  # lower resolution: 1x1 to the channel count, upsampled in forward
                    row.append(_conv_bn(widths[j], widths[i], 1, relu=False))
                else:  # higher resolution: strided 3x3 convolutions, one per halving
                    steps = [_conv_bn(widths[j], widths[j], 3, 2) for _ in range(i - j - 1)]
                    steps.append(_conv_bn(widths[j], widths[i], 3, 2, relu=False))
                    row.append(nn.Sequential(*steps))
            self.paths.append(row)

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        out = []
        for i, row in enumerate(self.paths):
            total = xs[i]
            paths: list[nn.Module] = list(row)  # type: ignore[call-overload]
            for j, path in enumerate(paths):
                if j == i:
                    continue
                y = path(xs[j])
                if j > i:
                    y = F.interpolate(y, size=xs[i].shape[-2:], mode="bilinear", align_corners=False)
                total = total + y
            out.append(F.relu(total))
        return out


class _Stage(nn.Module):
    def __init__(self, widths: list[int], blocks: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(nn.Sequential(*[BasicBlock(w, w) for _ in range(blocks)]) for w in widths)
        self.fuse = _Fuse(widths)

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        return self.fuse([b(x) for b, x in zip(self.branches, xs, strict=True)])


class HRNet(Backbone):
    """Input ``(N, 3, H, W)``; output ``(N, sum(widths), H/4, W/4)`` (all branches upsampled and stacked)."""

    def __init__(self, channels: int = 18, branches: int = 4, blocks: int = 2, stem: int = 64) -> None:
        super().__init__()
        if not 1 <= branches <= 4:
            raise ValueError(f"HRNet branches must be 1-4, got {branches}")
        self.stem = nn.Sequential(_conv_bn(3, stem, 3, 2), _conv_bn(stem, stem, 3, 2), BasicBlock(stem, stem))
        widths = [channels * 2**i for i in range(branches)]
        self.first = _conv_bn(stem, widths[0])
        self.transitions = nn.ModuleList(_conv_bn(widths[i - 1], widths[i], 3, 2) for i in range(1, branches))
        self.stages = nn.ModuleList(_Stage(widths[: i + 1], blocks) for i in range(branches))
        self.out_channels = sum(widths)
        self.stride = 4

    def forward(self, x: Tensor) -> Tensor:
        xs = [self.first(self.stem(x))]
        for i, stage in enumerate(self.stages):
            if i > 0:
                xs = xs + [self.transitions[i - 1](xs[-1])]
            xs = stage(xs)
        size = xs[0].shape[-2:]
        ups = [xs[0]] + [F.interpolate(y, size=size, mode="bilinear", align_corners=False) for y in xs[1:]]
        return torch.cat(ups, dim=1)
