"""Sparse bundle adjustment of cameras and board poses.

Unknowns: each camera's extrinsics (Rodrigues rotation and translation,
world -> camera; the first camera is held fixed, which fixes the gauge), each
camera's intrinsics ``(fx, fy, cx, cy, k1, k2, p1, p2, k3)`` of which the lens
model's terms are optionally refined, and one rigid pose per board placement
(board -> world). The board's known geometry fixes the scale, so units are the
board's.

Residuals are the pixel differences between every detected corner and its
projection, all observations projected in one vectorized pass from stacked
per-observation camera and board parameters. The Jacobian is analytic (the
pinhole lens exactly; a fisheye lens by central differences of the per-point
lens function, chained with the analytic pose derivatives): each residual row
touches 6 camera, 9 intrinsic and 6 board columns.

The default solver is a robust Levenberg-Marquardt that eliminates the board
placements by a Schur complement (a small dense system in the camera
parameters per iteration); ``solver="scipy"`` runs ``scipy.optimize.least_squares``
(trf, lsmr, ``x_scale='jac'``) on the same sparse Jacobian instead. A first
round fits every observation under the robust loss; each following round drops
observations whose error exceeds ``max(factor * median, floor)``, with factors
that shrink, so the threshold tightens round after round. Nothing is random,
so the same input gives the same output.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import least_squares

from .. import lens
from ..camera import CameraRig, rodrigues
from ..errors import CalibrationError

__all__ = ["Observations", "BundleResult", "bundle_adjust", "project_observations", "INTRINSIC_NAMES"]

log = logging.getLogger(__name__)

#: Order of the per-camera intrinsic parameters.
INTRINSIC_NAMES = ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3")
_N_EXT, _N_INT, _N_BOARD = 6, 9, 6


@dataclass(frozen=True)
class Observations:
    """Every detected corner as one row.

    Attributes
    ----------
    camera : int array (M,)
        Camera index.
    board : int array (M,)
        Board placement index (into the board poses being adjusted).
    corner : int array (M,)
        Corner id (into the board's object points).
    xy : array (M, 2)
        Detected pixel position.
    """

    camera: np.ndarray
    board: np.ndarray
    corner: np.ndarray
    xy: np.ndarray

    @classmethod
    def from_corners(cls, corners: np.ndarray) -> Observations:
        """From detections (C, B, N, 2) with NaN where missing; order: camera, board, corner."""
        seen = np.isfinite(corners).all(-1)
        cam, board, corner = np.nonzero(seen)
        return cls(cam, board, corner, corners[cam, board, corner])

    def __len__(self) -> int:
        return len(self.camera)

    def subset(self, mask: np.ndarray) -> Observations:
        return Observations(self.camera[mask], self.board[mask], self.corner[mask], self.xy[mask])


@dataclass(frozen=True)
class BundleResult:
    """What bundle adjustment returns.

    Attributes
    ----------
    rig : CameraRig
        Adjusted cameras (world = the fixed camera's frame, board units).
    T_world_board : array (B, 4, 4)
        Adjusted board placements.
    errors : array (M,)
        Final reprojection error of every observation (px), outliers included.
    inliers : bool array (M,)
        Observations kept in the last round.
    rounds : int
    nfev : int
        Function evaluations over all rounds.
    converged : bool
        Every round ended on a tolerance (not on the evaluation cap).
    seconds : float
    """

    rig: CameraRig
    T_world_board: np.ndarray
    errors: np.ndarray
    inliers: np.ndarray
    rounds: int
    nfev: int
    converged: bool
    seconds: float


def _skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrices (..., 3, 3) of vectors (..., 3)."""
    z = np.zeros(v.shape[:-1])
    return np.stack(
        [np.stack([z, -v[..., 2], v[..., 1]], -1), np.stack([v[..., 2], z, -v[..., 0]], -1),
         np.stack([-v[..., 1], v[..., 0], z], -1)], -2,
    )


def _right_jacobian(rvec: np.ndarray) -> np.ndarray:
    """SO(3) right Jacobian (..., 3, 3): ``R(r + d) = R(r) Exp(J_r(r) d)`` to first order."""
    theta = np.linalg.norm(rvec, axis=-1)[..., None, None]
    k = _skew(rvec)
    small = theta < 1e-6
    t = np.where(small, 1.0, theta)
    a = np.where(small, 0.5 - theta**2 / 24, (1 - np.cos(t)) / t**2)
    b = np.where(small, 1.0 / 6 - theta**2 / 120, (t - np.sin(t)) / t**3)
    return np.eye(3) - a * k + b * (k @ k)


def _unpack(x_full: np.ndarray, n_cam: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ext = x_full[: _N_EXT * n_cam].reshape(n_cam, _N_EXT)
    intr = x_full[_N_EXT * n_cam : (_N_EXT + _N_INT) * n_cam].reshape(n_cam, _N_INT)
    board = x_full[(_N_EXT + _N_INT) * n_cam :].reshape(-1, _N_BOARD)
    return ext, intr, board


def _lens(x: np.ndarray, y: np.ndarray, p: np.ndarray, fish: np.ndarray, jacobian: bool):
    """Pixels (M, 2) of normalized coordinates (M,) with per-row intrinsics (M, 9) and, when asked, their
    derivatives d(u, v)/d(x, y) (M, 2, 2) and d(u, v)/d(intrinsics) (M, 2, 9) (:mod:`mocap3d.lens`, analytic)."""
    fx, fy, cx, cy = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    coeffs = (p[:, 4], p[:, 5], p[:, 6], p[:, 7], p[:, 8])
    if not jacobian:
        return lens.to_pixels(*lens.distort(x, y, coeffs, fish), fx, fy, cx, cy), None, None
    xd, yd, d = lens.distort_jacobian(x, y, coeffs, fish, wrt_coeffs=True)
    assert d.d_coeffs is not None
    m = len(x)
    d_int = np.zeros((m, 2, _N_INT))
    d_int[:, 0, 0] = xd
    d_int[:, 1, 1] = yd
    d_int[:, 0, 2] = 1.0
    d_int[:, 1, 3] = 1.0
    d_int[:, 0, 4:] = fx[:, None] * d.d_coeffs[:, 0]  # distortion terms, scaled by the focal length
    d_int[:, 1, 4:] = fy[:, None] * d.d_coeffs[:, 1]
    d_xy = np.empty((m, 2, 2))
    d_xy[:, 0, 0], d_xy[:, 0, 1], d_xy[:, 1, 0], d_xy[:, 1, 1] = d.dxd_dx, d.dxd_dy, d.dyd_dx, d.dyd_dy
    d_xy[:, 0] *= fx[:, None]
    d_xy[:, 1] *= fy[:, None]
    return lens.to_pixels(xd, yd, fx, fy, cx, cy), d_xy, d_int


def project_observations(
    ext: np.ndarray,
    intr: np.ndarray,
    board: np.ndarray,
    obs: Observations,
    object_points: np.ndarray,
    fisheye: np.ndarray,
    jacobian: bool = False,
):
    """Project every observation's board corner into its camera.

    Parameters
    ----------
    ext : array (C, 6)
        Camera rotation (Rodrigues) and translation, world -> camera.
    intr : array (C, 9)
        ``fx, fy, cx, cy, k1, k2, p1, p2, k3`` (fisheye: k1..k4 in the k slots
        ``k1, k2, p1, p2``, i.e. dist[0:4]).
    board : array (B, 6)
        Board rotation and translation, board -> world.
    obs : Observations (M rows)
    object_points : array (N, 3)
    fisheye : bool array (C,)
    jacobian : bool
        Also return the derivatives with respect to every parameter.

    Returns
    -------
    uv : array (M, 2)
    (when ``jacobian``) d_ext (M, 2, 6), d_int (M, 2, 9), d_board (M, 2, 6)
    """
    rb = rodrigues(board[:, :3])  # (B, 3, 3)
    rc = rodrigues(ext[:, :3])  # (C, 3, 3)
    pts = object_points[obs.corner]  # (M, 3)
    rb_m = rb[obs.board]
    rc_m = rc[obs.camera]
    xw = np.einsum("mij,mj->mi", rb_m, pts) + board[obs.board, 3:]
    xc = np.einsum("mij,mj->mi", rc_m, xw) + ext[obs.camera, 3:]
    z = xc[:, 2]
    x, y = xc[:, 0] / z, xc[:, 1] / z
    uv, d_xy, d_intr = _lens(x, y, intr[obs.camera], fisheye[obs.camera], jacobian)
    if not jacobian:
        return uv
    m = len(obs)
    # perspective division: d(x, y)/d(camera point)
    persp = np.zeros((m, 2, 3))
    persp[:, 0, 0] = 1 / z
    persp[:, 1, 1] = 1 / z
    persp[:, 0, 2] = -x / z
    persp[:, 1, 2] = -y / z
    d_cam_point = d_xy @ persp  # (M, 2, 3)
    d_ext = np.empty((m, 2, _N_EXT))
    # d(R(r) v)/dr = -R [v]x J_r(r) = -[R v]x R J_r(r); a row vector times [a]x is its cross product with a
    rj_cam = rc @ _right_jacobian(ext[:, :3])  # (C, 3, 3)
    rj_board = rb @ _right_jacobian(board[:, :3])  # (B, 3, 3)
    rotated = xw - board[obs.board, 3:]  # R_board @ corner
    d_ext[:, :, :3] = -np.matmul(np.cross(d_cam_point, (xc - ext[obs.camera, 3:])[:, None, :]), rj_cam[obs.camera])
    d_ext[:, :, 3:] = d_cam_point
    d_world = d_cam_point @ rc_m
    d_board = np.empty((m, 2, _N_BOARD))
    d_board[:, :, :3] = -np.matmul(np.cross(d_world, rotated[:, None, :]), rj_board[obs.board])
    d_board[:, :, 3:] = d_world
    return uv, d_ext, d_intr, d_board


class _Problem:
    """The sparse least-squares problem for one set of observations (pure: mutates nothing)."""

    def __init__(self, x_full, free, obs, object_points, fisheye, n_cam):
        self.x_full = x_full
        self.free = free
        self.obs = obs
        self.object_points = object_points
        self.fisheye = fisheye
        self.n_cam = n_cam
        m = len(obs)
        # columns (in the full vector) touched by each observation, in the order ext | int | board
        ext_cols = obs.camera[:, None] * _N_EXT + np.arange(_N_EXT)
        int_cols = _N_EXT * n_cam + obs.camera[:, None] * _N_INT + np.arange(_N_INT)
        board_cols = (_N_EXT + _N_INT) * n_cam + obs.board[:, None] * _N_BOARD + np.arange(_N_BOARD)
        cols = np.concatenate([ext_cols, int_cols, board_cols], 1)  # (M, 21)
        col_map = np.cumsum(free) - 1
        keep = free[cols]  # (M, 21)
        rows = np.repeat(np.arange(2 * m).reshape(m, 2)[:, :, None], cols.shape[1], 2)  # (M, 2, 21)
        keep2 = np.broadcast_to(keep[:, None, :], rows.shape)
        self.entry_keep = keep2.ravel()
        self.rows = rows.ravel()[self.entry_keep]
        self.cols = np.broadcast_to(col_map[cols][:, None, :], rows.shape).ravel()[self.entry_keep]
        self.shape = (2 * m, int(free.sum()))

    def full(self, x: np.ndarray) -> np.ndarray:
        out = self.x_full.copy()
        out[self.free] = x
        return out

    def residuals(self, x: np.ndarray) -> np.ndarray:
        ext, intr, board = _unpack(self.full(x), self.n_cam)
        uv = project_observations(ext, intr, board, self.obs, self.object_points, self.fisheye)
        return (uv - self.obs.xy).ravel()

    def jacobian(self, x: np.ndarray) -> sp.csr_matrix:
        ext, intr, board = _unpack(self.full(x), self.n_cam)
        _, d_ext, d_int, d_board = project_observations(
            ext, intr, board, self.obs, self.object_points, self.fisheye, jacobian=True
        )
        vals = np.concatenate([d_ext, d_int, d_board], 2).ravel()[self.entry_keep]
        return sp.csr_matrix((vals, (self.rows, self.cols)), shape=self.shape)


def _one_hot(index: np.ndarray, n: int) -> sp.csr_matrix:
    """Sparse (n, M) matrix that sums per-observation rows into their group."""
    return sp.csr_matrix((np.ones(len(index)), (index, np.arange(len(index)))), shape=(n, len(index)))


def _levenberg_marquardt(x_full, free, obs, object_points, fisheye, n_cam, loss, f_scale, max_iter, ftol):
    """Robust Levenberg-Marquardt with a Schur complement on the camera block (the loop: :mod:`mocap3d.lens`).

    The normal equations have one dense ``15C x 15C`` camera block, one 6x6
    block per board placement and camera-board coupling blocks. Eliminating the
    board blocks (each inverted on its own) leaves a small dense system in the
    camera parameters; the board updates follow by back-substitution. The
    robust loss enters as iteratively reweighted least squares. Marquardt's
    damping scales with the diagonal, which makes the step invariant to the
    parameters' units (px, radians, mm). Deterministic.

    Returns the adjusted full parameter vector, evaluations and whether it converged.
    """
    c = n_cam
    b = (len(x_full) - (_N_EXT + _N_INT) * c) // _N_BOARD
    n_cp = _N_EXT + _N_INT
    cam_free = np.concatenate(
        [free[: _N_EXT * c].reshape(c, _N_EXT), free[_N_EXT * c : n_cp * c].reshape(c, _N_INT)], 1
    ).astype(np.float64)  # (C, 15)
    # the normal equations are sums over the observations of each (camera, board placement) pair: one sparse
    # product sums every pair's block at once
    pairs, pair_of_obs = np.unique(obs.camera * b + obs.board, return_inverse=True)
    to_pair = _one_hot(pair_of_obs, len(pairs))  # (P, M)
    pair_cam, pair_board = pairs // b, pairs % b
    to_cam = _one_hot(pair_cam, c)  # (C, P): sums pair blocks per camera
    to_board = _one_hot(pair_board, b)  # (B, P)

    def cost_of(x):
        uv = project_observations(*_unpack(x, c), obs, object_points, fisheye)
        sq = np.sum((uv - obs.xy) ** 2, 1)
        return 0.5 * float(np.sum(lens.robust_loss(sq, loss, f_scale)[0]))

    def pack_step(dc, db):
        dx = np.zeros_like(x_full)
        dx[: _N_EXT * c] = dc[:, :_N_EXT].ravel()
        dx[_N_EXT * c : n_cp * c] = dc[:, _N_EXT:].ravel()
        dx[n_cp * c :] = db.ravel()
        return dx * free

    def normal_equations(x):
        """The Gauss-Newton blocks at ``x``: U (C, 15, 15), V (B, 6, 6), W (C, B, 15, 6), gradients, diagonals."""
        uv, d_ext, d_int, d_board = project_observations(*_unpack(x, c), obs, object_points, fisheye, jacobian=True)
        r = uv - obs.xy
        sq = np.sum(r * r, 1)
        rho1 = lens.robust_loss(sq, loss, f_scale)[1]
        j_all = np.concatenate([d_ext, d_int, d_board], 2)  # (M, 2, 6 + 9 + 6)
        # robust loss as iteratively reweighted least squares: weight rho'(s) per observation
        wj_t = (rho1[:, None, None] * j_all).transpose(0, 2, 1)
        g = np.matmul(wj_t, r[:, :, None])[:, :, 0]  # per-observation J^T W r
        n_pairs = len(pairs)
        h = (to_pair @ np.matmul(wj_t, j_all).reshape(len(obs), -1)).reshape(n_pairs, n_cp + 6, n_cp + 6)
        g = to_pair @ g  # (P, 21): J^T W r per pair
        u = (to_cam @ np.ascontiguousarray(h[:, :n_cp, :n_cp]).reshape(n_pairs, -1)).reshape(c, n_cp, n_cp)
        v = (to_board @ np.ascontiguousarray(h[:, n_cp:, n_cp:]).reshape(n_pairs, -1)).reshape(b, 6, 6)
        wcb = np.zeros((c, b, n_cp, 6))
        wcb[pair_cam, pair_board] = h[:, :n_cp, n_cp:]
        gc = to_cam @ g[:, :n_cp]
        gb = to_board @ g[:, n_cp:]
        # fixed camera parameters (their Jacobian columns zeroed here, on the small blocks) and unseen boards:
        # unit diagonal, zero gradient -> zero step
        u *= cam_free[:, :, None] * cam_free[:, None, :]
        wcb *= cam_free[:, None, :, None]
        gc *= cam_free
        u[:, np.arange(n_cp), np.arange(n_cp)] += 1.0 - cam_free
        unseen = np.einsum("bii->b", v) == 0
        v[unseen] = np.eye(6)
        return u, v, wcb, gc, gb, np.einsum("cii->ci", u).copy(), np.einsum("bii->bi", v).copy()

    built: dict[str, Any] = {}  # the normal equations of the current x: built once, solved for each damping tried

    def step(x, lam):
        if built.get("x") is not x:
            built.update(x=x, blocks=normal_equations(x))
        u, v, wcb, gc, gb, diag_u, diag_v = built["blocks"]
        ud = u.copy()
        vd = v.copy()
        ud[:, np.arange(n_cp), np.arange(n_cp)] += lam * diag_u + 1e-12
        vd[:, np.arange(6), np.arange(6)] += lam * diag_v + 1e-12
        v_inv = np.linalg.inv(vd)
        y = np.matmul(wcb, v_inv[None])  # W V^-1, (C, B, 15, 6)
        # S = U - W V^-1 W^T as one matrix product over every board placement
        y_flat = y.transpose(0, 2, 1, 3).reshape(c * n_cp, b * 6)
        w_flat = wcb.transpose(0, 2, 1, 3).reshape(c * n_cp, b * 6)
        damped = np.zeros((c * n_cp, c * n_cp))
        for ci in range(c):  # the dense camera blocks on the diagonal
            damped[ci * n_cp : (ci + 1) * n_cp, ci * n_cp : (ci + 1) * n_cp] = ud[ci]
        rhs = -gc + np.einsum("cbik,bk->ci", y, gb)
        solved = lens.schur_solve(damped, y_flat, w_flat.T, rhs.ravel(), lstsq_fallback=True)
        assert solved is not None  # (the least-squares fallback always answers)
        dc = solved.reshape(c, n_cp)
        db = np.einsum("bij,bj->bi", v_inv, -gb - np.einsum("cbij,ci->bj", wcb, dc))
        return pack_step(dc, db)

    def report(_it, cost, _decrease, lam):
        log.debug("LM: cost %.10g, lambda %.3g", cost, lam)

    # small initial damping: Marquardt's damping is scaled by the diagonal, and the problem is well posed;
    # damping beyond 1e12 means no step lowers the cost: at a minimum
    result = lens.levenberg_marquardt(
        x_full, cost_of, step, damping=1e-6, max_iterations=max_iter, ftol=ftol, raise_by=10.0, lower_by=10.0,
        min_damping=1e-12, max_damping=1e12, on_iteration=report,
    )
    return result.x, result.evaluations, result.converged


def _rig_intrinsics(rig: CameraRig) -> np.ndarray:
    k = rig.K
    return np.concatenate([np.stack([k[:, 0, 0], k[:, 1, 1], k[:, 0, 2], k[:, 1, 2]], 1), rig.dist], 1)


def bundle_adjust(
    rig: CameraRig,
    T_world_board: np.ndarray,
    obs: Observations,
    object_points: np.ndarray,
    *,
    refine_intrinsics: bool = True,
    distortion_mask: tuple[bool, ...] = (True, True, True, True, False),
    fixed_camera: int = 0,
    loss: str = "soft_l1",
    f_scale_px: float = 1.0,
    outlier_factors: tuple[float, ...] = (5.0, 3.0),
    outlier_floor_px: float = 1.0,
    max_nfev: int = 100,
    ftol: float = 1e-8,
    solver: str = "lm",
) -> BundleResult:
    """Refine cameras and board placements by robust sparse least squares.

    Parameters
    ----------
    rig : CameraRig
        Initial cameras; ``rvec/tvec`` world -> camera.
    T_world_board : array (B, 4, 4)
        Initial board placements (board -> world); every ``obs.board`` must index a finite one.
    obs : Observations
    object_points : array (N, 3)
        Board corners in board units.
    refine_intrinsics : bool
        Also refine fx, fy, cx, cy and the distortion terms in ``distortion_mask``.
    distortion_mask : 5 bools
        Which of the 5 distortion slots are free (fisheye: k1..k4 = first four).
    fixed_camera : int
        Camera whose extrinsics are held (fixes the world frame).
    loss, f_scale_px : robust loss and its scale (px).
    outlier_factors : after a first round on every observation, one more round per factor, each on the
        observations whose error is below ``max(factor * median, outlier_floor_px)`` after the previous round.
    max_nfev, ftol : per-round limits (iterations and relative cost decrease).
    solver : ``"lm"`` (Levenberg-Marquardt with a Schur complement, default) or ``"scipy"``
        (``least_squares`` trf/lsmr with ``x_scale='jac'`` on the same sparse analytic Jacobian).

    Returns
    -------
    BundleResult
    """
    from .extrinsics import from_transform, to_transform

    start = time.perf_counter()
    c = rig.n_cameras
    b = T_world_board.shape[0]
    board_r, board_t = from_transform(T_world_board)
    x_full = np.concatenate(
        [np.concatenate([rig.rvec, rig.tvec], 1).ravel(), _rig_intrinsics(rig).ravel(),
         np.concatenate([board_r, board_t], 1).ravel()]
    )
    if not np.isfinite(x_full).all():
        raise CalibrationError("bundle adjustment got non-finite initial values (a camera or board was not placed).")
    free = np.ones(len(x_full), bool)
    ext_free = np.ones((c, _N_EXT), bool)
    ext_free[fixed_camera] = False
    int_free = np.zeros((c, _N_INT), bool)
    if refine_intrinsics:
        int_free[:, :4] = True
        int_free[:, 4:] = np.asarray(distortion_mask, bool)[None, :]
    board_free = np.zeros((b, _N_BOARD), bool)
    board_free[np.unique(obs.board)] = True  # placements nobody saw stay as they are
    free = np.concatenate([ext_free.ravel(), int_free.ravel(), board_free.ravel()])
    fisheye = np.asarray(rig.fisheye, bool)

    def errors_of(x_all: np.ndarray) -> np.ndarray:
        ext, intr, board = _unpack(x_all, c)
        uv = project_observations(ext, intr, board, obs, object_points, fisheye)
        err = np.linalg.norm(uv - obs.xy, axis=1)
        return np.where(np.isfinite(err), err, np.inf)

    nfev = 0
    converged = True
    inliers = np.ones(len(obs), bool)
    threshold = np.inf
    # round 0 fits every observation under the robust loss alone (a rough start must not pass for outliers);
    # after each round the threshold is set from that round's errors, so it tightens round after round
    last = len(outlier_factors)
    round_index = 0
    rounds = 0
    while True:
        if 2 * inliers.sum() < free.sum():
            raise CalibrationError(
                f"bundle adjustment: only {int(inliers.sum())} of {len(obs)} detections agree with the initial "
                "calibration; check that the videos are synchronised and that the board definition matches the print."
            )
        subset = obs.subset(inliers)
        # rounds before the last only decide which observations are outliers: a looser tolerance is enough
        round_ftol = ftol if round_index == last else max(ftol, 1e-6)
        if solver == "lm":
            x_full, n_eval, ok = _levenberg_marquardt(
                x_full, free, subset, object_points, fisheye, c, loss, f_scale_px, max_nfev, round_ftol
            )
            cost = np.nan
        else:  # scipy's trust-region reflective solver on the same sparse problem
            problem = _Problem(x_full, free, subset, object_points, fisheye, c)
            result = least_squares(
                problem.residuals, x_full[free], jac=problem.jacobian, method="trf", tr_solver="lsmr",
                x_scale="jac", loss=loss, f_scale=f_scale_px, max_nfev=max_nfev, ftol=round_ftol, xtol=1e-12,
                gtol=1e-10,
            )
            x_full, n_eval, ok, cost = problem.full(result.x), int(result.nfev), result.status > 0, result.cost
        nfev += n_eval
        converged &= ok
        rounds += 1
        log.info(
            "bundle adjustment round %d: %d/%d observations (threshold %.2f px), %d evaluations, cost %.4g",
            rounds, int(inliers.sum()), len(obs), threshold, n_eval, cost,
        )
        if round_index == last:
            break
        err = errors_of(x_full)
        threshold = max(outlier_factors[round_index] * float(np.median(err[inliers])), outlier_floor_px)
        kept = err <= threshold
        round_index += 1
        if np.array_equal(kept, inliers):
            round_index = last  # the same observations again: only the final, tight fit is left to do
        inliers = kept
    err = errors_of(x_full)
    ext, intr, board = _unpack(x_full, c)
    k = np.zeros((c, 3, 3))
    k[:, 0, 0], k[:, 1, 1], k[:, 0, 2], k[:, 1, 2], k[:, 2, 2] = intr[:, 0], intr[:, 1], intr[:, 2], intr[:, 3], 1.0
    adjusted = rig.replace(K=k, dist=intr[:, 4:], rvec=ext[:, :3], tvec=ext[:, 3:])
    return BundleResult(
        rig=adjusted,
        T_world_board=to_transform(board[:, :3], board[:, 3:]),
        errors=err,
        inliers=inliers,
        rounds=rounds,
        nfev=nfev,
        converged=bool(converged),
        seconds=time.perf_counter() - start,
    )
