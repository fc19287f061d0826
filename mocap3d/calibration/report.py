"""What a calibration reports about itself, as numbers and pictures.

:class:`CalibrationReport` holds per-camera reprojection errors (median, 90th
percentile), views used and outliers, plus every observation's camera, pixel
position and error so that the pictures can be drawn. :func:`write_report`
writes, next to the calibration file:

* ``<stem>_report.json``: the numbers;
* ``<stem>_coverage.png``: per camera, where the detections fell in the image,
  coloured by reprojection error (outliers as crosses);
* ``<stem>_errors.png``: histogram of reprojection errors per camera;
* ``<stem>_rig.png``: the recovered cameras (view pyramids) and board placements in 3D, in the board's units;
* ``<stem>_physical.png`` (when the detections are given): the board measured with the calibration, its
  square sides against the board file, with a verdict (:func:`physical_check`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..camera import CameraRig
from ..io.atomic import atomic_write_text, save_figure

__all__ = ["CameraReport", "CalibrationReport", "write_report", "umeyama", "rig_errors", "lens_model_rms",
           "PhysicalCheck", "physical_check", "plot_physical_check", "view_pyramid"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraReport:
    """Numbers for one camera (errors in px, after bundle adjustment)."""

    name: str
    median_px: float
    p90_px: float
    n_views: int  # board placements this camera saw that were used in bundle adjustment
    n_intrinsic_views: int  # views given to the intrinsic calibration (0 when intrinsics were fixed)
    n_observations: int  # corners used
    n_outliers: int  # corners dropped by the last outlier threshold
    intrinsic_rms_px: float  # OpenCV's RMS of the intrinsic calibration (NaN when fixed)


@dataclass(frozen=True)
class CalibrationReport:
    """Summary of a calibration.

    Attributes
    ----------
    cameras : tuple of CameraReport, (C,)
    median_px, p90_px : float
        Over every kept observation.
    converged : bool
    nfev : int
        Bundle-adjustment function evaluations.
    seconds : dict
        Wall time per stage (intrinsics, extrinsics, bundle).
    intrinsics : str
        "estimated" or the file they were read from.
    pairs : list of (str, str, int)
        Camera pairs of the spanning tree that placed the cameras, with their shared views.
    units : str
        The board's units (the world's units).
    world : str
        What defines the world frame.
    obs_camera, obs_xy, obs_error, obs_inlier : arrays (M,), (M, 2), (M,), (M,)
        Every observation, for the pictures.
    image_sizes : int array (C, 2)
    board_centres : array (B, 3)
        Board placements in the world, for the rig picture.
    """

    cameras: tuple[CameraReport, ...]
    median_px: float
    p90_px: float
    converged: bool
    nfev: int
    seconds: dict[str, float]
    intrinsics: str
    pairs: list[tuple[str, str, int]]
    units: str
    world: str
    obs_camera: np.ndarray = field(repr=False)
    obs_xy: np.ndarray = field(repr=False)
    obs_error: np.ndarray = field(repr=False)
    obs_inlier: np.ndarray = field(repr=False)
    image_sizes: np.ndarray = field(repr=False)
    board_centres: np.ndarray = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """The numbers (no per-observation arrays), JSON-ready."""
        return {
            "median_px": self.median_px,
            "p90_px": self.p90_px,
            "converged": self.converged,
            "nfev": self.nfev,
            "seconds": self.seconds,
            "intrinsics": self.intrinsics,
            "units": self.units,
            "world": self.world,
            "pairs": [list(p) for p in self.pairs],
            "cameras": [asdict(c) for c in self.cameras],
        }

    def table(self) -> str:
        """A plain-text table, one line per camera."""
        lines = [f"{'camera':>10} {'median px':>10} {'p90 px':>8} {'views':>6} {'corners':>8} {'outliers':>8}"]
        for c in self.cameras:
            lines.append(
                f"{c.name:>10} {c.median_px:10.3f} {c.p90_px:8.3f} {c.n_views:6d} {c.n_observations:8d} "
                f"{c.n_outliers:8d}"
            )
        return "\n".join(lines)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _plot_coverage(report: CalibrationReport, names: tuple[str, ...], path: Path) -> None:
    import matplotlib.pyplot as plt

    c = len(names)
    cols = min(c, 3)
    rows = int(np.ceil(c / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4 * rows), squeeze=False)
    vmax = max(float(np.percentile(report.obs_error[report.obs_inlier], 99)) if report.obs_inlier.any() else 1.0, 1e-3)
    for i, ax in enumerate(axes.ravel()):
        if i >= c:
            ax.axis("off")
            continue
        sel = report.obs_camera == i
        inl = sel & report.obs_inlier
        out = sel & ~report.obs_inlier
        sc = ax.scatter(report.obs_xy[inl, 0], report.obs_xy[inl, 1], c=report.obs_error[inl], s=2, cmap="viridis",
                        vmin=0, vmax=vmax, label=f"{int(inl.sum())} corners used")
        ax.scatter(report.obs_xy[out, 0], report.obs_xy[out, 1], marker="x", s=12, c="red",
                   label=f"{int(out.sum())} rejected: reprojection error above the outlier threshold")
        w, h = report.image_sizes[i]
        ax.add_patch(_rect(w, h))
        ax.set_xlim(-0.02 * w, 1.02 * w)
        ax.set_ylim(1.02 * h, -0.02 * h)
        ax.set_aspect("equal")
        cam = report.cameras[i]
        x = report.obs_xy[sel]
        cover = _grid_coverage(x, w, h)
        ax.set_title(f"{names[i]}: median {cam.median_px:.2f} px, {cam.n_views} views, {cover:.0%} of the image "
                     "covered", fontsize=9)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.04), fontsize=7, frameon=False)
        fig.colorbar(sc, ax=ax, label="reprojection error (px)", shrink=0.8)
    fig.tight_layout()
    save_figure(fig, path, dpi=80)


def _rect(w: float, h: float):
    from matplotlib.patches import Rectangle

    return Rectangle((0, 0), w, h, fill=False, ec="0.5", lw=0.8, ls="--")


def _grid_coverage(xy: np.ndarray, w: float, h: float, cells: int = 8) -> float:
    """Fraction of an ``cells`` x ``cells`` grid over the image that holds at least one corner."""
    xy = xy[np.isfinite(xy).all(1)]
    if not xy.size:
        return 0.0
    gx = np.clip((xy[:, 0] / w * cells).astype(int), 0, cells - 1)
    gy = np.clip((xy[:, 1] / h * cells).astype(int), 0, cells - 1)
    return len(set(zip(gx.tolist(), gy.tolist(), strict=True))) / cells**2


def view_pyramid(rig: CameraRig, i: int, depth: float) -> np.ndarray:
    """World points (5, 3) of camera ``i``'s view pyramid: its centre, then the image corners at ``depth``
    (pinhole rays; lens distortion left out)."""
    w, h = (float(v) for v in rig.sizes[i])
    corners = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], float)
    rays = corners @ np.linalg.inv(rig.K[i]).T  # camera frame, z = 1
    centre = rig.centers()[i]
    return np.vstack([centre, centre + depth * rays @ rig.R[i]])


def _plot_errors(report: CalibrationReport, names: tuple[str, ...], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    kept = report.obs_error[report.obs_inlier]
    top = max(float(np.percentile(kept, 99.5)) if kept.size else 1.0, 1e-3)
    bins = np.linspace(0, top, 50)
    for i, name in enumerate(names):
        sel = (report.obs_camera == i) & report.obs_inlier
        ax.hist(np.minimum(report.obs_error[sel], top), bins=bins.tolist(), histtype="step", label=name)
    ax.set_xlabel("reprojection error (px)")
    ax.set_ylabel("corners")
    ax.set_title(f"median {report.median_px:.3f} px, p90 {report.p90_px:.3f} px")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=80)


def _plot_rig(report: CalibrationReport, rig: CameraRig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    centres = rig.centers()
    span = np.ptp(np.concatenate([centres, report.board_centres]), axis=0).max() if len(centres) else 1.0
    depth = 0.2 * max(span, 1e-9)
    colours = plt.get_cmap("tab10")
    for i, name in enumerate(rig.names):
        pyr = view_pyramid(rig, i, depth)
        c = colours(i % 10)
        for k in range(1, 5):  # edges from the centre, then the image rectangle
            ax.plot(*pyr[[0, k]].T, c=c, lw=0.8)
            ax.plot(*pyr[[k, k % 4 + 1]].T, c=c, lw=1.2 if k == 1 else 0.8)
        ax.text(*centres[i], f" {name}", color=c)
    if len(report.board_centres):
        ax.scatter(*report.board_centres.T, s=3, c="grey", label="board placements")
        ax.legend(loc="upper left", fontsize=7)
    ax.set_xlabel(f"x ({report.units})")
    ax.set_ylabel(f"y ({report.units})")
    ax.set_zlabel(f"z ({report.units})")
    ax.set_title(f"recovered rig, view pyramids to {depth:.0f} {report.units} (thick edge: image top)\n"
                 f"world: {report.world}", fontsize=9)
    lo = np.concatenate([centres, report.board_centres]).min(0)
    hi = np.concatenate([centres, report.board_centres]).max(0)
    mid, half = (lo + hi) / 2, (hi - lo).max() / 2 + 1e-9
    ax.set_xlim(mid[0] - half, mid[0] + half)
    ax.set_ylim(mid[1] - half, mid[1] + half)
    ax.set_zlim(mid[2] - half, mid[2] + half)
    fig.tight_layout()
    save_figure(fig, path, dpi=80)


def write_report(report: CalibrationReport, rig: CameraRig, calibration_path: str | Path,
                 pictures: bool = True, detections=None) -> list[Path]:
    """Write the report's JSON and PNG pictures next to ``calibration_path``.

    ``detections`` (the board detections the calibration used): also measure the board with the
    calibration (:func:`physical_check`), in the JSON (``physical_check``) and ``<stem>_physical.png``.

    Returns
    -------
    list of Path
        The files written.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    calibration_path = Path(calibration_path)
    stem = calibration_path.with_suffix("")
    json_path = Path(f"{stem}_report.json")
    summary = report.summary()
    for cam in summary["cameras"]:
        cam["intrinsic_rms_px"] = _finite(cam["intrinsic_rms_px"])
    check = None
    if detections is not None:
        check = physical_check(rig, detections)
        square = _square_length(detections.board)
        summary["physical_check"] = {k: _finite(v) if isinstance(v, float) else v for k, v in check.summary().items()}
        summary["physical_check"]["verdict"] = check.verdict(square)
        log.info("%s", check.line(square))
    atomic_write_text(json_path, json.dumps(summary, indent=2) + "\n")
    written = [json_path]
    if pictures:
        coverage = Path(f"{stem}_coverage.png")
        errors = Path(f"{stem}_errors.png")
        rig_png = Path(f"{stem}_rig.png")
        _plot_coverage(report, rig.names, coverage)
        _plot_errors(report, rig.names, errors)
        _plot_rig(report, rig, rig_png)
        written += [coverage, errors, rig_png]
        if check is not None and detections is not None:
            written.append(plot_physical_check(check, _square_length(detections.board), Path(f"{stem}_physical.png")))
    log.info("calibration report: %s", ", ".join(str(p) for p in written))
    return written


# --------------------------------------------------------------------------- comparison with a known rig
def umeyama(src: np.ndarray, dst: np.ndarray, with_scale: bool = True) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity ``(s, R, t)`` with ``dst ~ s R src + t`` in the least-squares sense (Umeyama 1991).

    Parameters
    ----------
    src, dst : arrays (P, 3), P >= 3 points not all on a line.
    """
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, d, vt = np.linalg.svd(b.T @ a / len(src))
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1
    r = u @ sign @ vt
    s = float(np.trace(np.diag(d) @ sign) / (a**2).sum(1).mean()) if with_scale else 1.0
    return s, r, mu_d - s * r @ mu_s


def rig_errors(true: CameraRig, est: CameraRig) -> dict[str, np.ndarray]:
    """Per-camera errors of ``est`` against a known ``true`` rig (same camera order).

    Extrinsics are compared after the similarity that best maps the estimated
    camera centres onto the true ones (a calibration fixes the world only up
    to that choice).

    Returns
    -------
    dict of arrays (C,): ``focal_pct`` (worst of fx, fy, %), ``principal_px``,
    ``centre`` (world units), ``rotation_deg``; and ``scale`` (float).
    """
    from scipy.spatial.transform import Rotation

    s, r, t = umeyama(est.centers(), true.centers())
    centres = s * est.centers() @ r.T + t
    rot_est = est.R @ r.T  # aligned world -> camera
    rel = Rotation.from_matrix(true.R @ np.swapaxes(rot_est, 1, 2))
    focal = np.maximum(np.abs(est.K[:, 0, 0] / true.K[:, 0, 0] - 1), np.abs(est.K[:, 1, 1] / true.K[:, 1, 1] - 1))
    return {
        "focal_pct": 100 * focal,
        "principal_px": np.linalg.norm(est.K[:, :2, 2] - true.K[:, :2, 2], axis=1),
        "centre": np.linalg.norm(centres - true.centers(), axis=1),
        "rotation_deg": np.rad2deg(rel.magnitude()),
        "scale": s,
    }


def lens_model_rms(true: CameraRig, est: CameraRig, step: int = 16, align_rotation: bool = False) -> np.ndarray:
    """RMS (px) per camera between two lens models over a grid covering the whole image.

    Each grid pixel of the true camera is turned into its viewing ray by the
    true intrinsics and projected back by the estimated intrinsics: the
    distance is the pixel error the estimated lens model makes at that place
    in the image. With ``align_rotation`` the rays are first turned by the
    small rotation that best matches the two models (a principal point offset
    and a camera rotation are nearly interchangeable; the rotation belongs to
    the extrinsics), so only the lens's shape is compared. Returns an array (C,).
    """
    from scipy.optimize import least_squares

    out = np.empty(true.n_cameras)
    zero = np.zeros((1, 3))
    for i in range(true.n_cameras):  # each camera has its own grid size
        w, h = true.sizes[i]
        gx, gy = np.meshgrid(np.arange(0, w, step), np.arange(0, h, step))
        px = np.stack([gx.ravel(), gy.ravel()], -1).astype(np.float64)
        one_true = true.select([true.names[i]])
        one_est = est.select([est.names[i]]).replace(rvec=zero, tvec=zero)
        rays = one_true.undistort_points(px[None], output="normalized")[0]
        rays = np.concatenate([rays, np.ones((len(rays), 1))], 1)

        def residual(rvec, rays=rays, px=px, one_est=one_est):
            return (one_est.replace(rvec=rvec[None]).project(rays)[0] - px).ravel()

        rvec = least_squares(residual, np.zeros(3), method="lm").x if align_rotation else np.zeros(3)
        out[i] = np.sqrt(np.mean(residual(rvec) ** 2) * 2)
    return out


# --------------------------------------------------------------------------- physical check (no truth needed)
@dataclass(frozen=True)
class PhysicalCheck:
    """The board measured with the calibration: its corners triangulated, lengths compared with the board file.

    Attributes
    ----------
    square_median, square_p90 : float
        Absolute error of every triangulated square side (neighbouring corners), board units.
    span_median : float
        Absolute error of the longest corner-to-corner distances of each placement (the scale), board units.
    span_pct : float
        The same as a percentage of the true distance.
    n_squares, n_placements : int
        Square sides and board placements measured (corners seen by two or more cameras).
    """

    square_median: float
    square_p90: float
    span_median: float
    span_pct: float
    n_squares: int
    n_placements: int
    units: str = "mm"
    sides: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)  # signed side errors
    spans: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)  # signed span errors (%)

    def summary(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("square_median", "square_p90", "span_median", "span_pct", "n_squares",
                                               "n_placements", "units")}

    def verdict(self, square: float) -> str:
        """``good`` when squares are within 1 % of their side and the board's span within 0.5 %, else advice."""
        if self.n_squares == 0:
            return "not measured: no board corner was seen by two cameras at once; record the board in view of pairs"
        if self.square_median <= 0.01 * square and self.span_pct <= 0.5:
            return "good"
        return ("check it: lengths on the board are off; add board views where the cameras overlap, closer to the "
                "cameras and tilted, and check the board file's square length")

    def line(self, square: float) -> str:
        return (f"physical check: board squares within {self.square_median:.2f} {self.units} (median; p90 "
                f"{self.square_p90:.2f}) of {square:g} {self.units}, board span within {self.span_median:.2f} "
                f"{self.units} ({self.span_pct:.2f} %) over {self.n_placements} placements: {self.verdict(square)}")


def physical_check(rig: CameraRig, detections, min_cameras: int = 2) -> PhysicalCheck:
    """Triangulate the detected board corners with ``rig`` and compare the board's lengths with its file.

    ``detections``: :class:`~mocap3d.calibration.detect.Detections` (cameras in ``rig``'s order). Corners
    seen by fewer than ``min_cameras`` cameras are left out.
    """
    from ..poses import Poses2D
    from ..triangulation import TriangulationConfig, triangulate

    board = detections.board
    obj = np.asarray(board.object_points(), float)
    rig = rig.select(list(detections.cameras))
    corners = np.asarray(detections.corners, float)  # (C, F, N, 2)
    seen = np.isfinite(corners).all(-1)
    keys = tuple(f"c{i}" for i in range(obj.shape[0]))
    poses2d = Poses2D(views=tuple(rig.names), keypoints=keys, points=corners, scores=seen.astype(float))
    pts = triangulate(poses2d, rig, TriangulationConfig(method="dlt", min_cameras=min_cameras)).points  # (F, N, 3)
    true_d = np.linalg.norm(obj[:, None] - obj[None], axis=-1)
    sq = float(getattr(board, "square_length", np.min(true_d[true_d > 0])))
    i, j = np.nonzero(np.triu(np.isclose(true_d, sq, rtol=1e-6)))
    signed = np.linalg.norm(pts[:, i] - pts[:, j], axis=-1) - true_d[i, j]
    signed = signed[np.isfinite(signed)]
    side = np.abs(signed)
    spans, pct = [], []
    for frame in pts:
        ok = np.flatnonzero(np.isfinite(frame).all(-1))
        if ok.size < 2:
            continue
        d_true = true_d[np.ix_(ok, ok)]
        a, b = np.unravel_index(np.argmax(d_true), d_true.shape)
        if d_true[a, b] < 2 * sq:
            continue
        err = float(np.linalg.norm(frame[ok[a]] - frame[ok[b]])) - d_true[a, b]
        spans.append(abs(err))
        pct.append(100 * err / d_true[a, b])
    return PhysicalCheck(
        square_median=float(np.median(side)) if side.size else float("nan"),
        square_p90=float(np.percentile(side, 90)) if side.size else float("nan"),
        span_median=float(np.median(spans)) if spans else float("nan"),
        span_pct=float(np.median(np.abs(pct))) if pct else float("nan"),
        n_squares=int(side.size), n_placements=len(spans),
        units=str(getattr(board, "units", "mm") or "mm"), sides=signed, spans=np.asarray(pct, float),
    )


def _square_length(board) -> float:
    if hasattr(board, "square_length"):
        return float(board.square_length)
    obj = np.asarray(board.object_points(), float)
    d = np.linalg.norm(obj[:, None] - obj[None], axis=-1)
    return float(np.min(d[d > 0]))


def plot_physical_check(check: PhysicalCheck, square: float, path: str | Path) -> Path:
    """PNG: the triangulated board's square sides and spans against the board file, with the verdict."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    u = check.units
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    if check.sides.size:
        lim = max(float(np.percentile(np.abs(check.sides), 99.5)), 0.011 * square)
        ax.hist(np.clip(check.sides, -lim, lim), bins=60, range=(-lim, lim), color="tab:blue")
        for x in (-0.01 * square, 0.01 * square):
            ax.axvline(x, color="tab:red", ls="--", lw=1)
    ax.set_xlabel(f"measured - true square side ({u}); true side {square:g} {u}")
    ax.set_ylabel("square sides")
    ax.set_title(f"{check.n_squares} square sides: median |error| {check.square_median:.3f} {u}, p90 "
                 f"{check.square_p90:.3f} {u}\n(dashed: 1 % of the side; good when the median is within it)",
                 fontsize=9)
    ax = axes[1]
    if check.spans.size:
        lim = max(float(np.percentile(np.abs(check.spans), 99.5)), 0.55)
        ax.hist(np.clip(check.spans, -lim, lim), bins=40, range=(-lim, lim), color="tab:green")
        for x in (-0.5, 0.5):
            ax.axvline(x, color="tab:red", ls="--", lw=1)
    ax.set_xlabel("measured - true board span (% of the span)")
    ax.set_ylabel("board placements")
    ax.set_title(f"longest corner distance of {check.n_placements} placements: median |error| "
                 f"{check.span_median:.2f} {u} ({check.span_pct:.2f} %)\n(dashed: 0.5 %; good when the median is "
                 "within it)", fontsize=9)
    verdict = check.verdict(square)
    fig.suptitle(f"Physical check of the calibration: {verdict}", fontsize=10,
                 color="tab:green" if verdict == "good" else "tab:red")
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path, dpi=80)
    return path
