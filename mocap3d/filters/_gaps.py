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

from ..gaps import fill_gaps, fillable, gap_bounds, group_columns, runs

log = logging.getLogger(__name__)

# Gap filling itself lives in mocap3d.gaps (shared with analysis and triangulation); re-exported here.
__all__ = ["gap_bounds", "fill_gaps", "fillable", "group_columns", "runs", "filter_segments", "running_median"]


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
