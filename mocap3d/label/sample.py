"""A small multi-camera labelling project with known answers, from the sample rig.

Used by the tests, the README screenshots and anyone who wants to try
``mocap3d label`` without a project of their own: extracted frames of the
sample walker (a grey stick figure drawn through each camera's lens), a
DeepLabCut ``config.yaml``, the rig's ``calibration.toml`` and the true 3D
positions of every body part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..camera import CameraRig
from ..io.atomic import atomic_path, atomic_write_text
from ..io.calibration import save_calibration
from ..io.labels import SINGLE, Predictions, save_predictions
from ..sample import make_sample

__all__ = ["LabelSample", "write_label_sample"]


@dataclass(frozen=True)
class LabelSample:
    """What :func:`write_label_sample` wrote, with the truth.

    project : the DeepLabCut project folder.
    calibration : its ``calibration.toml``.
    rig : the cameras, in the order of ``videos``.
    videos : ``labeled-data`` folder names, one per camera.
    images : image file names (the same in every folder).
    bodyparts : names, in ``config.yaml`` order.
    truth3d : (frames, bodyparts, 3) world positions (mm).
    truth2d : (cameras, frames, bodyparts, 2) their pixels, lens distortion included.
    """

    project: Path
    calibration: Path
    rig: CameraRig
    videos: tuple[str, ...]
    images: tuple[str, ...]
    bodyparts: tuple[str, ...]
    truth3d: np.ndarray
    truth2d: np.ndarray


def write_label_sample(
    out: str | Path,
    n_cameras: int = 3,
    frames: tuple[int, ...] = (40, 100, 160),
    scorer: str = "sample",
    predictions_noise_px: float | None = None,
    seed: int = 0,
) -> LabelSample:
    """Write a DeepLabCut-style project of the sample walker, seen by ``n_cameras`` cameras.

    With ``predictions_noise_px``, a ``machinelabels-iter0.h5`` (what
    DeepLabCut's outlier extraction writes) holds the truth plus that much
    Gaussian noise per coordinate, as a network's predictions to refine.
    """
    import cv2
    import yaml

    out = Path(out)
    sample = make_sample(n_frames=max(frames) + 1, n_cameras=n_cameras, noise_px=0.0, outlier_fraction=0.0,
                         occlusion=False, seed=seed)  # fmt: skip
    rig = sample.rig
    bodyparts = tuple(sample.truth.keypoints)
    truth3d = sample.truth.points[list(frames)]
    truth2d = rig.project(truth3d)
    kp = {name: i for i, name in enumerate(bodyparts)}
    edges = np.array([(kp[a], kp[b]) for a, b in sample.edges])
    videos = tuple(f"walk_{cam}" for cam in rig.names)
    images = tuple(f"img{f:04d}.png" for f in frames)
    rng = np.random.default_rng(seed)
    for c, video in enumerate(videos):
        folder = out / "labeled-data" / video
        folder.mkdir(parents=True, exist_ok=True)
        w, h = (int(v) for v in rig.sizes[c])
        for f, name in enumerate(images):
            img = np.full((h, w, 3), 70, np.uint8)
            img[::64, :] = 80  # a faint grid, so that zoom and pan can be seen
            img[:, ::64] = 80
            pix = np.round(truth2d[c, f] * 16).astype(np.int32)  # cv2 draws with 4 fractional bits
            for a, b in edges:  # a dozen lines per image
                cv2.line(img, tuple(pix[a]), tuple(pix[b]), (150, 150, 150), 3, cv2.LINE_AA, shift=4)
            with atomic_path(folder / name) as tmp:
                cv2.imwrite(str(tmp), img)
        if predictions_noise_px is not None:
            noisy = truth2d[c][:, None] + rng.normal(0.0, predictions_noise_px, truth2d[c][:, None].shape)
            pred = Predictions(tuple(f"labeled-data/{video}/{n}" for n in images), bodyparts, (SINGLE,), noisy,
                               np.full(noisy.shape[:-1], 0.9), "network")  # fmt: skip
            save_predictions(pred, folder / "machinelabels-iter0.h5")
    calibration = save_calibration(rig, out / "calibration.toml", {"source": "mocap3d label sample (true values)"})
    config = {
        "Task": "walk", "scorer": scorer, "date": "sample", "multianimalproject": False, "identity": None,
        "project_path": str(out.resolve()),
        "video_sets": {f"videos/{v}.mp4": {"crop": f"0, {int(rig.sizes[c][0])}, 0, {int(rig.sizes[c][1])}"}
                       for c, v in enumerate(videos)},
        "bodyparts": list(bodyparts), "skeleton": [list(e) for e in sample.edges], "numframes2pick": len(frames),
        "TrainingFraction": [0.95], "pcutoff": 0.6, "dotsize": 8, "colormap": "rainbow",
    }  # fmt: skip
    atomic_write_text(out / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    return LabelSample(out, calibration, rig, videos, images, bodyparts, truth3d, truth2d)
