"""Linear triangulation (DLT), batched over points: mocap3d's weighted form and aniposelib's.

Both formulations take, for one point, the unit vector ``X`` minimising
``|A X|`` where ``A`` stacks two rows per camera ``c`` that sees the point,

    w_c * (x_c P_c[2] - P_c[0])
    w_c * (y_c P_c[2] - P_c[1]),

but they differ in what ``x, y``, ``P`` and ``w`` are, and so in their answers
(on the sample walk: 1.7 mm median apart, metres apart for the rare point whose
views nearly agree only in one direction):

mocap3d (:func:`triangulate_dlt`, methods ``dlt`` and ``robust``)
    ``x, y`` are *undistorted pixels* and ``P = K [R|t]``; ``w_c`` is the 2D
    score (``weighted = true``) or 1. This is Pose2Sim's
    ``weighted_triangulation``. ``X`` is the smallest eigenvector of
    ``M = A^T A``; ``M`` is a linear combination of four fixed matrices per
    camera (:func:`camera_basis`), so building its ten distinct entries for all
    points, or for any subset of cameras, is one small contraction in a fixed
    order (:func:`normal_entries`); its smallest eigenvector is
    found from the secular equation of the 3x3 block (:func:`solve_entries`:
    three batched 3x3 solves for nearly every point), an order of magnitude
    faster than a batched SVD or ``eigh`` and equal to the SVD's answer to
    float64's resolution of this problem (~1e-9 relative; the homogeneous
    coordinate's scale makes ``M`` ill-conditioned for the SVD too).
aniposelib (:func:`triangulate_svd`, the ``anipose`` formulation / preset)
    ``x, y`` are *normalised camera coordinates* (OpenCV's
    ``undistortPoints`` without a new camera matrix, with its default five
    fixed-point iterations) and ``P = [R|t]``; every camera above the score
    threshold has ``w_c = 1`` (anipose drops the others; scores do not weight),
    and ``X`` is the last right-singular vector of ``A`` from an SVD per point:
    ``aniposelib.cameras.triangulate_simple`` (0.8.0) step for step.
"""

from __future__ import annotations

import numpy as np

from .._parallel import BLOCK, map_threads
from ..poses import finite_points

__all__ = [
    "camera_basis",
    "entry_basis",
    "coefficient_rows",
    "normal_entries",
    "solve_entries",
    "triangulate_dlt",
    "triangulate_svd",
    "reproject",
    "reprojection_errors",
]


def camera_basis(P: np.ndarray) -> np.ndarray:
    """Per-camera constant matrices from which any DLT normal matrix is a linear combination.

    For camera ``c`` with rows ``p0, p1, p2`` and an observation ``(x, y)`` of
    weight ``w``, the contribution ``a a^T + b b^T`` (``a = w (x p2 - p0)``,
    ``b = w (y p2 - p1)``) expands to

        w^2 (x^2 + y^2) p2 p2^T - w^2 x (p2 p0^T + p0 p2^T) - w^2 y (p2 p1^T + p1 p2^T)
        + w^2 (p0 p0^T + p1 p1^T),

    i.e. four fixed matrices per camera weighted by per-observation
    coefficients (see :func:`coefficient_rows`). Summing over cameras is then
    one small matrix product instead of ``C x N`` outer products.

    Returns
    -------
    array (C, 4, 16)
    """
    p0, p1, p2 = P[:, 0], P[:, 1], P[:, 2]

    def outer(u, v):
        return u[:, :, None] * v[:, None, :]

    basis = np.stack(
        [
            outer(p2, p2),
            outer(p2, p0) + outer(p0, p2),
            outer(p2, p1) + outer(p1, p2),
            outer(p0, p0) + outer(p1, p1),
        ],
        axis=1,
    )
    return basis.reshape(P.shape[0], 4, 16)


def coefficient_rows(points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-observation coefficients of :func:`camera_basis`, laid out (C, 4, N) (points contiguous).

    ``points`` (C, N, 2) may hold NaN where ``weights`` (C, N) is 0.
    """
    rows = np.empty(weights.shape[:1] + (4,) + weights.shape[1:])

    # written in place (the same operations as w2 (x^2 + y^2), -w2 x, -w2 y, w2; no stacking copy), one camera
    # at a time (over threads on long recordings: element-wise, so the same values)
    def one(c: int) -> None:
        x = np.nan_to_num(points[c, ..., 0])
        y = np.nan_to_num(points[c, ..., 1])
        w2 = weights[c] * weights[c]
        square = np.multiply(x, x, out=rows[c, 0])
        square += y * y
        square *= w2
        negative = np.negative(w2, out=rows[c, 3])
        np.multiply(negative, x, out=rows[c, 1])
        np.multiply(negative, y, out=rows[c, 2])
        rows[c, 3] = w2

    map_threads(one, range(len(rows)), weights[0].size if len(rows) else 0)
    return rows


def entry_basis(P: np.ndarray) -> np.ndarray:
    """:func:`camera_basis` restricted to the ten distinct normal-matrix entries that the solver reads
    (:data:`_ENTRIES`), laid out (10, C * 4) for :func:`normal_entries`."""
    c = P.shape[0]
    return np.ascontiguousarray(camera_basis(P).reshape(c * 4, 16)[:, list(_ENTRIES)].T)


def normal_entries(basis: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The ten distinct entries (10, n) of the DLT normal matrices of coefficient rows (C, 4, n)
    (:func:`coefficient_rows`, zero for cameras left out) with an :func:`entry_basis` (10, C * 4).

    Summed by einsum in a fixed order, not by a BLAS product: each point's entries are then the same
    however the points are grouped and whatever the machine (a BLAS product's sums depend on its kernel
    and thread count), and no BLAS threads spin, after the product, on the cores that other blocks need.
    """
    return np.einsum("ek,kn->en", basis, rows.reshape(basis.shape[1], -1))


# Entries of the symmetric 4x4 normal matrix (row-major index into 16) that the solver reads:
# the 3x3 block A (a11 a12 a13 a22 a23 a33), the column b (b1 b2 b3) and the corner c.
_ENTRIES = (0, 1, 2, 5, 6, 10, 3, 7, 11, 15)
# Secular-equation steps before the remaining points are iterated on their own, and in all.
_FULL_STEPS = 3
_MAX_STEPS = 30
# A point is settled when a step moved it by less than this fraction of its size.
_SETTLED = 1e-9


def solve_entries(e: np.ndarray) -> np.ndarray:
    """Smallest eigenvectors of many normal matrices given as their 10 distinct entries ``e`` (10, N) in
    :data:`_ENTRIES` order (rows contiguous or not); returns the dehomogenised points (N, 3).

    With ``M = [[A, b], [b^T, c]]`` and the eigenvector written ``(p, 1)``, ``M v = lam v`` reads
    ``(A - lam I) p = -b`` and ``f(lam) = c - lam - b^T (A - lam I)^-1 b = 0``; the smallest
    eigenvalue is the root of this secular equation below the smallest eigenvalue of ``A``, where
    ``A - lam I`` is positive definite. Each step solves that 3x3 system by an unpivoted LDL^T
    (~25 vector operations; positive definiteness makes pivoting unnecessary) and moves ``lam`` to
    the root of a one-pole rational model of ``b^T (A - lam I)^-1 b`` fitted to its value and slope,
    as LAPACK's secular-equation solvers do: from ``lam = 0`` (where ``p`` is the inhomogeneous
    least-squares point) it converges monotonically and fast. A point is done when ``p`` moved by
    less than 1e-10 of its size; the few that are not after three steps (outlier-contaminated points
    whose two smallest eigenvalues are close) continue alone. NaN where ``A - lam I`` is not positive
    definite (fewer than two usable cameras, or a point at infinity).
    """
    n = e.shape[1]
    out = np.full((n, 3), np.nan)
    scale = e[0] + e[3] + e[5] + e[9]  # trace: a relative scale for the model's square root
    ok = np.isfinite(scale) & (scale > 0)
    if not ok.any():
        return out
    if not ok.all():
        e, scale = e[:, ok], scale[ok]
    rows = [r / scale for r in e]
    done = np.zeros((rows[0].size, 3))
    good = np.zeros(rows[0].size, bool)
    index = np.arange(rows[0].size)
    with np.errstate(all="ignore"):
        # A singular (fewer than two usable views): no answer, and no iterations spent on it
        a11, a12, a13, a22, a23, a33 = rows[:6]
        d2 = a22 - a12 * a12 / a11
        regular = (a11 > 0) & (d2 > 0) & (a33 - a13 * a13 / a11 - (a23 - a13 * a12 / a11) ** 2 / d2 > 0)
        if not regular.all():
            rows, index = [r[regular] for r in rows], index[regular]
        lam = np.zeros(index.size)
        below = lam.copy()  # the largest lam known to lie below A's smallest eigenvalue
        for step in range(_MAX_STEPS):
            a11, a12, a13, a22, a23, a33, b1, b2, b3, c = rows
            d1 = a11 - lam
            l21 = a12 / d1
            l31 = a13 / d1
            d2 = a22 - lam - l21 * a12
            l32 = (a23 - l31 * a12) / d2
            d3 = a33 - lam - l31 * a13 - l32 * l32 * d2
            z2 = l21 * b1 - b2
            z3 = l31 * b1 - b3 - l32 * z2
            p3 = z3 / d3
            p2 = z2 / d2 - l32 * p3
            p1 = -b1 / d1 - l21 * p2 - l31 * p3
            psi = -(b1 * p1 + b2 * p2 + b3 * p3)  # b^T (A - lam I)^-1 b
            slope = p1 * p1 + p2 * p2 + p3 * p3  # its derivative in lam
            pole = lam + psi / slope  # model: psi(l) = weight / (pole - l)
            weight = psi * psi / slope
            # smaller root of (c - l)(pole - l) = weight, in the cancellation-free form
            new = 2 * (c * pole - weight) / ((c + pole) + np.sqrt((c - pole) ** 2 + 4 * weight))
            # The model can overshoot the smallest eigenvalue of A when the two smallest
            # eigenvalues of M are close; a non-positive pivot shows it: halve back towards
            # the last lam where A - lam I was positive definite.
            pd = (d1 > 0) & (d2 > 0) & (d3 > 0)
            new = np.where(pd, new, 0.5 * (below + lam))
            below = np.where(pd, lam, below)
            lam, step_lam = new, new - lam
            if step + 1 < _FULL_STEPS:
                continue
            # p's error is about |step_lam| * |(A - lam I)^-1 p|: solve with the same factors
            w2 = p2 - l21 * p1
            w3 = p3 - l31 * p1 - l32 * w2
            q3 = w3 / d3
            q2 = w2 / d2 - l32 * q3
            q1 = p1 / d1 - l21 * q2 - l31 * q3
            reach = np.maximum(np.maximum(np.abs(q1), np.abs(q2)), np.abs(q3)) * np.abs(step_lam)
            size = np.maximum(np.maximum(np.abs(p1), np.abs(p2)), np.abs(p3))
            # Settled when p is within _SETTLED of its size, or lam is at float64's resolution
            # (~eps * c: f = c - lam - psi cancels ~c's digits, so p cannot get better).
            # NaN (degenerate) compares False: it settles.
            pending = ((reach > _SETTLED * (1.0 + size)) & (np.abs(step_lam) > 8e-16 * c)) | ~pd
            last = step == _MAX_STEPS - 1 or not pending.any()
            settle = ~pending if not last else np.ones_like(pending)
            idx = index[settle]
            done[idx, 0], done[idx, 1], done[idx, 2] = p1[settle], p2[settle], p3[settle]
            good[idx] = pd[settle]
            if last:
                break
            rows = [r[pending] for r in rows]
            lam, below, index = lam[pending], below[pending], index[pending]
    good &= np.isfinite(done).all(1)
    done[~good] = np.nan
    out[ok] = done
    return out


def _views(P: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """``P`` as float64, the observations flattened to ``(C, N, 2)``, and the points' shape (``...``)."""
    P = np.asarray(P, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64)
    c = P.shape[0]
    if pts.shape[0] != c or pts.shape[-1] != 2:
        raise ValueError(f"points must have shape ({c}, ..., 2), got {pts.shape}")
    return P, pts.reshape(c, -1, 2), pts.shape[1:-1]


def triangulate_dlt(P: np.ndarray, points: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted DLT of every point at once.

    Parameters
    ----------
    P : array (C, 3, 4)
        Projection matrices (``K [R|t]`` for ideal pixels, ``[R|t]`` for normalized coordinates).
    points : array (C, ..., 2)
        Observations; NaN = not seen.
    weights : array (C, ...), optional
        Confidence weights (default 1). Observations with NaN coordinates or
        weight <= 0 are ignored.

    Returns
    -------
    array (..., 3)
        NaN where fewer than two cameras observed the point.
    """
    P, flat, shape = _views(P, points)
    c = P.shape[0]
    w = np.ones(flat.shape[:2]) if weights is None else np.asarray(weights, dtype=np.float64).reshape(c, -1)
    valid = finite_points(flat) & (w > 0)
    w = np.where(valid, w, 0.0)
    rows = coefficient_rows(flat, w)
    basis = entry_basis(P)

    # blocks of points that stay in the CPU's cache, shared out over threads on long recordings (each point is
    # solved on its own: the same values however the points are grouped, see normal_entries)
    def block(s: int) -> np.ndarray:
        return solve_entries(normal_entries(basis, rows[:, :, s : s + BLOCK]))

    out = np.concatenate(map_threads(block, range(0, max(rows.shape[2], 1), BLOCK), rows.shape[2]))
    out[valid.sum(0) < 2] = np.nan
    return out.reshape(shape + (3,))


def triangulate_svd(P: np.ndarray, points: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """aniposelib's DLT: per point, the unweighted system's last right-singular vector, from an SVD.

    Parameters
    ----------
    P : array (C, 3, 4)
        ``[R|t]`` when ``points`` are normalised camera coordinates (aniposelib's case).
    points : array (C, ..., 2)
        Observations; NaN = not seen.
    valid : bool array (C, ...), optional
        Which observations to use (default: the finite ones); the others' rows are zero, as in aniposelib.

    Returns
    -------
    array (..., 3)
        NaN where fewer than two cameras are valid.
    """
    P, flat, shape = _views(P, points)
    c = P.shape[0]
    use = np.asarray(np.isfinite(flat).all(-1))
    if valid is not None:
        use &= np.asarray(valid, bool).reshape(c, -1)
    xy = np.where(use[..., None], flat, 0.0)
    # rows (C, N, 2, 4): [x, y]^T P[2] - P[:2], zero for unused observations
    rows = xy[..., :, None] * P[:, None, 2:3, :] - P[:, None, :2, :]
    rows = np.where(use[..., None, None], rows, 0.0)
    a = rows.transpose(1, 0, 2, 3).reshape(-1, 2 * c, 4)
    out = np.full((a.shape[0], 3), np.nan)
    enough = use.sum(0) >= 2
    if enough.any():
        _, _, vh = np.linalg.svd(a[enough], full_matrices=True)
        v = vh[:, -1]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[enough] = v[:, :3] / v[:, 3:4]
    return out.reshape(shape + (3,))


def reproject(P: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Project world points (..., 3) with (C, 3, 4) matrices to (C, ..., 2)."""
    Xh = np.concatenate([X, np.ones(X.shape[:-1] + (1,))], -1)
    proj = np.einsum("cij,...j->c...i", P, Xh)
    return proj[..., :2] / proj[..., 2:3]


def reprojection_errors(P: np.ndarray, X: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Euclidean distance (C, ...) between ``points`` (C, ..., 2) and the reprojection of ``X`` (..., 3)."""
    return np.linalg.norm(reproject(P, X) - points, axis=-1)
