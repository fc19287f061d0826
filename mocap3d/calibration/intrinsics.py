"""Per-camera intrinsics from board views.

Each camera is calibrated on its own with ``cv2.calibrateCamera`` (pinhole,
with a selectable set of distortion terms) or ``cv2.fisheye.calibrate``, from a
capped subset of its views chosen to cover the whole image and to vary the
board's tilt: corners and tilted views are what pin down distortion and focal
length, and a capped subset keeps OpenCV's dense solver fast. Selection is
greedy and deterministic (ties go to the earlier frame).

Shapes: ``corners`` is ``(F, N, 2)`` pixels for one camera (``F`` frames,
``N`` board corners) with NaN where a corner was not detected; ``object_points``
is ``(N, 3)`` in board units with z = 0.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from ..errors import CalibrationError

__all__ = ["usable_views", "select_views", "calibrate_camera", "opencv_flags"]

log = logging.getLogger(__name__)

# Tilt bins (1 - ratio of the board's apparent axes) used for pose diversity.
_TILT_EDGES = np.array([0.12, 0.3])
_N_DIRECTIONS = 4


def usable_views(corners: np.ndarray, object_points: np.ndarray, min_corners: int) -> np.ndarray:
    """Which views can constrain a camera.

    A view counts when it has at least ``min_corners`` corners that are not
    (nearly) collinear on the board: a single detected row of a ChArUco board
    fits infinitely many poses.

    Parameters
    ----------
    corners : array (F, N, 2)
        Pixel corners, NaN where missing.
    object_points : array (N, 3)
        Board coordinates.
    min_corners : int

    Returns
    -------
    bool array (F,)
    """
    seen = np.isfinite(corners).all(-1)  # (F, N)
    count = seen.sum(1)
    w = seen.astype(np.float64)
    xy = object_points[None, :, :2]
    mean = (w[..., None] * xy).sum(1) / np.maximum(count, 1)[:, None]
    d = (xy - mean[:, None]) * w[..., None]
    cov = np.einsum("fni,fnj->fij", d, d) / np.maximum(count, 1)[:, None, None]
    tr = cov[:, 0, 0] + cov[:, 1, 1]
    det = cov[:, 0, 0] * cov[:, 1, 1] - cov[:, 0, 1] ** 2
    disc = np.sqrt(np.maximum(tr * tr / 4 - det, 0))
    lo, hi = tr / 2 - disc, tr / 2 + disc
    spread = lo > 1e-3 * np.maximum(hi, 1e-300)
    return (count >= max(min_corners, 4)) & spread


def _pose_bins(corners: np.ndarray, object_points: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """A coarse tilt class per view (F,) from the affine map board -> image."""
    w = seen.astype(np.float64)[..., None]
    obj = np.concatenate([object_points[:, :2], np.ones((len(object_points), 1))], 1)  # (N, 3)
    a = np.einsum("fni,nj->fij", w * obj[None], obj)  # (F, 3, 3) normal matrix
    b = np.einsum("fni,fnj->fij", w * obj[None], np.nan_to_num(corners))  # (F, 3, 2)
    a = a + 1e-9 * np.eye(3)
    affine = np.linalg.solve(a, b)[:, :2, :]  # (F, 2, 2): image = obj @ affine
    _, s, vt = np.linalg.svd(affine)
    tilt = 1 - s[:, 1] / np.maximum(s[:, 0], 1e-12)
    tilt_bin = np.searchsorted(_TILT_EDGES, tilt)
    axis = vt[:, 1, :]  # image direction that is foreshortened most
    angle = np.mod(np.arctan2(axis[:, 1], axis[:, 0]), np.pi)
    direction = np.minimum((angle / np.pi * _N_DIRECTIONS).astype(int), _N_DIRECTIONS - 1)
    return np.where(tilt_bin == 0, 0, 1 + (tilt_bin - 1) * _N_DIRECTIONS + direction)


def select_views(
    corners: np.ndarray,
    object_points: np.ndarray,
    image_size: tuple[int, int],
    usable: np.ndarray,
    max_views: int,
    grid: tuple[int, int] = (8, 6),
) -> np.ndarray:
    """Choose up to ``max_views`` views that cover the image and vary in tilt.

    Greedy: each step takes the view whose corners fall in the least-covered
    cells of a ``grid`` over the image and whose tilt class is least used so
    far (diminishing returns, ``1 / (1 + count)``). Deterministic.

    Returns
    -------
    int array (V,)
        Frame indices, in increasing order.
    """
    candidates = np.flatnonzero(usable)
    if len(candidates) <= max_views:
        return candidates
    pts = corners[candidates]
    seen = np.isfinite(pts).all(-1)
    gx, gy = grid
    w, h = image_size
    col = np.clip((np.nan_to_num(pts[..., 0]) / w * gx).astype(int), 0, gx - 1)
    row = np.clip((np.nan_to_num(pts[..., 1]) / h * gy).astype(int), 0, gy - 1)
    cell = row * gx + col
    occupancy = np.zeros((len(candidates), gx * gy))
    np.add.at(occupancy, (np.repeat(np.arange(len(candidates)), seen.shape[1])[seen.ravel()], cell[seen]), 1.0)
    occupancy = np.minimum(occupancy, 1.0)
    pose = _pose_bins(pts, object_points, seen)
    n_pose = 1 + 2 * _N_DIRECTIONS
    cell_count = np.zeros(gx * gy)
    pose_count = np.zeros(n_pose)
    cells_per_view = max(occupancy.sum(1).mean(), 1.0)
    chosen = np.zeros(len(candidates), bool)
    for _ in range(max_views):
        score = occupancy @ (1.0 / (1.0 + cell_count)) / cells_per_view + 1.0 / (1.0 + pose_count[pose])
        score = score + 1e-6 * seen.sum(1)  # ties: more corners, then the earlier frame
        score[chosen] = -np.inf
        best = int(np.argmax(score))
        chosen[best] = True
        cell_count += occupancy[best]
        pose_count[pose[best]] += 1
    return candidates[chosen]


def opencv_flags(distortion_mask: tuple[bool, ...], fisheye: bool) -> int:
    """``cv2.calibrateCamera`` / ``cv2.fisheye.calibrate`` flags for a lens model."""
    if fisheye:  # OpenCV 5 moved the fisheye flags to the top level
        space = cv2.fisheye if hasattr(cv2.fisheye, "CALIB_RECOMPUTE_EXTRINSIC") else cv2
        return space.CALIB_RECOMPUTE_EXTRINSIC | space.CALIB_FIX_SKEW
    k1, k2, p1, p2, k3 = distortion_mask
    flags = 0
    if not k1:
        flags |= cv2.CALIB_FIX_K1
    if not k2:
        flags |= cv2.CALIB_FIX_K2
    if not k3:
        flags |= cv2.CALIB_FIX_K3
    if not (p1 or p2):
        flags |= cv2.CALIB_ZERO_TANGENT_DIST
    return flags


def _opencv_calibrate(obj, img, size, flags, fisheye, criteria):
    """One OpenCV calibration; returns rms, K, dist (5,), per-view median and RMS errors (V, 2)."""
    if fisheye:
        # OpenCV 5's fisheye solver wants (1, N, 3) float64 views and a starting camera matrix
        k0 = cv2.initCameraMatrix2D([o.astype(np.float32) for o in obj], [i.astype(np.float32) for i in img], size)
        rms, k, d, rvecs, tvecs = cv2.fisheye.calibrate(
            [o.reshape(1, -1, 3) for o in obj], [i.reshape(1, -1, 2) for i in img], size,
            k0, np.zeros(4), flags=flags | cv2.CALIB_USE_INTRINSIC_GUESS, criteria=criteria,
        )
        dist = np.zeros(5)
        dist[:4] = np.ravel(d)[:4]
    else:
        rms, k, d, rvecs, tvecs = cv2.calibrateCamera(
            [o.astype(np.float32) for o in obj], [i.astype(np.float32) for i in img], size,
            None, None, flags=flags, criteria=criteria,
        )
        dist = np.zeros(5)
        dist[: min(5, d.size)] = np.ravel(d)[:5]
    errors = np.empty((len(obj), 2))
    for v, (o, i) in enumerate(zip(obj, img, strict=True)):  # one call per view, vectorized over its corners
        if fisheye:
            proj = cv2.fisheye.projectPoints(o.reshape(-1, 1, 3), rvecs[v], tvecs[v], k, dist[:4])[0]
        else:
            proj = cv2.projectPoints(o, rvecs[v], tvecs[v], k, dist)[0]
        dist_px = np.linalg.norm(proj.reshape(-1, 2) - i, axis=1)
        errors[v] = np.median(dist_px), np.sqrt(np.mean(dist_px**2))
    return float(rms), np.asarray(k, dtype=np.float64), dist, errors


def calibrate_camera(
    corners: np.ndarray,
    object_points: np.ndarray,
    image_size: tuple[int, int],
    views: np.ndarray,
    distortion_mask: tuple[bool, ...],
    fisheye: bool = False,
    camera: str = "camera",
    max_view_error_px: float = 3.0,
    min_views: int = 3,
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Intrinsics of one camera from the chosen views, dropping views that disagree.

    A view whose corners were numbered wrongly (a mis-read board, a
    mis-identified marker) or badly located (blur) pulls the whole fit. Each
    view is judged by the median and the RMS of its corner errors. While the
    worst view's median or RMS exceeds ``max(3 x the typical view's, 1 px)``,
    or the typical view's median exceeds ``max_view_error_px`` (everything is
    off), the worst view is dropped and the camera calibrated again (never
    below ``min_views`` views). A threshold relative to the typical view keeps
    scattered wrong corners, which every view has a few of, from emptying the
    calibration; bundle adjustment's robust loss deals with those.

    Parameters
    ----------
    corners : array (F, N, 2)
        Pixel corners of every frame, NaN where missing.
    object_points : array (N, 3)
    image_size : (width, height)
    views : int array (V,)
        Frames to use (from :func:`select_views`).
    distortion_mask : 5 bools
        Estimated distortion slots (pinhole k1, k2, p1, p2, k3).
    fisheye : bool
    camera : str
        Name used in messages.
    max_view_error_px, min_views : see above.

    Returns
    -------
    K : array (3, 3)
    dist : array (5,)
        OpenCV order; fisheye: (k1, k2, k3, k4, 0).
    rms : float
        OpenCV's RMS reprojection error on the kept views (px).
    kept : int array (V',)
        The views used in the end.
    """
    obj, img = [], []
    for f in views:  # OpenCV takes a list of per-view arrays
        seen = np.isfinite(corners[f]).all(-1)
        obj.append(np.ascontiguousarray(object_points[seen], dtype=np.float64))
        img.append(np.ascontiguousarray(corners[f, seen], dtype=np.float64))
    size = (int(image_size[0]), int(image_size[1]))
    flags = opencv_flags(distortion_mask, fisheye)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
    keep = list(range(len(views)))
    # OpenCV's multi-threaded sums change the last digits from run to run; one thread makes it reproducible
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        while True:
            rms, k, dist, errors = _opencv_calibrate(
                [obj[v] for v in keep], [img[v] for v in keep], size, flags, fisheye, criteria
            )
            typical = np.median(errors, axis=0)  # (median, RMS) of the typical view
            ratio = errors / np.maximum(3 * typical, 1.0)  # > 1: far worse than the typical view
            worst = int(np.argmax(ratio.max(1)))
            bad = ratio[worst].max() > 1 or typical[0] > max_view_error_px
            if not bad or len(keep) <= min_views:
                break
            log.warning(
                "camera %s: dropping view of frame %d from the intrinsic calibration (median/RMS error %.2f/%.2f px, "
                "typical view %.2f/%.2f px)", camera, int(views[keep[worst]]), *errors[worst], *typical,
            )
            keep.pop(worst)
    except cv2.error as exc:
        raise CalibrationError(
            f"camera '{camera}': OpenCV could not estimate its intrinsics from {len(views)} views "
            f"({str(exc).strip().splitlines()[-1]}). Record more views of the board, tilted and in every part of "
            "the image, or give known intrinsics with --intrinsics."
        ) from None
    finally:
        cv2.setNumThreads(threads)
    if not (np.isfinite(k).all() and np.isfinite(dist).all()) or k[0, 0] <= 0 or k[1, 1] <= 0:
        raise CalibrationError(
            f"camera '{camera}': intrinsic calibration gave impossible values (K={k.tolist()}). Record more views "
            "of the board at varied tilts, or use a simpler lens model (--distortion k1k2)."
        )
    k[0, 1] = 0.0  # mocap3d's model has no skew
    log.info("camera %s: intrinsics from %d views, RMS %.3f px", camera, len(keep), rms)
    return k, dist, rms, np.asarray(views)[keep]
