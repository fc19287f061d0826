"""Synthetic labelled frames for the 2D-network tests: a red head and a blue tail dot on a textured floor.

The keypoints are the discs' exact centres (drawn with 4-bit sub-pixel precision), so a network's error is
measured against the truth, not against a labeller.
"""

from __future__ import annotations

import cv2
import numpy as np

from mocap3d.nn.config import AugmentConfig, ModelConfig, NetworkConfig, TrainConfig

NO_PHOTO = dict(brightness=0.0, contrast=0.0, blur_prob=0.0, occlusion_prob=0.0, noise_std=0.0)


def frames(n=6, size=(96, 80), seed=0):
    """``n`` RGB frames ``(h, w, 3)`` and keypoints ``(n, 2, 2)`` (head, tail) in pixels."""
    rng = np.random.default_rng(seed)
    w, h = size
    images, kps = [], []
    for _ in range(n):
        img = rng.integers(90, 130, (h, w, 3)).astype(np.uint8)
        head = rng.uniform([22, 22], [w - 22, h - 22])
        tail = head + rng.uniform(-15, 15, 2)
        cv2.circle(img, tuple(int(round(v * 16)) for v in head), 4 * 16, (250, 40, 40), -1, cv2.LINE_AA, 4)
        cv2.circle(img, tuple(int(round(v * 16)) for v in tail), 3 * 16, (20, 20, 220), -1, cv2.LINE_AA, 4)
        images.append(img)
        kps.append([head, tail])
    return images, np.array(kps)


def tiny_config(iterations: int) -> NetworkConfig:
    """A network small enough to overfit a few frames in a couple of hundred CPU iterations."""
    return NetworkConfig(
        model=ModelConfig(backbone="hrnet", hrnet_channels=12, hrnet_branches=2, hrnet_blocks=1, output_stride=4,
                          pretrained="none", head_channels=16, pos_dist_thresh=6.0, locref_stdev=4.0),
        augment=AugmentConfig(crop_size=(64, 64), crop_on_animal=1.0, scale_range=(1.0, 1.0), rotation_deg=0.0,
                              **NO_PHOTO),
        train=TrainConfig(iterations=iterations, batch_size=4, lr=5e-3, warmup=10, checkpoint_every=5, log_every=5),
    )


def label_frames(root, images, kps) -> None:
    """Save ``images`` as ``root/labeled-data/cam-A/img<i>.png`` with their head/tail labels (DeepLabCut's layout,
    scorer ``tester``)."""
    from pathlib import Path

    from mocap3d.io.labels import LabelSet, save_labels

    folder = Path(root) / "labeled-data" / "cam-A"
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, img in enumerate(images):
        cv2.imwrite(str(folder / f"img{i}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        names.append(f"labeled-data/cam-A/img{i}.png")
    save_labels(LabelSet(tuple(names), ("head", "tail"), ("single",), kps[:, None], "tester"),
                folder / "CollectedData_tester.h5")


def write_video(path, images) -> None:
    """The frames as a lossless (FFV1) video at 10 frames/s."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 10, (w, h))
    for img in images:
        writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    writer.release()


def toy_project(root, iterations: int, n_frames: int = 8):
    """A 2D-network project in ``root`` on ``n_frames`` synthetic frames (head, tail), labelled in DeepLabCut's
    layout, with the same frames as a lossless video. Returns ``(project.toml, video, keypoints)``."""
    from pathlib import Path

    from mocap3d.nn.project import create_project, load_project

    root = Path(root)
    images, kps = frames(n_frames, seed=3)
    label_frames(root, images, kps)
    video = root / "videos" / "cam-A.avi"
    write_video(video, images)
    create_project(root / "project.toml", "toy", ["head", "tail"], scorer="tester", skeleton=[("head", "tail")])
    project = load_project(root / "project.toml")
    project.network = tiny_config(iterations)
    project.train_fraction = 0.75
    project.save()
    return root / "project.toml", video, kps
