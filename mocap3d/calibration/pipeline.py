"""From board detections to a calibrated rig, and from videos to ``calibration.toml``.

:func:`calibrate` is the solver: intrinsics per camera (or fixed from a file),
extrinsics from the camera-pair graph, bundle adjustment, then the world frame.
:func:`calibrate_videos` is the resumable pipeline behind ``mocap3d
calibrate``: detect (cached), solve, write the calibration and its report.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..camera import CameraRig, rotation_to_rodrigues
from ..errors import CalibrationError
from ..io.matching import camera_name_from_path
from .bundle import Observations, bundle_adjust
from .config import CalibrationConfig
from .extrinsics import (
    board_world_poses,
    chain_extrinsics,
    from_transform,
    invert_transform,
    pair_poses,
    spanning_tree,
    view_poses,
)
from .intrinsics import calibrate_camera, select_views, usable_views
from .report import CalibrationReport, CameraReport, umeyama, write_report

__all__ = ["align_to_reference", "calibrate", "calibrate_videos", "camera_name_from_path", "initial_rig"]

log = logging.getLogger(__name__)

_NEVER_DETECTED_HINT = (
    "Usual causes: the board file does not match the printed board (wrong ArUco dictionary, wrong number of "
    "squares, marker length), the board was printed inverted (white markers on black: set `inverted = true`), "
    "or the board is too small or blurred in this camera's images."
)


def _check_detections(detections) -> tuple[np.ndarray, np.ndarray]:
    corners = np.asarray(detections.corners, dtype=np.float64)
    names = tuple(detections.cameras)
    object_points = np.asarray(detections.board.object_points(), dtype=np.float64)
    c = len(names)
    if corners.ndim != 4 or corners.shape[0] != c or corners.shape[-1] != 2 or corners.shape[2] != len(object_points):
        raise CalibrationError(
            f"detections have corners of shape {corners.shape}; expected ({c}, frames, {len(object_points)}, 2)."
        )
    if c < 1:
        raise CalibrationError("no cameras to calibrate.")
    return corners, object_points


def _intrinsics(detections, corners, object_points, usable, config) -> tuple[CameraRig, np.ndarray, np.ndarray, str]:
    """Intrinsic rig (zero extrinsics), intrinsic views per camera, OpenCV RMS per camera, source."""
    names = tuple(detections.cameras)
    c = len(names)
    sizes = np.asarray(detections.image_sizes, dtype=np.int64).reshape(c, 2)
    if config.intrinsics_file:
        from ..io.calibration import load_calibration

        known = load_calibration(config.intrinsics_file)
        missing = [n for n in names if n not in known.names]
        if missing:
            raise CalibrationError(
                f"--intrinsics file '{config.intrinsics_file}' has no camera named {missing} (it has: "
                f"{', '.join(known.names)}). Rename the videos or cameras so that the names match."
            )
        fixed = known.select(names)
        if (fixed.sizes != sizes).any():
            bad = [n for i, n in enumerate(names) if (fixed.sizes[i] != sizes[i]).any()]
            raise CalibrationError(
                f"--intrinsics file '{config.intrinsics_file}': image sizes of {bad} differ from the videos' "
                f"({fixed.sizes.tolist()} vs {sizes.tolist()}); intrinsics only hold for the resolution they were "
                "estimated at."
            )
        rig = fixed.replace(rvec=np.zeros((c, 3)), tvec=np.zeros((c, 3)))
        return rig, np.zeros(c, int), np.full(c, np.nan), str(config.intrinsics_file)
    # Tangential terms and k3 are poorly conditioned from one camera's few views and pull the principal point
    # away; they start at zero and bundle adjustment, which sees every camera's views at once, estimates them.
    init_mask = config.distortion_mask
    if config.refine_intrinsics and not config.fisheye:
        init_mask = (init_mask[0], init_mask[1], False, False, False)
    ks, dists, n_views, rms = [], [], [], []
    for i, name in enumerate(names):  # one OpenCV calibration per camera
        views = select_views(corners[i], object_points, tuple(sizes[i]), usable[i], config.max_intrinsic_views,
                             config.coverage_grid)
        k, d, r, views = calibrate_camera(corners[i], object_points, tuple(sizes[i]), views,
                                          init_mask, config.fisheye, name)
        ks.append(k)
        dists.append(d)
        n_views.append(len(views))
        rms.append(r)
    rig = CameraRig(names=names, sizes=sizes, K=ks, dist=dists, rvec=np.zeros((c, 3)), tvec=np.zeros((c, 3)),
                    fisheye=np.full(c, config.fisheye))
    return rig, np.array(n_views), np.array(rms), "estimated"


# board coordinates -> world: x along the board's x, z out of the printed face (towards the cameras that read it;
# OpenCV's board z points into the board), y = z cross x
_FLIP = np.diag([1.0, -1.0, -1.0, 1.0])


def _world_from_board(rig: CameraRig, T_world_board: np.ndarray, index: int) -> tuple[CameraRig, np.ndarray]:
    """Re-express everything in the frame of board placement ``index`` (see ``_FLIP``)."""
    T_w_new = T_world_board[index] @ _FLIP  # the new world's axes in the old world
    cam = np.zeros((rig.n_cameras, 4, 4))
    cam[:, :3, :3] = rig.R
    cam[:, :3, 3] = rig.tvec
    cam[:, 3, 3] = 1
    rvec, tvec = from_transform(cam @ T_w_new)  # T_cam_new = T_cam_world T_world_new
    return rig.replace(rvec=rvec, tvec=tvec), invert_transform(T_w_new) @ T_world_board


def align_to_reference(rig: CameraRig, reference: CameraRig) -> CameraRig:
    """``rig`` moved rigidly (no scaling) so that its camera centres best match ``reference``'s.

    A calibration fixes the world only up to a rigid motion (by default the first
    camera's frame). A lab that keeps its cameras in place and calibrates again
    keeps its world frame (floor, "up", the walkway's axis) by aligning the new
    calibration to an earlier one; the demo aligns to the true rig. Cameras are
    matched by name; at least 3 shared cameras not on one line are needed.
    """
    shared = [n for n in rig.names if n in reference.names]
    if len(shared) < 3:
        raise CalibrationError(
            f"the reference calibration shares {len(shared)} camera(s) ({', '.join(shared) or 'none'}) with this one "
            f"({', '.join(rig.names)}); aligning the world frame needs at least 3 cameras of the same names."
        )
    ours, theirs = rig.select(shared).centers(), reference.select(shared).centers()
    _, r, t = umeyama(ours, theirs, with_scale=False)  # x_ref = r x + t
    # x_cam = R x + t_cam = R r^T (x_ref - t) + t_cam
    rot = rig.R @ r.T
    tvec = rig.tvec - np.einsum("cij,j->ci", rot, t)
    return rig.replace(rvec=rotation_to_rodrigues(rot), tvec=tvec)


@dataclass(frozen=True)
class _Initial:
    rig: CameraRig
    T_world_board: np.ndarray  # (F, 4, 4), NaN where not placed
    placed: np.ndarray  # (F,) bool
    tree: list
    n_intrinsic_views: np.ndarray
    intrinsic_rms: np.ndarray
    source: str
    seconds: dict


def _initialise(detections, config: CalibrationConfig, corners: np.ndarray, object_points: np.ndarray) -> _Initial:
    names = tuple(detections.cameras)
    c = corners.shape[0]
    seconds: dict[str, float] = {}
    n_detected = np.isfinite(corners).all(-1).sum(2)  # (C, F)
    usable = np.stack([usable_views(corners[i], object_points, config.min_corners) for i in range(c)])
    few = [(n, int(usable[i].sum())) for i, n in enumerate(names) if usable[i].sum() < config.min_views]
    if few and not (config.intrinsics_file and all(u > 0 for _, u in few)):
        listed = ", ".join(f"{n} ({k})" for n, k in few)
        raise CalibrationError(
            f"too few usable board views for camera(s) {listed}; at least {config.min_views} views with "
            f">= {config.min_corners} corners each are needed. Record the board longer in front of these cameras, "
            "closer and tilted, covering the whole image."
        )

    start = time.perf_counter()
    rig0, n_int_views, int_rms, source = _intrinsics(detections, corners, object_points, usable, config)
    seconds["intrinsics"] = time.perf_counter() - start

    start = time.perf_counter()
    T_cam_board, _ = view_poses(rig0, corners, object_points, usable)
    pairs = pair_poses(T_cam_board)
    tree = spanning_tree(c, pairs, names)
    T_cam_world = chain_extrinsics(c, tree)
    T_world_board, placed = board_world_poses(T_cam_world, T_cam_board, n_detected)
    rvec, tvec = from_transform(T_cam_world)
    rig1 = rig0.replace(rvec=rvec, tvec=tvec)
    seconds["extrinsics"] = time.perf_counter() - start

    return _Initial(rig1, T_world_board, placed, tree, n_int_views, int_rms, source, seconds)


def initial_rig(detections, config: CalibrationConfig | None = None) -> tuple[CameraRig, np.ndarray, np.ndarray]:
    """The calibration before bundle adjustment: intrinsics and pair-graph extrinsics.

    Returns
    -------
    rig : CameraRig
        World = the first camera.
    T_world_board : array (F, 4, 4)
        Board placements (NaN where no camera placed the board).
    placed : bool array (F,)
    """
    config = config or CalibrationConfig()
    corners, object_points = _check_detections(detections)
    init = _initialise(detections, config, corners, object_points)
    return init.rig, init.T_world_board, init.placed


def _camera_reports(names, obs: Observations, result, init: _Initial) -> tuple[CameraReport, ...]:
    """Per-camera numbers from the bundle adjustment's final errors (kept observations only)."""
    out = []
    for i, name in enumerate(names):  # a handful of cameras
        sel = obs.camera == i
        err = result.errors[sel & result.inliers]
        out.append(CameraReport(
            name=name,
            median_px=float(np.median(err)) if err.size else float("nan"),
            p90_px=float(np.percentile(err, 90)) if err.size else float("nan"),
            n_views=int(len(np.unique(obs.board[sel]))),
            n_intrinsic_views=int(init.n_intrinsic_views[i]),
            n_observations=int(err.size),
            n_outliers=int((sel & ~result.inliers).sum()),
            intrinsic_rms_px=float(init.intrinsic_rms[i]),
        ))
    return tuple(out)


def calibrate(detections, config: CalibrationConfig | None = None) -> tuple[CameraRig, CalibrationReport]:
    """Calibrate every camera from board detections.

    Parameters
    ----------
    detections : Detections
        ``cameras (C,)``, ``image_sizes (C, 2)``, ``frames (F,)``, ``corners (C, F, N, 2)`` px with NaN where a
        corner was not detected, ``board`` (its ``object_points()`` define the units).
    config : CalibrationConfig

    Returns
    -------
    rig : CameraRig
        World frame: the first camera's, or the board at ``config.origin_frame``; units: the board's.
    report : CalibrationReport

    Raises
    ------
    CalibrationError
        Board never detected in a camera, too few views, disconnected camera graph, or no convergence; each
        message says what to record or change.
    """
    config = config or CalibrationConfig()
    corners, object_points = _check_detections(detections)
    names = tuple(detections.cameras)
    c, f, _, _ = corners.shape
    seconds: dict[str, float] = {}
    n_detected = np.isfinite(corners).all(-1).sum(2)  # (C, F)
    never = [n for i, n in enumerate(names) if not n_detected[i].any()]
    if never:
        raise CalibrationError(
            f"the board was never detected in camera(s) {', '.join(never)} ({f} frames examined). "
            + _NEVER_DETECTED_HINT
        )
    init = _initialise(detections, config, corners, object_points)
    rig1, T_world_board, placed = init.rig, init.T_world_board, init.placed
    seconds.update(init.seconds)

    placed_frames = np.flatnonzero(placed)
    obs = Observations.from_corners(corners[:, placed_frames])
    result = bundle_adjust(
        rig1, T_world_board[placed_frames], obs, object_points,
        refine_intrinsics=config.refine_intrinsics and not config.intrinsics_file,
        distortion_mask=config.distortion_mask, loss=config.loss, f_scale_px=config.f_scale_px,
        outlier_factors=config.outlier_factors, outlier_floor_px=config.outlier_floor_px,
        max_nfev=config.max_nfev, ftol=config.ftol, solver=config.solver,
    )
    seconds["bundle"] = result.seconds
    rig = result.rig
    boards = result.T_world_board
    kept = result.errors[result.inliers]
    median = float(np.median(kept))
    if not np.isfinite(median) or median > config.max_median_error_px:
        raise CalibrationError(
            f"the calibration did not converge: median reprojection error {median:.2f} px after bundle adjustment "
            f"(limit {config.max_median_error_px} px). Check that the videos are synchronised, that the board "
            "file matches the print (square and marker lengths), and try a simpler lens model (--distortion k1k2)."
        )
    # webcams with motion blur or frame jitter lose some corners to the outlier threshold; an unsynchronised
    # video or a wrong board makes most of a camera's corners outliers, or many of them grossly wrong
    limit = max(config.gross_error_factor * median, config.gross_error_px)
    n_obs = np.maximum(np.bincount(obs.camera, minlength=c), 1)
    gross = np.bincount(obs.camera[result.errors > limit], minlength=c) / n_obs
    dropped = np.bincount(obs.camera[~result.inliers], minlength=c) / n_obs
    bad = [
        f"{names[i]} ({100 * dropped[i]:.0f}% outliers, {100 * gross[i]:.0f}% beyond {limit:.1f} px)"
        for i in range(c)
        if dropped[i] > config.max_outlier_fraction or gross[i] > config.max_gross_fraction
    ]
    if bad:
        raise CalibrationError(
            f"the calibration did not converge to one consistent rig: camera(s) {', '.join(bad)} disagree with the "
            f"others (limits: {100 * config.max_outlier_fraction:.0f}% outliers, "
            f"{100 * config.max_gross_fraction:.0f}% gross errors). Check that the videos are synchronised (frame k "
            "of every video must be the same instant) and belong to the same session."
        )
    if not result.converged:
        log.warning("bundle adjustment stopped on its evaluation cap; the result may improve with a larger max_nfev")

    world = "camera " + names[0]
    if config.origin_frame is not None:
        frame_ids = np.asarray(detections.frames)[placed_frames]
        where = np.flatnonzero(frame_ids == config.origin_frame)
        if not len(where):
            sample = ", ".join(str(v) for v in frame_ids[:10])
            raise CalibrationError(
                f"--origin-frame {config.origin_frame}: the board was not placed in that frame (no camera saw enough "
                f"of it). Frames with a board placement include: {sample}."
            )
        rig, boards = _world_from_board(rig, boards, int(where[0]))
        world = f"board in frame {config.origin_frame}"

    cams = _camera_reports(names, obs, result, init)
    report = CalibrationReport(
        cameras=cams,
        median_px=median,
        p90_px=float(np.percentile(kept, 90)),
        converged=result.converged,
        nfev=result.nfev,
        seconds=seconds,
        intrinsics=init.source,
        pairs=[(names[p.i], names[p.j], p.n_shared) for p in init.tree],
        units="board units",
        world=world,
        obs_camera=obs.camera,
        obs_xy=obs.xy,
        obs_error=result.errors,
        obs_inlier=result.inliers,
        image_sizes=rig.sizes.copy(),
        board_centres=(boards[:, :3, :3] @ object_points.mean(0) + boards[:, :3, 3]),
    )
    log.info("calibration: median %.3f px over %d cameras", median, c)
    return rig, report


def calibrate_videos(
    board_path: str | Path,
    videos: list[Path],
    out: str | Path,
    config: CalibrationConfig | None = None,
    cameras: list[str] | None = None,
    cache: Path | None = None,
    sample=None,
    workers: int = 2,
    pictures: bool = True,
    progress: bool = True,
) -> tuple[CameraRig, CalibrationReport, list[Path]]:
    """Detect the board in each video (cached), calibrate, write ``calibration.toml`` and its report.

    Parameters
    ----------
    board_path : board TOML (mocap3d, anipose config.toml or sleap-anipose board.toml)
    videos : one video file or image folder per camera
    out : path of the calibration.toml to write
    config : CalibrationConfig
    cameras : camera names in the order of ``videos`` (default: from the file names)
    cache : detections cache file (default: ``<out stem>_detections.npz`` beside ``out``)
    sample : :class:`~mocap3d.calibration.detect.SamplingConfig` (frame sampling of the detection)
    workers : cameras detected at once
    pictures : also draw the report's PNG pictures

    Returns
    -------
    rig, report, written files (calibration first)
    """
    from ..io.calibration import save_calibration
    from .boards import board_units, load_board
    from .detect import detect_videos

    config = config or CalibrationConfig()
    out = Path(out)
    videos = [Path(v) for v in videos]
    missing = [str(v) for v in videos if not v.exists()]
    if missing:
        raise CalibrationError(f"video(s) not found: {', '.join(missing)}.")
    names = list(cameras) if cameras else [camera_name_from_path(v) for v in videos]
    if len(names) != len(videos):
        raise CalibrationError(f"--cameras lists {len(names)} names for {len(videos)} videos; give one name per video.")
    if len(set(names)) != len(names):
        raise CalibrationError(
            f"camera names {names} are not unique (taken from the file names); name the videos cam-A.mp4, "
            "cam-B.mp4, ... or pass --cameras A,B,..."
        )
    board = load_board(board_path)
    cache = cache or out.with_name(out.stem + "_detections.npz")
    detections = detect_videos(
        board, dict(zip(names, videos, strict=True)), sample=sample, workers=workers, cache=cache, progress=progress
    )
    rig, report = calibrate(detections, config)
    # The report and pictures first, the calibration last: a run killed in between leaves no calibration
    # without its report, and the re-run replaces the orphaned report (see mocap3d calibrate's output check).
    written = write_report(report, rig, out, pictures=pictures, detections=detections)
    save_calibration(rig, out, {"adjusted": True, "error": report.median_px}, units=board_units(board_path))
    return rig, report, [out, *written]
