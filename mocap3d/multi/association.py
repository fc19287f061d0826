"""Cross-view association: which detection in each camera is which individual, one frame at a time.

Geometry only (no appearance): everything is computed on undistorted,
normalized coordinates (the calibration's lens model, :meth:`CameraRig.
undistort_points`), and distances are turned back into pixels with each
camera's focal length, so thresholds read in pixels.

Per frame, :meth:`Associator.frame` does:

1. **Predicted individuals** (when the tracker passes the previous frames'
   3D, moved by its motion model): in each camera, the detections are matched
   to the individuals' projections by a Hungarian assignment on the median
   keypoint distance (px), gated by ``track_gate_px``. This is linear in the
   number of cameras.
2. **Joint clustering of the rest**: every remaining detection is a node;
   two detections in different cameras are linked by their symmetric
   epipolar distance (median over their common keypoints, px). Clusters are
   merged by average linkage, lowest cost first, over all cameras at once,
   never joining two clusters that share a camera (at most one detection per
   camera per individual) and never above ``threshold_px``. A cluster may
   miss any camera.
3. **Verification and completion**: every cluster is triangulated (weighted
   DLT) and each camera's detection reprojected; a camera whose median
   reprojection error is above ``reproj_threshold_px`` is taken out of its
   cluster (worst first, while two cameras remain), and left-over detections
   join the cluster that reprojects onto them best (Hungarian per camera,
   same threshold). This catches the swaps that a pairwise epipolar cost
   cannot see (two individuals on one epipolar line).

The result is a list of clusters, each a detection index per camera (-1:
none), with their 3D keypoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..camera import CameraRig

__all__ = ["AssociationConfig", "Associator", "FrameResult"]


@dataclass(frozen=True)
class AssociationConfig:
    """Thresholds of the association (pixels are each camera's, after undistortion).

    Attributes
    ----------
    score_threshold : 2D keypoints scored below this are ignored by the association.
    threshold_px : most median symmetric epipolar distance of two detections of one individual.
    reproj_threshold_px : most median reprojection error of a camera's detection in its cluster.
    track_gate_px : most median distance of a detection from an individual's predicted projection.
    min_keypoints : fewest common keypoints for two detections to be compared.
    ambiguity_ratio : a camera's match to a predicted individual is "uncertain" when another
        individual's cost is within this factor of the chosen one.
    """

    score_threshold: float = 0.3
    threshold_px: float = 30.0
    reproj_threshold_px: float = 40.0
    track_gate_px: float = 80.0
    min_keypoints: int = 3
    ambiguity_ratio: float = 1.5


@dataclass
class FrameResult:
    """One frame's association: clusters (S, V) of detection indices (-1: none), their 3D (S, K, 3)."""

    clusters: np.ndarray
    points3d: np.ndarray
    from_track: np.ndarray  # (S,) index of the predicted individual a cluster came from, -1 for new clusters
    uncertain_views: list[tuple[int, int]] = field(default_factory=list)  # (track, view) with ambiguous matches


def _dlt(P: np.ndarray, points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted DLT (..., 3) of a few points (V, ..., 2): one batched ``eigh`` (cheaper than the secular solver
    of :mod:`mocap3d.triangulation.dlt` for the tens of points of one frame). NaN with fewer than two views."""
    ok = np.isfinite(points).all(-1) & (weights > 0)
    w = np.where(ok, weights, 0.0)
    x = np.where(ok, points[..., 0], 0.0)
    y = np.where(ok, points[..., 1], 0.0)
    p0, p1, p2 = P[:, 0], P[:, 1], P[:, 2]  # (V, 4)
    extra = (1,) * (points.ndim - 2)
    shape = (P.shape[0],) + extra + (4,)
    a = w[..., None] * (x[..., None] * p2.reshape(shape) - p0.reshape(shape))
    b = w[..., None] * (y[..., None] * p2.reshape(shape) - p1.reshape(shape))
    M = np.einsum("v...i,v...j->...ij", a, a) + np.einsum("v...i,v...j->...ij", b, b)
    _, vec = np.linalg.eigh(M)
    h = vec[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        X = h[..., :3] / h[..., 3:4]
    X[ok.sum(0) < 2] = np.nan
    return X


def _nanmedian(d: np.ndarray, enough: np.ndarray, fill: float = np.inf) -> np.ndarray:
    """Median over the last axis of ``d`` (NaN ignored) where ``enough``, ``fill`` elsewhere."""
    srt = np.sort(d, axis=-1)  # NaN last
    n = np.isfinite(srt).sum(-1)
    lo = np.take_along_axis(srt, np.clip((n - 1) // 2, 0, None)[..., None], -1)[..., 0]
    hi = np.take_along_axis(srt, np.clip(n // 2, 0, None)[..., None], -1)[..., 0]
    return np.where(enough & (n > 0), 0.5 * (lo + hi), fill)


def _skew(t: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -t[2], t[1]], [t[2], 0.0, -t[0]], [-t[1], t[0], 0.0]])


class Associator:
    """The per-frame association for one camera rig (see module docstring)."""

    def __init__(self, rig: CameraRig, config: AssociationConfig | None = None) -> None:
        self.rig = rig
        self.config = config or AssociationConfig()
        R, t = rig.R, rig.tvec
        v = rig.n_cameras
        self.ext = rig.extrinsics()  # (V, 3, 4): world -> normalized coordinates
        self.focal = 0.5 * (rig.K[:, 0, 0] + rig.K[:, 1, 1])
        # Essential matrices E[i, j]: x_j^T E[i, j] x_i = 0 for normalized homogeneous points.
        E = np.zeros((v, v, 3, 3))
        for i in range(v):
            for j in range(v):
                if i != j:
                    Rij = R[j] @ R[i].T
                    E[i, j] = _skew(t[j] - Rij @ t[i]) @ Rij
        self.E = E

    # ----------------------------------------------------------------- prepare
    def normalize(self, points: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Undistorted normalized coordinates (V, ..., 2) and association weights (V, ...) of pixel detections."""
        pts = np.asarray(points, dtype=np.float64)
        norm = self.rig.undistort_points(pts.reshape(pts.shape[0], -1, 2), output="normalized").reshape(pts.shape)
        ok = np.isfinite(norm).all(-1) & (scores >= self.config.score_threshold) & (scores > 0)
        return np.where(ok[..., None], norm, np.nan), np.where(ok, scores, 0.0)

    # ----------------------------------------------------------------- geometry
    def epipolar_costs(self, x: np.ndarray, w: np.ndarray, view: np.ndarray) -> np.ndarray:
        """Median symmetric epipolar distance (px) between detections (M, M); inf within a camera or unrelated.

        ``x`` (M, K, 2) normalized, ``w`` (M, K) weights, ``view`` (M,) camera of each detection.
        """
        m, k = w.shape
        h = np.concatenate([x, np.ones((m, k, 1))], -1)  # (M, K, 3)
        E = self.E[view[:, None], view[None, :]]  # (M, M, 3, 3)
        lines = np.einsum("abij,akj->abki", E, h)  # line in b's image of a's point
        num = np.abs(np.einsum("bki,abki->abk", h, lines))
        with np.errstate(invalid="ignore", divide="ignore"):
            d_ab = num / np.linalg.norm(lines[..., :2], axis=-1) * self.focal[view][None, :, None]
            sym = 0.5 * (d_ab + d_ab.transpose(1, 0, 2))
        both = (w[:, None] > 0) & (w[None, :] > 0)
        sym = np.where(both, sym, np.nan)
        enough = both.sum(-1) >= self.config.min_keypoints
        cost = _nanmedian(sym, enough)
        cost[view[:, None] == view[None, :]] = np.inf
        return cost

    def triangulate_clusters(self, clusters: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """3D keypoints (S, K, 3) of clusters (S, V) of indices into per-view detections ``x`` (V, N, K, 2)."""
        s, v = clusters.shape
        k = x.shape[2]
        if s == 0:
            return np.zeros((0, k, 3))
        idx = np.clip(clusters.T, 0, None)  # (V, S)
        vi = np.arange(v)[:, None]
        pts = x[vi, idx]  # (V, S, K, 2)
        ws = np.where((clusters.T >= 0)[..., None], w[vi, idx], 0.0)
        return _dlt(self.ext, pts, ws)

    def reprojection_px(self, X: np.ndarray) -> np.ndarray:
        """Normalized projections (V, ..., 2) of world points (..., 3) (NaN behind a camera)."""
        Xh = np.concatenate([X, np.ones(X.shape[:-1] + (1,))], -1)
        cam = np.einsum("vij,...j->v...i", self.ext, Xh)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = cam[..., :2] / cam[..., 2:3]
        return np.where(cam[..., 2:3] > 0, out, np.nan)

    def _distance_px(self, proj: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Median px distance (V, S, N) between projections (V, S, K, 2) and detections (V, N, K, 2)."""
        d = np.linalg.norm(proj[:, :, None] - x[:, None], axis=-1) * self.focal[:, None, None, None]
        ok = np.isfinite(d) & (w[:, None] > 0)
        d = np.where(ok, d, np.nan)
        return _nanmedian(d, ok.sum(-1) >= self.config.min_keypoints)

    # ----------------------------------------------------------------- steps
    def _cluster(self, x: np.ndarray, w: np.ndarray, free: np.ndarray) -> np.ndarray:
        """Joint average-linkage clustering of the free detections (V, N) bool -> clusters (S, V)."""
        v_idx, n_idx = np.nonzero(free)
        m = v_idx.size
        v = x.shape[0]
        if m < 2:
            return np.zeros((0, v), np.int64)
        cost = self.epipolar_costs(x[v_idx, n_idx], w[v_idx, n_idx], v_idx)
        cost = cost + 2 * self.config.threshold_px * self._contradictions(cost, v_idx, v)
        finite = np.isfinite(cost)
        total = np.where(finite, cost, 0.0)  # sums of pair costs between clusters
        count = finite.astype(np.float64)  # numbers of compared pairs
        views = np.zeros((m, v), bool)
        views[np.arange(m), v_idx] = True
        alive = np.ones(m, bool)
        label = np.arange(m)
        limit = self.config.threshold_px
        while alive.sum() > 1:
            with np.errstate(invalid="ignore", divide="ignore"):
                link = np.where(count > 0, total / count, np.inf)
            conflict = (views[:, None] & views[None, :]).any(-1)
            link[conflict | ~alive[:, None] | ~alive[None, :]] = np.inf
            a, b = np.unravel_index(np.argmin(link), link.shape)
            if not link[a, b] <= limit:
                break
            total[a] += total[b]
            total[:, a] += total[:, b]
            count[a] += count[b]
            count[:, a] += count[:, b]
            views[a] |= views[b]
            alive[b] = False
            label[label == b] = a
        roots = np.flatnonzero(alive & (views.sum(1) >= 2))
        clusters = np.full((roots.size, v), -1, np.int64)
        for s, r in enumerate(roots):
            mine = label == r
            clusters[s, v_idx[mine]] = n_idx[mine]
        return clusters

    def _contradictions(self, cost: np.ndarray, view: np.ndarray, n_views: int) -> np.ndarray:
        """Per pair of detections, the number of third cameras that say they are different individuals (M, M).

        A third camera contradicts the pair (a, b) when one of its detections agrees well with ``a``
        (cost <= half the threshold) but not with ``b`` (cost > the threshold), or the reverse, and
        none of its detections agrees with both. This is what lets the joint solution separate two
        individuals that one camera pair cannot (both on one epipolar line).
        """
        near = (cost <= 0.5 * self.config.threshold_px).astype(np.float64)
        far = (cost > self.config.threshold_px).astype(np.float64)
        out = np.zeros(cost.shape)
        for v in range(n_views):
            mine = view == v
            if not mine.any():
                continue
            nv, fv = near[:, mine], far[:, mine]
            both = (nv @ nv.T) > 0
            split = ((nv @ fv.T) > 0) | ((fv @ nv.T) > 0)
            hit = split & ~both
            hit[mine] = False
            hit[:, mine] = False
            out += hit
        return out

    def _verify(self, clusters: np.ndarray, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Drop cameras that do not reproject within the threshold (worst first, one per cluster and round).

        Rows keep their place; a row left with fewer than two cameras is emptied (all -1).
        Returns the clusters and their 3D keypoints.
        """
        limit = self.config.reproj_threshold_px
        clusters = clusters.copy()
        for _ in range(x.shape[0]):
            clusters[(clusters >= 0).sum(1) < 2] = -1
            X = self.triangulate_clusters(clusters, x, w)
            if not len(clusters):
                return clusters, X
            err = self._cluster_errors(clusters, X, x, w)  # (S, V), NaN where no detection
            score = np.where(clusters >= 0, np.nan_to_num(err, nan=np.inf), -1.0)
            worst = np.argmax(score, axis=1)
            bad = score[np.arange(len(clusters)), worst] > limit
            if not bad.any():
                return clusters, X
            rows = np.flatnonzero(bad)
            clusters[rows, worst[rows]] = -1
        clusters[(clusters >= 0).sum(1) < 2] = -1
        return clusters, self.triangulate_clusters(clusters, x, w)

    def _cluster_errors(self, clusters: np.ndarray, X: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Median reprojection error (S, V) px of each cluster's own detection in each camera (NaN: none)."""
        s, v = clusters.shape
        proj = self.reprojection_px(X)  # (V, S, K, 2)
        idx = np.clip(clusters.T, 0, None)
        vi = np.arange(v)[:, None]
        d = np.linalg.norm(proj - x[vi, idx], axis=-1) * self.focal[:, None, None]  # (V, S, K)
        ok = np.isfinite(d) & (w[vi, idx] > 0)
        d = np.where(ok, d, np.nan)
        err = _nanmedian(d, ok.sum(-1) >= self.config.min_keypoints)
        err[clusters.T < 0] = np.nan
        return err.T

    def _complete(self, clusters: np.ndarray, X: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Give every unused detection to the cluster that reprojects onto it best (Hungarian per camera)."""
        if not len(clusters):
            return clusters
        v, n = w.shape[:2]
        used = np.zeros((v, n), bool)
        for s in range(len(clusters)):
            ok = clusters[s] >= 0
            used[np.flatnonzero(ok), clusters[s, ok]] = True
        present = (w > 0).any(-1)
        free = present & ~used
        if not free.any():
            return clusters
        cost = self._distance_px(self.reprojection_px(X), x, w)  # (V, S, N)
        clusters = clusters.copy()
        for cam in np.flatnonzero(free.any(1)):
            rows = np.flatnonzero(clusters[:, cam] < 0)
            cols = np.flatnonzero(free[cam])
            if not rows.size:
                continue
            c = cost[cam][np.ix_(rows, cols)]
            c = np.where(c <= self.config.reproj_threshold_px, c, 1e9)
            r, cc = linear_sum_assignment(c)
            for i, j in zip(r, cc, strict=True):
                if c[i, j] < 1e9:
                    clusters[rows[i], cam] = cols[j]
        return clusters

    def _match_predicted(self, predicted: np.ndarray, x: np.ndarray, w: np.ndarray
                         ) -> tuple[np.ndarray, list[tuple[int, int]]]:  # fmt: skip
        """Per camera, Hungarian match of detections to predicted individuals (T, K, 3) -> (T, V) and doubts."""
        t = predicted.shape[0]
        v = x.shape[0]
        out = np.full((t, v), -1, np.int64)
        doubts: list[tuple[int, int]] = []
        if t == 0:
            return out, doubts
        cost = self._distance_px(self.reprojection_px(predicted), x, w)  # (V, T, N)
        gate = self.config.track_gate_px
        for cam in range(v):
            c = cost[cam]
            if not np.isfinite(c).any():
                continue
            big = np.where(c <= gate, c, 1e9)
            r, cc = linear_sum_assignment(big)
            for i, j in zip(r, cc, strict=True):
                if big[i, j] >= 1e9:
                    continue
                out[i, cam] = j
                others = np.delete(c[:, j], i)
                if others.size and np.min(others) < self.config.ambiguity_ratio * max(c[i, j], 1.0):
                    doubts.append((int(i), int(cam)))
        return out, doubts

    # ----------------------------------------------------------------- one frame
    def frame(self, x: np.ndarray, w: np.ndarray, predicted: np.ndarray | None = None) -> FrameResult:
        """Associate one frame's detections.

        Parameters
        ----------
        x : array (V, N, K, 2)
            Normalized, undistorted detections (:meth:`normalize`), NaN where missing.
        w : array (V, N, K)
            Weights (0: not used).
        predicted : array (T, K, 3), optional
            Individuals' expected 3D keypoints in this frame (from the tracker).

        Returns
        -------
        FrameResult
            Clusters that came from predicted individuals first (``from_track``
            gives which), then new clusters.
        """
        v, n = w.shape[:2]
        present = (w > 0).sum(-1) >= self.config.min_keypoints
        doubts: list[tuple[int, int]] = []
        if predicted is not None and len(predicted):
            tracked, doubts = self._match_predicted(predicted, x, w)
            track_id = np.arange(len(tracked))
            has = (tracked >= 0).sum(1) >= 2
            tracked, track_id = tracked[has], track_id[has]
            tracked, _ = self._verify(tracked, x, w)
            keep = (tracked >= 0).sum(1) >= 2
            tracked, track_id = tracked[keep], track_id[keep]
        else:
            tracked = np.zeros((0, v), np.int64)
            track_id = np.zeros(0, np.int64)
        used = np.zeros((v, n), bool)
        for row in tracked:
            ok = row >= 0
            used[np.flatnonzero(ok), row[ok]] = True
        new = self._cluster(x, w, present & ~used)
        new, _ = self._verify(new, x, w)
        new = new[(new >= 0).sum(1) >= 2]
        clusters = np.concatenate([tracked, new]) if len(new) else tracked
        from_track = np.concatenate([track_id, np.full(len(new), -1, np.int64)])
        X = self.triangulate_clusters(clusters, x, w)
        clusters = self._complete(clusters, X, x, w)
        X = self.triangulate_clusters(clusters, x, w)
        return FrameResult(clusters=clusters, points3d=X, from_track=from_track, uncertain_views=doubts)
