"""Evaluation against human labels, and label checking.

Errors are Euclidean distances in image pixels between predictions and labels
over every labelled (image, body part). DeepLabCut reports their *mean* and
calls it "RMSE"; the true root-mean-square is reported beside it. The
``pcutoff`` variants keep only predictions whose likelihood reaches the
cut-off (DeepLabCut's "with p-cutoff"). PCK is the share of labelled points
within a distance threshold.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..io.atomic import atomic_path
from .dataset import TrainingSet
from .predict import Predictor

log = logging.getLogger(__name__)

PCK_THRESHOLDS = (2.0, 5.0, 10.0)


@dataclass
class SplitErrors:
    """Error summary of one split (pixels)."""

    n_images: int
    n_points: int
    mean_error: float  # DeepLabCut's "RMSE"
    rms: float
    mean_error_pcutoff: float
    rms_pcutoff: float
    share_above_pcutoff: float
    pck: dict[float, float]
    per_bodypart: dict[str, float]

    def line(self, name: str) -> str:
        pck = ", ".join(f"PCK@{t:g}px {v:.1%}" for t, v in self.pck.items())
        return (f"{name}: {self.n_images} images, mean error {self.mean_error:.2f} px (DLC 'RMSE'), "
                f"RMS {self.rms:.2f} px; "
                f"with p-cutoff {self.mean_error_pcutoff:.2f} / RMS {self.rms_pcutoff:.2f} px "
                f"({self.share_above_pcutoff:.0%} of points kept); {pck}")


@dataclass
class Evaluation:
    predictions: np.ndarray  # (images, keypoints, 2) image pixels
    scores: np.ndarray  # (images, keypoints)
    errors: np.ndarray  # (images, keypoints) px, NaN where unlabelled
    train: SplitErrors | None
    test: SplitErrors | None
    pcutoff: float
    images_written: list[Path] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [s.line(n) for n, s in (("train", self.train), ("test", self.test)) if s is not None]


def summarise(errors: np.ndarray, scores: np.ndarray, bodyparts: tuple[str, ...], pcutoff: float,
              thresholds: tuple[float, ...] = PCK_THRESHOLDS) -> SplitErrors:
    """Summary of ``errors (images, keypoints)`` (NaN: unlabelled) with the matching likelihoods."""
    ok = np.isfinite(errors)
    d = errors[ok]
    keep = ok & (scores >= pcutoff)
    dk = errors[keep]

    def mean(x):
        return float(np.mean(x)) if x.size else float("nan")

    per_bp = {bp: mean(errors[:, k][ok[:, k]]) for k, bp in enumerate(bodyparts)}
    return SplitErrors(
        n_images=int(errors.shape[0]), n_points=int(d.size), mean_error=mean(d), rms=float(np.sqrt(mean(d**2))),
        mean_error_pcutoff=mean(dk), rms_pcutoff=float(np.sqrt(mean(dk**2))),
        share_above_pcutoff=float(keep.sum() / max(1, ok.sum())),
        pck={t: float((d <= t).mean()) if d.size else float("nan") for t in thresholds}, per_bodypart=per_bp,
    )


def predict_images(predictor: Predictor, images: list[np.ndarray], batch_size: int = 8
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Predictions for a list of RGB images (grouped by size, batched)."""
    n = len(images)
    k = None
    out_xy: list[np.ndarray | None] = [None] * n
    out_s: list[np.ndarray | None] = [None] * n
    sizes: dict[tuple[int, ...], list[int]] = {}
    for i, img in enumerate(images):
        sizes.setdefault(img.shape, []).append(i)
    for members in sizes.values():
        for start in range(0, len(members), batch_size):
            idx = members[start:start + batch_size]
            xy, s = predictor.predict(np.stack([images[i] for i in idx]))
            k = xy.shape[1]
            for j, i in enumerate(idx):
                out_xy[i], out_s[i] = xy[j], s[j]
    if k is None:
        return np.zeros((0, 0, 2)), np.zeros((0, 0))
    return np.stack(out_xy), np.stack(out_s)  # type: ignore[arg-type]


def evaluate(predictor: Predictor, data: TrainingSet, train_idx: np.ndarray, test_idx: np.ndarray,
             pcutoff: float = 0.6, image_dir: str | Path | None = None, skeleton: list[tuple[str, str]] | None = None
             ) -> Evaluation:
    """Predict every labelled image and summarise train and test errors.

    With ``image_dir``, one PNG per image is written (labels as circles,
    predictions as crosses, joined by a line; ``train_``/``test_`` prefixes).
    """
    xy, scores = predict_images(predictor, data.images)
    errors = np.linalg.norm(xy - data.keypoints, axis=-1)
    ev = Evaluation(
        xy, scores, errors,
        summarise(errors[train_idx], scores[train_idx], data.bodyparts, pcutoff) if len(train_idx) else None,
        summarise(errors[test_idx], scores[test_idx], data.bodyparts, pcutoff) if len(test_idx) else None,
        pcutoff,
    )
    if image_dir is not None:
        split_of = {int(i): "train" for i in train_idx} | {int(i): "test" for i in test_idx}
        for i, name in enumerate(data.names):
            if i not in split_of:
                continue
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.rsplit(".", 1)[0])
            path = Path(image_dir) / f"{split_of[i]}_{stem}.png"
            picture = draw_comparison(data.images[i], data.keypoints[i], xy[i], scores[i], pcutoff, data.bodyparts,
                                      skeleton)
            write_png(path, picture)
            ev.images_written.append(path)
    return ev


def colours(n: int) -> np.ndarray:
    """``(n, 3)`` distinct RGB uint8 colours (a jet-like ramp as DeepLabCut's default)."""
    ramp = cv2.applyColorMap(np.linspace(0, 255, max(n, 1)).astype(np.uint8)[:, None], cv2.COLORMAP_JET)[:, 0]
    return ramp[:, ::-1].copy()  # BGR -> RGB


def draw_skeleton(image: np.ndarray, xy: np.ndarray, ok: np.ndarray, bodyparts: tuple[str, ...],
                  skeleton: list[tuple[str, str]] | None, colour=(230, 230, 230)) -> None:
    """Lines between connected body parts, in place on an RGB image."""
    index = {b: i for i, b in enumerate(bodyparts)}
    for a, b in skeleton or []:
        ia, ib = index.get(a), index.get(b)
        if ia is not None and ib is not None and ok[ia] and ok[ib]:
            pa = tuple(int(round(v)) for v in xy[ia])
            pb = tuple(int(round(v)) for v in xy[ib])
            cv2.line(image, pa, pb, colour, 1, cv2.LINE_AA)


def draw_comparison(image: np.ndarray, labels: np.ndarray, pred: np.ndarray, scores: np.ndarray, pcutoff: float,
                    bodyparts: tuple[str, ...], skeleton: list[tuple[str, str]] | None = None) -> np.ndarray:
    """RGB picture: labels (circles), predictions (crosses; grey below ``pcutoff``), error lines, a legend."""
    out = image.copy()
    cols = colours(len(bodyparts))
    lab_ok = np.isfinite(labels).all(-1)
    draw_skeleton(out, pred, scores >= pcutoff, bodyparts, skeleton)
    for k in range(len(bodyparts)):
        c = tuple(int(v) for v in cols[k])
        p = tuple(int(round(v)) for v in pred[k])
        if lab_ok[k]:
            q = tuple(int(round(v)) for v in labels[k])
            cv2.line(out, p, q, (255, 255, 255), 1, cv2.LINE_AA)
            cv2.circle(out, q, 5, c, 1, cv2.LINE_AA)
        cv2.drawMarker(out, p, c if scores[k] >= pcutoff else (128, 128, 128), cv2.MARKER_CROSS, 9, 1, cv2.LINE_AA)
        cv2.putText(out, bodyparts[k], (6, 14 + 14 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.4, c, 1, cv2.LINE_AA)
    return out


def write_png(path: str | Path, rgb: np.ndarray) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {path}")
    return path


# ----------------------------------------------------------------------------- label checking

_SIDES = (("left", "right"), ("l_", "r_"), ("L_", "R_"), ("_l", "_r"), ("_L", "_R"))


def infer_symmetric_pairs(bodyparts: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """Pairs of names that differ only by a side word (``leftear``/``rightear``, ``l_knee``/``r_knee``)."""
    names = set(bodyparts)
    pairs = []
    for name in bodyparts:
        for left, right in _SIDES:
            if left in name:
                other = name.replace(left, right, 1)
                if other in names and other != name and (other, name) not in pairs:
                    pairs.append((name, other))
                break
    return pairs


@dataclass
class LabelIssue:
    image: str
    index: int
    kind: str  # "swapped" (a left/right pair labelled the other way round) or "far" (one point far from the model)
    bodyparts: tuple[str, ...]
    error: float  # px between label and prediction as labelled
    error_if_fixed: float  # px after the fix (swap) the check suggests; NaN for "far"

    def line(self) -> str:
        fix = f", {self.error_if_fixed:.1f} px if swapped" if self.kind == "swapped" else ""
        return f"{self.image}: {self.kind} {'/'.join(self.bodyparts)} ({self.error:.1f} px from the model{fix})"


def check_labels(data: TrainingSet, predictions: np.ndarray, scores: np.ndarray, pairs: list[tuple[str, str]],
                 pcutoff: float = 0.6, min_error: float = 8.0, far_factor: float = 6.0) -> list[LabelIssue]:
    """Labels that disagree with a trained model in a consistent way, worst first.

    *swapped*: for a symmetric pair, the model (confident on both) sits on the
    labels with the names exchanged: the mean error as labelled exceeds
    ``min_error`` and is at least 3x the error after swapping. *far*: a single
    labelled point more than ``max(min_error, far_factor x median error)`` from
    a confident prediction.
    """
    index = {b: i for i, b in enumerate(data.bodyparts)}
    lab = data.keypoints
    err = np.linalg.norm(predictions - lab, axis=-1)
    confident = scores >= pcutoff
    issues: list[LabelIssue] = []
    in_pair = np.zeros(lab.shape[:2], bool)
    for a, b in pairs:
        ia, ib = index[a], index[b]
        as_is = 0.5 * (err[:, ia] + err[:, ib])
        swapped = 0.5 * (np.linalg.norm(predictions[:, ia] - lab[:, ib], axis=-1)
                         + np.linalg.norm(predictions[:, ib] - lab[:, ia], axis=-1))
        with np.errstate(invalid="ignore"):
            bad = (as_is > min_error) & (swapped * 3 <= as_is) & confident[:, ia] & confident[:, ib]
        for i in np.flatnonzero(bad):
            issues.append(LabelIssue(data.names[i], int(i), "swapped", (a, b), float(as_is[i]), float(swapped[i])))
            in_pair[i, [ia, ib]] = True
    typical = np.nanmedian(err) if np.isfinite(err).any() else 0.0
    limit = max(min_error, far_factor * typical)
    with np.errstate(invalid="ignore"):
        far = (err > limit) & confident & ~in_pair
    for i, k in zip(*np.nonzero(far), strict=True):
        issues.append(LabelIssue(data.names[i], int(i), "far", (data.bodyparts[k],), float(err[i, k]), float("nan")))
    return sorted(issues, key=lambda s: -s.error)
