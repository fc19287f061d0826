"""2D keypoint networks, DeepLabCut-style: projects, labelled frames, training, evaluation, video analysis.

Modules: :mod:`.config` (typed settings and presets), :mod:`.models`
(ResNet-50, MobileNetV2, a small HRNet; heatmap + location-refinement head),
:mod:`.heatmaps` (targets, loss, decoding), :mod:`.augment`, :mod:`.dataset`,
:mod:`.train`, :mod:`.predict` (torch / ONNX Runtime), :mod:`.evaluate`
(errors, label checking), :mod:`.videos` (video reading, labelled videos), the
stages :mod:`.train_stage` and :mod:`.analyze_stage` (videos -> DeepLabCut .h5),
:mod:`.project` (TOML projects, DeepLabCut import), :mod:`.frames` (frames to
label), :mod:`.mirror` (mirror views). Outlier frames for active learning:
:mod:`mocap3d.label.outliers` (``mocap3d outliers``) reads this package's analysis output.
Importing this package does not import torch; the submodules do.
"""


def analyze(videos, out_dir, model, backend="auto", device="cpu", batch_size=16, labelled_video=False,
            pcutoff=0.6, progress=True):
    """The project pipeline's analyzer (``[network] analyzer = "mocap3d.nn:analyze"``): ``out_dir/<stem>.h5`` per
    video, by the analyze stage (:func:`mocap3d.nn.analyze_stage.run`); returns the files written (or already there).

    ``model`` is a trained ``model.pt`` or the folder holding it; the other
    keys of the ``[network]`` table are the other arguments. ``progress=False``
    draws no progress bars (the pipeline passes it, so that bars do not fill
    its logs). Imported lazily, so that ``import mocap3d.nn`` stays light.
    """
    from pathlib import Path

    from .analyze_stage import AnalyzeInputs, AnalyzeStageConfig, run

    config = AnalyzeStageConfig(model=Path(model), backend=backend, device=device, batch_size=batch_size,
                                labelled_video=labelled_video, pcutoff=pcutoff, progress=progress,
                                name_with_scorer=False, save_csv=False)  # fmt: skip
    run(config, AnalyzeInputs(tuple(videos)), out_dir)
    return [Path(out_dir) / f"{Path(v).stem}.h5" for v in videos]
