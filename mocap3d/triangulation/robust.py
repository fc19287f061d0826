"""Robust triangulation: choose, per point, the camera subset that explains it.

The rule is Pose2Sim's ("triangulation_from_best_cameras"), evaluated in bulk
instead of per point:

1. Observations below the score threshold are dropped.
2. Level ``k = 0, 1, 2, ...``: every subset that leaves out ``k`` of the
   point's valid cameras (and keeps at least ``min_cameras``) is triangulated
   with the weighted DLT; the subset with the lowest mean reprojection error
   wins the level.
3. The first level whose winner is below ``threshold`` px gives the point.
   When no level does, the point is left out (NaN): a wrong point is worse
   than a gap that the filters can fill.

Each level only processes the points that are still unresolved, and all
subsets of a level are evaluated for all those points in one vectorized call
(the DLT normal matrix of a subset is a masked sum, see
:mod:`mocap3d.triangulation.dlt`). Unlike aniposelib's ``triangulate_ransac``,
a point with fewer than ``min_cameras`` valid views is simply NaN.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np

from .dlt import coefficient_rows, entry_basis, normal_entries, solve_entries

__all__ = ["triangulate_robust"]

log = logging.getLogger(__name__)

# Points x subsets evaluated per batch: bounds memory (about 1 kB each) for rigs
# with many cameras, where one level can hold hundreds of subsets.
_BATCH = 400_000


def _exclusion_masks(n_cameras: int, k: int) -> np.ndarray:
    """Boolean (S, C) masks that keep all cameras but ``k`` (every combination)."""
    combos = list(itertools.combinations(range(n_cameras), k))
    masks = np.ones((len(combos), n_cameras), bool)
    for s, combo in enumerate(combos):
        masks[s, list(combo)] = False
    return masks


def triangulate_robust(
    P: np.ndarray,
    points: np.ndarray,
    weights: np.ndarray,
    threshold: float = 15.0,
    min_cameras: int = 2,
    max_excluded: int | None = None,
    check_depth: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triangulate each point from its best subset of cameras.

    Parameters
    ----------
    P : array (C, 3, 4)
        Projection matrices into the coordinates of ``points``.
    points : array (C, N, 2)
        Observations; NaN = not seen.
    weights : array (C, N)
        DLT weights; 0 = not used (below the score threshold).
    threshold : float
        Accept a subset when its mean reprojection error is at most this (px).
    min_cameras : int
        Smallest subset allowed (>= 2).
    max_excluded : int, optional
        Leave out at most this many cameras per point (default: as many as
        ``min_cameras`` allows). Bounds the work on rigs with many cameras.
    check_depth : bool
        Reject subsets whose point lies behind one of its cameras (a wrong
        pair of views can meet behind the rig with a small reprojection error).
        Pose2Sim does not check this; its preset turns it off.

    Returns
    -------
    X : array (N, 3)
        NaN where no subset met the threshold.
    used : bool array (C, N)
        Cameras of the chosen subset.
    error : array (N,)
        Mean reprojection error of the chosen subset (px, in the coordinates
        of ``points``); NaN where not triangulated.
    """
    P = np.asarray(P, dtype=np.float64)
    c, n, _ = points.shape
    min_cameras = max(2, int(min_cameras))
    valid = np.isfinite(points).all(-1) & (weights > 0)
    n_valid = valid.sum(0)
    rows = coefficient_rows(points, np.where(valid, weights, 0.0))  # (C, 4, N)
    basis = entry_basis(P)

    X = np.full((n, 3), np.nan)
    used = np.zeros((c, n), bool)
    error = np.full(n, np.nan)
    pending = n_valid >= min_cameras
    last_level = c - min_cameras if max_excluded is None else min(c - min_cameras, int(max_excluded))
    for k in range(last_level + 1):
        todo = np.flatnonzero(pending & (n_valid - k >= min_cameras))
        if todo.size == 0:
            break
        masks = _exclusion_masks(c, k)  # (S, C)
        per_batch = max(1, _BATCH // len(masks))
        for start in range(0, todo.size, per_batch):
            idx = todo[start : start + per_batch]
            eff = masks[:, :, None] & valid[None, :, idx]  # (S, C, n)
            count = eff.sum(1)  # (S, n)
            s_, n_ = len(masks), idx.size
            # each subset's normal matrices: the rows of the cameras it keeps (C, 4, S, n), the others zero
            subset_rows = rows[:, :, None, idx] * eff.transpose(1, 0, 2)[:, None]
            cand = solve_entries(normal_entries(basis, subset_rows)).reshape(s_, n_, 3)
            homog = np.einsum("cij,snj->csni", P, np.concatenate([cand, np.ones((s_, n_, 1))], -1))
            resid = np.linalg.norm(homog[..., :2] / homog[..., 2:3] - points[:, None, idx], axis=-1)  # (C, S, n)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean_err = np.where(eff.transpose(1, 0, 2), resid, 0.0).sum(0) / count
            # Subsets that drop a camera the point never had duplicate an earlier
            # level's subset; they cannot win below the threshold, but keep them
            # out of the argmin so that the recorded subset has exactly k left out.
            exact = count == (n_valid[idx] - k)[None]
            keep = exact & (count >= min_cameras) & np.isfinite(mean_err)
            if check_depth:  # depth is the third homogeneous coordinate for P = K [R|t]
                keep &= ~(eff.transpose(1, 0, 2) & (homog[..., 2] <= 0)).any(0)
            mean_err = np.where(keep, mean_err, np.inf)
            best = np.argmin(mean_err, axis=0)
            best_err = mean_err[best, np.arange(n_)]
            ok = best_err <= threshold
            sel = idx[ok]
            X[sel] = cand[best[ok], np.flatnonzero(ok)]
            used[:, sel] = eff[best[ok], :, np.flatnonzero(ok)].T
            error[sel] = best_err[ok]
            pending[sel] = False
        log.debug("robust triangulation: level %d resolved, %d points pending", k, int(pending.sum()))
    return X, used, error
