"""The frame-by-frame solvers behind :func:`~mocap3d.triangulation.triangulate`: weighted DLT and robust.

Every (frame, keypoint) point is solved on its own, all at once (batched).
The spatiotemporal solver (:mod:`.optim`) starts from this one's robust
answer; :mod:`.core` dispatches between them.
"""

from __future__ import annotations

import logging

import numpy as np

from .._parallel import BLOCK, map_threads
from ..camera import CameraRig
from ..errors import TriangulationError
from ..poses import Poses2D, Poses3D, finite_points
from .config import TriangulationConfig
from .dlt import triangulate_dlt, triangulate_svd
from .robust import triangulate_robust

__all__ = ["triangulate_frames"]

log = logging.getLogger(__name__)


def triangulate_frames(poses2d: Poses2D, rig: CameraRig, config: TriangulationConfig | None = None) -> Poses3D:
    """Triangulate every frame and keypoint on its own (``config.method`` ``dlt`` or ``robust``).

    See :func:`mocap3d.triangulation.triangulate` for the parameters, result and errors.
    """
    config = config or TriangulationConfig()
    if config.method == "optim":
        raise ValueError("triangulate_frames solves frame by frame (dlt, robust); optim is triangulate_optim")
    views = poses2d.views
    if len(views) < 2:
        raise TriangulationError(
            f"triangulation needs at least two views, got {len(views)} ({', '.join(views)}). "
            "Give one 2D file per camera."
        )
    if config.min_cameras > len(views):
        raise TriangulationError(
            f"min_cameras is {config.min_cameras} but only {len(views)} views are given ({', '.join(views)}); "
            f"lower --min-cameras to at most {len(views)}."
        )
    cams = rig.select(views)
    if config.formulation == "anipose":
        return _triangulate_anipose(poses2d, cams, config)
    v, f, k, _ = poses2d.points.shape
    pts = poses2d.points.reshape(v, f * k, 2)
    scores = poses2d.scores.reshape(v, f * k)
    valid = finite_points(pts) & (scores >= config.score_threshold) & (scores > 0)
    n_valid = valid.sum(0)
    if not (n_valid >= config.min_cameras).any():
        best = float(np.nanmax(np.where(finite_points(pts), scores, np.nan))) if np.isfinite(pts).any() else 0.0
        raise TriangulationError(
            f"no point is seen by {config.min_cameras} or more cameras with a score >= {config.score_threshold} "
            f"(highest score in the input: {best:.3g}). Lower --score-threshold, or check that the 2D files belong "
            "to the same recording and body parts."
        )
    P = cams.projection_matrices()
    n = f * k
    if config.method == "dlt":
        # Every point on its own, from pixels to errors, in blocks that stay in the CPU's cache (shared out over
        # threads on long recordings): no recording-sized temporaries, and the same values however grouped.
        X, use, error, score = np.empty((n, 3)), np.empty((v, n), bool), np.empty(n), np.empty(n)
        ncams = np.empty(n, np.int64)

        def block(start: int) -> None:
            b = slice(start, start + BLOCK)
            x, used, in_cameras = _dlt(cams, P, pts[:, b], scores[:, b], valid[:, b], config)
            X[b] = x
            use[:, b], error[b], ncams[b], score[b] = _measure(cams, x, used, in_cameras, pts[:, b], scores[:, b],
                                                                config.undistort)  # fmt: skip

        map_threads(block, range(0, n, BLOCK), n)
    else:
        work, weights = _observations(cams, pts, scores, valid, config)
        X, used, _ = triangulate_robust(
            P, work, weights, threshold=config.reproj_threshold, min_cameras=config.min_cameras,
            max_excluded=config.max_excluded, check_depth=config.check_depth,
        )  # fmt: skip
        use, error, ncams, score = _measure(cams, X, used, None, pts, scores, config.undistort)
    ok = finite_points(X)
    log.info("triangulated %d of %d points (%s)", int(ok.sum()), ok.size, config.method)
    return Poses3D(
        keypoints=poses2d.keypoints,
        points=X.reshape(f, k, 3),
        error=error.reshape(f, k),
        ncams=ncams.reshape(f, k),
        cameras_used=use.T.reshape(f, k, v),
        score=score.reshape(f, k),
        views=views,
        fps=poses2d.fps,
        metadata={"triangulation": config.to_dict()},
    )


def _observations(cams: CameraRig, pts: np.ndarray, scores: np.ndarray, valid: np.ndarray,
                  config: TriangulationConfig) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """What the solvers read of some observations (C, n, 2): their ideal pixels (undistorted when
    ``config.undistort``) and their weights (the score, or 1 unweighted; 0 where not ``valid`` or where the
    lens model cannot invert the pixel)."""
    work = cams.undistort_points(pts) if config.undistort else pts
    weights = np.where(valid, scores if config.weighted else 1.0, 0.0)
    return work, np.where(finite_points(work), weights, 0.0)


def _dlt(cams: CameraRig, P: np.ndarray, pts: np.ndarray, scores: np.ndarray, valid: np.ndarray,
         config: TriangulationConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:  # fmt: skip
    """The weighted DLT of some points (C, n, 2): the points (n, 3) (NaN where fewer than ``min_cameras``
    cameras, or behind one with ``check_depth``), the cameras used (C, n), and the points in each camera's
    frame when the depth check computed them (else None)."""
    work, weights = _observations(cams, pts, scores, valid, config)
    use = weights > 0
    X = triangulate_dlt(P, work, weights)
    X[use.sum(0) < config.min_cameras] = np.nan
    in_cameras = None
    if config.check_depth:
        in_cameras = cams.world_to_camera(X)
        behind = ((in_cameras[..., 2] <= 0) & use).any(0)
        X[behind] = np.nan
        in_cameras[:, behind] = np.nan
    return X, use, in_cameras


def _measure(cams: CameraRig, X: np.ndarray, use: np.ndarray, in_cameras: np.ndarray | None, pts: np.ndarray,
             scores: np.ndarray, distort: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """What the output records of triangulated points ``X`` (n, 3): the cameras used (C, n), the mean
    reprojection error over them (px, in the distorted image when ``distort``), their number, and the smallest
    of their scores (anipose's meaning); NaN error and score 0 where ``X`` is NaN."""
    ok = finite_points(X)
    use = use & ok[None]
    proj = cams.camera_to_pixels(cams.world_to_camera(X) if in_cameras is None else in_cameras, distort)
    diff = proj - pts
    resid = np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1])  # norm(axis=-1), 3x faster
    ncams = use.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        error = np.where(use, resid, 0.0).sum(0) / ncams
    score = np.where(use, scores, np.inf).min(0)
    error[~ok] = np.nan
    score[~ok] = 0.0
    return use, error, ncams, score


def _undistort_opencv(cams: CameraRig, pts: np.ndarray) -> np.ndarray:
    """Normalised coordinates (C, N, 2) exactly as aniposelib gets them: ``cv2.undistortPoints`` (or its
    fisheye twin) with OpenCV's default criteria (five fixed-point iterations for pinhole cameras)."""
    import cv2

    out = np.full(pts.shape, np.nan)
    for c in range(cams.n_cameras):
        sub = np.ascontiguousarray(pts[c].reshape(-1, 1, 2))
        if cams.fisheye[c]:
            und = cv2.fisheye.undistortPoints(sub, cams.K[c], cams.dist[c][:4])
        else:
            und = cv2.undistortPoints(sub, cams.K[c], cams.dist[c])
        out[c] = und.reshape(-1, 2)
    return out


def _project_opencv(cams: CameraRig, X: np.ndarray) -> np.ndarray:
    """Pixels (C, N, 2) of world points (N, 3) through ``cv2.projectPoints`` (or its fisheye twin), as
    aniposelib projects them (its reprojection errors are measured so)."""
    import cv2

    out = np.full((cams.n_cameras, X.shape[0], 2), np.nan)
    ok = np.isfinite(X).all(-1)
    if not ok.any():
        return out
    obj = np.ascontiguousarray(X[ok].reshape(-1, 1, 3))
    for c in range(cams.n_cameras):
        if cams.fisheye[c]:
            proj, _ = cv2.fisheye.projectPoints(obj, cams.rvec[c], cams.tvec[c], cams.K[c], cams.dist[c][:4])
        else:
            proj, _ = cv2.projectPoints(obj, cams.rvec[c], cams.tvec[c], cams.K[c], cams.dist[c])
        out[c, ok] = proj.reshape(-1, 2)
    return out


def _triangulate_anipose(poses2d: Poses2D, cams: CameraRig, config: TriangulationConfig) -> Poses3D:
    """anipose's ``triangulate`` (ransac and optim off), as anipose 1.1.24 with aniposelib 0.8.0 computes it.

    Observations with a score below the threshold are dropped; the rest triangulate with aniposelib's
    DLT (:func:`~mocap3d.triangulation.dlt.triangulate_svd`, normalised coordinates, unweighted); the
    error is the mean distance over those cameras between the observation and the point's projection
    through the lens model; the score the smallest of their scores. Points seen by fewer than
    ``min_cameras`` (anipose: 2) are NaN.
    """
    v, f, k, _ = poses2d.points.shape
    pts = poses2d.points.reshape(v, f * k, 2)
    scores = poses2d.scores.reshape(v, f * k)
    valid = np.isfinite(pts).all(-1) & ~(scores < config.score_threshold)
    work = _undistort_opencv(cams, np.where(valid[..., None], pts, 0.0))
    valid &= np.isfinite(work).all(-1)
    X = triangulate_svd(cams.extrinsics()[:, :3], work, valid)
    ncams = valid.sum(0)
    X[ncams < config.min_cameras] = np.nan
    ok = np.isfinite(X).all(-1)
    use = valid & ok[None]
    resid = np.linalg.norm(_project_opencv(cams, X) - pts, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        error = np.where(use, resid, 0.0).sum(0) / use.sum(0)
    score = np.where(use, scores, np.inf).min(0)
    error[~ok] = np.nan
    score[~ok] = 0.0
    log.info("triangulated %d of %d points (anipose's DLT)", int(ok.sum()), ok.size)
    return Poses3D(
        keypoints=poses2d.keypoints,
        points=X.reshape(f, k, 3),
        error=error.reshape(f, k),
        ncams=np.where(ok, ncams, 0).reshape(f, k),
        cameras_used=use.T.reshape(f, k, v),
        score=score.reshape(f, k),
        views=poses2d.views,
        fps=poses2d.fps,
        metadata={"triangulation": config.to_dict()},
    )
