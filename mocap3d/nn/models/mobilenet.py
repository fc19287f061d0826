"""MobileNetV2 backbone with torchvision's parameter names.

``features.0`` (stem), ``features.1..17`` (inverted residuals, each a ``conv``
Sequential) and ``features.18`` (1x1 to 1280 channels) are named as in
``torchvision.models.mobilenet_v2`` so its ImageNet checkpoint loads;
``classifier.1`` is kept for the same reason. ``output_stride`` 8 or 16 turns
the last strides into dilations.
"""

from __future__ import annotations

from torch import Tensor, nn

from .base import Backbone

# (expansion t, channels c, repeats n, stride s), from the MobileNetV2 paper's table 2
_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _divisible(v: float, divisor: int = 8) -> int:
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1, dilation: int = 1):
        pad = (kernel - 1) // 2 * dilation
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, pad, dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int, dilation: int = 1) -> None:
        super().__init__()
        hidden = int(round(cin * expand))
        self.use_res = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNReLU(cin, hidden, kernel=1))
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden, dilation=dilation),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(Backbone):
    """Input ``(N, 3, H, W)``; output ``(N, C, H/s, W/s)``, ``C = 1280 * max(1, width)`` (``320 * width``
    without the last convolution)."""

    def __init__(self, width: float = 1.0, output_stride: int = 16, last_conv: bool = True) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"MobileNetV2 output_stride must be 8, 16 or 32, got {output_stride}")
        cin = _divisible(32 * width)
        last = _divisible(1280 * max(1.0, width))
        features: list[nn.Module] = [ConvBNReLU(3, cin, stride=2)]
        stride, dilation = 2, 1
        for t, c, n, s in _SETTINGS:
            cout = _divisible(c * width)
            for i in range(n):
                step = s if i == 0 else 1
                if step > 1 and stride >= output_stride:
                    dil_here, dilation, step = dilation, dilation * step, 1
                else:
                    dil_here = dilation
                    stride *= step
                features.append(InvertedResidual(cin, cout, step, t, dil_here))
                cin = cout
        features.append(ConvBNReLU(cin, last, kernel=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, 1000))
        # Without the last 1x1 (to 1280 channels) the head starts from 320 * width channels: ~4x cheaper head.
        self.last_conv = last_conv
        self.out_channels = last if last_conv else cin
        self.stride = output_stride
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x) if self.last_conv else self.features[:-1](x)
