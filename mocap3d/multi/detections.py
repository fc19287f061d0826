"""Per-camera detections of several individuals, before any association.

:class:`Detections` holds what 2D files give when several animals or people
are in view: in each camera and frame, up to ``N`` detections (skeletons), in
no particular order. A file's individual names (DeepLabCut's individuals,
SLEAP's tracks, OpenPose's ``people`` index) are kept as ``labels`` but are
not trusted: they may be missing, swapped between cameras, or swapped over time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import PoseFileError
from ..poses import Poses2D, Track2D

__all__ = ["Detections"]


@dataclass(eq=False)
class Detections:
    """Unassociated 2D detections of every camera.

    Attributes
    ----------
    views : tuple of str (V,)
    keypoints : tuple of str (K,)
    points : array (V, F, N, K, 2)
        Pixels; NaN where missing (N is the most detections of any camera).
    scores : array (V, F, N, K)
        0 where missing.
    labels : tuple of tuple of str
        Per view, the file's name for each of the N slots ("" for padding).
    fps : float or None
    sources : tuple of str (V,)
    """

    views: tuple[str, ...]
    keypoints: tuple[str, ...]
    points: np.ndarray
    scores: np.ndarray
    labels: tuple[tuple[str, ...], ...] = ()
    fps: float | None = None
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, dtype=np.float64)
        self.scores = np.asarray(self.scores, dtype=np.float64)
        v, f, n, k, two = self.points.shape
        if two != 2 or self.scores.shape != (v, f, n, k):
            raise ValueError(f"points {self.points.shape} and scores {self.scores.shape} do not match")
        if len(self.views) != v or len(self.keypoints) != k:
            raise ValueError("view/keypoint names do not match the array shapes")
        if not self.labels:
            self.labels = tuple(tuple(f"individual{i}" for i in range(n)) for _ in range(v))
        missing = ~np.isfinite(self.points).all(-1) | ~np.isfinite(self.scores) | (self.scores <= 0)
        self.points = np.where(missing[..., None], np.nan, self.points)
        self.scores = np.where(missing, 0.0, self.scores)

    @property
    def n_frames(self) -> int:
        return self.points.shape[1]

    @property
    def n_views(self) -> int:
        return self.points.shape[0]

    def counts(self) -> np.ndarray:
        """Detections (skeletons with at least one keypoint) per view and frame (V, F)."""
        return np.asarray((self.scores > 0).any(-1).sum(-1))

    @classmethod
    def from_tracks(
        cls, tracks: dict[str, Track2D], keypoints: Sequence[str] | None = None, fps: float | None = None
    ) -> Detections:
        """Stack per-camera tracks; every individual slot of every file becomes a detection slot."""
        if not tracks:
            raise PoseFileError("no 2D pose files were given.")
        names = list(tracks)
        # The frame-count and keypoint checks and messages are Poses2D's (one individual is enough to check).
        common = Poses2D.from_tracks(tracks, keypoints=keypoints).keypoints
        n_max = max(t.points.shape[1] for t in tracks.values())
        f = tracks[names[0]].n_frames
        pts = np.full((len(names), f, n_max, len(common), 2), np.nan)
        scs = np.zeros((len(names), f, n_max, len(common)))
        labels = []
        for v, name in enumerate(names):
            t = tracks[name]
            kidx = [t.keypoints.index(k) for k in common]
            n = t.points.shape[1]
            pts[v, :, :n] = t.points[:, :, kidx]
            scs[v, :, :n] = t.scores[:, :, kidx]
            labels.append(tuple(t.individuals) + ("",) * (n_max - n))
        return cls(views=tuple(names), keypoints=tuple(common), points=pts, scores=scs, labels=tuple(labels),
                   fps=fps, sources=tuple(tracks[n].source for n in names))  # fmt: skip

    def gather(self, assignment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One individual's 2D from an assignment (V, F) of detection slots (-1: none) -> points, scores."""
        v, f = assignment.shape
        idx = np.clip(assignment, 0, None)
        vi, fi = np.meshgrid(np.arange(v), np.arange(f), indexing="ij")
        pts = self.points[vi, fi, idx].copy()
        scs = self.scores[vi, fi, idx].copy()
        pts[assignment < 0] = np.nan
        scs[assignment < 0] = 0.0
        return pts, scs
