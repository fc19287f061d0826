"""2D keypoint networks, DeepLabCut-style: projects, labelled frames, training, evaluation, video analysis.

Modules: :mod:`.config` (typed settings and presets), :mod:`.models`
(ResNet-50, MobileNetV2, a small HRNet; heatmap + location-refinement head),
:mod:`.heatmaps` (targets, loss, decoding), :mod:`.augment`, :mod:`.dataset`,
:mod:`.train`, :mod:`.predict` (torch / ONNX Runtime), :mod:`.evaluate`
(errors, label checking), :mod:`.videos` (videos -> DeepLabCut .h5),
:mod:`.project` (TOML projects, DeepLabCut import), :mod:`.frames` (frames to
label), :mod:`.mirror` (mirror views). Outlier frames for active learning:
:mod:`mocap3d.label.outliers` (``mocap3d outliers``) reads this package's analysis output.
Importing this package does not import torch; the submodules do.
"""


def analyze(videos, out_dir, progress=True, **options):
    """Analyse videos into ``out_dir/<stem>.h5`` (the project pipeline's ``[network]`` analyzer).

    See :func:`mocap3d.nn.videos.analyze`; imported lazily so that ``import mocap3d.nn`` stays light.
    """
    from .videos import analyze as run

    return run(videos, out_dir, progress=progress, **options)
