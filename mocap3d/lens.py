"""The lens model and the least-squares machinery that fits it: one place for both.

Everything that maps ideal camera rays to pixels, or fits such a mapping, uses
this module: :class:`~mocap3d.camera.CameraRig` (projection, undistortion),
triangulation's spatiotemporal solver (:mod:`mocap3d.triangulation.optim`) and
calibration's bundle adjustment (:mod:`mocap3d.calibration.bundle`).

Lens model (OpenCV's)
---------------------
Normalized coordinates ``(x, y) = (X/Z, Y/Z)`` are distorted by five
coefficients ``(k1, k2, p1, p2, k3)``:

* pinhole: ``radial = 1 + k1 r^2 + k2 r^4 + k3 r^6``,
  ``xd = x radial + 2 p1 x y + p2 (r^2 + 2 x^2)``,
  ``yd = y radial + p1 (r^2 + 2 y^2) + 2 p2 x y``;
* fisheye (``cv2.fisheye``): ``theta = atan(r)``,
  ``theta_d = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8)``
  with ``k1..k4`` in the first four slots, ``(xd, yd) = (x, y) theta_d / r``;

then pixels are ``u = fx xd + skew yd + cx``, ``v = fy yd + cy``
(:func:`to_pixels`). :func:`distort` is the model, :func:`distort_jacobian`
adds its derivatives with respect to the point and to the coefficients (the
way kornia pairs ``distort`` with ``dx_distort``), :func:`undistort` inverts
it (Newton's method, vectorized; fisheye through OpenCV). Adding a lens model
means adding its branch to these three functions.

Solver
------
:func:`robust_loss` is the loss of squared residual norms used by both fits;
:func:`levenberg_marquardt` is the damped Gauss-Newton loop (accept a step
when it lowers the cost, otherwise raise the damping) that both run, and
:func:`schur_solve` the step's reduced system: with the normal equations
``[[A, B], [B^T, D]] (a, b) = -(g_a, g_b)`` and ``A`` eliminated, both solve
``(D - F^T G) b = rhs`` there. What each keeps is how it eliminates ``A``,
because their ``A`` differ: the trajectories' is one band over all frames
(a band Cholesky ``A = L L^T``, so ``F = G = L^-1 B`` and the back
substitution is ``L^-T``), the bundle's is a 6x6 block per board placement
(each inverted on its own, ``F^T = B^T V^-1`` as one batched product, ``G = B``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._parallel import BLOCK

__all__ = [
    "distort",
    "distort_jacobian",
    "to_pixels",
    "undistort",
    "undistort_fisheye",
    "robust_loss",
    "ROBUST_LOSSES",
    "levenberg_marquardt",
    "LMResult",
]

log = logging.getLogger(__name__)

# Below this radius (normalized units) the fisheye ratio theta_d / r is taken as its limit, 1.
_FISHEYE_CENTRE = 1e-12
# Below this radius the fisheye derivative's (d scale / d r) / r is taken as its limit 2 (k1 - 1/3):
# the closed form cancels catastrophically there.
_FISHEYE_CENTRE_SLOPE = 1e-8


# --------------------------------------------------------------------------- the model


def _pinhole(x, y, k1, k2, p1, p2, k3):
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return r2, radial, xd, yd


def _fisheye(r2, k1, k2, k3, k4):
    r = np.sqrt(r2)
    theta = np.arctan(r)
    t2 = theta * theta
    theta_d = theta * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
    centre = ~(r > _FISHEYE_CENTRE)
    r_safe = np.where(centre, 1.0, r)
    scale = np.where(centre, 1.0, theta_d / r_safe)
    return r, theta, t2, theta_d, scale


def distort(
    x: np.ndarray, y: np.ndarray, coeffs: Sequence[Any] | np.ndarray, fisheye: Any = False
) -> tuple[np.ndarray, np.ndarray]:
    """Distorted normalized coordinates ``(xd, yd)`` of ideal ones ``(x, y)``.

    Parameters
    ----------
    x, y : arrays
        Ideal normalized coordinates.
    coeffs : 5 scalars or arrays broadcasting with ``x``
        ``k1, k2, p1, p2, k3`` (fisheye: ``k1..k4`` in the first four).
    fisheye : bool or bool array broadcasting with ``x``
        Which points (cameras) use the fisheye model.
    """
    k1, k2, p1, p2, k3 = coeffs
    r2, _, xd, yd = _pinhole(x, y, k1, k2, p1, p2, k3)
    if np.any(fisheye):
        scale = _fisheye(r2, k1, k2, p1, p2)[4]
        xd = np.where(fisheye, x * scale, xd)
        yd = np.where(fisheye, y * scale, yd)
    return xd, yd


@dataclass(frozen=True)
class LensJacobian:
    """Derivatives of :func:`distort` at some points.

    ``dxd_dx, dxd_dy, dyd_dx, dyd_dy``: d(xd, yd)/d(x, y), arrays like the points.
    ``d_coeffs``: d(xd, yd)/d(k1, k2, p1, p2, k3), (..., 2, 5), when asked for.
    """

    dxd_dx: np.ndarray
    dxd_dy: np.ndarray
    dyd_dx: np.ndarray
    dyd_dy: np.ndarray
    d_coeffs: np.ndarray | None = None


def distort_jacobian(
    x: np.ndarray, y: np.ndarray, coeffs: Sequence[Any] | np.ndarray, fisheye: Any = False, *, wrt_coeffs: bool = False
) -> tuple[np.ndarray, np.ndarray, LensJacobian]:
    """:func:`distort` and its derivatives with respect to the point (and, with ``wrt_coeffs``, the coefficients).

    All derivatives are analytic, fisheye included (at the image centre the
    fisheye terms take their limits).
    """
    k1, k2, p1, p2, k3 = coeffs
    r2, radial, xd, yd = _pinhole(x, y, k1, k2, p1, p2, k3)
    dradial = k1 + r2 * (2 * k2 + 3 * k3 * r2)  # d radial / d r2
    a11 = radial + 2 * x * x * dradial + 2 * p1 * y + 6 * p2 * x
    a12 = 2 * x * y * dradial + 2 * p1 * x + 2 * p2 * y
    a22 = radial + 2 * y * y * dradial + 6 * p1 * y + 2 * p2 * x
    a21 = a12
    d_coeffs = None
    if wrt_coeffs:
        r4 = r2 * r2
        shape = np.broadcast(x, y).shape
        d_coeffs = np.empty(shape + (2, 5))
        d_coeffs[..., 0, :] = np.stack(np.broadcast_arrays(x * r2, x * r4, 2 * x * y, r2 + 2 * x * x, x * r4 * r2), -1)
        d_coeffs[..., 1, :] = np.stack(np.broadcast_arrays(y * r2, y * r4, r2 + 2 * y * y, 2 * x * y, y * r4 * r2), -1)
    if np.any(fisheye):
        r, theta, t2, theta_d, scale = _fisheye(r2, k1, k2, p1, p2)
        dtheta_d = 1 + t2 * (3 * k1 + t2 * (5 * k2 + t2 * (7 * p1 + t2 * 9 * p2)))
        # q = (d scale / d r) / r; its limit at r = 0 is 2 (k1 - 1/3)
        tiny = r < _FISHEYE_CENTRE_SLOPE
        r_safe = np.where(tiny, 1.0, r)
        q = np.where(tiny, 2 * (k1 - 1.0 / 3.0), (dtheta_d / (1 + r2) * r - theta_d) / r_safe**3)
        f11, f12, f22 = scale + x * x * q, x * y * q, scale + y * y * q
        xd = np.where(fisheye, x * scale, xd)
        yd = np.where(fisheye, y * scale, yd)
        a11, a12, a21, a22 = (np.where(fisheye, f, p) for f, p in ((f11, a11), (f12, a12), (f12, a21), (f22, a22)))
        if d_coeffs is not None:
            # d theta_d / d k_i = theta t2^i; xd = x theta_d / r (theta / r -> 1 at the centre)
            ratio = np.where(tiny, 1.0, theta / r_safe)
            powers = np.stack(np.broadcast_arrays(t2, t2 * t2, t2**3, t2**4, 0 * t2), -1) * ratio[..., None]
            fish = np.broadcast_to(np.asarray(fisheye)[..., None], d_coeffs.shape[:-2] + (5,))
            d_coeffs[..., 0, :] = np.where(fish, np.asarray(x)[..., None] * powers, d_coeffs[..., 0, :])
            d_coeffs[..., 1, :] = np.where(fish, np.asarray(y)[..., None] * powers, d_coeffs[..., 1, :])
    return xd, yd, LensJacobian(a11, a12, a21, a22, d_coeffs)


def to_pixels(xd: np.ndarray, yd: np.ndarray, fx: Any, fy: Any, cx: Any, cy: Any, skew: Any = None) -> np.ndarray:
    """Pixels (..., 2) of distorted normalized coordinates: ``u = fx xd + skew yd + cx``, ``v = fy yd + cy``."""
    u = fx * xd + cx if skew is None else fx * xd + skew * yd + cx
    return np.stack([u, fy * yd + cy], -1)


# --------------------------------------------------------------------------- the inverse

# Newton steps taken on every point; points whose last step is still above
# _NEWTON_CONVERGED (normalized units) continue, alone, up to _NEWTON_MAX_STEPS.
_NEWTON_STEPS = 3
_NEWTON_MAX_STEPS = 20
_NEWTON_CONVERGED = 1e-8


def _newton_steps(x: np.ndarray, y: np.ndarray, xd: np.ndarray, yd: np.ndarray, coeffs: tuple[float, ...],
                  steps: int) -> np.ndarray:
    """``steps`` Newton steps on the pinhole model, updating ``x``/``y`` in place; returns the last step's size.

    Written with in-place operations on scalar coefficients: ~60 vector
    operations per step and few temporaries. (The model and its Jacobian are
    :func:`distort_jacobian`'s, unrolled for speed.)
    """
    k1, k2, p1, p2, k3 = coeffs
    step = np.zeros_like(x)
    for _ in range(steps):
        xx, yy, xy = x * x, y * y, x * y
        r2 = xx + yy
        radial = k3 * r2
        radial += k2
        radial *= r2
        radial += k1
        radial *= r2
        radial += 1.0
        slope = (3.0 * k3) * r2  # 2 d(radial)/d(r2)
        slope += 2.0 * k2
        slope *= r2
        slope += k1
        slope *= 2.0
        ex = radial * x  # residuals of the model at (x, y)
        ex += (2.0 * p1) * xy
        ex += p2 * r2
        ex += (2.0 * p2) * xx
        ex -= xd
        ey = radial * y
        ey += (2.0 * p2) * xy
        ey += p1 * r2
        ey += (2.0 * p1) * yy
        ey -= yd
        j11 = xx * slope  # the Jacobian, symmetric
        j11 += radial
        j11 += (2.0 * p1) * y
        j11 += (6.0 * p2) * x
        j22 = yy * slope
        j22 += radial
        j22 += (6.0 * p1) * y
        j22 += (2.0 * p2) * x
        j12 = xy * slope
        j12 += (2.0 * p1) * x
        j12 += (2.0 * p2) * y
        det = j11 * j22
        det -= j12 * j12
        dx = j22 * ex
        dx -= j12 * ey
        dx /= det
        dy = j11 * ey
        dy -= j12 * ex
        dy /= det
        x -= dx
        y -= dy
        np.abs(dx, out=step)
        step += np.abs(dy)
    return step


def undistort(xd: np.ndarray, yd: np.ndarray, k1: float, k2: float, p1: float, p2: float,
              k3: float) -> tuple[np.ndarray, np.ndarray]:
    """Ideal normalized coordinates of one pinhole camera's distorted ones (N,), NaN where Newton fails.

    Starting from the distorted point, Newton's method converges
    quadratically: for lenses like the sample rig's (|k1| ~ 0.2, image
    corners at r ~ 0.6) three steps bring every point below 1e-15. Points
    whose third step was still large (strong distortion near the model's
    fold, or divergence outside its domain) iterate further on their own and
    are NaN unless the model then maps them back onto the input within 1e-9.
    """
    coeffs = (k1, k2, p1, p2, k3)
    x, y = xd.copy(), yd.copy()
    step = np.empty_like(x)
    with np.errstate(all="ignore"):  # points far outside the lens model's domain diverge; NaN below
        # blocks that stay in the CPU's cache: the same values, several times faster on long recordings
        for s in range(0, len(x), BLOCK):
            b = slice(s, s + BLOCK)
            step[b] = _newton_steps(x[b], y[b], xd[b], yd[b], coeffs, _NEWTON_STEPS)
        slow = np.flatnonzero(step >= _NEWTON_CONVERGED)  # NaN (no observation) compares False
        if slow.size:
            xs, ys, xds, yds = x[slow], y[slow], xd[slow], yd[slow]
            for _ in range(_NEWTON_MAX_STEPS - _NEWTON_STEPS):
                if not (_newton_steps(xs, ys, xds, yds, coeffs, 1) >= _NEWTON_CONVERGED).any():
                    break
            ex, ey = distort(xs, ys, coeffs)
            bad = ~(np.abs(ex - xds) + np.abs(ey - yds) < 1e-9)
            xs[bad] = np.nan
            ys[bad] = np.nan
            x[slow], y[slow] = xs, ys
        lost = ~np.isfinite(step)  # diverged to inf/NaN within the first steps
        if lost.any():
            x[lost] = np.nan
            y[lost] = np.nan
    return x, y


# Termination criteria of OpenCV's fisheye undistortion: its default (few fixed-point iterations) leaves
# pixel-level errors in the corners of strongly distorted lenses.
_FISHEYE_CRITERIA = (3, 200, 1e-14)  # cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS


def undistort_fisheye(pixels: np.ndarray, K: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ideal normalized coordinates (N,) x2 of one fisheye camera's pixels (N, 2); NaN stays NaN (OpenCV)."""
    import cv2  # local: only fisheye rigs need OpenCV here

    x = np.full(len(pixels), np.nan)
    y = np.full(len(pixels), np.nan)
    ok = np.isfinite(pixels).all(-1)
    if ok.any():
        src = np.ascontiguousarray(pixels[ok], dtype=np.float64).reshape(-1, 1, 2)
        und = cv2.fisheye.undistortPoints(src, K, k[:4], R=None, P=None, criteria=_FISHEYE_CRITERIA).reshape(-1, 2)
        x[ok], y[ok] = und[:, 0], und[:, 1]
    return x, y


# --------------------------------------------------------------------------- robust loss

ROBUST_LOSSES = ("linear", "soft_l1", "huber", "cauchy", "arctan")


def robust_loss(z: np.ndarray, kind: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """A robust loss ``rho(z)`` of squared residual norms ``z`` and its derivative.

    Parameters
    ----------
    z : array
        Squared residual norms (px^2).
    kind : one of :data:`ROBUST_LOSSES`
        scipy's ``least_squares`` losses, in the units of ``z``:
        ``rho(z) = scale^2 rho_scipy(z / scale^2)``.
    scale : float
        Residual norm (px) where the loss leaves its quadratic zone.

    Returns
    -------
    rho, drho : arrays like ``z``
        ``rho(z) ~ z`` for small ``z``; ``drho = d rho / d z`` (1 in the
        quadratic zone, falling beyond it). A Gauss-Newton step weights each
        residual's normal equations by ``drho`` (iteratively reweighted least
        squares).
    """
    if kind == "linear":
        return z, np.ones_like(z)
    s2 = scale * scale
    if kind == "soft_l1":
        t = np.sqrt(1.0 + z / s2)
        return 2.0 * s2 * (t - 1.0), 1.0 / t
    if kind == "huber":
        root = np.sqrt(z)
        inside = z <= s2
        rho = np.where(inside, z, 2.0 * scale * root - s2)
        return rho, np.where(inside, 1.0, scale / np.where(inside, 1.0, root))
    if kind == "cauchy":
        s = z / s2
        return s2 * np.log1p(s), 1.0 / (1.0 + s)
    if kind == "arctan":
        s = z / s2
        return s2 * np.arctan(s), 1.0 / (1.0 + s * s)
    raise ValueError(f"unknown loss {kind!r}; use one of {', '.join(ROBUST_LOSSES)}")


# --------------------------------------------------------------------------- Levenberg-Marquardt


@dataclass(frozen=True)
class LMResult:
    """What :func:`levenberg_marquardt` ends with."""

    x: np.ndarray
    cost: float
    iterations: int  # the last iteration entered (the one that stopped, when no step helped)
    evaluations: int  # cost evaluations, the initial one included
    converged: bool  # the relative decrease fell below ftol, or no step lowered the cost


def levenberg_marquardt(
    x: np.ndarray,
    cost: Callable[[np.ndarray], float],
    step: Callable[[np.ndarray, float], np.ndarray | None],
    *,
    damping: float,
    max_iterations: int,
    ftol: float,
    raise_by: float = 10.0,
    lower_by: float = 10.0,
    min_damping: float = 0.0,
    max_damping: float = np.inf,
    max_tries: int | None = None,
    on_iteration: Callable[[int, float, float, float], None] | None = None,
) -> LMResult:
    """Damped Gauss-Newton: take a step when it lowers the cost, otherwise raise the damping and retry.

    Parameters
    ----------
    x : the start.
    cost : the (robust) cost of parameters.
    step : ``step(x, damping)`` -> the damped Gauss-Newton step at ``x`` (the
        problem builds and solves its normal equations), or ``None`` when the
        damped system could not be solved (counts as a failed try).
    damping : the initial damping (how it enters the normal equations is the
        problem's choice, e.g. Marquardt's ``lam * diag(H)``).
    max_iterations, ftol : stop after that many accepted steps, or when one
        lowered the cost by less than ``ftol`` (relative).
    raise_by, lower_by, min_damping : after a failed try the damping is
        multiplied by ``raise_by``; after an accepted step divided by
        ``lower_by``, not below ``min_damping``.
    max_damping, max_tries : give up on an iteration (converged: no step
        lowers the cost) when the damping exceeds ``max_damping`` (or
        overflows) or after ``max_tries`` failed tries.
    on_iteration : called as ``(iteration, cost, relative decrease, damping)`` after each accepted step.
    """
    x = np.array(x, dtype=np.float64, copy=True)
    current = cost(x)
    evaluations = 1
    lam = damping
    iteration = 0
    for iteration in range(1, max_iterations + 1):
        tries = 0
        while True:
            delta = step(x, lam)
            if delta is not None:
                trial = x + delta
                new = cost(trial) if np.isfinite(trial).all() else np.inf
                evaluations += 1
                if np.isfinite(new) and new < current:
                    break
            lam *= raise_by
            tries += 1
            if not (np.isfinite(lam) and lam <= max_damping) or (max_tries is not None and tries >= max_tries):
                return LMResult(x, current, iteration, evaluations, True)
        decrease = (current - new) / max(current, 1e-300)
        x, current = trial, new
        lam = max(lam / lower_by, min_damping)
        if on_iteration is not None:
            on_iteration(iteration, current, decrease, lam)
        if decrease < ftol:
            return LMResult(x, current, iteration, evaluations, True)
    return LMResult(x, current, iteration, evaluations, False)


def schur_solve(damped: np.ndarray, left: np.ndarray, right: np.ndarray, rhs: np.ndarray,
                *, lstsq_fallback: bool = False) -> np.ndarray | None:
    """The reduced system of a Gauss-Newton step after a Schur elimination: ``(damped - left @ right) x = rhs``.

    Parameters
    ----------
    damped : (n, n)
        The kept block ``D`` of the normal equations, already damped.
    left, right : (n, m), (m, n)
        The eliminated block's coupling, solved on one side: ``F^T`` and ``G``
        with ``F^T G = B^T A^-1 B`` (see the module docstring).
    rhs : (n,)
        The reduced right-hand side (``-(g_b - B^T A^-1 g_a)``).
    lstsq_fallback : a singular system is solved in the least-squares sense
        (``True``) or gives ``None`` (a failed try: the loop raises the damping).
    """
    schur = damped - left @ right
    try:
        return np.linalg.solve(schur, rhs)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(schur, rhs, rcond=None)[0] if lstsq_fallback else None
