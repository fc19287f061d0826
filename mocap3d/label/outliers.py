"""The active-learning step: pick the frames a network got wrong and put them up for correction.

:func:`find_outlier_frames` scores every frame of one or several synchronized
views by three signs of a wrong prediction — a keypoint that jumps between
consecutive frames, a low likelihood, a high reprojection error of the 3D
reconstruction — and picks the worst frames, spread over the recording.
:func:`extract_outliers` writes those frames of every camera's video as
``labeled-data/<video>/img<frame>.png`` with the network's predictions in
``machinelabels-iter<N>.h5`` beside them, exactly where DeepLabCut's own
outlier extraction puts them. With several animals the 3D poses are a mapping
individual -> Poses3D (``triangulate --individuals``): each 2D detection is
compared with the individual whose reprojection is nearest to it
(:func:`reprojection_errors_individuals`), since the network's own labels
need not match the 3D identities. ``mocap3d label`` then opens them with the
predictions as editable starting points; what the user places, moves or
accepts is written to ``CollectedData_<scorer>.h5`` of the same folder, which
is the training set the next round of training reads.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..camera import CameraRig
from ..errors import LabelFileError
from ..io.atomic import atomic_path
from ..io.labels import SINGLE, Predictions, load_predictions, save_predictions
from ..poses import Poses3D, Track2D

__all__ = ["OutlierConfig", "OutlierFrames", "find_outlier_frames", "reprojection_errors",
           "reprojection_errors_individuals", "extract_outliers"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutlierConfig:
    """Which frames count as outliers, with every default in one place.

    jump_px : a keypoint moving further than this between consecutive frames
        (DeepLabCut's ``epsilon`` for its "jump" method).
    min_likelihood : a predicted keypoint below this likelihood (``p_bound``).
    max_reproj_px : a keypoint whose 3D reconstruction reprojects further
        than this from the prediction (needs 3D poses and a calibration).
    n_frames : frames to pick (DeepLabCut's ``numframes2pick``).
    min_gap : picked frames are at least this many frames apart, so that one
        bad stretch does not fill the quota.
    """

    jump_px: float = 40.0
    min_likelihood: float = 0.6
    max_reproj_px: float = 10.0
    n_frames: int = 20
    min_gap: int = 10

    def __post_init__(self) -> None:
        if self.n_frames < 1 or self.min_gap < 1:
            raise LabelFileError("outlier selection needs n_frames >= 1 and min_gap >= 1.")


@dataclass(frozen=True)
class OutlierFrames:
    """Picked frames and why.

    frames : (n,) sorted frame indices.
    counts : reason (``"jump"``, ``"likelihood"``, ``"reprojection"``) ->
        (frames,) how many (view, individual, keypoint) points were flagged in each frame.
    """

    frames: np.ndarray
    counts: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def score(self) -> np.ndarray:
        """(frames,) flagged points per frame, all reasons together."""
        return np.sum(list(self.counts.values()), axis=0)


def reprojection_errors(points3d: np.ndarray, rig: CameraRig, points2d: np.ndarray) -> np.ndarray:
    """Distance (views, frames, keypoints) in pixels between 2D points (views, frames, keypoints, 2) and the
    reprojection of ``points3d`` (frames, keypoints, 3) through ``rig`` (whose cameras are the views, in
    order); NaN where either is missing. Compared over the frames both have."""
    proj = rig.project(points3d)
    n = min(proj.shape[1], points2d.shape[1])
    return np.linalg.norm(proj[:, :n] - points2d[:, :n], axis=-1)


def _aligned(poses3d: Poses3D, keypoints: tuple[str, ...]) -> np.ndarray:
    """``poses3d``'s points (frames, keypoints, 3) in the order of ``keypoints`` (NaN for those it lacks)."""
    aligned = np.full((poses3d.points.shape[0], len(keypoints), 3), np.nan)
    have = [k for k, name in enumerate(keypoints) if name in poses3d.keypoints]
    if not have:
        raise LabelFileError(f"the 3D poses have none of the predictions' keypoints {list(keypoints)}.")
    aligned[:, have] = poses3d.points[:, [poses3d.keypoints.index(keypoints[k]) for k in have]]
    return aligned


def reprojection_errors_individuals(
    individuals: Mapping[str, Poses3D], rig: CameraRig, points2d: np.ndarray, keypoints: tuple[str, ...]
) -> np.ndarray:
    """Reprojection error (views, frames, slots, keypoints), px, of several individuals' 2D detections.

    ``points2d`` (views, frames, slots, keypoints, 2) are the predictions, in
    slots whose labels need not be the 3D individuals'; each detection (a
    view, frame and slot) is compared with the individual whose reprojection
    is nearest to it (median over its keypoints). NaN where either is missing;
    compared over the frames both have.
    """
    errs = []
    for poses in individuals.values():
        proj = rig.project(_aligned(poses, keypoints))  # (V, F3, K, 2)
        n = min(proj.shape[1], points2d.shape[1])
        errs.append(np.linalg.norm(points2d[:, :n] - proj[:, :n, None], axis=-1))  # (V, n, I, K)
    stack = np.stack(errs)  # (J, V, n, I, K)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN detections: no individual is nearest
        med = np.nanmedian(stack, axis=-1)
    best = np.argmin(np.where(np.isfinite(med), med, np.inf), axis=0)  # (V, n, I)
    out = np.full(points2d.shape[:-1], np.nan)
    out[:, : stack.shape[2]] = np.take_along_axis(stack, best[None, ..., None], axis=0)[0]
    return out


def find_outlier_frames(
    points: np.ndarray,
    likelihood: np.ndarray,
    reproj_error: np.ndarray | None = None,
    config: OutlierConfig | None = None,
) -> OutlierFrames:
    """Score and pick outlier frames of synchronized views.

    Parameters
    ----------
    points : (views, frames, individuals, keypoints, 2) predictions, pixels, NaN where not detected.
    likelihood : (views, frames, individuals, keypoints).
    reproj_error : (views, frames, individuals, keypoints) pixels, optional.

    Frames are ranked by the number of flagged points (ties: earlier first)
    and taken greedily, skipping frames within ``min_gap`` of a taken one.
    """
    cfg = config or OutlierConfig()
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 5 or pts.shape[-1] != 2:
        raise LabelFileError(f"points must be (views, frames, individuals, keypoints, 2), got {pts.shape}.")
    n_frames = pts.shape[1]
    with np.errstate(invalid="ignore"):
        step = np.linalg.norm(np.diff(pts, axis=1), axis=-1)  # (V, F-1, I, K); NaN where a side is missing
        jump = np.zeros(pts.shape[:-1], bool)
        jump[:, 1:] = step > cfg.jump_px
        seen = np.isfinite(pts).all(-1)
        low = seen & (np.nan_to_num(np.asarray(likelihood, dtype=np.float64), nan=0.0) < cfg.min_likelihood)
    counts = {"jump": jump.sum((0, 2, 3)), "likelihood": low.sum((0, 2, 3))}
    if reproj_error is not None:
        err = np.asarray(reproj_error, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            counts["reprojection"] = (err > cfg.max_reproj_px).sum((0, 2, 3))
    score = np.sum(list(counts.values()), axis=0)
    order = np.lexsort((np.arange(n_frames), -score))
    order = order[score[order] > 0]
    taken: list[int] = []
    blocked = np.zeros(n_frames, bool)
    for f in order:  # greedy over candidate frames; stops after n_frames picks
        if blocked[f]:
            continue
        taken.append(int(f))
        blocked[max(0, f - cfg.min_gap + 1) : f + cfg.min_gap] = True
        if len(taken) == cfg.n_frames:
            break
    return OutlierFrames(np.array(sorted(taken), dtype=int), counts)


def _frame_names(frames: np.ndarray, n_total: int) -> list[str]:
    """DeepLabCut's frame file names: ``img`` + the frame index zero-padded to the digits of the frame count."""
    width = max(1, int(np.ceil(np.log10(max(n_total, 2)))))
    return [f"img{int(f):0{width}d}.png" for f in frames]


def _extract_frames(video: Path, frames: np.ndarray, names: list[str], folder: Path) -> None:
    """Write the given frames of ``video`` as PNG files (skipping ones already there: a re-run resumes)."""
    import cv2

    todo = [(int(f), n) for f, n in zip(frames, names, strict=True) if not (folder / n).is_file()]
    if not todo:
        return
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise LabelFileError(f"{video}: cannot open this video (is it a video file OpenCV can read?).")
    try:
        position = 0
        for frame, name in todo:  # a few dozen frames: seek when far ahead, else read through
            if frame < position or frame - position > 30:
                cap.set(cv2.CAP_PROP_POS_FRAMES, frame)
                position = frame
            ok, image = False, None
            while position <= frame:
                ok, image = cap.read()
                position += 1
                if not ok:
                    break
            if not ok:
                raise LabelFileError(f"{video}: cannot read frame {frame}; is the video shorter than its predictions?")
            with atomic_path(folder / name) as tmp:
                cv2.imwrite(str(tmp), np.asarray(image))
    finally:
        cap.release()


def extract_outliers(
    project: str | Path,
    videos: list[str | Path],
    tracks: list[Track2D],
    config: OutlierConfig | None = None,
    rig: CameraRig | None = None,
    poses3d: Poses3D | Mapping[str, Poses3D] | None = None,
    iteration: int = 0,
    scorer: str = "network",
) -> tuple[OutlierFrames, list[Path]]:
    """Extract the outlier frames of synchronized videos for correction in ``mocap3d label``.

    Parameters
    ----------
    project : the DeepLabCut project folder; frames go to ``labeled-data/<video name>/``.
    videos : one video per camera; ``tracks`` their predictions (same order, same frames).
    rig, poses3d : with both, the 3D reprojection error is a criterion too
        (``rig`` cameras in the order of ``videos``). ``poses3d`` is one
        individual (compared with the first of each file's individuals) or a
        mapping individual -> Poses3D (each detection compared with the
        nearest individual, :func:`reprojection_errors_individuals`).
    iteration : the ``N`` of ``machinelabels-iter<N>.h5``; rows of an
        existing file of that iteration are kept (a new frame's row replaces none).

    Returns the picked frames and the folders written. The same frames are
    taken from every camera, so the label tool shows them side by side.
    """
    cfg = config or OutlierConfig()
    if len(videos) != len(tracks) or not videos:
        raise LabelFileError(f"give one prediction file per video ({len(videos)} videos, {len(tracks)} predictions).")
    n_frames = min(t.n_frames for t in tracks)
    shapes = {t.points.shape[1:] for t in tracks}
    if len(shapes) != 1 or len({t.keypoints for t in tracks}) != 1:
        raise LabelFileError("the prediction files have different keypoints or individuals; use one network's output.")
    points = np.stack([t.points[:n_frames] for t in tracks])
    scores = np.stack([t.scores[:n_frames] for t in tracks])
    reproj = None
    if poses3d is not None and rig is not None:
        several = dict(poses3d) if isinstance(poses3d, Mapping) else {"": poses3d}
        for p in several.values():
            if p.points.shape[0] < n_frames:
                raise LabelFileError(f"the 3D poses have {p.points.shape[0]} frames, the predictions {n_frames}.")
        keypoints = tracks[0].keypoints
        if isinstance(poses3d, Mapping):
            reproj = reprojection_errors_individuals(several, rig, points, keypoints)
        else:
            # 3D poses of one individual: the first; the others get no reprojection criterion.
            reproj = np.full(points.shape[:-1], np.nan)
            reproj[:, :, 0] = reprojection_errors(_aligned(poses3d, keypoints), rig, points[:, :, 0])
    picked = find_outlier_frames(points, scores, reproj, cfg)
    folders = []
    for video, track, pts, sc in zip(videos, tracks, points, scores, strict=True):
        video = Path(video)
        folder = Path(project) / "labeled-data" / video.stem
        folder.mkdir(parents=True, exist_ok=True)
        names = _frame_names(picked.frames, n_frames)
        _extract_frames(video, picked.frames, names, folder)
        images = tuple(f"labeled-data/{video.stem}/{n}" for n in names)
        individuals = track.individuals if len(track.individuals) > 1 else (SINGLE,)
        pred = Predictions(images, track.keypoints, individuals, pts[picked.frames], sc[picked.frames], scorer)
        path = folder / f"machinelabels-iter{iteration}.h5"
        if path.is_file():
            pred = _union(load_predictions(path), pred)
        save_predictions(pred, path)
        folders.append(folder)
    log.info("extracted %d outlier frames from %d videos", len(picked.frames), len(videos))
    return picked, folders


def _union(old: Predictions, new: Predictions) -> Predictions:
    """Rows of ``old`` then those of ``new`` whose image is not in ``old`` (a re-run adds, never replaces)."""
    if old.bodyparts != new.bodyparts or old.individuals != new.individuals or old.images is None:
        raise LabelFileError(
            f"{old.source}: an earlier extraction with other body parts or individuals; use another --iteration."
        )
    new_images = new.images or ()
    keep = [i for i, name in enumerate(new_images) if name not in set(old.images)]
    return Predictions(old.images + tuple(new_images[i] for i in keep), old.bodyparts, old.individuals,
                       np.concatenate([old.points, new.points[keep]]),
                       np.concatenate([old.likelihood, new.likelihood[keep]]), old.scorer)  # fmt: skip
