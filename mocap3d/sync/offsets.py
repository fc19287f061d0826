"""Frame offsets between cameras that were not started by a shared trigger.

Convention: camera ``c``'s frame ``i`` shows the same instant as the reference
camera's frame ``i + offsets[c]`` (so ``offsets[c] = 3`` means camera ``c``
started recording 3 frames after the reference). Offsets are whole frames.

Three estimators:

* :func:`epipolar_offsets` (needs the calibration): at the right lag, a body
  part seen by two cameras lies on the epipolar line of its position in the
  other camera; at a wrong lag it has moved off it. The offset is the lag with
  the smallest median Sampson distance (px) over every body part and frame the
  two cameras share. Geometry, not appearance: exact on the sample rig, and
  robust to confidently wrong detections (a median).
* :func:`keypoint_offsets` (Pose2Sim's approach, no calibration needed): every
  camera sees the same body parts speed up and slow down at about the same
  instants. Each camera's 2D tracks are median-filtered (removing detection
  spikes), differentiated into per-body-part vertical image speeds,
  standardised per body part, and the offset is the lag that maximises their
  Pearson correlation with the reference camera's, pooled over body parts.
  Image speeds depend on the viewing direction (a walker approaching one
  camera and leaving another grows in one and shrinks in the other), so this
  can be a frame or two off; prefer ``epipolar`` when a calibration exists.
* :func:`flash_offsets`: a flash or LED switched on once in view of every
  camera; the offset is the difference of the frames with the largest rise of
  mean image brightness (:func:`video_brightness`).

Both report a confidence and flag a camera as *ambiguous* when a different lag
(farther than ``peak_separation`` frames from the best) scores nearly as well,
which is what a periodic motion (a treadmill walk searched over more than one
stride) or two flashes produce, or when the best score itself is weak.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..config import Config
from ..errors import MocapError, ProjectError
from ..filters.filters3d import median_filter
from ..poses import Track2D

__all__ = [
    "SyncConfig",
    "SyncResult",
    "keypoint_speeds",
    "keypoint_offsets",
    "epipolar_offsets",
    "flash_offsets",
    "estimate_offsets",
    "video_brightness",
    "apply_offsets",
    "save_offsets",
    "load_offsets",
    "METHODS",
]

log = logging.getLogger(__name__)

METHODS = ("none", "epipolar", "keypoints", "flash")

# 1 / Phi^-1(3/4): MAD of a normal sample times this is its standard deviation.
_MAD_TO_SIGMA = 1.482602218505602


@dataclass(frozen=True)
class SyncConfig(Config):
    """The ``[sync]`` table of a project's config (a :class:`~mocap3d.config.Config`: ``from_toml``, ``replace``).

    Attributes
    ----------
    method : ``none`` (a shared trigger: no offsets), ``epipolar`` (2D tracks
        and calibration), ``keypoints`` (speed cross-correlation of the 2D
        tracks) or ``flash`` (brightness event in ``videos-raw``).
    reference : camera the offsets are measured against (default: the calibration's first).
    max_offset : largest offset searched, frames (either sign).
    score_threshold : 2D points scored below this are ignored.
    smooth_window : odd median window (frames) applied to 2D tracks before differentiation.
    min_overlap : fewest (frame, body part) samples the correlation at a lag must rest on.
    speed : ``keypoints``: ``vertical`` image speed (Pose2Sim's choice) or ``norm`` (speed magnitude).
    min_confidence : ``keypoints``: a best correlation below this is flagged.
    max_epipolar_px : ``epipolar``: a best median Sampson distance above this (px) is flagged.
    min_flash_sigmas : ``flash``: a rise below this many robust standard
        deviations of the frame-to-frame changes is flagged.
    ambiguity_ratio : a rival peak scoring at least this fraction of the best flags the camera.
    peak_separation : frames around the best lag that do not count as a rival peak.
    on_ambiguous : ``fail`` (the session fails, saying which camera) or ``use`` (keep the best lag, warn).
    """

    method: str = "none"
    reference: str | None = None
    max_offset: int = 60
    score_threshold: float = 0.3
    smooth_window: int = 9
    min_overlap: int = 200
    speed: str = "vertical"
    min_confidence: float = 0.3
    max_epipolar_px: float = 5.0
    min_flash_sigmas: float = 8.0
    ambiguity_ratio: float = 0.9
    peak_separation: int = 5
    on_ambiguous: str = "fail"

    section: ClassVar[str] = "sync"
    what: ClassVar[str] = "setting"
    error: ClassVar[type[MocapError]] = ProjectError

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ProjectError(f"[sync] method '{self.method}' is unknown; choose one of {', '.join(METHODS)}.")
        if self.on_ambiguous not in ("fail", "use"):
            raise ProjectError(f"[sync] on_ambiguous must be 'fail' or 'use', got '{self.on_ambiguous}'.")
        if self.speed not in ("vertical", "norm"):
            raise ProjectError(f"[sync] speed must be 'vertical' or 'norm', got '{self.speed}'.")
        if self.max_offset < 1 or self.smooth_window < 1 or self.smooth_window % 2 == 0:
            raise ProjectError("[sync] max_offset must be >= 1 frame and smooth_window an odd number of frames.")
        if not 0 < self.ambiguity_ratio <= 1:
            raise ProjectError(f"[sync] ambiguity_ratio must be in (0, 1], got {self.ambiguity_ratio}.")


@dataclass
class SyncResult:
    """Estimated offsets with their confidence.

    Attributes
    ----------
    cameras : camera names, reference included.
    reference : the reference camera (offset 0).
    offsets : camera -> offset in frames (see the module docstring for the sign).
    confidence : camera -> best correlation (``keypoints``) or flash rise in robust sigmas (``flash``).
    rival : camera -> score of the best other peak divided by the best (0: none).
    ambiguous : camera -> flagged (rival peak too close, or confidence too low).
    reasons : camera -> why it was flagged.
    method : ``keypoints`` or ``flash``.
    scores : camera -> (lags (L,), score per lag (L,)) for plots and diagnosis.
    """

    cameras: tuple[str, ...]
    reference: str
    offsets: dict[str, int]
    confidence: dict[str, float]
    rival: dict[str, float]
    ambiguous: dict[str, bool]
    reasons: dict[str, str]
    method: str
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def any_ambiguous(self) -> bool:
        return any(self.ambiguous.values())

    def lines(self) -> list[str]:
        out = [f"reference {self.reference} ({self.method})"]
        for cam in self.cameras:
            if cam == self.reference:
                continue
            flag = f"  AMBIGUOUS: {self.reasons[cam]}" if self.ambiguous[cam] else ""
            out.append(f"{cam}: {self.offsets[cam]:+d} frames, confidence {self.confidence[cam]:.2f}, "
                       f"rival peak {self.rival[cam]:.2f}{flag}")  # fmt: skip
        return out


def keypoint_speeds(points: np.ndarray, scores: np.ndarray, score_threshold: float = 0.3,
                    smooth_window: int = 9, component: str = "vertical") -> np.ndarray:  # fmt: skip
    """Per-body-part image speed, standardised.

    Parameters
    ----------
    points : array (frames, keypoints, 2), px; NaN where missing.
    scores : array (frames, keypoints); points below ``score_threshold`` are dropped.
    smooth_window : odd running-median window (frames) applied to the tracks first;
        removes isolated wrong detections that would otherwise be the largest speeds.

    component : ``vertical`` (signed image-y speed) or ``norm`` (speed magnitude).

    Returns
    -------
    array (frames, keypoints): central-difference speed (px/frame) of each body
    part, minus its mean and divided by its standard deviation over the frames
    where it is known; NaN where unknown (and for body parts that never move).
    """
    pts = np.where((scores >= score_threshold)[..., None], points, np.nan)
    if smooth_window > 1:
        pts = median_filter(pts, smooth_window)
    speed = np.full(pts.shape[:2], np.nan)
    if len(pts) >= 3:
        step = (pts[2:] - pts[:-2]) / 2
        speed[1:-1] = step[..., 1] if component == "vertical" else np.linalg.norm(step, axis=-1)
    known = np.isfinite(speed)
    n = known.sum(axis=0)
    filled = np.where(known, speed, 0.0)
    mean = filled.sum(axis=0) / np.maximum(n, 1)
    std = np.sqrt(np.where(known, (speed - mean) ** 2, 0.0).sum(axis=0) / np.maximum(n, 1))
    usable = known & (n > 2) & (std > 0)
    return np.where(usable, (speed - mean) / np.where(std > 0, std, 1.0), np.nan)


def _lag_correlation(ref: np.ndarray, other: np.ndarray, lags: np.ndarray, min_overlap: int) -> np.ndarray:
    """Pearson correlation of ``ref[t]`` with ``other[t - lag]`` for each lag, pooled over columns.

    ``ref`` (F_r, K) and ``other`` (F_o, K); NaN where unknown. Returns (L,), NaN
    where fewer than ``min_overlap`` samples overlap.
    """
    out = np.full(len(lags), np.nan)
    n_ref, n_other = len(ref), len(other)
    for i, lag in enumerate(lags.tolist()):  # one vectorised correlation per lag (about a hundred lags)
        t0, t1 = max(0, lag), min(n_ref, n_other + lag)
        if t1 - t0 < 2:
            continue
        a, b = ref[t0:t1], other[t0 - lag : t1 - lag]
        ok = np.isfinite(a) & np.isfinite(b)
        n = int(ok.sum())
        if n < min_overlap:
            continue
        a, b = a[ok], b[ok]
        a, b = a - a.mean(), b - b.mean()
        denom = np.sqrt((a * a).sum() * (b * b).sum())
        out[i] = (a * b).sum() / denom if denom > 0 else np.nan
    return out


def _pick_peak(lags: np.ndarray, score: np.ndarray, separation: int) -> tuple[int, float, float]:
    """Best lag, its score, and the best local maximum farther than ``separation`` frames (ratio to the best)."""
    if not np.isfinite(score).any():
        return 0, float("nan"), 0.0
    s = np.where(np.isfinite(score), score, -np.inf)
    best = int(np.argmax(s))
    left = np.r_[-np.inf, s[:-1]]
    right = np.r_[s[1:], -np.inf]
    local_max = (s >= left) & (s >= right) & np.isfinite(s)
    far = np.abs(lags - lags[best]) > separation
    rivals = s[local_max & far]
    rival = float(rivals.max() / s[best]) if len(rivals) and s[best] > 0 and rivals.max() > 0 else 0.0
    return int(lags[best]), float(s[best]), rival


def _result(names, reference, method, picks, scores, config: SyncConfig, min_confidence: float) -> SyncResult:
    offsets, confidence, rival, ambiguous, reasons = {reference: 0}, {reference: 1.0}, {reference: 0.0}, {}, {}
    ambiguous[reference], reasons[reference] = False, ""
    for cam, (lag, best, ratio) in picks.items():
        offsets[cam], confidence[cam], rival[cam] = lag, best, ratio
        why = []
        if not np.isfinite(best) or best < min_confidence:
            why.append(f"weak peak ({best:.2f} < {min_confidence})")
        if ratio >= config.ambiguity_ratio:
            lags, s = scores[cam]
            far = np.abs(lags - lag) > config.peak_separation
            other = int(lags[far][np.nanargmax(np.where(np.isfinite(s[far]), s[far], -np.inf))])
            why.append(f"another lag ({other:+d} frames) scores {ratio:.0%} of the best ({lag:+d})")
        ambiguous[cam], reasons[cam] = bool(why), "; ".join(why)
    return SyncResult(cameras=tuple(names), reference=reference, offsets=offsets, confidence=confidence,
                      rival=rival, ambiguous=ambiguous, reasons=reasons, method=method, scores=scores)  # fmt: skip


def _reference(names: Sequence[str], reference: str | None) -> str:
    if reference is None:
        return names[0]
    if reference not in names:
        raise MocapError(f"sync reference camera '{reference}' is not among the cameras ({', '.join(names)}).")
    return reference


def keypoint_offsets(
    points: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray], config: SyncConfig | None = None
) -> SyncResult:
    """Offsets from the cross-correlation of body-part speeds (see the module docstring).

    Parameters
    ----------
    points : camera -> array (frames_c, keypoints, 2) px, the same body parts in
        every camera; frame counts may differ. NaN where missing.
    scores : camera -> array (frames_c, keypoints).
    config : reads ``reference``, ``max_offset``, ``score_threshold``,
        ``smooth_window``, ``min_overlap``, ``min_confidence``, ``ambiguity_ratio``, ``peak_separation``.
    """
    config = config or SyncConfig(method="keypoints")
    names = list(points)
    if len(names) < 2:
        raise MocapError("synchronisation needs two or more cameras.")
    ref = _reference(names, config.reference)
    n_kp = {np.shape(points[c])[1] for c in names}
    if len(n_kp) != 1:
        raise MocapError(f"cameras have different numbers of body parts ({sorted(n_kp)}); synchronise matching tracks.")
    speeds = {
        c: keypoint_speeds(np.asarray(points[c], float), np.asarray(scores[c], float), config.score_threshold,
                           config.smooth_window, config.speed)
        for c in names
    }  # fmt: skip
    lags = np.arange(-config.max_offset, config.max_offset + 1)
    picks, curves = {}, {}
    for cam in names:
        if cam == ref:
            continue
        curve = _lag_correlation(speeds[ref], speeds[cam], lags, config.min_overlap)
        curves[cam] = (lags, curve)
        picks[cam] = _pick_peak(lags, curve, config.peak_separation)
    return _result(names, ref, "keypoints", picks, curves, config, config.min_confidence)


def _sampson_px(x_ref: np.ndarray, x_other: np.ndarray, E: np.ndarray, focal: float) -> np.ndarray:
    """Sampson distance (px) of normalized points ``x_ref``/``x_other`` (..., 2) to the epipolar geometry ``E``."""
    a = np.concatenate([x_ref, np.ones(x_ref.shape[:-1] + (1,))], -1)
    b = np.concatenate([x_other, np.ones(x_other.shape[:-1] + (1,))], -1)
    ea = a @ E.T  # E x_ref: the epipolar line in the other camera
    eb = b @ E  # E^T x_other: the line in the reference camera
    num = np.einsum("...i,...i->...", b, ea)
    den = ea[..., 0] ** 2 + ea[..., 1] ** 2 + eb[..., 0] ** 2 + eb[..., 1] ** 2
    return focal * np.abs(num) / np.sqrt(den)


def epipolar_offsets(
    points: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray], rig, config: SyncConfig | None = None
) -> SyncResult:
    """Offsets that put every camera's 2D points on the reference camera's epipolar lines.

    Parameters
    ----------
    points : camera -> array (frames_c, keypoints, 2), distorted pixels as
        detected, the same body parts in every camera; frame counts may differ.
    scores : camera -> array (frames_c, keypoints); below ``score_threshold`` ignored.
    rig : :class:`~mocap3d.camera.CameraRig` with every camera of ``points``.
    config : reads ``reference``, ``max_offset``, ``score_threshold``,
        ``min_overlap``, ``max_epipolar_px``, ``ambiguity_ratio``, ``peak_separation``.

    For each lag the score is the median Sampson distance (px, at the mean focal
    length of the pair) over every shared (frame, body part); the best lag is
    the smallest. ``confidence`` is that median (px; lower is better) and
    ``rival`` is the best other local minimum's ratio best/rival (1: as good).
    A motionless subject fits every lag and is flagged.
    """
    config = config or SyncConfig(method="epipolar")
    names = list(points)
    if len(names) < 2:
        raise MocapError("synchronisation needs two or more cameras.")
    missing = [c for c in names if c not in rig.names]
    if missing:
        raise MocapError(f"cameras {missing} are not in the calibration ({', '.join(rig.names)}).")
    ref = _reference(names, config.reference)
    sub = rig.select(names)
    normalized = {}
    for c in names:
        pts = np.where((np.asarray(scores[c]) >= config.score_threshold)[..., None], np.asarray(points[c], float),
                       np.nan)  # fmt: skip
        one = sub.select([c])
        normalized[c] = one.undistort_points(pts[None], output="normalized")[0]
    R = {c: sub.R[i] for i, c in enumerate(names)}
    t = {c: sub.tvec[i] for i, c in enumerate(names)}
    lags = np.arange(-config.max_offset, config.max_offset + 1)
    picks, curves = {}, {}
    for cam in names:
        if cam == ref:
            continue
        R_rel = R[cam] @ R[ref].T
        t_rel = t[cam] - R_rel @ t[ref]
        tx = np.array([[0, -t_rel[2], t_rel[1]], [t_rel[2], 0, -t_rel[0]], [-t_rel[1], t_rel[0], 0]])
        E = tx @ R_rel
        E = E / np.linalg.norm(E)
        focal = float(np.mean([sub.K[names.index(c)][[0, 1], [0, 1]].mean() for c in (ref, cam)]))
        a_all, b_all = normalized[ref], normalized[cam]
        median = np.full(len(lags), np.nan)
        for i, lag in enumerate(lags.tolist()):  # one vectorised median per lag
            t0, t1 = max(0, lag), min(len(a_all), len(b_all) + lag)
            if t1 - t0 < 1:
                continue
            d = _sampson_px(a_all[t0:t1], b_all[t0 - lag : t1 - lag], E, focal)
            d = d[np.isfinite(d)]
            if len(d) >= config.min_overlap:
                median[i] = np.median(d)
        curves[cam] = (lags, median)
        lag = _pick_peak(lags, -median, config.peak_separation)[0]
        # The rival is the best other local minimum; its ratio is best/rival distance (1: fits as well).
        finite = np.isfinite(median)
        if finite.any():
            best_d = float(np.nanmin(median))
            s = np.where(finite, -median, -np.inf)
            local = (s >= np.r_[-np.inf, s[:-1]]) & (s >= np.r_[s[1:], -np.inf]) & finite
            far = np.abs(lags - lag) > config.peak_separation
            rivals = median[local & far]
            ratio = float(best_d / rivals.min()) if len(rivals) and rivals.min() > 0 else 0.0
        else:
            best_d, ratio = float("nan"), 0.0
        picks[cam] = (lag, best_d, ratio)
    result = _result(names, ref, "epipolar", picks, curves, config, -np.inf)
    for cam, (lag, best_d, ratio) in picks.items():
        why = []
        if not np.isfinite(best_d) or best_d > config.max_epipolar_px:
            why.append(f"points stay {best_d:.1f} px off the epipolar lines at the best lag "
                       f"(> max_epipolar_px {config.max_epipolar_px}): wrong calibration or no overlap")  # fmt: skip
        if ratio >= config.ambiguity_ratio:
            lags_, med = curves[cam]
            far = np.abs(lags_ - lag) > config.peak_separation
            other = int(lags_[far][np.nanargmin(np.where(np.isfinite(med[far]), med[far], np.inf))])
            why.append(f"lag {other:+d} fits almost as well as {lag:+d} ({ratio:.0%}): too little motion to tell")
        result.ambiguous[cam], result.reasons[cam] = bool(why), "; ".join(why)
    return result


def flash_offsets(brightness: Mapping[str, np.ndarray], config: SyncConfig | None = None) -> SyncResult:
    """Offsets from one flash/LED event seen by every camera.

    Parameters
    ----------
    brightness : camera -> array (frames_c,) mean image brightness (any scale).

    The event is the frame with the largest rise of brightness over the previous
    frame; its confidence is that rise in robust standard deviations of the
    frame-to-frame changes, and a second rise (farther than ``peak_separation``
    frames) of at least ``ambiguity_ratio`` times the first flags the camera.
    """
    config = config or SyncConfig(method="flash")
    names = list(brightness)
    if len(names) < 2:
        raise MocapError("synchronisation needs two or more cameras.")
    ref = _reference(names, config.reference)
    events: dict[str, tuple[int, float, float]] = {}
    curves = {}
    for cam in names:
        b = np.asarray(brightness[cam], dtype=np.float64)
        if b.ndim != 1 or len(b) < 3:
            raise MocapError(f"camera {cam}: brightness must be one value per frame over 3+ frames.")
        rise = np.r_[np.nan, np.diff(b)]
        noise = _MAD_TO_SIGMA * np.nanmedian(np.abs(rise[1:] - np.nanmedian(rise[1:])))
        noise = max(noise, 1e-9 * max(1.0, float(np.nanmax(np.abs(b)))))
        frames = np.arange(len(b))
        frame, peak, ratio = _pick_peak(frames, rise / noise, config.peak_separation)
        events[cam] = (frame, peak, ratio)
        curves[cam] = (frames, rise / noise)
    picks = {}
    for cam in names:
        if cam != ref:
            frame, peak, ratio = events[cam]
            picks[cam] = (events[ref][0] - frame, min(peak, events[ref][1]), max(ratio, events[ref][2]))
    result = _result(names, ref, "flash", picks, {c: curves[c] for c in picks}, config, config.min_flash_sigmas)
    for cam in picks:  # the rival of a flash is another rise in this camera or the reference
        if result.rival[cam] >= config.ambiguity_ratio and not result.reasons[cam].startswith("weak"):
            result.reasons[cam] = f"a second brightness rise {result.rival[cam]:.0%} as large as the flash"
    return result


def estimate_offsets(
    config: SyncConfig,
    tracks: Mapping[str, Track2D] | None = None,
    videos: Mapping[str, str | Path] | None = None,
    rig=None,
) -> SyncResult:
    """Offsets by ``config.method``: from camera -> :class:`~mocap3d.poses.Track2D` (``epipolar`` with
    ``rig``, ``keypoints``; first individual, body parts common to all cameras) or camera -> video (``flash``)."""
    if config.method == "flash":
        if not videos:
            raise MocapError("flash synchronisation needs one video per camera (videos-raw/).")
        return flash_offsets({c: video_brightness(p) for c, p in videos.items()}, config)
    if config.method not in ("epipolar", "keypoints"):
        raise MocapError(f"no offsets to estimate with [sync] method = '{config.method}'.")
    if not tracks:
        raise MocapError(f"{config.method} synchronisation needs one 2D file per camera.")
    first = next(iter(tracks.values()))
    common = [k for k in first.keypoints if all(k in t.keypoints for t in tracks.values())]
    pts = {c: t.points[:, 0, [t.keypoints.index(k) for k in common]] for c, t in tracks.items()}
    scs = {c: t.scores[:, 0, [t.keypoints.index(k) for k in common]] for c, t in tracks.items()}
    if config.method == "keypoints":
        return keypoint_offsets(pts, scs, config)
    if rig is None:
        raise MocapError("epipolar synchronisation needs the calibration; without one use method 'keypoints'.")
    return epipolar_offsets(pts, scs, rig, config)


def video_brightness(path: str | Path, scale: int = 8) -> np.ndarray:
    """Mean grey level of every frame of a video (frames,), read at 1/``scale`` of its size."""
    import cv2

    path = Path(path)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise MocapError(f"cannot open video '{path}'; check that the file exists and is a video.")
    values = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            small = cv2.resize(frame, None, fx=1 / scale, fy=1 / scale, interpolation=cv2.INTER_AREA)
            values.append(float(small.mean()))
    finally:
        cap.release()
    if not values:
        raise MocapError(f"video '{path}' has no readable frame (truncated or empty?); record or copy it again.")
    return np.asarray(values)


def apply_offsets(tracks: Mapping[str, Track2D], offsets: Mapping[str, int], n_frames: int | None = None
                  ) -> dict[str, Track2D]:  # fmt: skip
    """Re-index every camera's track on the reference camera's frames.

    Output frame ``t`` of camera ``c`` is its frame ``t - offsets[c]``; frames
    the camera did not record are missing (NaN points, score 0). Every output
    has ``n_frames`` frames (default: the reference camera's count, the camera
    with offset 0). Cameras absent from ``offsets`` keep offset 0.
    """
    if n_frames is None:
        zero = [c for c in tracks if int(offsets.get(c, 0)) == 0]
        n_frames = tracks[zero[0]].n_frames if zero else max(t.n_frames for t in tracks.values())
    t = np.arange(n_frames)
    out = {}
    for cam, track in tracks.items():
        src = t - int(offsets.get(cam, 0))
        ok = (src >= 0) & (src < track.n_frames)
        idx = np.clip(src, 0, max(track.n_frames - 1, 0))
        points = np.where(ok[:, None, None, None], track.points[idx], np.nan)
        scores = np.where(ok[:, None, None], track.scores[idx], 0.0)
        out[cam] = Track2D(points=points, scores=scores, keypoints=track.keypoints, individuals=track.individuals,
                           source=track.source)  # fmt: skip
    return out


def save_offsets(result: SyncResult, path: str | Path) -> Path:
    """Write ``sync/offsets.toml``: ``[offsets]``, ``[confidence]``, ``[ambiguous]`` tables per camera."""
    import toml

    from ..io.atomic import atomic_write_text

    data = {
        "method": result.method,
        "reference": result.reference,
        "cameras": list(result.cameras),
        "offsets": {c: int(v) for c, v in result.offsets.items()},
        "confidence": {c: round(float(v), 6) for c, v in result.confidence.items()},
        "rival": {c: round(float(v), 6) for c, v in result.rival.items()},
        "ambiguous": {c: bool(v) for c, v in result.ambiguous.items()},
        "reasons": {c: v for c, v in result.reasons.items() if v},
    }
    return atomic_write_text(path, toml.dumps(data))


def load_offsets(path: str | Path) -> dict[str, int]:
    """Camera -> offset (frames) from a ``sync/offsets.toml`` (written by :func:`save_offsets` or by hand)."""
    from ..io.settings import read_toml

    path = Path(path)
    data = read_toml(path, "offsets file", MocapError)
    table = data.get("offsets")
    if not isinstance(table, dict) or not all(isinstance(v, int) for v in table.values()):
        raise MocapError(f"{path}: expected an [offsets] table of whole frame numbers per camera (cam2 = 3).")
    return {str(k): int(v) for k, v in table.items()}
