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
from collections.abc import Callable

import numpy as np

from ..gaps import fill_gaps, fillable, gap_bounds, group_columns, running_median, runs

log = logging.getLogger(__name__)

# Gap filling and the running median live in mocap3d.gaps (shared with analysis and triangulation);
# re-exported here.
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
