"""Gait analysis: foot-strike and toe-off events, and spatiotemporal parameters.

Events come from each foot's height above the floor and its speed:
a foot keypoint (heel, toe; the ankle when those are absent) is *on the floor*
in frames where it is both low and still, with both thresholds relative to
the trial so that units, marker placement and walking speed do not matter:

* low: height below ``floor + height_fraction * (p95 - floor)``, where the
  floor is the keypoint's ``floor_percentile``-th height percentile and p95
  its 95th (its swing height);
* still: speed below ``speed_fraction`` times its 95th speed percentile.

A foot is in contact when any of its keypoints is (the heel lands first, the
toe leaves last). Contact phases shorter than ``min_contact_s`` and flight
phases shorter than ``min_swing_s`` are removed (noise flicker), then a
**foot strike** is the first frame of a contact phase and a **toe off** the
first frame after it. Phases touching the start or end of the recording, or
a gap in the data, do not produce events (their true onset is unknown).

Positions are cleaned before heights and speeds are taken: short gaps are
interpolated, a running median (``median_s``) removes isolated wrong points,
and a zero-phase Butterworth filter (``cutoff_hz``) removes the noise.

These thresholds find the stance phases robustly but blur their ends by a
frame or two, so each event is then *refined*: around it, the foot's mean
keypoint height above the floor, lightly filtered (``refine_cutoff_hz``), is
fitted with an "on the floor, then in the air" model: a straight line on one
side of an instant ``t0`` (the foot standing, or a heel rolling up slowly)
plus a quadratic in the time since (until) ``t0`` on the other, ``t0``
searched on a 1/8-frame grid; the event is the first frame at or after
``t0``. Only the height counts: a foot that slides on the floor has not left
it. Least squares over a dozen frames averages the noise down, so events stay
within a frame or two of the truth at several millimetres of noise and with
the occasional wrong triangulation (removed by the running median).

The foot is its heel, toe and ankle keypoints (those present); any one of
them seen keeps the foot followed through the others' occlusions.

Spatiotemporal parameters follow the usual clinical definitions: a *stride*
runs from one strike to the next strike of the same foot; the *step* of the
other foot lands in between. Stride length is the horizontal distance between
the foot's positions at the two strikes; step length is the other foot's
advance along the stride direction; step width its horizontal distance from
the line through the stride's two foot positions. Stance fraction is
(toe off - strike) / stride time. Symmetry indices are
``100 * |L - R| / mean(L, R)`` (0 is perfectly symmetric).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Config
from ..errors import MocapError
from ..gaps import fill_gaps, running_median
from ..io.atomic import atomic_path, save_figure
from ..poses import Poses3D
from .alignment import axis_vector

__all__ = [
    "GaitConfig",
    "GaitResult",
    "analyze_gait",
    "detect_gait_events",
    "foot_keypoints",
    "save_gait",
    "plot_gait",
    "event_accuracy",
]

log = logging.getLogger(__name__)

SIDES = ("left", "right")

# Known foot keypoint names, most useful first (sample rig / anipose style, then OpenPose/Pose2Sim).
_FOOT_NAMES = {
    "left": (("l_heel", "l_toe", "l_small_toe", "left_heel", "left_toe", "LHeel", "LBigToe", "LSmallToe"),
             ("l_ankle", "left_ankle", "LAnkle")),
    "right": (("r_heel", "r_toe", "r_small_toe", "right_heel", "right_toe", "RHeel", "RBigToe", "RSmallToe"),
              ("r_ankle", "right_ankle", "RAnkle")),
}


@dataclass(frozen=True)
class GaitConfig(Config):
    """Parameters of gait event detection (the ``[gait]`` table). Thresholds are fractions of the trial's own ranges."""

    section = "gait"
    what = "gait setting"

    up: str = "z"  # world axis pointing up: "x", "y" or "z", optionally "-y"
    left: tuple[str, ...] | None = None  # foot keypoints of each side; None: found by name
    right: tuple[str, ...] | None = None
    median_s: float = 0.1  # running median (removes triangulation outliers) before the low-pass filter
    cutoff_hz: float = 8.0  # low-pass filter of positions before heights and speeds
    floor_percentile: float = 5.0
    height_fraction: float = 0.12
    speed_fraction: float = 0.15
    min_contact_s: float = 0.10
    min_swing_s: float = 0.10
    max_gap_s: float = 0.25  # gaps up to this long are interpolated; longer ones block events
    refine: bool = True  # sharpen each event by fitting when the foot stops/starts (see module docstring)
    refine_cutoff_hz: float = 15.0  # lighter filtering for the refinement (timing precision)
    refine_window_s: float = 0.12  # frames fitted on each side of the event
    refine_search_s: float = 0.08  # how far from the coarse event the refined one may be
    refine_min_explained: float = 0.5  # a keypoint's fit must explain this fraction of its motion


@dataclass
class GaitResult:
    """Everything :func:`analyze_gait` finds.

    Attributes
    ----------
    events : DataFrame with columns side, event ("strike"|"off"), frame, time (s)
    strides : DataFrame, one row per stride (see module docstring for definitions)
    summary : DataFrame indexed by parameter with columns left, right, all, symmetry_index
    contact : dict side -> (frames,) bool, foot on the floor
    height : dict side -> (frames,) foot height above its floor (lowest foot keypoint), world units
    fps : float
    """

    events: pd.DataFrame
    strides: pd.DataFrame
    summary: pd.DataFrame
    contact: dict[str, np.ndarray]
    height: dict[str, np.ndarray]
    fps: float
    feet: dict[str, tuple[str, ...]] = field(default_factory=dict)


# ------------------------------------------------------------------ helpers
def _fps(poses: Poses3D) -> float:
    if not poses.fps or not np.isfinite(poses.fps) or poses.fps <= 0:
        raise MocapError("gait: the poses have no frame rate; gait timing needs it (pass --fps, e.g. --fps 60).")
    return float(poses.fps)


def foot_keypoints(keypoints: Sequence[str], config: GaitConfig | None = None) -> dict[str, tuple[str, ...]]:
    """The keypoints that make up each foot: the config's, else heels, toes and ankles found by name."""
    config = config or GaitConfig()
    present = list(keypoints)
    feet = {}
    for side in SIDES:
        chosen = getattr(config, side)
        if chosen is not None:
            missing = [k for k in chosen if k not in present]
            if missing:
                raise MocapError(f"gait: {side} foot keypoints {missing} are not in the poses ({', '.join(present)}).")
            feet[side] = tuple(chosen)
            continue
        primary, ankles = _FOOT_NAMES[side]
        # the ankle joins the heel and toe: it stands still with them and keeps the foot followed when both
        # are hidden (occlusions hit the foot's small keypoints together)
        found = tuple(k for k in primary if k in present) + tuple(k for k in ankles if k in present)
        if not found:
            raise MocapError(
                f"gait: no {side} foot keypoint found (looked for {', '.join(primary + ankles)}). Name the foot "
                f"keypoints with GaitConfig(left=(...), right=(...)) or --left/--right."
            )
        feet[side] = found
    return feet


def _median(x: np.ndarray, size: int) -> np.ndarray:
    """Running median along axis 0 (odd window ``size``, ends held); NaN frames stay NaN.

    A running median removes isolated wrong points (triangulation outliers) and
    keeps monotone stretches, such as a foot landing or lifting, in place.
    """
    if size < 3:
        return x
    size += 1 - size % 2
    out = running_median(x, size, ends="hold")
    return np.where(np.isfinite(x), out, np.nan)


def _lowpass(x: np.ndarray, fps: float, cutoff: float) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth along axis 0 of x (F, N), over each column's finite stretches.

    NaN frames stay NaN; stretches too short to filter are left as they are.
    """
    from scipy.signal import butter, filtfilt

    if cutoff <= 0 or cutoff >= fps / 2:
        return x
    b, a = butter(2, cutoff / (fps / 2))
    out = np.full_like(x, np.nan)
    ok = np.isfinite(x)
    if ok.all():
        return filtfilt(b, a, x, axis=0)
    # a loop over columns and their finite stretches (a few), each filtered in one call
    for j in range(x.shape[1]):
        edges = np.flatnonzero(np.diff(np.concatenate([[0], ok[:, j].astype(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            seg = x[start:stop, j]
            out[start:stop, j] = filtfilt(b, a, seg) if stop - start > 3 * max(len(a), len(b)) else seg
    return out


def _remove_short_runs(mask: np.ndarray, value: bool, min_len: int) -> np.ndarray:
    """Flip runs of ``value`` shorter than ``min_len`` frames (not those touching the ends)."""
    if min_len <= 1:
        return mask
    out = mask.copy()
    m = np.concatenate([[not value], mask == value, [not value]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(m))
    starts, stops = edges[::2], edges[1::2]
    short = (stops - starts < min_len) & (starts > 0) & (stops < len(mask))
    for s, e in zip(starts[short], stops[short], strict=True):
        out[s:e] = not value
    return out


# ------------------------------------------------------------------ events
def _foot_contact(pts: np.ndarray, up: np.ndarray, fps: float, config: GaitConfig):
    """Contact (F,) bool, unknown (F,) bool, lowest height above floor (F,) and
    each keypoint's height above its floor (F, N) for one foot.

    pts : (F, N, 3) the foot's keypoints, already gap-filled and filtered.
    """
    height = pts @ up  # (F, N)
    floor = np.nanpercentile(height, config.floor_percentile, axis=0)
    top = np.nanpercentile(height, 95.0, axis=0)
    rel = height - floor
    vel = np.gradient(pts, axis=0) * fps
    speed = np.linalg.norm(vel, axis=-1)  # (F, N)
    fast = np.nanpercentile(speed, 95.0, axis=0)
    low = rel < config.height_fraction * (top - floor)
    still = speed < config.speed_fraction * fast
    known = np.isfinite(rel).any(-1)  # a foot with one keypoint seen is still followed
    contact = (low & still).any(-1) & known
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames stay NaN
        lowest = np.nanmin(rel, axis=-1)
    return contact, ~known, lowest, rel


def _edges(
    contact: np.ndarray, unknown: np.ndarray, min_contact: int = 1, min_swing: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Strike frames (first contact frame) and off frames (first frame after contact).

    Edges next to unknown frames are dropped, and so are edges whose phase on
    the far side runs into the recording's start or end before reaching its
    minimum length (``min_contact``/``min_swing`` frames): the filters are
    least reliable there, and a truncated phase cannot confirm the event.
    """
    f = len(contact)
    c = contact.astype(np.int8)
    d = np.diff(c)
    strikes = np.flatnonzero(d == 1) + 1
    offs = np.flatnonzero(d == -1) + 1
    bad = unknown | np.roll(unknown, 1) | np.roll(unknown, -1)
    strikes = strikes[~bad[strikes] & ~bad[strikes - 1]]
    offs = offs[~bad[offs] & ~bad[offs - 1]]
    # strike: the swing before it must not be a stub at the start, the stance after it not a stub at the end
    first_off = offs.min() if len(offs) else f
    last_off = offs.max() if len(offs) else -1
    strikes = strikes[~((strikes < min_swing) & (strikes <= first_off))]
    strikes = strikes[~((f - strikes < min_contact) & (strikes > last_off))]
    first_strike = strikes.min() if len(strikes) else f
    last_strike = strikes.max() if len(strikes) else -1
    offs = offs[~((f - offs < min_swing) & (offs > last_strike))]
    offs = offs[~((offs < min_contact) & (offs <= first_strike))]
    return strikes, offs


def _hinge_times(y: np.ndarray, frames: np.ndarray, candidates: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares time at which each keypoint starts (off) or stops (strike) moving.

    Model per column: ``y(t) = a + b t + c h(t) + d h(t)^2`` with the hinge
    ``h = max(t - t0, 0)`` (off) or ``max(t0 - t, 0)`` (strike): a kink at
    ``t0``, from a straight line (standing, or a heel rising slowly) to a
    curve (lifting), or back.

    y : (T, N, D) coordinates at ``frames`` (T,); candidates : (G,) values of t0.
    Returns the best t0 (N,) and the fraction of variance the model explains (N,).
    """
    t, n, dim = y.shape
    yy = y.reshape(t, n * dim)
    h = frames[None, :] - candidates[:, None] if kind == "off" else candidates[:, None] - frames[None, :]
    h = np.maximum(h, 0.0)  # (G, T)
    tc = np.broadcast_to(frames - frames.mean(), h.shape)
    design = np.stack([np.ones_like(h), tc, h, h * h], -1)  # (G, T, 4)
    gram = np.einsum("gti,gtj->gij", design, design) + 1e-9 * np.eye(4)
    coef = np.linalg.solve(gram, np.einsum("gti,tk->gik", design, yy))  # (G, 4, N*D)
    resid = yy[None] - np.einsum("gti,gik->gtk", design, coef)
    rss = (resid**2).sum(1).reshape(len(candidates), n, dim).sum(-1)  # (G, N)
    tss = ((yy - yy.mean(0)) ** 2).sum(0).reshape(n, dim).sum(-1)  # (N,)
    best = rss.argmin(0)
    explained = 1.0 - rss[best, np.arange(n)] / np.maximum(tss, 1e-12)
    return candidates[best], explained


def _refine(
    height: np.ndarray, strikes: np.ndarray, offs: np.ndarray, fps: float, config: GaitConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Sharpen event frames by fitting the instant the foot lands / lifts off.

    height : (F, N) gap-filled, lightly filtered heights of the foot keypoints
        above their floor levels; keypoints missing in an event's window are
        left out of that event's fit.
    The fit uses the foot's mean height: heel and toe land and lift at
    different instants, but the lift (or landing) of the last (first) one is
    the kink in their mean, while the other's slow roll is the straight part.
    An event is the first frame at or after the fitted instant (continuous, in
    frames). Events whose window has missing data, or where the fit explains
    little of the motion, keep their coarse frame.
    """
    f = height.shape[0]
    half = max(int(round(config.refine_window_s * fps)), 3)
    search = max(int(round(config.refine_search_s * fps)), 1)
    out = []
    # a loop over events (a few per second of walking), each fit vectorized over candidates and keypoints
    for frames_in, kind in ((strikes, "strike"), (offs, "off")):
        refined = []
        for e in frames_in:
            lo, hi = max(e - search - half, 0), min(e + search + half + 1, f)
            seen = np.isfinite(height[lo:hi]).all(0)
            if not seen.any() or hi - lo < 2 * half:
                refined.append(e)
                continue
            y = height[lo:hi, seen].mean(axis=1)[:, None, None]
            cand = np.arange(e - search - 1.0, e + search + 0.01, 0.125)
            t0, explained = _hinge_times(y, np.arange(lo, hi, dtype=np.float64), cand, kind)
            good = explained > config.refine_min_explained
            if not good.any():
                refined.append(e)
                continue
            t = t0[0]
            refined.append(int(np.ceil(t - 1e-6)))
        out.append(np.array(refined, dtype=np.int64))
    return out[0], out[1]


def _contact_from_events(f: int, strikes: np.ndarray, offs: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """Contact mask with phase ends moved to the refined events."""
    out = coarse.copy()
    c = coarse.astype(np.int8)
    d = np.diff(np.concatenate([[0], c, [0]]))
    starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    for a, b in zip(starts, stops, strict=True):
        s_new = strikes[(strikes >= a - 30) & (strikes <= (a + b) // 2)]
        o_new = offs[(offs > (a + b) // 2) & (offs <= b + 30)]
        na = s_new[0] if len(s_new) and a > 0 else a
        nb = o_new[0] if len(o_new) and b < f else b
        out[min(a, na): max(b, nb)] = False
        out[na:nb] = True
    return out


def detect_gait_events(
    poses: Poses3D, config: GaitConfig | None = None
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Foot strikes and toe offs of each foot.

    Parameters
    ----------
    poses : Poses3D
        (frames, keypoints, 3) world coordinates with a known up axis
        (``config.up``); NaN gaps allowed.
    config : GaitConfig

    Returns
    -------
    events : DataFrame (side, event, frame, time), sorted by frame
    contact, height, unknown : dicts side -> (frames,) arrays
    """
    config = config or GaitConfig()
    fps = _fps(poses)
    feet = foot_keypoints(poses.keypoints, config)
    up = axis_vector(config.up)
    f = poses.n_frames
    if f < 10:
        raise MocapError(f"gait: only {f} frames; gait analysis needs at least a stride (~1 s) of walking.")
    rows, contact, height, unknown = [], {}, {}, {}
    max_gap = int(round(config.max_gap_s * fps))
    for side in SIDES:
        idx = [poses.keypoints.index(k) for k in feet[side]]
        seen = int(np.isfinite(poses.points[:, idx]).all(-1).any(-1).sum())
        if seen < 10:
            raise MocapError(
                f"gait: the {side} foot ({', '.join(feet[side])}) has a 3D position in only {seen} of {f} frames; "
                "gait analysis needs the feet through at least a stride. Check the triangulation (score and "
                "reprojection thresholds) or name other foot keypoints with --left/--right."
            )
    for side in SIDES:
        idx = [poses.keypoints.index(k) for k in feet[side]]
        raw = poses.points[:, idx].reshape(f, -1)
        filled, _ = fill_gaps(raw, max_gap)
        despiked = _median(filled, int(round(config.median_s * fps)))
        smooth = _lowpass(despiked, fps, config.cutoff_hz).reshape(f, len(idx), 3)
        c, unk, h, _ = _foot_contact(smooth, up, fps, config)
        c = _remove_short_runs(c, False, int(round(config.min_swing_s * fps)))
        c = _remove_short_runs(c, True, int(round(config.min_contact_s * fps)))
        c &= ~unk
        strikes, offs = _edges(c, unk, int(round(config.min_contact_s * fps)), int(round(config.min_swing_s * fps)))
        if config.refine:
            light = _lowpass(despiked, fps, config.refine_cutoff_hz).reshape(f, len(idx), 3)
            floor = np.nanpercentile(light @ up, config.floor_percentile, axis=0)
            strikes, offs = _refine(light @ up - floor, strikes, offs, fps, config)
            c = _contact_from_events(f, strikes, offs, c)
        rows += [(side, "strike", int(s)) for s in strikes] + [(side, "off", int(o)) for o in offs]
        contact[side], height[side], unknown[side] = c, h, unk
    events = pd.DataFrame(rows, columns=["side", "event", "frame"])
    events = events.sort_values(["frame", "side"], kind="stable").reset_index(drop=True)
    events["time"] = events["frame"] / fps
    return events, contact, height, unknown


# -------------------------------------------------------------- parameters
def _foot_position(poses: Poses3D, feet: tuple[str, ...], up: np.ndarray) -> np.ndarray:
    """Horizontal foot position (F, 3), the mean of the foot keypoints projected on the floor plane."""
    idx = [poses.keypoints.index(k) for k in feet]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames with the whole foot missing stay NaN
        pos = np.nanmean(poses.points[:, idx], axis=1)
    return pos - (pos @ up)[:, None] * up


def _stride_table(poses: Poses3D, events: pd.DataFrame, feet: dict, up: np.ndarray, fps: float) -> pd.DataFrame:
    pos = {s: _foot_position(poses, feet[s], up) for s in SIDES}
    ev = {(s, e): np.sort(events.loc[(events.side == s) & (events.event == e), "frame"].to_numpy())
          for s in SIDES for e in ("strike", "off")}
    rows = []
    for side in SIDES:
        other = "right" if side == "left" else "left"
        st = ev[(side, "strike")]
        for a, b in zip(st[:-1], st[1:], strict=True):
            offs = ev[(side, "off")]
            off = offs[(offs > a) & (offs < b)]
            opp = ev[(other, "strike")]
            opp = opp[(opp > a) & (opp < b)]
            pa, pb = pos[side][a], pos[side][b]
            stride_vec = pb - pa
            length = float(np.linalg.norm(stride_vec))
            row = {
                "side": side, "start_frame": int(a), "end_frame": int(b),
                "stride_time": (b - a) / fps, "stride_length": length,
                "speed": length / ((b - a) / fps),
                "toe_off_frame": int(off[0]) if len(off) else -1,
                "stance_time": (off[0] - a) / fps if len(off) else np.nan,
            }
            row["stance_fraction"] = row["stance_time"] / row["stride_time"]
            row["swing_fraction"] = 1.0 - row["stance_fraction"]
            if len(opp) and length > 0:
                direction = stride_vec / length
                rel = pos[other][opp[0]] - pa
                along = float(rel @ direction)
                row["step_time"] = (b - opp[0]) / fps  # the stepping foot (this side) lands at b
                row["step_length"] = float((pb - pos[other][opp[0]]) @ direction)
                row["step_width"] = float(np.linalg.norm(rel - along * direction))
            else:
                row["step_time"] = row["step_length"] = row["step_width"] = np.nan
            rows.append(row)
    cols = ["side", "start_frame", "end_frame", "toe_off_frame", "stride_time", "stride_length", "speed",
            "stance_time", "stance_fraction", "swing_fraction", "step_time", "step_length", "step_width"]
    return pd.DataFrame(rows, columns=cols)


_SUMMARY_PARAMS = ("stride_time", "stride_length", "speed", "stance_fraction", "swing_fraction",
                   "step_time", "step_length", "step_width")


def _summary(strides: pd.DataFrame) -> pd.DataFrame:
    table = {}
    for p in _SUMMARY_PARAMS:
        by = strides.groupby("side")[p].mean() if len(strides) else pd.Series(dtype=float)
        left, right = by.get("left", np.nan), by.get("right", np.nan)
        mean = (left + right) / 2
        table[p] = {"left": left, "right": right, "all": strides[p].mean() if len(strides) else np.nan,
                    "symmetry_index": 100.0 * abs(left - right) / mean if mean else np.nan}
    step_time = table["step_time"]["all"]
    table["cadence"] = {"left": 60.0 / table["step_time"]["left"], "right": 60.0 / table["step_time"]["right"],
                        "all": 60.0 / step_time if step_time else np.nan, "symmetry_index": np.nan}
    out = pd.DataFrame.from_dict(table, orient="index")
    out.index.name = "parameter"
    return out


def analyze_gait(poses: Poses3D, config: GaitConfig | None = None) -> GaitResult:
    """Events, per-stride parameters and a left/right summary of one walking trial.

    Units: times in seconds, lengths in the poses' units, speed in units/s,
    cadence in steps/min, fractions in [0, 1], symmetry index in percent.
    """
    config = config or GaitConfig()
    fps = _fps(poses)
    events, contact, height, _ = detect_gait_events(poses, config)
    feet = foot_keypoints(poses.keypoints, config)
    strides = _stride_table(poses, events, feet, axis_vector(config.up), fps)
    summary = _summary(strides)
    n = events.groupby("event").size().to_dict()
    log.info("gait: %d strikes, %d toe offs, %d strides", n.get("strike", 0), n.get("off", 0), len(strides))
    return GaitResult(events=events, strides=strides, summary=summary, contact=contact, height=height, fps=fps,
                      feet=feet)


def event_accuracy(found: pd.DataFrame, truth: Sequence[dict] | pd.DataFrame, tolerance: int = 2) -> dict:
    """Match detected events to true ones (same side and kind, nearest frame within ``tolerance``).

    Returns counts and the fraction of true events found (``recall``), the
    fraction of found events that are true (``precision``) and the frame errors
    of the matches.
    """
    truth = pd.DataFrame(list(truth)) if not isinstance(truth, pd.DataFrame) else truth
    errors, matched_found = [], 0
    used = set()
    for (side, kind), group in truth.groupby(["side", "event"]):
        cand = found[(found.side == side) & (found.event == kind)]
        frames = cand["frame"].to_numpy()
        for fr in group["frame"].to_numpy():
            if not len(frames):
                continue
            j = int(np.argmin(np.abs(frames - fr)))
            key = (side, kind, int(frames[j]))
            if abs(frames[j] - fr) <= tolerance and key not in used:
                used.add(key)
                errors.append(int(frames[j] - fr))
                matched_found += 1
    return {
        "n_true": len(truth), "n_found": len(found), "n_matched": matched_found,
        "recall": matched_found / max(len(truth), 1), "precision": matched_found / max(len(found), 1),
        "errors": np.array(errors, dtype=np.int64),
    }


# ------------------------------------------------------------------ outputs
def plot_gait(result: GaitResult, path: str | Path, units: str = "mm") -> Path:
    """A PNG: each foot's height over time with its contact phases and events, and left/right parameters."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    colors = {"left": "tab:blue", "right": "tab:red"}
    fig, axes = plt.subplots(3, 1, figsize=(9, 7.5), gridspec_kw={"height_ratios": [1, 1, 1.1]})
    for ax, side in zip(axes[:2], SIDES, strict=True):
        t = np.arange(len(result.height[side])) / result.fps
        ax.plot(t, result.height[side], color=colors[side], lw=1.2)
        c = result.contact[side]
        ax.fill_between(t, 0, 1, where=c, transform=ax.get_xaxis_transform(), color=colors[side], alpha=0.12,
                        lw=0, label="contact")
        ev = result.events[result.events.side == side]
        for kind, marker in (("strike", "v"), ("off", "^")):
            fr = ev.loc[ev.event == kind, "frame"].to_numpy()
            ax.plot(fr / result.fps, result.height[side][fr], marker, color="k", ms=6, ls="none",
                    label="foot strike" if kind == "strike" else "toe off")
        ax.set_ylabel(f"{side} foot height ({units})")
        ax.legend(loc="upper right", fontsize=8, ncol=3)
    axes[1].set_xlabel("time (s)")
    params = ["stride_time", "stance_fraction", "swing_fraction", "step_time"]
    s = result.summary.loc[params]
    x = np.arange(len(params))
    ax = axes[2]
    ax.bar(x - 0.2, s["left"], 0.4, color=colors["left"], label="left")
    ax.bar(x + 0.2, s["right"], 0.4, color=colors["right"], label="right")
    ax.set_xticks(x, [f"{p}\nSI {si:.1f}%" for p, si in zip(params, s["symmetry_index"], strict=True)], fontsize=8)
    ax.set_ylabel("s or fraction")
    summ = result.summary["all"]
    ax.set_title(f"speed {summ['speed']:.0f} {units}/s, cadence {summ['cadence']:.0f} steps/min, "
                 f"stride {summ['stride_length']:.0f} {units}, step width {summ['step_width']:.0f} {units}",
                 fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path, dpi=80)
    return path


def save_gait(result: GaitResult, out_dir: str | Path, stem: str = "gait", units: str = "mm") -> list[Path]:
    """Write ``<stem>_events.csv``, ``<stem>_strides.csv``, ``<stem>_summary.csv`` and ``<stem>.png``."""
    out_dir = Path(out_dir)
    written = []
    # All four files are written to temporary files first and renamed together at the end: a failure
    # (the picture, a full disk) leaves none of them, not three tables without their picture.
    with contextlib.ExitStack() as stack:
        for name, table, index in (("events", result.events, False), ("strides", result.strides, False),
                                   ("summary", result.summary, True)):
            path = out_dir / f"{stem}_{name}.csv"
            tmp = stack.enter_context(atomic_path(path))
            table.to_csv(tmp, index=index)
            written.append(path)
        png = out_dir / f"{stem}.png"
        plot_gait(result, stack.enter_context(atomic_path(png)), units=units)
        written.append(png)
    return written
