"""NaN-aware building blocks shared by the 2D and 3D filters.

Every function here works on ``(frames, columns)`` float64 arrays: time runs
down axis 0 and each column is one coordinate of one trajectory (``x`` of a
keypoint in one view, ``z`` of a 3D keypoint...). NaN marks a missing sample.

Columns with the same pattern of missing samples are processed together, so
the Python loops below run over distinct missing-data patterns and segments,
never over frames or single points.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.interpolate import CubicSpline, PchipInterpolator

log = logging.getLogger(__name__)

__all__ = ["gap_bounds", "fill_gaps", "group_columns", "runs", "filter_segments", "running_median"]


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


def fillable(valid: np.ndarray, max_gap: int) -> np.ndarray:
    """Missing samples inside a gap of at most ``max_gap`` frames with valid samples on both sides."""
    prev, nxt = gap_bounds(valid)
    return ~valid & (prev >= 0) & (nxt < valid.shape[0]) & (nxt - prev - 1 <= max_gap)


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


def fill_gaps(x: np.ndarray, max_gap: int, method: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    """Interpolate interior gaps of at most ``max_gap`` frames.

    Parameters
    ----------
    x : array (frames, columns)
        NaN where missing.
    max_gap : longest gap (frames) to fill; longer gaps and missing samples
        before the first / after the last valid sample stay NaN.
    method : ``"linear"``, ``"cubic"`` (a not-a-knot cubic spline through every
        valid sample of the column, anipose's ``spline``) or ``"pchip"``
        (shape-preserving, no overshoot).

    Returns
    -------
    filled : array (frames, columns), a new array
    was_filled : bool array (frames, columns)
    """
    x = np.array(x, dtype=np.float64)
    valid = np.isfinite(x)
    todo = fillable(valid, max_gap)
    if not todo.any():
        return x, todo
    if method == "linear":
        prev, nxt = gap_bounds(valid)
        n = x.shape[0]
        x0 = np.take_along_axis(x, np.clip(prev, 0, n - 1), axis=0)
        x1 = np.take_along_axis(x, np.clip(nxt, 0, n - 1), axis=0)
        t = (np.arange(n)[:, None] - prev) / np.maximum(nxt - prev, 1)
        x[todo] = (x0 + t * (x1 - x0))[todo]
        return x, todo
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


def filter_segments(
    x: np.ndarray,
    fn: Callable[[np.ndarray], np.ndarray],
    min_length: int,
    what: str = "filter",
) -> np.ndarray:
    """Apply ``fn`` along axis 0 to every run of valid samples separately.

    ``fn`` maps a ``(length, n)`` block to a block of the same shape. Runs
    shorter than ``min_length`` frames are left as they are (a filter cannot
    say much about them) and counted in a debug message; NaN stays NaN.
    """
    out = np.array(x, dtype=np.float64)
    valid = np.isfinite(out)
    skipped = 0
    for group in group_columns(valid):
        for start, stop in runs(valid[:, group[0]]):
            if stop - start < min_length:
                skipped += len(group)
                continue
            out[start:stop, group] = fn(out[start:stop, group])
    if skipped:
        log.debug("%s: %d column segment(s) shorter than %d frames left unfiltered", what, skipped, min_length)
    return out


def running_median(x: np.ndarray, window: int, with_mad: bool = False, chunk: int = 8192):
    """NaN-ignoring running median (and median absolute deviation) along axis 0.

    Parameters
    ----------
    x : array (frames, ...)
    window : odd number of frames, centred. The edges see a shorter window
        (padding with NaN, not zeros as ``scipy.signal.medfilt`` does, so a
        trajectory is not pulled towards 0 at its ends).
    with_mad : also return the median absolute deviation from the median.
    chunk : frames per block; the windows are a strided view, but the median
        copies them, so long recordings are processed a block at a time.

    Returns
    -------
    median : array like ``x``; NaN only where the whole window is missing.
    mad : array like ``x``, when ``with_mad``.
    """
    half = window // 2
    padded = np.pad(x, [(half, half)] + [(0, 0)] * (x.ndim - 1), constant_values=np.nan)
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
