"""Labelled frames in memory, the seeded train/test split, and training batches.

A :class:`TrainingSet` holds the labelled images of a project (one
individual; RGB uint8 ``(H, W, 3)`` each, sizes may differ) and their
keypoints ``(images, keypoints, 2)`` in image pixels (NaN: not labelled).
:func:`split` reproduces a split from its seed and training fraction;
:func:`make_batch` turns a list of image indices into augmented network
inputs and heatmap targets, with all randomness drawn from one generator.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..io.labels import LabelSet
from .augment import augment
from .config import AugmentConfig, ModelConfig, NetworkError
from .heatmaps import make_targets

log = logging.getLogger(__name__)


def read_image(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8 ``(H, W, 3)``; a clear error when it cannot be read."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise NetworkError(f"cannot read image {path}; it is missing or not an image file.")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


@dataclass(eq=False)
class TrainingSet:
    """Labelled images (single animal) in memory.

    names : image paths relative to the project (as in the label files)
    images : list of RGB uint8 ``(H, W, 3)``
    keypoints : ``(images, keypoints, 2)`` float64 image pixels, NaN where not labelled
    """

    names: tuple[str, ...]
    images: list[np.ndarray]
    keypoints: np.ndarray
    bodyparts: tuple[str, ...]

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float64)
        if self.keypoints.shape != (len(self.images), len(self.bodyparts), 2) or len(self.names) != len(self.images):
            raise NetworkError(
                f"training set shapes disagree: {len(self.images)} images, {len(self.names)} names, "
                f"keypoints {self.keypoints.shape}, {len(self.bodyparts)} body parts."
            )

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: Sequence[int] | np.ndarray) -> TrainingSet:
        index = np.asarray(index, dtype=int)
        return TrainingSet(tuple(self.names[i] for i in index), [self.images[i] for i in index],
                           self.keypoints[index], self.bodyparts)

    @classmethod
    def from_labels(cls, labels: Sequence[LabelSet], root: str | Path, bodyparts: Sequence[str] | None = None,
                    individual: int = 0) -> TrainingSet:
        """Read the images of label sets (paths relative to ``root``, the project folder).

        Images with no labelled point are kept (they teach "nothing here").
        ``bodyparts`` picks and orders the columns (default: the first set's).
        """
        if not labels:
            raise NetworkError("no label files: label some frames first (labeled-data/<video>/CollectedData_*.h5).")
        bodyparts = tuple(bodyparts or labels[0].bodyparts)
        names: list[str] = []
        points = []
        for ls in labels:
            missing = [b for b in bodyparts if b not in ls.bodyparts]
            if missing:
                raise NetworkError(f"{ls.source or 'labels'}: body parts {missing} are not labelled in this file.")
            cols = [ls.bodyparts.index(b) for b in bodyparts]
            names += list(ls.images)
            points.append(ls.points[:, individual, cols])
        root = Path(root)
        absent = [n for n in names if not (root / n).is_file()]
        if absent:
            raise NetworkError(
                f"{len(absent)} labelled images are missing under {root} (e.g. {absent[:3]}); the project folder "
                "must hold labeled-data/<video>/<image> as the label files name them."
            )
        images = [read_image(root / n) for n in names]
        log.info("training set: %d images, %d body parts", len(images), len(bodyparts))
        return cls(tuple(names), images, np.concatenate(points, 0), bodyparts)


def split(n: int, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``n`` images: ``(train, test)`` index arrays, each sorted.

    ``round(train_fraction * n)`` images train (DeepLabCut's rule); the same
    seed and fraction always give the same split.
    """
    if not 0 < train_fraction <= 1:
        raise NetworkError(f"training fraction {train_fraction} must be in (0, 1], e.g. 0.95 as in DeepLabCut.")
    order = np.random.default_rng(seed).permutation(n)
    n_train = min(n, max(1, int(round(train_fraction * n))))
    return np.sort(order[:n_train]), np.sort(order[n_train:])


def make_batch(data: TrainingSet, indices: np.ndarray, rng: np.random.Generator, model: ModelConfig,
               aug: AugmentConfig, flip_index: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Augmented crops and targets for ``indices``.

    Returns images ``(B, 3, h, w)`` float32 0..255 RGB, heatmap targets
    ``(B, K, h/s, w/s)``, locref targets ``(B, K, 2, h/s, w/s)`` and the locref
    mask ``(B, K, h/s, w/s)``, with ``(w, h) = aug.crop_size``, ``s = model.output_stride``.
    """
    cw, ch = aug.crop_size
    if cw % 32 or ch % 32:
        raise NetworkError(f"crop_size {aug.crop_size} must be multiples of 32 (the backbones' total stride).")
    crops = np.empty((len(indices), ch, cw, 3), np.uint8)
    points = np.empty((len(indices), len(data.bodyparts), 2))
    for b, i in enumerate(indices):  # one warp per image: OpenCV does the pixel work
        crops[b], points[b] = augment(data.images[i], data.keypoints[i], rng, aug, model.input_scale, flip_index)
    s = model.output_stride
    heat, locref, mask = make_targets(points, (ch // s, cw // s), s, model.pos_dist_thresh, model.locref_stdev)
    return crops.transpose(0, 3, 1, 2).astype(np.float32), heat, locref, mask
