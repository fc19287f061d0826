"""The pose data types passed between stages.

* :class:`Track2D`: one view's 2D keypoints, as read from one file
  (DeepLabCut, SLEAP, OpenPose/RTMPose JSON).
* :class:`Poses2D`: several views of one individual, aligned frame by frame,
  ready to triangulate.
* :class:`Poses3D`: triangulated 3D keypoints with per-point diagnostics.

Missing values are NaN in coordinates and 0 in scores. Scores are
"confidence in [0, 1]" by convention; DeepLabCut's likelihoods and OpenPose's
confidences are in that range, SLEAP's instance/point scores may exceed 1
(they are not probabilities) and are passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import PoseFileError

__all__ = ["DEFAULT_INDIVIDUAL", "Track2D", "Poses2D", "Poses3D", "finite_points"]

#: The name of the one individual of a single-animal file (movement's convention). Files written
#: with the older names ``individual0`` or ``single`` are still read: the name is only a label.
DEFAULT_INDIVIDUAL = "individual_0"


def finite_points(points: np.ndarray) -> np.ndarray:
    """Where every coordinate (the last axis) is finite: ``np.isfinite(points).all(-1)``, 7x faster.

    numpy reduces a short last axis slowly; one comparison per coordinate does not.
    """
    points = np.asarray(points)
    out = np.isfinite(points[..., 0])
    for i in range(1, points.shape[-1]):
        out &= np.isfinite(points[..., i])
    return out


def _float_array(value, name: str, ndim: int) -> np.ndarray:
    arr = np.array(value, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimensions, got shape {arr.shape}")
    return arr


@dataclass(eq=False)
class Track2D:
    """2D keypoints of one view (one file), possibly several individuals.

    Attributes
    ----------
    points : array (frames, individuals, keypoints, 2)
        Pixel coordinates; NaN where not detected.
    scores : array (frames, individuals, keypoints)
        Confidence; 0 where not detected.
    keypoints : tuple of str (keypoints,)
    individuals : tuple of str (individuals,)
        ``(DEFAULT_INDIVIDUAL,)`` for single-animal files.
    source : str
        Where it was read from (for messages).
    """

    points: np.ndarray
    scores: np.ndarray
    keypoints: tuple[str, ...]
    individuals: tuple[str, ...] = (DEFAULT_INDIVIDUAL,)
    source: str = ""

    def __post_init__(self) -> None:
        self.points = _float_array(self.points, "points", 4)
        self.scores = _float_array(self.scores, "scores", 3)
        self.keypoints = tuple(str(k) for k in self.keypoints)
        self.individuals = tuple(str(i) for i in self.individuals)
        f, i, k, two = self.points.shape
        if two != 2 or self.scores.shape != (f, i, k):
            raise ValueError(f"points {self.points.shape} and scores {self.scores.shape} do not match")
        if len(self.keypoints) != k or len(self.individuals) != i:
            raise ValueError("keypoint/individual names do not match the array shapes")
        missing = ~finite_points(self.points)
        self.points[missing] = np.nan
        self.scores = np.where(missing | ~np.isfinite(self.scores), 0.0, self.scores)

    @property
    def n_frames(self) -> int:
        return self.points.shape[0]


@dataclass(eq=False)
class Poses2D:
    """One individual's 2D keypoints in several views, aligned by frame.

    Attributes
    ----------
    views : tuple of str (views,)
        Camera names, matching a :class:`~mocap3d.camera.CameraRig`.
    keypoints : tuple of str (keypoints,)
    points : array (views, frames, keypoints, 2)
        Pixel coordinates (distorted, as detected); NaN where missing.
    scores : array (views, frames, keypoints)
        Confidence; 0 where missing.
    fps : float or None
        Frame rate, when known.
    """

    views: tuple[str, ...]
    keypoints: tuple[str, ...]
    points: np.ndarray
    scores: np.ndarray
    fps: float | None = None
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.points = _float_array(self.points, "points", 4)
        self.scores = _float_array(self.scores, "scores", 3)
        self.views = tuple(str(v) for v in self.views)
        self.keypoints = tuple(str(k) for k in self.keypoints)
        v, f, k, two = self.points.shape
        if two != 2 or self.scores.shape != (v, f, k):
            raise ValueError(f"points {self.points.shape} and scores {self.scores.shape} do not match")
        if len(self.views) != v or len(self.keypoints) != k:
            raise ValueError("view/keypoint names do not match the array shapes")
        missing = ~finite_points(self.points) | ~np.isfinite(self.scores)
        self.points[missing] = np.nan
        self.scores = np.where(missing, 0.0, self.scores)

    @property
    def n_frames(self) -> int:
        return self.points.shape[1]

    @classmethod
    def from_tracks(
        cls,
        tracks: dict[str, Track2D],
        individual: str | int = 0,
        keypoints: Sequence[str] | None = None,
        fps: float | None = None,
    ) -> Poses2D:
        """Align per-view tracks of one individual.

        Parameters
        ----------
        tracks : mapping camera name -> Track2D
        individual : name or index of the individual to take from each track.
        keypoints : the keypoints to keep (default: those common to all views,
            in the first view's order).

        Raises
        ------
        PoseFileError
            When frame counts differ, or the views have no keypoint in common.
        """
        if not tracks:
            raise PoseFileError("no 2D pose files were given.")
        names = list(tracks)
        counts = {n: t.n_frames for n, t in tracks.items()}
        if len(set(counts.values())) > 1:
            detail = ", ".join(f"{n}: {c} ({tracks[n].source})" for n, c in counts.items())
            raise PoseFileError(
                f"the 2D pose files have different numbers of frames ({detail}). Files of one recording must "
                "cover the same frames; trim them to a common range or check that the videos are synchronized."
            )
        if keypoints is None:
            common = [k for k in tracks[names[0]].keypoints if all(k in t.keypoints for t in tracks.values())]
        else:
            common = list(keypoints)
            for n, t in tracks.items():
                absent = [k for k in common if k not in t.keypoints]
                if absent:
                    raise PoseFileError(f"{t.source or n}: body parts {absent} are missing from this file.")
        if not common:
            listing = "; ".join(f"{n}: {', '.join(t.keypoints)}" for n, t in tracks.items())
            raise PoseFileError(f"the 2D pose files have no body part in common ({listing}).")
        pts, scs = [], []
        for n in names:
            t = tracks[n]
            if isinstance(individual, str):
                if individual not in t.individuals:
                    raise PoseFileError(
                        f"{t.source or n}: individual '{individual}' not found "
                        f"(individuals: {', '.join(t.individuals)})."
                    )
                ii = t.individuals.index(individual)
            else:
                if not 0 <= individual < len(t.individuals):
                    raise PoseFileError(
                        f"{t.source or n}: has {len(t.individuals)} individuals, asked for #{individual}."
                    )
                ii = individual
            kidx = [t.keypoints.index(k) for k in common]
            pts.append(t.points[:, ii, kidx])
            scs.append(t.scores[:, ii, kidx])
        return cls(
            views=tuple(names),
            keypoints=tuple(common),
            points=np.stack(pts),
            scores=np.stack(scs),
            fps=fps,
            sources=tuple(tracks[n].source for n in names),
        )


@dataclass(eq=False, init=False)
class Poses3D:
    """Triangulated 3D keypoints of one individual.

    Attributes
    ----------
    keypoints : tuple of str (keypoints,)
    points : array (frames, keypoints, 3)
        World coordinates in the calibration's units; NaN where not triangulated.
    error : array (frames, keypoints)
        Mean reprojection error over the cameras used (px); NaN where not triangulated.
    ncams : int array (frames, keypoints)
        Number of cameras used.
    cameras_used : bool array (frames, keypoints, views)
        Which cameras were used for each point.
    score : array (frames, keypoints)
        Mean 2D score over the cameras used; 0 where not triangulated.
    views : tuple of str (views,)
        Camera names, the last axis of ``cameras_used``.
    fps : float or None
    metadata : dict
        Parameters of every processing step (method, thresholds, calibration file...).
    """

    keypoints: tuple[str, ...]
    points: np.ndarray
    error: np.ndarray
    ncams: np.ndarray
    cameras_used: np.ndarray
    score: np.ndarray
    views: tuple[str, ...]
    fps: float | None
    metadata: dict[str, Any]

    def __init__(
        self,
        keypoints: Sequence[str],
        points: ArrayLike,
        error: ArrayLike | None = None,
        ncams: ArrayLike | None = None,
        cameras_used: ArrayLike | None = None,
        score: ArrayLike | None = None,
        views: Sequence[str] = (),
        fps: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Missing diagnostics default to: error NaN, ncams 0, no camera used, score 1 where a point exists."""
        self.keypoints = tuple(str(x) for x in keypoints)
        self.points = _float_array(points, "points", 3)
        self.views = tuple(str(v) for v in views)
        f, k = self.points.shape[:2]
        valid = finite_points(self.points)
        self.error = np.full((f, k), np.nan) if error is None else np.asarray(error, dtype=np.float64)
        self.ncams = np.zeros((f, k), np.int64) if ncams is None else np.asarray(ncams, dtype=np.int64)
        self.score = np.where(valid, 1.0, 0.0) if score is None else np.asarray(score, dtype=np.float64)
        self.cameras_used = (
            np.zeros((f, k, len(self.views)), bool) if cameras_used is None else np.asarray(cameras_used, dtype=bool)
        )
        self.fps = fps
        self.metadata = {} if metadata is None else metadata
        self._validate()

    def _validate(self) -> None:
        f, k, three = self.points.shape
        if three != 3 or len(self.keypoints) != k:
            raise ValueError(f"points must be (frames, {len(self.keypoints)}, 3), got {self.points.shape}")
        for name, arr in (("error", self.error), ("ncams", self.ncams), ("score", self.score)):
            if arr.shape != (f, k):
                raise ValueError(f"`{name}` must be ({f}, {k}), got {arr.shape}")
        if self.cameras_used.shape != (f, k, len(self.views)):
            raise ValueError(f"`cameras_used` must be ({f}, {k}, {len(self.views)}), got {self.cameras_used.shape}")

    @property
    def n_frames(self) -> int:
        return self.points.shape[0]
