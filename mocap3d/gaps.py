"""Gap filling and the running median: the one way missing samples of a trajectory are bridged or ignored.

Used by the 2D and 3D filters (``fill_gaps`` steps, and the filters that need
gap-free input), by gait analysis and by the spatiotemporal triangulation's
starting point. Arrays are ``(frames, columns)`` float64: time runs down axis
0, each column is one coordinate of one trajectory, NaN marks a missing sample.
Columns with the same pattern of missing samples are interpolated together, so
loops run over distinct patterns, never over frames or single points.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["gap_bounds", "fillable", "group_columns", "runs", "fill_gaps", "running_median"]


def gap_bounds(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the previous and next valid sample of every sample.

    Parameters
    ----------
    valid : bool array (frames, columns)

    Returns
    -------
    prev, next : int arrays (frames, columns)
        For a valid sample both are its own index. ``prev = -1`` before the first
        valid sample and ``next = frames`` after the last one. A missing sample
        lies in a gap of ``next - prev - 1`` frames.
    """
    n = valid.shape[0]
    idx = np.arange(n).reshape((n,) + (1,) * (valid.ndim - 1))
    prev = np.maximum.accumulate(np.where(valid, idx, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(valid, idx, n)[::-1], axis=0)[::-1]
    return prev, nxt


def fillable(valid: np.ndarray, max_gap: int | None) -> np.ndarray:
    """Missing samples in a gap of at most ``max_gap`` frames (any, if ``None``) with valid samples on both sides."""
    prev, nxt = gap_bounds(valid)
    inside = ~valid & (prev >= 0) & (nxt < valid.shape[0])
    return inside if max_gap is None else inside & (nxt - prev - 1 <= max_gap)


def group_columns(valid: np.ndarray) -> list[np.ndarray]:
    """Indices of the columns sharing each distinct missing-data pattern of ``valid (frames, columns)``."""
    if valid.shape[1] == 0:
        return []
    _, inverse = np.unique(valid.T, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, bounds)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of every run of True in a 1D bool array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def fill_gaps(
    x: np.ndarray, max_gap: int | None, method: str = "linear", *, hold_ends: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate interior gaps of at most ``max_gap`` frames.

    Parameters
    ----------
    x : array (frames, columns)
        NaN where missing.
    max_gap : longest gap (frames) to fill, ``None`` for every gap; longer
        gaps stay NaN, and so do missing samples before the first / after the
        last valid sample unless ``hold_ends``.
    method : ``"linear"``, ``"cubic"`` (a not-a-knot cubic spline through every
        valid sample of the column, anipose's ``spline``) or ``"pchip"``
        (shape-preserving, no overshoot).
    hold_ends : (linear only) also fill the samples before the first and after
        the last valid one with those values. Columns never valid stay NaN.

    Returns
    -------
    filled : array (frames, columns), a new array
    was_filled : bool array (frames, columns)
    """
    x = np.array(x, dtype=np.float64)
    valid = np.isfinite(x)
    todo = fillable(valid, max_gap)
    if hold_ends:
        if method != "linear":
            raise ValueError("fill_gaps: hold_ends is only defined for linear interpolation")
        prev, nxt = gap_bounds(valid)
        n = x.shape[0]
        todo |= ~valid & ((prev >= 0) | (nxt < n))
    if not todo.any():
        return x, todo
    if method == "linear":
        prev, nxt = gap_bounds(valid)
        n = x.shape[0]
        lo = np.where(prev >= 0, prev, nxt)  # before the first valid sample: that sample (held)
        hi = np.where(nxt < n, nxt, prev)  # after the last: the last
        x0 = np.take_along_axis(x, np.clip(lo, 0, n - 1), axis=0)
        x1 = np.take_along_axis(x, np.clip(hi, 0, n - 1), axis=0)
        t = np.clip((np.arange(n)[:, None] - lo) / np.maximum(hi - lo, 1), 0.0, 1.0)
        x[todo] = (x0 + t * (x1 - x0))[todo]
        return x, todo
    from scipy.interpolate import CubicSpline, PchipInterpolator  # local: most callers fill linearly

    interpolator = CubicSpline if method == "cubic" else PchipInterpolator
    cols = np.flatnonzero(todo.any(axis=0))
    for group in group_columns(valid[:, cols]):
        c = cols[group]
        ok = valid[:, c[0]]
        rows = np.flatnonzero(todo[:, c[0]])
        t = np.flatnonzero(ok)
        if t.size < 2:
            continue
        if method == "cubic" and t.size < 4:  # not-a-knot needs 4 knots; fewer: a straight line is all there is
            x[np.ix_(rows, c)] = np.stack([np.interp(rows, t, x[t, j]) for j in c], axis=1)
            continue
        x[np.ix_(rows, c)] = interpolator(t, x[np.ix_(t, c)], axis=0)(rows)
    return x, todo


def running_median(x: np.ndarray, window: int, with_mad: bool = False, chunk: int = 8192, *, ends: str = "shorten"):
    """NaN-ignoring running median (and median absolute deviation) along axis 0.

    The one running median of the package: the 2D/3D median filters, gait
    analysis' outlier removal and the spatiotemporal triangulation's speed unit.

    Parameters
    ----------
    x : array (frames, ...)
    window : odd number of frames, centred.
    with_mad : also return the median absolute deviation from the median.
    chunk : frames per block; the windows are a strided view, but the median
        copies them, so long recordings are processed a block at a time.
    ends : ``"shorten"``: the edges see a shorter window (padding with NaN, not
        zeros as ``scipy.signal.medfilt`` does, so a trajectory is not pulled
        towards 0 at its ends); ``"hold"``: the first and last samples are
        repeated (``scipy.ndimage.median_filter``'s ``mode="nearest"``).

    Returns
    -------
    median : array like ``x``; NaN only where the whole window is missing.
    mad : array like ``x``, when ``with_mad``.
    """
    if ends not in ("shorten", "hold"):
        raise ValueError(f"running_median: ends must be 'shorten' or 'hold', not {ends!r}")
    half = window // 2
    pad = [(half, half)] + [(0, 0)] * (x.ndim - 1)
    if ends == "hold" and not with_mad and np.isfinite(x).all():
        from scipy.ndimage import median_filter  # local: scipy.ndimage is a slow import; same values, faster

        return median_filter(np.asarray(x, dtype=np.float64), size=(window,) + (1,) * (x.ndim - 1), mode="nearest")
    padded = np.pad(x, pad, mode="edge") if ends == "hold" else np.pad(x, pad, constant_values=np.nan)
    windows = sliding_window_view(padded, window, axis=0)
    median = np.empty_like(x, dtype=np.float64)
    mad = np.empty_like(median) if with_mad else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows give NaN, which is what we want
        for start in range(0, x.shape[0], chunk):  # blocks of frames, not a loop over frames
            block = windows[start : start + chunk]
            median[start : start + chunk] = np.nanmedian(block, axis=-1)
            if mad is not None:
                deviation = np.abs(block - median[start : start + chunk, ..., None])
                mad[start : start + chunk] = np.nanmedian(deviation, axis=-1)
    return (median, mad) if with_mad else median
