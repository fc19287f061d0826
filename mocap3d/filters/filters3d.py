"""Temporal filters of triangulated 3D trajectories.

The array functions take ``x`` of shape ``(frames, ...)``: time on axis 0,
any trailing dimensions (``(frames, keypoints, 3)`` for a :class:`Poses3D`),
NaN where a point is missing. They return new arrays and never fill a missing
sample unless they say so:

* :func:`hampel`, :func:`median_filter`: window statistics that ignore NaN;
  missing samples stay missing.
* :func:`butterworth`, :func:`savgol`: fill gaps of at most ``max_gap`` frames,
  then filter each run of valid samples on its own, so that a long gap neither
  spreads NaN nor lets the filter ring across it.
* :func:`kalman_smooth`: the RTS smoother predicts through gaps; gaps longer
  than ``max_gap`` are set back to NaN.
* :func:`fill_gaps`: interpolation of short gaps only.

:func:`apply_filters_3d` runs a list of step configs (see :mod:`.config`) on a
:class:`~mocap3d.poses.Poses3D` and records every step in
``metadata["filters"]``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np
from scipy import signal

from ..errors import FilterError
from ..poses import Poses3D
from . import _gaps
from .config import (
    ButterworthFilter,
    ErrorFilter,
    FilterStep,
    GapFill,
    HampelFilter,
    KalmanFilter,
    MedianFilter,
    SavgolFilter,
)

log = logging.getLogger(__name__)

__all__ = [
    "hampel",
    "median_filter",
    "butterworth",
    "savgol",
    "kalman_smooth",
    "fill_gaps",
    "apply_filters_3d",
]

# 1 / Phi^-1(3/4): the median absolute deviation of a normal sample times this is its standard deviation.
_MAD_TO_SIGMA = 1.482602218505602


def _as_columns(x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or x.shape[0] == 0:
        raise FilterError(f"a trajectory needs at least one frame, got an array of shape {x.shape}.")
    return x.reshape(x.shape[0], -1), x.shape


def hampel(
    x: np.ndarray, window: int = 7, n_sigmas: float = 3.0, replace: str = "median"
) -> tuple[np.ndarray, np.ndarray]:
    """Hampel outlier removal.

    Parameters
    ----------
    x : array (frames, points, dims)
        Trajectories; NaN where missing. A trailing ``dims`` axis (3 for
        x, y, z) is treated as one point: if any coordinate is an outlier the
        whole point is.
    window : odd number of frames of the centred window.
    n_sigmas : threshold in robust standard deviations (1.4826 x MAD).
    replace : ``"median"`` puts the window's median in place of an outlier,
        ``"nan"`` removes it.

    Returns
    -------
    filtered : array like ``x``
    outliers : bool array (frames, points)

    A window with MAD = 0 (a constant stretch) flags any sample that differs
    from its median, which is the right answer for a spike on a flat signal.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise FilterError(f"hampel needs (frames, ..., dims) trajectories, got shape {x.shape}.")
    median, mad = _gaps.running_median(x, window, with_mad=True)
    with np.errstate(invalid="ignore"):  # all-NaN windows: NaN MAD, never an outlier
        outlier_coord = np.abs(x - median) > n_sigmas * _MAD_TO_SIGMA * mad
    outliers = np.any(outlier_coord & np.isfinite(x), axis=-1)
    out = x.copy()
    out[outliers] = median[outliers] if replace == "median" else np.nan
    return out, outliers


def median_filter(x: np.ndarray, window: int = 5) -> np.ndarray:
    """Running median over ``window`` frames (odd), ignoring NaN.

    ``x`` is ``(frames, ...)``; missing samples stay missing, and the ends see a
    shortened window (no zero padding).
    """
    x = np.asarray(x, dtype=np.float64)
    median = _gaps.running_median(x, window)
    return np.where(np.isfinite(x), median, np.nan)


def fill_gaps(x: np.ndarray, max_gap: int = 10, method: str = "cubic") -> tuple[np.ndarray, np.ndarray]:
    """Fill interior gaps of at most ``max_gap`` frames.

    Parameters
    ----------
    x : array (frames, ...)
    method : ``"linear"``, ``"cubic"`` or ``"pchip"``.

    Returns
    -------
    filled : array like ``x``
    was_filled : bool array like ``x``
    """
    cols, shape = _as_columns(x)
    filled, mask = _gaps.fill_gaps(cols, max_gap, method)
    return filled.reshape(shape), mask.reshape(shape)


def butterworth(
    x: np.ndarray,
    fps: float,
    cutoff: float = 6.0,
    order: int = 4,
    max_gap: int = 10,
    method: str = "cubic",
) -> np.ndarray:
    """Zero-phase low-pass Butterworth filter, as Pose2Sim does it.

    Parameters
    ----------
    x : array (frames, ...)
        NaN where missing.
    fps : frame rate (Hz).
    cutoff : cut-off frequency (Hz), below ``fps / 2``.
    order : the zero-phase order (even). Pose2Sim's ``order = 4`` designs a
        2nd-order filter and runs it forwards and backwards
        (``filtfilt(*butter(order // 2, cutoff / (fps / 2)))``, odd padding of
        ``3 * (order // 2 + 1)`` samples), and so does this function: on a
        trajectory without gaps the result is Pose2Sim's to rounding.
    max_gap, method : gaps of at most ``max_gap`` frames are filled with
        ``method`` first and keep their filtered values; the trajectory is then
        filtered run by run between the remaining (longer) gaps. Runs too short
        for the padding are left unfiltered.
    """
    if not 0 < cutoff < fps / 2:
        raise FilterError(
            f"butterworth: the cut-off ({cutoff} Hz) must be between 0 and half the frame rate ({fps / 2} Hz); "
            "lower --cutoff or check --fps."
        )
    b, a = signal.butter(order // 2, cutoff / (fps / 2), "low")
    padlen = 3 * max(len(a), len(b))
    cols, shape = _as_columns(x)
    filled, _ = _gaps.fill_gaps(cols, max_gap, method)
    out = _gaps.filter_segments(
        filled, lambda seg: signal.filtfilt(b, a, seg, axis=0, padlen=padlen), padlen + 1, "butterworth"
    )
    return out.reshape(shape)


def savgol(
    x: np.ndarray, window: int = 9, polyorder: int = 3, max_gap: int = 10, method: str = "cubic"
) -> np.ndarray:
    """Savitzky-Golay smoothing of ``x (frames, ...)`` (``scipy.signal.savgol_filter``, ``mode="interp"``).

    Gaps of at most ``max_gap`` frames are filled first (and stay filled); runs
    between longer gaps are smoothed on their own; runs shorter than ``window``
    are left as they are.
    """
    cols, shape = _as_columns(x)
    filled, _ = _gaps.fill_gaps(cols, max_gap, method)
    out = _gaps.filter_segments(
        filled, lambda seg: signal.savgol_filter(seg, window, polyorder, axis=0, mode="interp"), window, "savgol"
    )
    return out.reshape(shape)


def _motion_model(model: str, dt: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Transition matrix and process covariance of a continuous white-noise model.

    The highest modelled derivative is driven by white noise of spectral
    density ``q``; the discrete covariance is its exact integral over ``dt``.
    """
    if model == "velocity":
        transition = np.array([[1.0, dt], [0.0, 1.0]])
        cov = np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]])
    else:
        transition = np.array([[1.0, dt, dt**2 / 2], [0.0, 1.0, dt], [0.0, 0.0, 1.0]])
        cov = np.array(
            [
                [dt**5 / 20, dt**4 / 8, dt**3 / 6],
                [dt**4 / 8, dt**3 / 3, dt**2 / 2],
                [dt**3 / 6, dt**2 / 2, dt],
            ]
        )
    return transition, q * cov


def kalman_smooth(
    x: np.ndarray,
    fps: float,
    model: str = "acceleration",
    process_noise: float = 30000.0,
    measurement_noise: float = 5.0,
    max_gap: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Kalman filter and Rauch-Tung-Striebel smoother, every coordinate on its own.

    Parameters
    ----------
    x : array (frames, ...)
        Measured positions; NaN where missing (the update is skipped).
    fps : frame rate (Hz); velocities are per second.
    model : ``"velocity"`` (state: position, velocity) or ``"acceleration"``
        (position, velocity, acceleration).
    process_noise : square root of the spectral density of the white noise
        driving the highest derivative (units/s^1.5 or units/s^2.5).
    measurement_noise : standard deviation of a measured position (units).
        Only ``process_noise / measurement_noise`` shapes the result: the
        output is linear in ``x`` with weights that depend on that ratio and
        ``fps`` alone.
    max_gap : smoothed values inside gaps of at most this many frames are kept,
        longer gaps stay NaN. Samples before the first or after the last
        measurement of a coordinate are NaN (no extrapolation).

    Returns
    -------
    position, velocity : arrays like ``x`` (units, units/s)

    The filter starts at each coordinate's first measurement with that
    position, zero higher derivatives and a diffuse prior on them, so the start
    of the recording is not pulled towards zero velocity.
    """
    cols, shape = _as_columns(x)
    n_frames, n_cols = cols.shape
    dt = 1.0 / fps
    transition, q_cov = _motion_model(model, dt, process_noise**2)
    d = transition.shape[0]
    r = measurement_noise**2
    valid = np.isfinite(cols)

    # Diffuse prior on the derivatives, scaled by the measurement noise rather than the data so that the gains,
    # hence the smoothing, depend on the parameters alone: 1000 noise standard deviations per frame (per frame^2).
    prior = np.diag([r] + [(1000.0 * measurement_noise * fps**k) ** 2 for k in range(1, d)])

    # Covariances and gains depend on which frames are measured, not on the values: columns sharing a
    # missing-data pattern (x, y, z of one keypoint) share them, so they are computed once per pattern.
    patterns, group = np.unique(valid.T, axis=0, return_inverse=True)
    group = group.ravel()
    seen_g = patterns.T  # (frames, groups)
    n_groups = seen_g.shape[1]

    state = np.zeros((n_cols, d))
    cov = np.broadcast_to(prior, (n_groups, d, d)).copy()
    started = np.zeros(n_groups, bool)
    filt_x = np.empty((n_frames, n_cols, d))
    # RTS gains C_t = P_f(t) F^T P_pred(t+1)^-1, per pattern; with the filtered states, all the backward pass needs.
    rts_gain = np.zeros((n_frames, n_groups, d, d))
    prev_filt_cov = cov
    for t in range(n_frames):
        if t > 0:
            state = state @ transition.T
            cov = transition @ cov @ transition.T + q_cov
        start = seen_g[t] & ~started
        if start.any():
            cols_start = start[group]
            state[cols_start] = 0.0
            state[cols_start, 0] = cols[t, cols_start]
            cov[start] = prior
            started |= start
        if t > 0:
            # Solved rather than inverted (P_pred is symmetric): C^T = P_pred^-1 F P_f.
            rts_gain[t - 1] = np.linalg.solve(cov, transition @ prev_filt_cov).transpose(0, 2, 1)
        seen = valid[t]
        gain_g = cov[:, :, 0] / (cov[:, 0, 0] + r)[:, None]
        innovation = np.where(seen, cols[t] - state[:, 0], 0.0)
        state = state + gain_g[group] * innovation[:, None]  # zero innovation where unseen: no update
        cov = np.where(seen_g[t][:, None, None], cov - gain_g[:, :, None] * cov[:, None, 0, :], cov)
        filt_x[t] = state
        prev_filt_cov = cov

    smooth = filt_x.copy()
    for t in range(n_frames - 2, -1, -1):
        # The prediction of frame t+1 is F x_f(t) for every sample the output keeps (a column's first
        # measurement resets its state, but the samples before it are NaN in the output anyway).
        residual = smooth[t + 1] - filt_x[t] @ transition.T
        smooth[t] = filt_x[t] + np.einsum("nij,nj->ni", rts_gain[t][group], residual)

    keep = valid | _gaps.fillable(valid, max_gap)
    position = np.where(keep, smooth[..., 0], np.nan)
    velocity = np.where(keep, smooth[..., 1], np.nan)
    return position.reshape(shape), velocity.reshape(shape)


def _run_step(
    points: np.ndarray, error: np.ndarray, step: FilterStep, fps: float | None
) -> tuple[np.ndarray, dict]:
    """One step on ``(frames, keypoints, 3)`` (``error`` (frames, keypoints), px); returns the new points
    and counts for the log/metadata."""

    def need_fps() -> float:
        if not fps or fps <= 0:
            raise FilterError(
                f"filter '{step.name}' needs the frame rate, which the input does not carry; pass --fps "
                "(mocap3d filter-3d), or set fps in the [project] table of config.toml (mocap3d run)."
            )
        return float(fps)

    if isinstance(step, ErrorFilter):
        with np.errstate(invalid="ignore"):
            bad = error > step.threshold  # NaN error (unknown) is not above the threshold
        return np.where(bad[..., None], np.nan, points), {}
    if isinstance(step, HampelFilter):
        out, outliers = hampel(points, step.window, step.n_sigmas, step.replace)
        return out, {"outliers": int(outliers.sum())}
    if isinstance(step, MedianFilter):
        return median_filter(points, step.window), {}
    if isinstance(step, ButterworthFilter):
        return butterworth(points, need_fps(), step.cutoff, step.order, step.max_gap, step.method), {}
    if isinstance(step, SavgolFilter):
        return savgol(points, step.window, step.polyorder, step.max_gap, step.method), {}
    if isinstance(step, KalmanFilter):
        pos, _ = kalman_smooth(
            points, need_fps(), step.model, step.process_noise, step.measurement_noise, step.max_gap
        )
        return pos, {}
    if isinstance(step, GapFill):
        out, _ = fill_gaps(points, step.max_gap, step.method)
        return out, {}
    raise FilterError(f"filter '{getattr(step, 'name', step)}' is not a 3D filter; use one of the [[filter3d]] types.")


def apply_filters_3d(poses: Poses3D, steps: Sequence[FilterStep], fps: float | None = None) -> Poses3D:
    """Run 3D filter steps in order on a :class:`Poses3D`.

    Parameters
    ----------
    poses : the input; not modified.
    steps : step configs (:mod:`mocap3d.filters.config`), applied in order.
    fps : frame rate (Hz) for the steps that need one; default ``poses.fps``.

    Returns
    -------
    Poses3D
        New points; per-point diagnostics follow the points: a point a step
        removed gets score 0, ncams 0, error NaN and no camera; a point a step
        filled (was missing, now present) gets the same (it was not
        triangulated). ``metadata["filters"]`` lists every step as
        ``{"name", "params", ...counts}`` after those already there.
    """
    fps = fps if fps is not None else poses.fps
    points = poses.points.copy()
    records = list(poses.metadata.get("filters", []))
    for step in steps:
        before = np.isfinite(points).all(-1)
        points, counts = _run_step(points, np.asarray(poses.error, dtype=np.float64), step, fps)
        after = np.isfinite(points).all(-1)
        points[~after] = np.nan
        counts.update(removed=int((before & ~after).sum()), filled=int((~before & after).sum()))
        record = step.describe()
        if isinstance(step, ButterworthFilter | KalmanFilter):
            record["params"]["fps"] = fps
        record.update(counts)
        records.append(record)
        log.info("%s: %s", step.name, ", ".join(f"{k} {v}" for k, v in counts.items()) or "done")
    original = np.isfinite(poses.points).all(-1)
    final = np.isfinite(points).all(-1)
    triangulated = original & final
    metadata = dict(poses.metadata)
    metadata["filters"] = records
    return dataclasses.replace(
        poses,
        points=points,
        # Poses3D fills these in __post_init__; asarray only tells the type checker they are arrays.
        error=np.where(triangulated, np.asarray(poses.error, dtype=np.float64), np.nan),
        ncams=np.where(triangulated, np.asarray(poses.ncams, dtype=np.int64), 0),
        score=np.where(triangulated, np.asarray(poses.score, dtype=np.float64), 0.0),
        cameras_used=np.asarray(poses.cameras_used, dtype=bool) & triangulated[..., None],
        fps=fps,
        metadata=metadata,
    )
