"""ResNet-50 backbone with torchvision's parameter names.

The module tree (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer1.0.downsample.0``...)
matches ``torchvision.models.resnet50`` exactly, so torchvision's ImageNet
checkpoints load with ``load_state_dict`` (the classifier ``fc`` is kept only
so that the names match; the pose model never calls it). Bottlenecks stride in
their 3x3 convolution (ResNet v1.5, as torchvision). ``output_stride`` 8 or 16
replaces the last stages' strides by dilation, as DeepLabCut does, to keep
spatial detail for keypoints.
"""

from __future__ import annotations

from torch import Tensor, nn

from .base import Backbone


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(Backbone):
    """ResNet with Bottleneck blocks; ``forward`` returns the last feature map.

    Input ``(N, 3, H, W)`` ImageNet-normalised; output ``(N, 2048, H/s, W/s)``
    with ``s = output_stride``. ``width`` scales every channel count (1.0 is
    the standard network that ImageNet weights fit).
    """

    def __init__(self, layers: tuple[int, ...] = (3, 4, 6, 3), output_stride: int = 16, width: float = 1.0) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"ResNet output_stride must be 8, 16 or 32, got {output_stride}")
        base = max(8, int(round(64 * width)))
        self.conv1 = nn.Conv2d(3, base, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.inplanes = base
        self.dilation = 1
        dilate = {8: (False, True, True), 16: (False, False, True), 32: (False, False, False)}[output_stride]
        self.layer1 = self._make_layer(base, layers[0])
        self.layer2 = self._make_layer(base * 2, layers[1], stride=2, dilate=dilate[0])
        self.layer3 = self._make_layer(base * 4, layers[2], stride=2, dilate=dilate[1])
        self.layer4 = self._make_layer(base * 8, layers[3], stride=2, dilate=dilate[2])
        self.out_channels = base * 8 * Bottleneck.expansion
        self.stride = output_stride
        self.fc = nn.Linear(self.out_channels, 1000)  # torchvision's classifier: present so checkpoints load strictly
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for m in self.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)  # each residual branch starts as identity: trains from scratch stably

    def _make_layer(self, planes: int, blocks: int, stride: int = 1, dilate: bool = False) -> nn.Sequential:
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride, bias=False), nn.BatchNorm2d(planes * 4)
            )
        blocks_list = [Bottleneck(self.inplanes, planes, stride, previous_dilation, downsample)]
        self.inplanes = planes * 4
        blocks_list += [Bottleneck(self.inplanes, planes, dilation=self.dilation) for _ in range(1, blocks)]
        return nn.Sequential(*blocks_list)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))
