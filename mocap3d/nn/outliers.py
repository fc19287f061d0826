"""Active learning: pick frames where the network is probably wrong, and merge corrected labels back.

Criteria, per frame and body part (any one flags the frame):

* ``jump``: the point moved more than ``jump_px`` since the previous frame;
* ``uncertain``: its likelihood is below ``p_bound``;
* ``reprojection``: its 3D reprojection error (from the triangulation) exceeds ``reproj_px``.

The chosen frames (at most ``n``, spread evenly over the flagged ones) go
into ``labeled-data/<video stem>/`` as PNGs with the network's guesses in
``machinelabels-iter<k>.h5`` (DeepLabCut's refinement layout), ready for
correction in the labelling tool. :func:`merge_corrections` then applies the
corrected labels to the training set's ``CollectedData_<scorer>.h5``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io.labels import LabelSet, label_file_path, load_labels, merge_labels, save_labels
from ..poses import Track2D
from .config import NetworkError
from .frames import read_frames

log = logging.getLogger(__name__)


@dataclass
class OutlierConfig:
    jump_px: float = 20.0
    p_bound: float = 0.1
    reproj_px: float = 15.0
    n: int = 20


@dataclass
class OutlierSelection:
    frames: np.ndarray  # chosen frame numbers
    reasons: dict[int, list[str]]  # frame -> "jump:snout", "uncertain:tailbase", ...
    images: list[Path]
    machine_labels: Path | None
    n_flagged: int


def flag_frames(points: np.ndarray, scores: np.ndarray, cfg: OutlierConfig,
                reprojection_error: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Boolean ``(frames, keypoints)`` masks per criterion.

    points ``(frames, keypoints, 2)`` px (NaN: not found), scores ``(frames,
    keypoints)``, reprojection_error ``(frames, keypoints)`` px or None.
    """
    step = np.full(points.shape[:2], np.nan)
    step[1:] = np.linalg.norm(np.diff(points, axis=0), axis=-1)
    with np.errstate(invalid="ignore"):
        masks = {"jump": step > cfg.jump_px, "uncertain": scores < cfg.p_bound}
        if reprojection_error is not None:
            if reprojection_error.shape != points.shape[:2]:
                raise NetworkError(f"reprojection errors {reprojection_error.shape} do not match the 2D poses "
                                   f"{points.shape[:2]} (frames, keypoints).")
            masks["reprojection"] = reprojection_error > cfg.reproj_px
    return masks


def extract_outliers(track: Track2D, video: str | Path, project_root: str | Path, cfg: OutlierConfig | None = None,
                     reprojection_error: np.ndarray | None = None, scorer: str = "mocap3d",
                     iteration: int = 0) -> OutlierSelection:
    """Write flagged frames of ``video`` into ``<project_root>/labeled-data/<video stem>/`` for correction.

    ``track`` is the network's output for ``video`` (one individual). The
    network's guesses go into ``machinelabels-iter<iteration>.h5`` (+ .csv).
    """
    cfg = cfg or OutlierConfig()
    video, root = Path(video), Path(project_root)
    pts, sc = track.points[:, 0], track.scores[:, 0]
    masks = flag_frames(pts, sc, cfg, reprojection_error)
    any_flag = np.zeros(pts.shape[0], bool)
    for m in masks.values():
        any_flag |= m.any(1)
    flagged = np.flatnonzero(any_flag)
    if flagged.size == 0:
        log.info("%s: no outlier frames", video.name)
        return OutlierSelection(np.zeros(0, int), {}, [], None, 0)
    pick = flagged[np.unique(np.linspace(0, flagged.size - 1, min(cfg.n, flagged.size)).round().astype(int))]
    reasons = {int(f): [f"{name}:{track.keypoints[k]}" for name, m in masks.items() for k in np.flatnonzero(m[f])]
               for f in pick}
    folder = root / "labeled-data" / video.stem
    digits = max(4, len(str(pts.shape[0])))
    frames = read_frames(video, pick)
    if len(frames) != len(pick):
        raise NetworkError(f"{video}: has fewer frames ({len(frames)} of the chosen) than its 2D file; is this the "
                           "video the 2D file was made from?")
    from .evaluate import write_png

    images = [write_png(folder / f"img{int(f):0{digits}d}.png", frames[int(f)]) for f in pick]
    names = [p.relative_to(root).as_posix() for p in images]
    guesses = np.where(sc[pick, :, None] >= cfg.p_bound, pts[pick], np.nan)[:, None]
    labels = LabelSet(tuple(names), track.keypoints, ("single",), guesses, scorer)
    machine = folder / f"machinelabels-iter{iteration}.h5"
    save_labels(labels, machine)
    log.info("%s: %d of %d flagged frames -> %s", video.name, len(pick), flagged.size, folder)
    return OutlierSelection(pick, reasons, images, machine, int(flagged.size))


def merge_corrections(folder: str | Path, scorer: str, corrections: str | Path | None = None) -> Path:
    """Apply corrected labels to ``<folder>/CollectedData_<scorer>.h5`` (created when absent).

    ``corrections`` defaults to the newest ``machinelabels-iter*.h5`` in the
    folder (after correction in the labelling tool). Returns the label file.
    """
    folder = Path(folder)
    if corrections is None:
        found = sorted(folder.glob("machinelabels-iter*.h5"))
        if not found:
            raise NetworkError(f"{folder}: no machinelabels-iter*.h5 to merge; extract outliers first.")
        corrections = found[-1]
    fixes = load_labels(corrections)
    target = label_file_path(folder, scorer)
    if target.exists():
        base = load_labels(target)
        merged = merge_labels(base, fixes)
    else:
        merged = LabelSet(fixes.images, fixes.bodyparts, fixes.individuals, fixes.points, scorer)
    save_labels(merged, target)
    return target
