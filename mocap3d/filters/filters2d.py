"""Temporal filters of 2D detections, one camera view at a time, before triangulation.

The array functions take time-first arrays: ``points (frames, ..., 2)`` in
pixels (NaN where not detected) and ``scores (frames, ...)`` (0 where not
detected), where ``...`` is any batch of trajectories (views x keypoints,
individuals x keypoints). They return new ``(points, scores)``; a dropped
detection becomes NaN with score 0.

* :func:`likelihood_cutoff`: drop detections scored below a threshold.
* :func:`median_offset`: anipose's ``medfilt``: drop detections far from the
  running median of their trajectory, then fill short gaps (``spline``).
* :func:`viterbi`: anipose's ``viterbi``: the most plausible path through the
  detections of the last few frames, one Viterbi pass per trajectory, all
  trajectories at once (the loop runs over frames only).

:func:`apply_filters_2d` runs a list of step configs on a
:class:`~mocap3d.poses.Poses2D` (``(views, frames, keypoints, 2)``) or a
:class:`~mocap3d.poses.Track2D` (``(frames, individuals, keypoints, 2)``).
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
from tqdm import tqdm

from ..errors import FilterError
from ..poses import Poses2D, Track2D
from . import _gaps
from .config import FilterStep, GapFill, LikelihoodFilter, MedianOffsetFilter, ViterbiFilter

log = logging.getLogger(__name__)

__all__ = ["likelihood_cutoff", "median_offset", "fill_gaps_2d", "viterbi", "apply_filters_2d"]

# Log-probability of an impossible state: finite, so that sums and maxima never meet inf - inf.
_IMPOSSIBLE = -1e30


def _check(points: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    points = np.asarray(points, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if points.ndim < 2 or points.shape[-1] != 2 or points.shape[:-1] != scores.shape:
        raise FilterError(
            f"2D filters need points (frames, ..., 2) and scores (frames, ...), got {points.shape} and {scores.shape}."
        )
    return points, scores


def likelihood_cutoff(points: np.ndarray, scores: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Drop detections with ``score < threshold`` (any shape ``(..., 2)`` / ``(...)``)."""
    points, scores = _check(points, scores)
    drop = scores < threshold
    return np.where(drop[..., None], np.nan, points), np.where(drop, 0.0, scores)


def fill_gaps_2d(
    points: np.ndarray, scores: np.ndarray, max_gap: int, method: str = "cubic"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill interior gaps of at most ``max_gap`` frames of ``points (frames, ..., 2)``.

    A filled detection gets the smaller of the scores of the two detections
    bounding its gap: a gap bridged between two confident detections is
    trusted as much as the weaker of them, one next to a doubtful detection is
    not. Returns ``(points, scores, filled (frames, ...))``.
    """
    points, scores = _check(points, scores)
    shape = points.shape
    valid = np.isfinite(points).all(-1).reshape(shape[0], -1)
    xy = np.where(valid[..., None], points.reshape(shape[0], -1, 2), np.nan).reshape(shape[0], -1)
    filled_xy, _ = _gaps.fill_gaps(xy, max_gap, method)
    filled = _gaps.fillable(valid, max_gap)
    prev, nxt = _gaps.gap_bounds(valid)
    flat_scores = scores.reshape(shape[0], -1)
    n = shape[0]
    bound = np.minimum(
        np.take_along_axis(flat_scores, np.clip(prev, 0, n - 1), 0),
        np.take_along_axis(flat_scores, np.clip(nxt, 0, n - 1), 0),
    )
    new_scores = np.where(filled, bound, flat_scores)
    return filled_xy.reshape(shape), new_scores.reshape(scores.shape), filled.reshape(scores.shape)


def median_offset(
    points: np.ndarray,
    scores: np.ndarray,
    window: int = 7,
    offset_threshold: float = 20.0,
    score_threshold: float = 0.0,
    max_gap: int = 10,
    method: str = "cubic",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """anipose's median filter with an offset threshold, then gap filling.

    Parameters
    ----------
    points : array (frames, ..., 2), pixels
    scores : array (frames, ...)
    window : odd number of frames of the running median (ignores NaN; the
        ends see a shorter window, where anipose's ``medfilt`` pads zeros).
    offset_threshold : a detection with ``|x - med_x| + |y - med_y| >=
        offset_threshold`` (pixels) is dropped.
    score_threshold : detections scored below it are dropped too.
    max_gap, method : see :func:`fill_gaps_2d`.

    Returns
    -------
    points, scores : filtered
    dropped : bool array (frames, ...), detections removed as outliers
    filled : bool array (frames, ...), samples filled by interpolation
    """
    points, scores = _check(points, scores)
    median = _gaps.running_median(points, window)
    offset = np.abs(points - median).sum(-1)
    with np.errstate(invalid="ignore"):
        dropped = (offset >= offset_threshold) | (scores < score_threshold)
    dropped &= np.isfinite(points).all(-1)
    points = np.where(dropped[..., None], np.nan, points)
    scores = np.where(dropped, 0.0, scores)
    points, scores, filled = fill_gaps_2d(points, scores, max_gap, method)
    return points, scores, dropped, filled


def _auto_sigma(points: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """3x the median frame-to-frame displacement of each trajectory (pixels, at least 1)."""
    step = np.linalg.norm(np.diff(points, axis=0), axis=-1)
    step[~(usable[1:] & usable[:-1])] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        typical = np.nanmedian(step, axis=0)
    return np.maximum(3.0 * np.nan_to_num(typical, nan=1.0), 1.0)


def viterbi(
    points: np.ndarray,
    scores: np.ndarray,
    n_back: int = 4,
    score_threshold: float = 0.1,
    sigma: float = 0.0,
    age_decay: float = 0.5,
    missing_score: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The most plausible path of each trajectory through recent detections.

    Hidden states at frame ``t``: "the point is where frame ``t - a`` detected
    it" for ``a = 0..n_back``, and "not seen". Emission log-probability:
    ``log(score) + a*log(age_decay)`` for a detection ``a`` frames old scored at
    least ``score_threshold``, ``log(missing_score)`` for "not seen".
    Transition: ``-0.5*(d/sigma)^2`` for a move of ``d`` pixels between frames,
    ``log(missing_score)`` for losing the track, 0 for finding it again. A
    wrong high-confidence detection (a swap with another body part, a jump to
    a look-alike) would cost a large move twice, so the path keeps the
    previous frames' detection instead; a trajectory truly lost for more than
    ``n_back`` frames becomes "not seen". Only back-pointers are stored
    (``(n_back + 2)`` bytes per frame and trajectory).

    Parameters
    ----------
    points : array (frames, ..., 2), pixels; NaN where not detected.
    scores : array (frames, ...)
    sigma : pixels; 0 estimates it for each trajectory (3x its median
        frame-to-frame displacement, at least 1 px).

    Returns
    -------
    points, scores : the chosen detection of every frame (NaN and 0 for
        "not seen"); an ``a``-frame-old detection keeps its position and gets
        ``score * age_decay**a``.
    age : int array (frames, ...), how old the chosen detection is (-1: not seen).
    """
    points, scores = _check(points, scores)
    shape = points.shape
    n_frames = shape[0]
    pts = points.reshape(n_frames, -1, 2)
    sc = scores.reshape(n_frames, -1)
    n_traj = pts.shape[1]
    usable = np.isfinite(pts).all(-1) & (sc >= score_threshold) & (sc > 0)
    sig = np.full(n_traj, float(sigma)) if sigma > 0 else _auto_sigma(pts, usable)
    inv_two_var = 0.5 / sig**2

    n_cand = n_back + 1
    miss = n_cand  # index of the "not seen" state
    ages = np.arange(n_cand)
    age_penalty = ages * np.log(age_decay)
    pts_usable = np.where(usable[..., None], pts, np.nan)
    with np.errstate(divide="ignore"):
        log_score = np.where(usable, np.log(np.where(usable, sc, 1.0)), _IMPOSSIBLE)

    def candidates(t: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame t's candidates (trajectories, n_back + 1, 2) and emissions (trajectories, n_back + 2)."""
        src = t - ages
        before_start = src < 0
        src = np.maximum(src, 0)
        cand = np.where(before_start[None, :, None], np.nan, pts_usable[src].transpose(1, 0, 2))
        emit = np.empty((n_traj, n_cand + 1))
        emit[:, :n_cand] = np.where(before_start, _IMPOSSIBLE, np.maximum(log_score[src].T + age_penalty, _IMPOSSIBLE))
        emit[:, miss] = np.log(missing_score)
        return cand, emit

    # Back-pointers only, (frames, trajectories, states) int8: candidates are rebuilt per frame, so memory
    # stays at a few bytes per frame and trajectory however long the recording.
    back = np.zeros((n_frames, n_traj, n_cand + 1), np.int8)
    prev_cand, delta = candidates(0)
    trans = np.zeros((n_traj, n_cand + 1, n_cand + 1))
    # Losing the track costs as much as a frame unseen: otherwise "not seen" is a free teleport, and a
    # confident outlier right after a gap (or at the start) would be taken, with "not seen" as the way out.
    trans[:, :n_cand, miss] = np.log(missing_score)
    for t in tqdm(range(1, n_frames), desc="viterbi", unit="frame", disable=n_frames < 5000, leave=False):
        cand, emit = candidates(t)
        d2 = ((prev_cand[:, :, None, :] - cand[:, None, :, :]) ** 2).sum(-1)
        trans[:, :n_cand, :n_cand] = np.where(np.isfinite(d2), -d2 * inv_two_var[:, None, None], _IMPOSSIBLE)
        total = delta[:, :, None] + trans
        back[t] = np.argmax(total, axis=1)
        delta = np.take_along_axis(total, back[t][:, None, :].astype(np.intp), axis=1)[:, 0] + emit
        delta -= delta.max(axis=1, keepdims=True)  # keep the numbers small over long recordings
        prev_cand = cand

    state = np.empty((n_frames, n_traj), np.int64)
    state[-1] = np.argmax(delta, axis=1)
    rows = np.arange(n_traj)
    for t in range(n_frames - 1, 0, -1):
        state[t - 1] = back[t, rows, state[t]]

    seen = state != miss
    age = np.where(seen, state, -1)
    src = np.clip(np.arange(n_frames)[:, None] - np.where(seen, state, 0), 0, None)
    out_pts = np.where(seen[..., None], pts[src, rows], np.nan)
    out_sc = np.where(seen, sc[src, rows] * age_decay ** np.where(seen, state, 0), 0.0)
    return out_pts.reshape(shape), out_sc.reshape(scores.shape), age.reshape(scores.shape)


_Poses = TypeVar("_Poses", Poses2D, Track2D)


def _run_step(points: np.ndarray, scores: np.ndarray, step: FilterStep) -> tuple[np.ndarray, np.ndarray, dict]:
    before = np.isfinite(points).all(-1)
    counts: dict[str, int] = {}
    if isinstance(step, LikelihoodFilter):
        points, scores = likelihood_cutoff(points, scores, step.threshold)
    elif isinstance(step, MedianOffsetFilter):
        points, scores, dropped, filled = median_offset(
            points, scores, step.window, step.offset_threshold, step.score_threshold, step.max_gap, step.method
        )
        counts["outliers"] = int(dropped.sum())
    elif isinstance(step, ViterbiFilter):
        points, scores, age = viterbi(
            points, scores, step.n_back, step.score_threshold, step.sigma, step.age_decay, step.missing_score
        )
        counts["held"] = int((age > 0).sum())
    elif isinstance(step, GapFill):
        points, scores, _ = fill_gaps_2d(points, scores, step.max_gap, step.method)
    else:
        name = getattr(step, "name", step)
        raise FilterError(f"filter '{name}' is not a 2D filter; use one of the [[filter2d]] types.")
    after = np.isfinite(points).all(-1)
    counts.update(removed=int((before & ~after).sum()), filled=int((~before & after).sum()))
    return points, scores, counts


def apply_filters_2d(poses: _Poses, steps: Sequence[FilterStep]) -> _Poses:
    """Run 2D filter steps in order on every trajectory of a :class:`Poses2D` or :class:`Track2D`.

    Each (view, keypoint) of a Poses2D and each (individual, keypoint) of a
    Track2D is filtered as its own trajectory. Returns a new object of the same
    type; the input is not modified. What each step removed and filled is
    logged (``-v``).
    """
    if isinstance(poses, Poses2D):
        points, scores = np.moveaxis(poses.points, 1, 0), np.moveaxis(poses.scores, 1, 0)
    elif isinstance(poses, Track2D):
        points, scores = poses.points, poses.scores
    else:
        raise FilterError(f"2D filters take Poses2D or Track2D, got {type(poses).__name__}.")
    for step in steps:
        points, scores, counts = _run_step(points, scores, step)
        log.info("%s: %s", step.name, ", ".join(f"{k} {v}" for k, v in counts.items()))
    if isinstance(poses, Poses2D):
        points, scores = np.moveaxis(points, 0, 1), np.moveaxis(scores, 0, 1)
    return dataclasses.replace(poses, points=np.ascontiguousarray(points), scores=np.ascontiguousarray(scores))
