"""Spatiotemporal triangulation: every frame of a recording in one optimisation.

``triangulate_optim`` finds the 3D trajectories ``X (frames, keypoints, 3)``
and the segment lengths ``L`` that minimise

.. math::

    \\tfrac12 \\sum_{obs} \\rho(\\lVert w\\,(\\pi_c(X_{fk}) - x_{cfk}) \\rVert^2)
    + \\tfrac12 \\sum \\lVert s\\, \\Delta^n_f X \\rVert^2
    + \\tfrac12 \\sum_{(a,b),f} \\left(100\\,\\lambda\\,
      \\frac{\\lVert X_{fa} - X_{fb} \\rVert - L_{ab}}{L_{ab}}\\right)^2

* reprojection through each camera's full lens model (:class:`CameraRig`'s
  OpenCV pinhole or fisheye), ``w`` the 2D score (``weighted``), ``rho`` a
  robust loss (soft-L1, Huber or none) on the 2D distance in px, with its
  quadratic zone ending at ``reproj_loss_scale`` px;
* smoothness: the ``n``-th finite difference over frames of every coordinate,
  with ``s = scale_smooth / mean|Delta X_init|`` (the mean frame-to-frame
  speed of the median-filtered start), so that ``scale_smooth`` is unitless,
  as anipose defines it;
* limb lengths: for each declared pair and frame, the length error in percent
  of the pair's estimated length ``L`` (a parameter), weighted by
  ``scale_length`` (strong pairs) or ``scale_length_weak`` (weak pairs).

The residual definitions and weights are aniposelib's (``optim_points``), so
the same parameters mean the same thing; one difference: the robust loss acts
on each observation's 2D distance, not separately on x and y.

Solver
------
A Levenberg-Marquardt iteration on the exact normal equations, written for
this problem's structure, rather than a generic ``least_squares`` with
finite-difference Jacobians and an iterative (LSMR) linear solver as in
aniposelib:

* Parameters are ordered frame by frame, so ``J^T J`` of the point
  coordinates is a band matrix of half-width ``3 K n`` (smoothness couples a
  point to the same body part ``n`` frames away, limbs couple body parts of
  one frame). It is assembled directly in LAPACK band storage from the
  analytic Jacobian (projections, lens model, limb lengths), vectorized over
  all observations, and factorized with a banded Cholesky: each step is exact,
  however badly the smoothness term conditions the system (a gap is fixed
  only through its neighbours), so a handful of iterations converge.
* The few length parameters are eliminated with a Schur complement.
* The robust loss enters as iteratively reweighted least squares: each
  iteration weights observations by ``rho'``; the gradient is exact.
* Outlier gate: a robust loss bounds an outlier's pull without removing it.
  Once converged, observations farther than ``outlier_threshold`` px from
  their reprojection are dropped and the iteration resumes.

Memory is ``O(frames x keypoints x 3 K n)`` for the band: 10,000 frames x 20
body parts x 4 cameras with ``n = 2`` peak at about 1.2 GB resident
(``benchmarks/bench_optim.py --long 10000``). Recordings whose band would
pass about 1.2 GB, or any recording when ``chunk_frames`` is set, are processed
in overlapping chunks cross-faded over the overlap.

Initialisation: the robust (best camera subset) triangulation, each body
part's gaps filled by linear interpolation (held constant before the first
and after the last observation). Body parts never triangulated are left NaN.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cholesky_banded
from scipy.linalg.lapack import dtbtrs
from threadpoolctl import threadpool_limits

from .. import lens
from ..camera import CameraRig
from ..errors import TriangulationError
from ..gaps import fill_gaps, running_median
from ..lens import robust_loss
from ..poses import Poses2D, Poses3D
from .config import TriangulationConfig
from .frames import triangulate_frames

__all__ = [
    "triangulate_optim",
    "optimize_trajectories",
    "OptimResult",
    "project_with_jacobian",
    "interpolate_gaps",
    "robust_loss",
]

log = logging.getLogger(__name__)

# Bytes the band matrices of one chunk may take when ``chunk_frames`` is not set
# (about 20,000 frames of 20 body parts with n_deriv_smooth = 2).
_BAND_MEMORY = 1.2e9


# --------------------------------------------------------------------------- building blocks
def project_with_jacobian(
    rig: CameraRig, points: np.ndarray, cameras: np.ndarray, jacobian: bool = True, distort: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Project each point into its own camera, with the derivative.

    Parameters
    ----------
    rig : CameraRig
    points : array (M, 3)
        World points.
    cameras : int array (M,)
        Index into ``rig`` of the camera of each point. Fastest when sorted
        (each camera's points are then contiguous slices).
    jacobian : bool
        Also return ``d pixel / d point``.
    distort : bool
        Apply the lens model (as :meth:`CameraRig.project`).

    Returns
    -------
    pixels : array (M, 2)
        Same values as ``rig.project(points)[cameras, arange(M)]``.
    jac : array (M, 2, 3) or None
        Derivative of the pixel coordinates with respect to the world point.
    """
    cameras = np.asarray(cameras)
    order = None
    if len(cameras) > 1 and (np.diff(cameras) < 0).any():
        order = np.argsort(cameras, kind="stable")
        cameras, points = cameras[order], points[order]
    pixels = np.empty((len(cameras), 2))
    jac = np.empty((len(cameras), 2, 3)) if jacobian else None
    bounds = np.searchsorted(cameras, np.arange(rig.n_cameras + 1))
    R = rig.R
    for c in range(rig.n_cameras):  # a loop over cameras; each camera's points are vectorized
        lo, hi = bounds[c], bounds[c + 1]
        if hi > lo:
            pix_c, jac_c = _project_camera(rig, c, R[c], points[lo:hi], jacobian, distort)
            pixels[lo:hi] = pix_c
            if jac is not None:
                jac[lo:hi] = jac_c
    if order is not None:
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        pixels = pixels[inverse]
        jac = jac[inverse] if jac is not None else None
    return pixels, jac


def _project_camera(rig: CameraRig, c: int, R: np.ndarray, points: np.ndarray, jacobian: bool, distort: bool):
    """Pixels (m, 2) of world points (m, 3) in camera ``c`` and, optionally, their derivative (m, 2, 3)."""
    cam = points @ R.T + rig.tvec[c]
    inv_z = 1.0 / cam[:, 2]
    x, y = cam[:, 0] * inv_z, cam[:, 1] * inv_z
    k = rig.K[c]
    fx, fy, skew = k[0, 0], k[1, 1], k[0, 1]
    coeffs = rig.dist[c] if distort else np.zeros(5)
    fisheye = bool(distort and rig.fisheye[c])
    if not jacobian:
        xd, yd = lens.distort(x, y, coeffs, fisheye)
        return lens.to_pixels(xd, yd, fx, fy, k[0, 2], k[1, 2], skew), None
    xd, yd, d = lens.distort_jacobian(x, y, coeffs, fisheye)
    pixels = lens.to_pixels(xd, yd, fx, fy, k[0, 2], k[1, 2], skew)
    # pixel <- distorted (K) <- normalized (lens) <- camera point (division by z) <- world (R),
    # written out: batched products of 2x2 and 2x3 matrices are slow in numpy.
    dx = inv_z[:, None] * (R[0] - x[:, None] * R[2])  # d(x/z) / d world point
    dy = inv_z[:, None] * (R[1] - y[:, None] * R[2])
    du = (fx * d.dxd_dx + skew * d.dyd_dx)[:, None] * dx + (fx * d.dxd_dy + skew * d.dyd_dy)[:, None] * dy
    dv = (fy * d.dyd_dx)[:, None] * dx + (fy * d.dyd_dy)[:, None] * dy
    return pixels, np.stack([du, dv], 1)


def interpolate_gaps(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill each trajectory's missing frames by linear interpolation (:func:`mocap3d.gaps.fill_gaps`).

    Parameters
    ----------
    points : array (frames, ...)
        NaN where missing (all coordinates of a point together).

    Returns
    -------
    filled : array like ``points``
        Linear between the nearest observed frames; held constant before the
        first and after the last; NaN for trajectories never observed.
    observed : bool array (frames, ...) without the last axis
    """
    observed = np.isfinite(points).all(-1)
    columns = np.where(observed[..., None], points, np.nan).reshape(points.shape[0], -1)
    filled, _ = fill_gaps(columns, None, hold_ends=True)
    return filled.reshape(points.shape), observed


def _difference_coefficients(n: int) -> np.ndarray:
    """``c`` with ``Delta^n x_f = sum_i c_i x_{f+i}`` (e.g. [1, -2, 1] for n = 2)."""
    c = np.array([1.0])
    for _ in range(n):
        c = np.concatenate([c, [0.0]]) - np.concatenate([[0.0], c])
    return -c if n % 2 else c


def _difference_adjoint(r: np.ndarray, n: int) -> np.ndarray:
    """``D^T r`` for ``D = np.diff(., n, axis=0)``: (frames - n, ...) -> (frames, ...)."""
    pad = [(n, n)] + [(0, 0)] * (r.ndim - 1)
    return (-1) ** n * np.diff(np.pad(r, pad), n, axis=0)


def _runs_longer_than(missing: np.ndarray, max_len: int) -> np.ndarray:
    """Mark runs of True (along axis 0) longer than ``max_len`` frames."""
    n = missing.shape[0]
    frames = np.arange(n).reshape((n,) + (1,) * (missing.ndim - 1))
    start = np.maximum.accumulate(np.where(~missing, frames, -1), axis=0)  # last present frame before
    end = np.flip(np.minimum.accumulate(np.flip(np.where(~missing, frames, n), 0), axis=0), 0)
    return missing & (end - start - 1 > max_len)


# --------------------------------------------------------------------------- the problem
@dataclass(frozen=True)
class _Problem:
    """Observations and terms of one optimisation (one chunk), in index form."""

    rig: CameraRig
    distort: bool
    n_frames: int
    n_points: int  # body parts in the optimisation
    obs_cam: np.ndarray  # (M,) camera index
    obs_point: np.ndarray  # (M,) flat index f * n_points + k
    obs_xy: np.ndarray  # (M, 2) px
    obs_weight: np.ndarray  # (M,) residual weight (score or 1)
    pairs: np.ndarray  # (P, 2) body-part indices, first > second
    pair_weight: np.ndarray  # (P,) scale_length or scale_length_weak
    smooth: float  # s: residual = s * diff^n
    n_deriv: int
    loss: str
    loss_scale: float

    @property
    def n_coords(self) -> int:
        return self.n_frames * self.n_points * 3

    @property
    def bandwidth(self) -> int:
        return 3 * self.n_points * self.n_deriv


@dataclass
class OptimResult:
    """What :func:`optimize_trajectories` found.

    Attributes
    ----------
    points : array (frames, keypoints, 3)
    lengths : array (P,)
        Estimated length of each constrained pair (strong pairs first).
    iterations : int
    cost : float
        Final value of the objective (see module docstring).
    initial_cost : float
    converged : bool
    rejected : int
        Observations dropped as outliers (``outlier_threshold``).
    """

    points: np.ndarray
    lengths: np.ndarray
    iterations: int
    cost: float
    initial_cost: float
    converged: bool
    rejected: int = 0


def _terms(problem: _Problem, x: np.ndarray, jacobian: bool):
    """Residual pieces (and Jacobian pieces) at parameters ``x``."""
    pr = problem
    X = x[: pr.n_coords].reshape(pr.n_frames, pr.n_points, 3)
    L = x[pr.n_coords :]
    flat = X.reshape(-1, 3)
    proj, jac = project_with_jacobian(pr.rig, flat[pr.obs_point], pr.obs_cam, jacobian, pr.distort)
    w = pr.obs_weight[:, None]
    e = w * (proj - pr.obs_xy)  # (M, 2)
    if jac is not None:
        jac = jac * w[..., None]
    smooth = pr.smooth * np.diff(X, pr.n_deriv, axis=0)
    vec = X[:, pr.pairs[:, 0]] - X[:, pr.pairs[:, 1]]  # (F, P, 3)
    length = np.linalg.norm(vec, axis=-1)
    gain = 100.0 * pr.pair_weight  # residual = gain * (length / L - 1)
    lres = gain * (length / L - 1.0)
    return e, jac, smooth, vec, length, lres


def _cost(problem: _Problem, x: np.ndarray) -> float:
    e, _, smooth, _, _, lres = _terms(problem, x, jacobian=False)
    rho, _ = robust_loss((e * e).sum(-1), problem.loss, problem.loss_scale)
    return 0.5 * (rho.sum() + (smooth * smooth).sum() + (lres * lres).sum())


def _smooth_band(problem: _Problem) -> np.ndarray:
    """The constant smoothness part of ``J^T J``, compactly: (n_deriv + 1, frames).

    Row ``m`` holds, for each frame ``g``, the entry coupling a coordinate at
    frame ``g`` with the same coordinate at frame ``g + m`` (the same for every
    body part and axis): ``s^2 sum_t c[g - t] c[g + m - t]``.
    """
    pr = problem
    f, n = pr.n_frames, pr.n_deriv
    out = np.zeros((n + 1, f))
    if f <= n or pr.smooth == 0:
        return out
    c = _difference_coefficients(n)
    rows = np.arange(f - n)
    for m in range(n + 1):  # loops over the derivative order only
        for i in range(n + 1 - m):
            out[m, rows + i] += c[i] * c[i + m]  # rows + i are distinct: no need for add.at
    return pr.smooth**2 * out


def _normal_equations(problem: _Problem, x: np.ndarray, smooth_band: np.ndarray, out: np.ndarray | None = None):
    """IRLS Gauss-Newton normal equations: band ``A``, coupling ``B``, ``D`` and gradients.

    ``out``: a (n_coords, bandwidth + 1) buffer to build the band in (reused
    between iterations: fresh allocations of this size cost more in page
    faults than filling them).
    """
    pr = problem
    e, jac, smooth, vec, length, lres = _terms(pr, x, jacobian=True)
    rho, drho = robust_loss((e * e).sum(-1), pr.loss, pr.loss_scale)
    cost = 0.5 * (rho.sum() + (smooth * smooth).sum() + (lres * lres).sum())
    n_pts = pr.n_frames * pr.n_points
    # Reprojection: per point, sum over its observations of drho J^T J and drho J^T e.
    ju, jv = jac[:, 0], jac[:, 1]  # (M, 3) each: derivatives of u and v
    wu, wv = ju * drho[:, None], jv * drho[:, None]
    jte = wu * e[:, :1] + wv * e[:, 1:]  # (M, 3)
    grad_pts = np.stack([np.bincount(pr.obs_point, jte[:, i], n_pts) for i in range(3)], -1)
    block = np.zeros((n_pts, 3, 3))
    for i, j in ((0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)):  # the 6 entries of a symmetric 3x3
        block[:, i, j] = np.bincount(pr.obs_point, wu[:, i] * ju[:, j] + wv[:, i] * jv[:, j], n_pts)
    # Limb lengths: residual g (|v| / L - 1), d/dXa = g u / L = -d/dXb, d/dL = -g |v| / L^2.
    L = x[pr.n_coords :]
    gain = 100.0 * pr.pair_weight
    unit = vec / np.maximum(length, 1e-12)[..., None]
    da = (gain / L)[:, None] * unit  # (F, P, 3): d residual / d X_a
    dl = -gain * length / L**2  # (F, P): d residual / d L
    outer = da[..., :, None] * da[..., None, :]  # (F, P, 3, 3)
    a_idx, b_idx = pr.pairs[:, 0], pr.pairs[:, 1]
    frame_base = np.arange(pr.n_frames)[:, None] * pr.n_points
    point_a, point_b = (frame_base + a_idx).ravel(), (frame_base + b_idx).ravel()  # (F * P,) flat point index
    # add.at: a body part can belong to several pairs of one frame
    np.add.at(block, point_a, outer.reshape(-1, 3, 3))
    np.add.at(block, point_b, outer.reshape(-1, 3, 3))
    np.add.at(grad_pts, point_a, (lres[..., None] * da).reshape(-1, 3))
    np.add.at(grad_pts, point_b, (-lres[..., None] * da).reshape(-1, 3))
    grad = grad_pts.reshape(pr.n_frames, pr.n_points, 3) + _smooth_grad(pr, smooth)
    width = 3 * pr.n_points
    # Lower band storage (bandwidth + 1, n_coords) in LAPACK's column-major layout, built through its
    # row-major transpose so that the factorization needs no transposing copy.
    if out is None:
        band_t = np.zeros((pr.n_coords, pr.bandwidth + 1))
    else:
        band_t = out
        band_t.fill(0.0)
    band = band_t.T
    per_frame = band_t.reshape(pr.n_frames, width, pr.bandwidth + 1)
    for m in range(pr.n_deriv + 1):  # coordinate (g, k, i) with (g + m, k, i): band row m * width
        per_frame[: pr.n_frames - m, :, m * width] += smooth_band[m, : pr.n_frames - m, None]
    # Entry (3 p + i, 3 q + j), i >= j for p = q, lives at band_t[3 q + j, 3 (p - q) + i - j]: per point
    # q and axis j, a short contiguous run. So each point's 3x3 block is one strided slab,
    per_point = band_t.reshape(pr.n_frames * pr.n_points, 3, pr.bandwidth + 1)
    lower = np.zeros((len(block), 3, 3))  # [q, j, i - j] = block[q, i, j]
    for i, j in ((0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)):
        lower[:, j, i - j] = block[:, i, j]
    per_point[:, :, :3] += lower
    # and the cross block of pair (a, b), a > b, in a frame: axis j of b, columns 3 (a - b) - j + (0, 1, 2).
    runs = 3 * (a_idx - b_idx)[None, :, None] + np.arange(3)[None, None, :]  # (1, P, 3) for j = 0
    flat = band_t.reshape(-1)
    for j in range(3):
        index = (3 * point_b.reshape(pr.n_frames, -1, 1) + j) * (pr.bandwidth + 1) + runs - j  # (F, P, 3)
        np.add.at(flat, index.ravel(), -outer[..., :, j].ravel())
    # Length parameters: coupling B (n_coords, P) and D (P, P), gradient.
    n_len = len(L)
    cross = da * dl[..., None]  # (F, P, 3): d residual / d X_a times d residual / d L
    cols = np.arange(n_len)[None, :, None]
    axes = np.arange(3)[None, None, :]
    shape = (pr.n_frames, n_len, 1)
    # entry (coordinate 3 * point + axis, pair) of B, for the a and b ends of every pair and frame
    index = np.concatenate([((3 * point_a.reshape(shape) + axes) * n_len + cols).ravel(),
                            ((3 * point_b.reshape(shape) + axes) * n_len + cols).ravel()])  # fmt: skip
    coupling = np.bincount(index, np.concatenate([cross.ravel(), -cross.ravel()]), pr.n_coords * n_len)
    grad_len = (lres * dl).sum(0)
    d_len = np.diag((dl * dl).sum(0))
    return cost, band, coupling.reshape(pr.n_coords, n_len), d_len, np.concatenate([grad.ravel(), grad_len])


def _smooth_grad(problem: _Problem, smooth: np.ndarray) -> np.ndarray:
    """Gradient of the smoothness term: ``s D^T (s D X)`` (frames, points, 3)."""
    if problem.n_frames <= problem.n_deriv:  # too few frames for an n-th difference: no such term
        return np.zeros((problem.n_frames, problem.n_points, 3))
    return problem.smooth * _difference_adjoint(smooth, problem.n_deriv)


def _solve_step(band, coupling, d_len, grad, lam: float):
    """Solve the damped normal equations ``(H + lam diag(H)) step = -grad``; None if not positive definite.

    ``band`` (lower band storage, column-major) is factorized in place: one
    band in memory instead of two; a retry with more damping rebuilds it.
    With ``A = L L^T`` (band Cholesky), the length parameters are eliminated
    through ``W = L^-1 B``: the Schur complement is ``D - W^T W``, so the
    ``P + 1`` right-hand sides need only forward substitutions and the
    points one backward substitution.
    """
    n = band.shape[1]
    diag = band[0]
    diag *= 1.0 + lam
    diag += 1e-9 * (1.0 + diag.max())
    try:
        factor = cholesky_banded(band, lower=True, overwrite_ab=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    g_pts, g_len = grad[:n], grad[n:]
    rhs = np.empty((n, 1 + coupling.shape[1]), order="F")
    rhs[:, 0], rhs[:, 1:] = g_pts, coupling
    fwd, info = dtbtrs(factor, rhs, uplo="L", trans="N", overwrite_b=1)
    if info != 0:
        return None
    y, w = fwd[:, 0], fwd[:, 1:]
    step_len = np.zeros(0)
    if len(g_len):
        solved = lens.schur_solve(d_len + lam * np.diag(np.diag(d_len)), w.T, w, -(g_len - w.T @ y))
        if solved is None:
            return None
        step_len = solved
    back, info = dtbtrs(factor, (y + w @ step_len)[:, None], uplo="L", trans="T", overwrite_b=1)
    if info != 0:
        return None
    return np.concatenate([-back[:, 0], step_len])


def _levenberg_marquardt(problem: _Problem, x0: np.ndarray, max_iterations: int, ftol: float = 1e-6, bar=None):
    """The shared damped Gauss-Newton loop (:func:`mocap3d.lens.levenberg_marquardt`) on this problem.

    Damping starts at 1e-3, is raised 10x per failed try (at most 10 tries an
    iteration) and lowered 5x (not below 1e-7) per accepted step; the step is
    :func:`_solve_step` on the normal equations rebuilt at each try (the
    factorization consumes the band; retries are rare).
    """
    smooth_band = _smooth_band(problem)
    band_buffer = np.empty((problem.n_coords, problem.bandwidth + 1))
    initial = _cost(problem, x0)

    def step(x: np.ndarray, lam: float) -> np.ndarray | None:
        _, band, coupling, d_len, grad = _normal_equations(problem, x, smooth_band, band_buffer)
        return _solve_step(band, coupling, d_len, grad, lam)

    def report(it: int, cost: float, decrease: float, lam: float) -> None:
        log.debug("optim iteration %d: cost %.6g (%.2e lower), lambda %.1e", it, cost, decrease, lam)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(cost=f"{cost:.6g}", refresh=False)

    result = lens.levenberg_marquardt(
        x0, lambda x: _cost(problem, x), step, damping=1e-3, max_iterations=max_iterations, ftol=ftol,
        raise_by=10.0, lower_by=5.0, min_damping=1e-7, max_tries=10, on_iteration=report,
    )
    return result.x, result.cost, initial, result.iterations, result.converged


# --------------------------------------------------------------------------- public API
def optimize_trajectories(
    rig: CameraRig,
    points2d: np.ndarray,
    weights: np.ndarray,
    init: np.ndarray,
    pairs: np.ndarray,
    pair_weights: np.ndarray,
    *,
    scale_smooth: float = 4.0,
    n_deriv_smooth: int = 2,
    loss: str = "soft_l1",
    loss_scale: float = 3.0,
    distort: bool = True,
    max_iterations: int = 30,
    outlier_threshold: float | None = 10.0,
    ftol: float = 1e-6,
    progress: bool = False,
    lengths: np.ndarray | None = None,
    smooth_unit: float | None = None,
) -> OptimResult:
    """Optimise whole trajectories against all 2D observations at once.

    Parameters
    ----------
    rig : CameraRig
        The cameras of ``points2d``'s views, in the same order.
    points2d : array (views, frames, keypoints, 2)
        Observations (px, as detected); NaN = not seen.
    weights : array (views, frames, keypoints)
        Residual weight per observation (the score, or 1); 0 = not used.
    init : array (frames, keypoints, 3)
        Start, finite everywhere (gaps already filled).
    pairs : int array (P, 2)
        Constrained keypoint pairs.
    pair_weights : array (P,)
        ``scale_length`` of each pair (strong or weak).
    scale_smooth, n_deriv_smooth, loss, loss_scale, distort, max_iterations, outlier_threshold
        See :class:`TriangulationConfig`.
    lengths : array (P,), optional
        Start of the segment lengths (default: median of ``init``'s lengths).
    smooth_unit : float, optional
        Mean frame-to-frame speed that makes ``scale_smooth`` unitless
        (default: from ``init``, median-filtered over 7 frames).
    ftol : float
        Stop when an iteration lowers the objective by less than this
        fraction.
    progress : bool
        Show a progress bar of the iterations (long recordings).

    Returns
    -------
    OptimResult
    """
    v, f, k, _ = points2d.shape
    if init.shape != (f, k, 3) or not np.isfinite(init).all():
        raise ValueError(f"init must be finite with shape ({f}, {k}, 3)")
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    pairs = np.sort(pairs, axis=1)[:, ::-1]  # first > second: cross blocks below the band's diagonal
    vec = init[:, pairs[:, 0]] - init[:, pairs[:, 1]]
    if lengths is None:
        lengths = np.median(np.linalg.norm(vec, axis=-1), axis=0) if f else np.zeros(len(pairs))
    lengths = np.maximum(np.asarray(lengths, dtype=np.float64), 1e-6)
    if smooth_unit is None:
        smooth_unit = _mean_speed(init)
    valid = np.isfinite(points2d).all(-1) & (weights > 0)
    cam, frame, kp = np.nonzero(valid)
    problem = _Problem(
        rig=rig, distort=distort, n_frames=f, n_points=k, obs_cam=cam, obs_point=frame * k + kp,
        obs_xy=points2d[cam, frame, kp], obs_weight=weights[cam, frame, kp], pairs=pairs,
        pair_weight=np.asarray(pair_weights, dtype=np.float64), smooth=scale_smooth / smooth_unit,
        n_deriv=n_deriv_smooth, loss=loss, loss_scale=loss_scale,
    )  # fmt: skip
    x0 = np.concatenate([init.ravel(), lengths])
    rejected = 0
    # OpenBLAS' threaded band Cholesky is pathologically slow (10-100x) beyond a
    # half-bandwidth of about 64; one thread is the fastest everywhere.
    bar = _progress(2 * max_iterations, "optim iterations", "it", enabled=progress)
    with bar, threadpool_limits(limits=1, user_api="blas"):
        # Before the outlier gate a rough optimum is enough: the second pass refines it.
        first_ftol = max(ftol, 1e-4) if outlier_threshold is not None else ftol
        x, cost, initial, iterations, converged = _levenberg_marquardt(problem, x0, max_iterations, first_ftol, bar)
        if outlier_threshold is not None:
            # A robust loss bounds an outlier's pull but does not remove it (soft-L1 leaves a bias of
            # about loss_scale / cameras px); drop what the converged solution cannot explain, then refine.
            X = x[: problem.n_coords].reshape(-1, 3)
            proj, _ = project_with_jacobian(rig, X[problem.obs_point], problem.obs_cam, False, distort)
            far = np.linalg.norm(proj - problem.obs_xy, axis=-1) > outlier_threshold
            rejected = int(far.sum())
            if rejected:
                problem = dataclasses.replace(problem, obs_weight=np.where(far, 0.0, problem.obs_weight))
                x, cost, _, more, converged = _levenberg_marquardt(problem, x, max_iterations, ftol, bar)
                iterations += more
    return OptimResult(
        points=x[: problem.n_coords].reshape(f, k, 3), lengths=x[problem.n_coords :], iterations=iterations,
        cost=cost, initial_cost=initial, converged=converged, rejected=rejected,
    )  # fmt: skip


def _mean_speed(points: np.ndarray) -> float:
    """Mean |frame-to-frame change| of median-filtered (7 frames) trajectories (anipose's smoothness unit)."""
    if points.shape[0] < 2:
        return 1.0
    med = running_median(points, 7, ends="hold")
    speed = float(np.mean(np.abs(np.diff(med, axis=0))))
    return speed if speed > 0 else 1.0


def _resolve_pairs(config: TriangulationConfig, keypoints: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    index = {name: i for i, name in enumerate(keypoints)}
    pairs, weights = [], []
    for name, weight in (("constraints", config.scale_length), ("constraints_weak", config.scale_length_weak)):
        for a, b in getattr(config, name):
            unknown = [p for p in (a, b) if p not in index]
            if unknown:
                raise TriangulationError(
                    f"{name}: body part(s) {', '.join(unknown)} not in the 2D data "
                    f"(body parts: {', '.join(keypoints)}). Fix the pair '{a}-{b}'."
                )
            pairs.append((index[a], index[b]))
            weights.append(weight)
    return np.array(pairs, dtype=np.int64).reshape(-1, 2), np.array(weights, dtype=np.float64)


def _chunks(n_frames: int, size: int | None, overlap: int) -> list[tuple[int, int]]:
    if size is None or size >= n_frames:
        return [(0, n_frames)]
    step = size - overlap
    starts = list(range(0, max(n_frames - overlap, 1), step))
    bounds = [(s, min(s + size, n_frames)) for s in starts]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < size // 2:
        bounds[-2] = (bounds[-2][0], n_frames)  # fold a short tail into the previous chunk
        bounds.pop()
    return bounds


def triangulate_optim(poses2d: Poses2D, rig: CameraRig, config: TriangulationConfig | None = None) -> Poses3D:
    """Triangulate a whole recording at once (``method = "optim"``).

    Parameters
    ----------
    poses2d : Poses2D
        (views, frames, keypoints, 2) px; views named like the rig's cameras.
    rig : CameraRig
    config : TriangulationConfig
        The ``optim`` options (``scale_smooth``, ``constraints``...) and the
        robust start's options (``score_threshold``, ``reproj_threshold``...).

    Returns
    -------
    Poses3D
        Points in the calibration's units. Per point: cameras used are the
        valid observations whose final reprojection distance is within
        ``outlier_threshold`` px (``reproj_threshold`` when the gate is off);
        ``error`` is their mean distance (px);
        ``score`` their smallest score. Points bridged across frames without any
        such camera keep their position but have ``ncams = 0``, ``score = 0``
        and ``error = NaN`` (as the gap filters mark filled points). Runs of
        more than ``max_gap`` frames that the robust start could not
        triangulate, and body parts never triangulated, are NaN. ``metadata["optim"]`` records the limb
        lengths, iterations, cost and smoothness unit.

    Raises
    ------
    TriangulationError
        On constraints naming unknown body parts, and as :func:`triangulate`.
    """
    config = config or TriangulationConfig(method="optim")
    started = time.perf_counter()
    pairs, pair_weights = _resolve_pairs(config, poses2d.keypoints)
    start = triangulate_frames(poses2d, rig, config.replace(method="robust"))
    cams = rig.select(poses2d.views)
    v, f, k, _ = poses2d.points.shape
    scores = poses2d.scores
    valid = np.isfinite(poses2d.points).all(-1) & (scores >= config.score_threshold) & (scores > 0)
    weights = np.where(valid, scores if config.weighted else 1.0, 0.0)
    filled, observed = interpolate_gaps(start.points)
    # Runs of frames that the robust start could not triangulate (fewer than two agreeing cameras)
    # are bridged when short; longer ones stay gaps, and their few observations are left out: a
    # lone camera's ray over many frames fixes no depth and would only slow the solver down.
    long_gaps = _runs_longer_than(~observed, config.max_gap)
    weights[:, long_gaps] = 0.0
    active = np.asarray(observed.any(0))  # body parts triangulated at least once
    if not active.all():
        log.warning(
            "optim: body part(s) %s never triangulated; left NaN",
            ", ".join(p for p, a in zip(poses2d.keypoints, active, strict=True) if not a),
        )
    keep_pairs = active[pairs].all(1) if len(pairs) else np.zeros(0, bool)
    remap = np.cumsum(active) - 1
    pairs_active, weights_active = remap[pairs[keep_pairs]], pair_weights[keep_pairs]
    lengths0 = _initial_lengths(start.points[:, active], pairs_active)
    unit = _mean_speed(filled[:, active])
    points = np.full((f, k, 3), np.nan)
    blend = np.zeros((f, 1, 1))
    acc = np.zeros((f, int(active.sum()), 3))
    lengths_acc = np.zeros(len(pairs_active))
    chunk = config.chunk_frames
    if chunk is None:
        # The normal matrix's band takes 8 (3 K n + 1) bytes per coordinate (factorized in
        # place); past the budget, chunks keep memory bounded.
        width = 3 * int(active.sum())
        per_frame = 8 * width * (width * config.n_deriv_smooth + 1)
        chunk = max(int(_BAND_MEMORY // per_frame), 2 * config.chunk_overlap + 10)
        if chunk < f:
            log.info("optim: %d frames exceed the memory budget; chunks of %d frames", f, chunk)
    bounds = _chunks(f, chunk, config.chunk_overlap)
    iterations, costs, rejected = [], [], []
    progress = _progress(len(bounds), "optim", "chunk", enabled=len(bounds) > 1)
    # a bar of iterations when one chunk is long enough to take a while (seconds per iteration)
    iteration_bar = len(bounds) == 1 and f * k >= 50_000
    for lo, hi in bounds:
        res = optimize_trajectories(
            cams, poses2d.points[:, lo:hi][:, :, active], weights[:, lo:hi][:, :, active], filled[lo:hi][:, active],
            pairs_active, weights_active, scale_smooth=config.scale_smooth, n_deriv_smooth=config.n_deriv_smooth,
            loss=config.reproj_loss, loss_scale=config.reproj_loss_scale, distort=config.undistort,
            max_iterations=config.max_iterations, outlier_threshold=config.outlier_threshold or None, lengths=lengths0,
            smooth_unit=unit, progress=iteration_bar,
        )  # fmt: skip
        w = _crossfade(lo, hi, f, config.chunk_overlap)
        acc[lo:hi] += w[:, None, None] * res.points
        blend[lo:hi, 0, 0] += w
        lengths_acc += res.lengths * (hi - lo)
        iterations.append(res.iterations)
        costs.append(res.cost)
        rejected.append(res.rejected)
        progress.update(1)
    progress.close()
    points[:, active] = acc / blend
    lengths = lengths_acc / f
    # Outputs: which observations the solution explains, and what stays a gap.
    proj = cams.project(points, distort=config.undistort)
    dist = np.linalg.norm(proj - poses2d.points, axis=-1)  # (V, F, K)
    gate = config.outlier_threshold or config.reproj_threshold  # what the optimisation kept, on its final points
    use = valid & (dist <= gate)
    points[long_gaps] = np.nan
    ok = np.isfinite(points).all(-1)
    use &= ok[None]
    ncams = use.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        error = np.where(use, dist, 0.0).sum(0) / ncams
    score = np.where(use, scores, np.inf).min(0)  # the weakest camera used, as anipose's _score
    error[ncams == 0] = np.nan
    score[ncams == 0] = 0.0
    names = [f"{poses2d.keypoints[a]}-{poses2d.keypoints[b]}" for a, b in pairs[keep_pairs]]
    elapsed = time.perf_counter() - started
    log.info(
        "optim: %d frames x %d body parts in %d chunk(s), %s iterations, %.2f s",
        f, k, len(bounds), "/".join(map(str, iterations)), elapsed,
    )  # fmt: skip
    return Poses3D(
        keypoints=poses2d.keypoints,
        points=points,
        error=error,
        ncams=ncams,
        cameras_used=use.transpose(1, 2, 0),
        score=score,
        views=poses2d.views,
        fps=poses2d.fps,
        metadata={
            "triangulation": config.to_dict(),
            "optim": {
                "limb_lengths": dict(zip(names, lengths.tolist(), strict=True)),
                "initial_limb_lengths": dict(zip(names, lengths0.tolist(), strict=True)),
                "smooth_unit": unit,
                "chunks": [list(b) for b in bounds],
                "iterations": iterations,
                "cost": costs,
                "rejected_observations": rejected,
                "seconds": elapsed,
            },
        },
    )


def _initial_lengths(points: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Median length of each pair over the frames where both ends were triangulated."""
    if len(pairs) == 0:
        return np.zeros(0)
    dist = np.linalg.norm(points[:, pairs[:, 0]] - points[:, pairs[:, 1]], axis=-1)  # (F, P), NaN if unseen
    dist[:, ~np.isfinite(dist).any(0)] = 1.0  # pairs never seen together: a placeholder the optimisation moves
    med = np.nanmedian(dist, axis=0)
    return np.where(med > 0, med, 1.0)


def _crossfade(lo: int, hi: int, n_frames: int, overlap: int) -> np.ndarray:
    """Weights of a chunk's frames over the overlaps with its neighbours (1 elsewhere).

    A chunk's solution is least certain at its ends, which lack the frames
    beyond; so the outer quarter of each overlap gets weight 0 and the middle
    half a linear ramp. The weights of two neighbours sum to 1 on every frame.
    """
    w = np.ones(hi - lo)
    ramp = np.clip((np.arange(overlap) + 0.5 - overlap / 4) / (overlap / 2), 0.0, 1.0) if overlap else np.zeros(0)
    if lo > 0 and overlap:
        w[:overlap] = ramp[: hi - lo]
    if hi < n_frames and overlap:
        w[-overlap:] = np.minimum(w[-overlap:], ramp[::-1][-(hi - lo) :])
    return w


def _progress(total: int, desc: str, unit: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False)
