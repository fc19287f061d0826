"""Multi-view help for labelling: epipolar curves, triangulated proposals, disagreement.

All functions take a :class:`~mocap3d.camera.CameraRig` whose cameras are the
labelling views in order (``rig.select(view_cameras)``) and pixel coordinates
with DeepLabCut's and OpenCV's convention (pixel centres at integers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..camera import CameraRig
from ..triangulation.dlt import triangulate_dlt

__all__ = ["GeometryConfig", "epipolar_curves", "propose", "Proposals"]


@dataclass(frozen=True)
class GeometryConfig:
    """Settings of the multi-view help, with their defaults in one place.

    n_samples : points sampled along each viewing ray (log-spaced in depth);
        with the default range a curve crossing an image gets a sample every
        few pixels, so straight segments between samples follow the lens
        curvature to well under a pixel.
    depth_range : nearest and farthest sampled depth, as multiples of the
        rig's typical camera-to-centre distance.
    margin : fraction of the image size kept around the image (curves that
        leave the image a little still show where they go).
    min_step_px : curves are sent with vertices at least this far apart.
    disagreement_px : a labelled point further than this from the
        reprojection of the triangulated point is flagged.
    """

    n_samples: int = 4096
    depth_range: tuple[float, float] = (1e-3, 1e3)
    margin: float = 0.05
    min_step_px: float = 1.0
    disagreement_px: float = 5.0


def _rig_scale(rig: CameraRig) -> float:
    """Typical distance from the cameras to the middle of the rig (calibration units)."""
    centers = rig.centers()
    if len(centers) < 2:
        return 1.0
    return float(np.median(np.linalg.norm(centers - centers.mean(0), axis=-1))) or 1.0


def epipolar_curves(
    rig: CameraRig, view: int, pixel: np.ndarray, config: GeometryConfig | None = None
) -> list[list[np.ndarray]]:
    """Where the point seen at ``pixel`` in camera ``view`` can lie in every camera.

    The viewing ray through the (undistorted) pixel is sampled in depth and
    projected through each camera's lens model, so the result is the true
    epipolar *curve* under distortion, not the straight line of a pinhole.

    Parameters
    ----------
    rig : CameraRig with C cameras.
    view : index of the camera where the point is labelled.
    pixel : (2,) pixel coordinates in that camera.

    Returns
    -------
    list of C lists of polylines, each an array (n, 2) of pixel coordinates
    inside the image (plus ``config.margin``) and in front of the camera. The
    entry of ``view`` itself is empty; so is that of a camera that cannot see
    any part of the ray.
    """
    cfg = config or GeometryConfig()
    pix = np.asarray(pixel, dtype=np.float64).reshape(2)
    points = np.full((rig.n_cameras, 2), np.nan)
    points[view] = pix
    norm = rig.undistort_points(points[:, None, :], output="normalized")[view, 0]
    if not np.isfinite(norm).all():
        return [[] for _ in range(rig.n_cameras)]
    direction = rig.R[view].T @ np.array([norm[0], norm[1], 1.0])  # scaled so that depth in `view` is the factor
    scale = _rig_scale(rig)
    depths = np.geomspace(cfg.depth_range[0] * scale, cfg.depth_range[1] * scale, cfg.n_samples)
    world = rig.centers()[view] + depths[:, None] * direction  # (n, 3)
    cam = rig.world_to_camera(world)  # (C, n, 3)
    in_front = cam[..., 2] > 0
    with np.errstate(all="ignore"):
        ideal = cam[..., :2] / cam[..., 2:3]
        proj = rig.distort_normalized(ideal)  # (C, n, 2)
        # Far outside the image a polynomial lens model folds back (the distorted radius shrinks again) and
        # maps points of the ray into the picture where no camera sees them; keep only the samples whose
        # pixel undistorts back to their own direction.
        back = rig.undistort_points(proj, output="normalized")
    unfolded = np.linalg.norm(back - ideal, axis=-1) <= 1e-6 * (1.0 + np.linalg.norm(ideal, axis=-1))
    size = rig.sizes[:, None, :]
    lo, hi = -0.5 - cfg.margin * size, size - 0.5 + cfg.margin * size
    keep = in_front & unfolded & np.isfinite(proj).all(-1) & ((proj >= lo) & (proj <= hi)).all(-1)
    curves: list[list[np.ndarray]] = []
    for c in range(rig.n_cameras):  # a loop over cameras (a handful), each one vectorized
        if c == view:
            curves.append([])
            continue
        idx = np.flatnonzero(keep[c])
        # Runs of consecutive kept samples become separate polylines (the curve may leave and re-enter).
        breaks = np.flatnonzero(np.diff(idx) > 1) + 1
        runs = [_thin(proj[c, run], cfg.min_step_px) for run in np.split(idx, breaks)]
        curves.append([r for r in runs if len(r) >= 2])
    return curves


def _thin(line: np.ndarray, step: float) -> np.ndarray:
    """Keep one vertex per ``step`` pixels of arc length (log-spaced depths crowd near the vanishing point)."""
    if len(line) < 3:
        return line
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(line, axis=0), axis=1))])
    bucket = np.floor(arc / step)
    keep = np.concatenate([[True], bucket[1:] != bucket[:-1]])
    keep[-1] = True
    return line[keep]


@dataclass(frozen=True)
class Proposals:
    """Triangulation of the labelled points of one instant.

    points3d : (..., 3) triangulated from the views where a point is labelled
        (NaN where fewer than two views have it).
    proposed : (C, ..., 2) reprojection into every camera, with lens distortion.
    error : (C, ..., ) distance in pixels between each label and where the
        *other* views put the point (triangulated without this view, when two
        or more others have it; else from every view); NaN where not labelled
        or not triangulated.
    flagged : (C, ...) the labels that disagree (see :func:`propose`).
    """

    points3d: np.ndarray
    proposed: np.ndarray
    error: np.ndarray
    flagged: np.ndarray


def propose(rig: CameraRig, labels: np.ndarray, config: GeometryConfig | None = None) -> Proposals:
    """Triangulate every labelled point seen in two or more views and reproject it into all.

    Parameters
    ----------
    rig : CameraRig with C cameras (the views, in order).
    labels : (C, ..., 2) pixel coordinates; NaN where a view has no label.

    Notes
    -----
    The DLT runs on undistorted pixels. Disagreement: with three or more
    views, each label is compared with where the other views put the point
    (leave one view out); when removing one view makes the rest agree within
    ``disagreement_px``, only that view is flagged. With two views a
    disagreement cannot be pinned on either, so both are flagged.
    """
    cfg = config or GeometryConfig()
    pts = np.asarray(labels, dtype=np.float64)
    P = rig.projection_matrices()
    undistorted = rig.undistort_points(pts, output="pixel")
    X = triangulate_dlt(P, undistorted)
    proposed = _reproject(rig, X)
    error_all = np.linalg.norm(proposed - pts, axis=-1)  # (C, ...)
    labelled = np.isfinite(pts).all(-1)
    n_views = labelled.sum(0)
    # Leave one view out: where the other views put the point, and how well they then agree among themselves.
    loo = np.full(error_all.shape, np.nan)
    rest_ok = np.zeros(error_all.shape, bool)
    for c in range(rig.n_cameras):
        others = undistorted.copy()
        others[c] = np.nan
        Xc = triangulate_dlt(P, others)
        proj_c = _reproject(rig, Xc)
        loo[c] = np.linalg.norm(proj_c[c] - pts[c], axis=-1)
        rest_err = np.linalg.norm(proj_c - pts, axis=-1)
        rest_err[c] = 0.0
        rest_ok[c] = (np.nan_to_num(rest_err, nan=0.0) <= cfg.disagreement_px).all(0)
    loo[:, n_views < 3] = np.nan
    error = np.where(np.isfinite(loo), loo, error_all)
    error[~labelled] = np.nan
    bad = np.nan_to_num(error_all, nan=0.0) > cfg.disagreement_px  # (C, ...)
    any_bad = bad.any(0)
    # 3+ views: flag the view whose removal leaves the others consistent; when no single view explains the
    # disagreement (or with two views, which cannot say which one is wrong), every view off the triangulation.
    single = labelled & rest_ok & (np.nan_to_num(loo, nan=0.0) > cfg.disagreement_px) & (n_views >= 3)
    explained = single.sum(0) == 1
    flagged = np.where(explained, single, bad) & any_bad
    return Proposals(X, proposed, error, flagged)


def _reproject(rig: CameraRig, X: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        proposed = rig.project(X)
    proposed[rig.depths(X) <= 0] = np.nan
    return proposed
