"""2D keypoint networks, DeepLabCut-style: projects, labelled frames, training, evaluation, video analysis.

Modules: :mod:`.config` (typed settings and presets), :mod:`.models`
(ResNet-50, MobileNetV2, a small HRNet; heatmap + location-refinement head),
:mod:`.heatmaps` (targets, loss, decoding), :mod:`.augment`, :mod:`.dataset`,
:mod:`.train`, :mod:`.predict` (torch / ONNX Runtime), :mod:`.evaluate`
(errors, label checking), :mod:`.analyze` (videos -> DeepLabCut .h5),
:mod:`.project` (TOML projects, DeepLabCut import), :mod:`.frames` (frames to
label), :mod:`.outliers` (active learning), :mod:`.mirror` (mirror views).
Importing this package does not import torch; the submodules do.
"""
