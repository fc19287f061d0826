"""Identity through time: 3D tracks built from each frame's association.

Each individual is a track with its last 3D keypoints, a velocity per keypoint
(a damped constant-velocity model) and a body size (the distances between its
keypoints, a running median-like average). Every frame:

1. each track's keypoints are predicted (last position + velocity x frames
   since seen, the velocity decaying over a gap), and the association
   (:class:`~mocap3d.multi.association.Associator`) first matches each
   camera's detections to those predictions, so an individual keeps its
   identity without ever reading the files' own labels;
2. clusters the predictions did not explain are matched to the tracks that
   found no detection this frame (lost, occluded) by a Hungarian assignment on
   the predicted 3D position (in body radii) plus the difference of body size
   (limb lengths), gated by how far the individual may have moved since it
   was last seen; what stays unmatched starts a new track (up to
   ``n_individuals`` when the number of individuals is known, in which case a
   cluster is rather given to the nearest lost track).

Frames where an identity is uncertain (an ambiguous camera match, an
individual found again after a gap, a forced match beyond the gate, two
individuals closer than a body radius) are listed in
:attr:`TrackingResult.uncertain`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..camera import CameraRig
from ..poses import DEFAULT_INDIVIDUAL
from .association import AssociationConfig, Associator
from .detections import Detections

__all__ = ["TrackingConfig", "TrackingResult", "track_individuals", "individual_names"]

log = logging.getLogger(__name__)


#: Frames since last seen up to which an individual is still matched through its predicted projections.
_PREDICT_FRAMES = 3


def individual_names(n: int) -> list[str]:
    """``individual_0, individual_1, ...`` (movement's names; the first is ``DEFAULT_INDIVIDUAL``)."""
    stem = DEFAULT_INDIVIDUAL.rsplit("_", 1)[0]
    return [f"{stem}_{i}" for i in range(n)]


@dataclass(frozen=True)
class TrackingConfig:
    """How individuals are followed through time.

    Attributes
    ----------
    n_individuals : int or None
        The number of individuals when known (never more tracks than this).
    max_speed : float
        Most displacement per frame, in body radii (median distance of the
        keypoints from their centroid), when matching a lost individual.
    max_gap : int
        Frames a lost individual is kept for re-identification (then its track ends).
    size_weight : float
        Weight of the body-size (limb-length) difference, relative to the distance in body radii.
    min_frames : int
        Tracks seen in fewer frames are dropped from the result (spurious clusters).
    """

    n_individuals: int | None = None
    max_speed: float = 0.15
    max_gap: int = 600
    size_weight: float = 2.0
    min_frames: int = 5


@dataclass
class TrackingResult:
    """Association over a recording: per individual, a detection index per camera and frame."""

    names: list[str]
    assignment: np.ndarray  # (T, V, F) detection slot, -1 where none
    uncertain: list[dict] = field(default_factory=list)  # {"frame", "individual", "reason"}
    seconds_per_frame: float = 0.0  # wall-clock time of the association and tracking, per frame
    cpu_seconds_per_frame: float = 0.0  # this process's CPU time per frame (steadier on a busy machine)
    points3d: np.ndarray | None = None  # (T, F, K, 3) the association's own quick 3D (DLT)

    def uncertain_frames(self) -> np.ndarray:
        return np.unique([u["frame"] for u in self.uncertain]).astype(np.int64)


class _Track:
    def __init__(self, points: np.ndarray, frame: int) -> None:
        self.last = points.copy()
        self.velocity = np.zeros_like(points)
        self.seen = frame
        self.first = frame
        self.n_seen = 1
        self.size = _pair_distances(points)

    def predict(self, frame: int) -> np.ndarray:
        gap = frame - self.seen
        # damped constant velocity: the prediction stops moving after a few frames unseen
        steps = sum(0.8**i for i in range(min(gap, 30)))
        return self.last + self.velocity * steps

    def radius(self) -> float:
        ok = np.isfinite(self.last).all(-1)
        if ok.sum() < 2:
            return np.nan
        c = self.last[ok].mean(0)
        return float(np.median(np.linalg.norm(self.last[ok] - c, axis=-1)))

    def update(self, points: np.ndarray, frame: int) -> None:
        gap = max(frame - self.seen, 1)
        ok = np.isfinite(points).all(-1)
        had = np.isfinite(self.last).all(-1)
        both = ok & had
        new_v = np.zeros_like(self.velocity)
        new_v[both] = (points[both] - self.last[both]) / gap
        if both.any():
            # keypoints not seen now move with the body's median velocity
            new_v[~both] = np.median(new_v[both], axis=0)
        self.velocity = 0.5 * self.velocity + 0.5 * new_v if gap == 1 else new_v
        moved = self.last + self.velocity * gap
        self.last = np.where(ok[:, None], points, np.where(had[:, None], moved, np.nan))
        size = _pair_distances(points)
        both_s = np.isfinite(size) & np.isfinite(self.size)
        self.size = np.where(both_s, 0.9 * self.size + 0.1 * size, np.where(np.isfinite(self.size), self.size, size))
        self.seen = frame
        self.n_seen += 1


def _pair_distances(points: np.ndarray) -> np.ndarray:
    iu = np.triu_indices(points.shape[0], 1)
    return np.linalg.norm(points[iu[0]] - points[iu[1]], axis=-1)


def _size_difference(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b) & (a > 0)
    if ok.sum() < 3:
        return 0.0
    return float(np.median(np.abs(a[ok] - b[ok]) / a[ok]))


def _centroid_distance(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a).all(-1) & np.isfinite(b).all(-1)
    if ok.sum() < 1:
        return np.inf
    return float(np.median(np.linalg.norm(a[ok] - b[ok], axis=-1)))


def track_individuals(
    detections: Detections,
    rig: CameraRig,
    association: AssociationConfig | None = None,
    tracking: TrackingConfig | None = None,
) -> TrackingResult:
    """Associate every frame's detections across cameras and follow each individual through time.

    ``rig`` must hold the detections' views (matched by name). Returns a
    :class:`TrackingResult` whose ``assignment`` picks, per individual,
    camera and frame, one of that camera's detection slots; build each
    individual's 2D with :meth:`Detections.gather`.
    """
    tracking = tracking or TrackingConfig()
    cams = rig.select(detections.views)
    assoc = Associator(cams, association)
    x_all, w_all = assoc.normalize(detections.points, detections.scores)  # (V, F, N, K, 2), (V, F, N, K)
    v, f, n, k = w_all.shape
    tracks: list[_Track] = []
    rows: list[np.ndarray] = []  # per track (V, F) assignment
    pts3d: list[np.ndarray] = []
    uncertain: list[dict] = []
    names_unknown = tracking.n_individuals is None
    start, start_cpu = time.perf_counter(), time.process_time()
    for fi in range(f):
        x, w = x_all[:, fi], w_all[:, fi]
        alive = [i for i, t in enumerate(tracks) if fi - t.seen <= tracking.max_gap]
        # only recently seen individuals are predicted into the cameras; longer-lost ones are found again in 3D
        recent = [i for i in alive if fi - tracks[i].seen <= _PREDICT_FRAMES]
        predicted = np.stack([tracks[i].predict(fi) for i in recent]) if recent else None
        result = assoc.frame(x, w, predicted)
        done: set[int] = set()
        for s, tid in enumerate(result.from_track):
            if tid < 0:
                continue
            ti = recent[tid]
            _record(tracks, rows, pts3d, ti, fi, result.clusters[s], result.points3d[s])
            done.add(ti)
        for tid, cam in result.uncertain_views:
            reason = f"ambiguous match in {cams.names[cam]}"
            uncertain.append({"frame": fi, "individual": recent[tid], "reason": reason})
        new = np.flatnonzero(result.from_track < 0)
        if new.size:
            lost = [i for i in alive if i not in done]
            _match_new(tracks, rows, pts3d, lost, new, result, fi, tracking, uncertain, v, f, k)
        # two individuals closer than a body radius: their identities may have been exchanged
        seen_now = [i for i in range(len(tracks)) if tracks[i].seen == fi]
        for a_i in range(len(seen_now)):
            for b_i in range(a_i + 1, len(seen_now)):
                a, b = tracks[seen_now[a_i]], tracks[seen_now[b_i]]
                if _centroid_distance(a.last, b.last) < np.nanmin([a.radius(), b.radius()]):
                    reason = "another individual within a body radius"
                    uncertain.append({"frame": fi, "individual": seen_now[a_i], "reason": reason})
    elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    keep = [i for i, t in enumerate(tracks) if t.n_seen >= tracking.min_frames or not names_unknown]
    if tracking.n_individuals is not None:
        keep = keep[: tracking.n_individuals]
    renumber = {old: new for new, old in enumerate(keep)}
    uncertain = [{**u, "individual": renumber[u["individual"]]} for u in uncertain if u["individual"] in renumber]
    names = individual_names(len(keep))
    for u in uncertain:
        u["individual"] = names[u["individual"]]
    assignment = np.stack([rows[i] for i in keep]) if keep else np.zeros((0, v, f), np.int64)
    points = np.stack([pts3d[i] for i in keep]) if keep else np.zeros((0, f, k, 3))
    log.info("associated %d frames in %.3f s (%.2f ms per frame); %d individuals", f, elapsed,
             1e3 * elapsed / max(f, 1), len(keep))  # fmt: skip
    return TrackingResult(names=names, assignment=assignment, uncertain=uncertain,
                          seconds_per_frame=elapsed / max(f, 1), cpu_seconds_per_frame=elapsed_cpu / max(f, 1),
                          points3d=points)  # fmt: skip


def _record(tracks, rows, pts3d, ti, fi, cluster, X) -> None:
    rows[ti][:, fi] = cluster
    pts3d[ti][fi] = X
    tracks[ti].update(X, fi)


def _match_new(tracks, rows, pts3d, lost, new, result, fi, tracking, uncertain, v, f, k) -> None:
    """Give new clusters to lost tracks (Hungarian on predicted 3D + body size), or start tracks."""
    full = tracking.n_individuals is not None and len(tracks) >= tracking.n_individuals
    remaining = list(new)
    if lost:
        cost = np.full((len(lost), len(new)), np.inf)
        gates = np.zeros(len(lost))
        for a, ti in enumerate(lost):
            t = tracks[ti]
            pred = t.predict(fi)
            radius = t.radius()
            gap = fi - t.seen
            gates[a] = 1.0 + tracking.max_speed * gap
            for b, s in enumerate(new):
                d = _centroid_distance(pred, result.points3d[s])
                if np.isfinite(radius) and radius > 0:
                    d /= radius
                cost[a, b] = d + tracking.size_weight * _size_difference(t.size, _pair_distances(result.points3d[s]))
        finite = np.where(np.isfinite(cost), cost, 1e9)
        r, c = linear_sum_assignment(finite)
        for a, b in zip(r, c, strict=True):
            if finite[a, b] >= 1e9:
                continue
            within = cost[a, b] <= gates[a]
            if not within and not full:
                continue
            ti, s = lost[a], new[b]
            gap = fi - tracks[ti].seen
            if gap > 1:
                uncertain.append({"frame": fi, "individual": ti, "reason": f"found again after {gap - 1} frames"})
            if not within:
                uncertain.append({"frame": fi, "individual": ti, "reason": "matched beyond the motion gate"})
            _record(tracks, rows, pts3d, ti, fi, result.clusters[s], result.points3d[s])
            remaining.remove(s)
    # when the number of individuals is capped, the best-seen clusters start tracks first
    remaining.sort(key=lambda s: -int((result.clusters[s] >= 0).sum()))
    for s in remaining:
        if tracking.n_individuals is not None and len(tracks) >= tracking.n_individuals:
            break
        X = result.points3d[s]
        if np.isfinite(X).all(-1).sum() < 2:
            continue
        tracks.append(_Track(X, fi))
        rows.append(np.full((v, f), -1, np.int64))
        pts3d.append(np.full((f, k, 3), np.nan))
        rows[-1][:, fi] = result.clusters[s]
        pts3d[-1][fi] = X
