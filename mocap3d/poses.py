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

import contextlib
from collections.abc import Sequence
from dataclasses import InitVar, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import PoseFileError

__all__ = ["Track2D", "Poses2D", "Poses3D", "DEFAULT_INDIVIDUAL", "LENGTH_UNITS", "normalize_units", "UnitsError",
           "finite_points"]

#: The name of the one individual of single-animal data (movement's name for it).
DEFAULT_INDIVIDUAL = "individual_0"

#: Length units a 3D result can be in, with their size in metres.
LENGTH_UNITS: dict[str, float] = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}

_UNIT_SPELLINGS = {
    "m": "m", "meter": "m", "meters": "m", "metre": "m", "metres": "m",
    "cm": "cm", "centimeter": "cm", "centimeters": "cm", "centimetre": "cm", "centimetres": "cm",
    "mm": "mm", "millimeter": "mm", "millimeters": "mm", "millimetre": "mm", "millimetres": "mm",
}  # fmt: skip


class UnitsError(PoseFileError, ValueError):
    """An unknown length unit (a user's input error, and a ValueError for callers that check values)."""


def normalize_units(value: object, source: str = "units") -> str | None:
    """``"mm"``, ``"cm"`` or ``"m"`` for a length unit as files spell it (``"meters"``, ``" MM"``...).

    None, ``""`` and ``"unknown"`` are None (units not known). Anything else
    raises ``ValueError`` naming ``source``: a result whose units are not a
    length cannot be converted or labelled.
    """
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("", "none", "unknown"):
        return None
    if text not in _UNIT_SPELLINGS:
        raise UnitsError(f"{source}: unknown length unit '{value}'; use one of mm, cm, m.")
    return _UNIT_SPELLINGS[text]


def finite_points(points: np.ndarray) -> np.ndarray:
    """Where every coordinate (the last axis) is finite: ``np.isfinite(points).all(-1)``, 7x faster.

    numpy reduces a short last axis slowly; one comparison per coordinate does not.
    """
    points = np.asarray(points)
    out = np.isfinite(points[..., 0])
    for i in range(1, points.shape[-1]):
        out &= np.isfinite(points[..., i])
    return out


def _float_array(value, name: str, ndim: int, copy: bool = True) -> np.ndarray:
    arr = np.array(value, dtype=np.float64) if copy else np.asarray(value, dtype=np.float64)
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
    copy: InitVar[bool] = True  # False: take float64 arrays as they are (a reader's own, used nowhere else)

    def __post_init__(self, copy: bool) -> None:
        self.points = _float_array(self.points, "points", 4, copy)
        self.scores = _float_array(self.scores, "scores", 3, copy)
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
    copy: InitVar[bool] = True  # False: take float64 arrays as they are (made for it, used nowhere else)

    def __post_init__(self, copy: bool) -> None:
        self.points = _float_array(self.points, "points", 4, copy)
        self.scores = _float_array(self.scores, "scores", 3, copy)
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
            if kidx == list(range(len(t.keypoints))):  # all, in order: views, copied once by the stacking
                pts.append(t.points[:, ii])
                scs.append(t.scores[:, ii])
            else:
                pts.append(t.points[:, ii, kidx])
                scs.append(t.scores[:, ii, kidx])
        return cls(
            views=tuple(names),
            keypoints=tuple(common),
            points=np.stack(pts),
            scores=np.stack(scs),
            fps=fps,
            sources=tuple(tracks[n].source for n in names),
            copy=False,  # np.stack's new arrays
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
        Smallest 2D score among the cameras used (anipose's ``_score``); 0 where not triangulated.
    views : tuple of str (views,)
        Camera names, the last axis of ``cameras_used``.
    fps : float or None
    metadata : dict
        Parameters of every processing step (method, thresholds, calibration file...).
    units : "mm", "cm", "m" or None
        Length unit of ``points`` (the calibration's); None when not known.
        Stored as ``metadata["units"]``, so that every format that keeps the
        metadata keeps the units; the writers of formats with a units field
        (TRC, C3D, netCDF, NWB, HDF5) write it, and refuse to guess when it is
        None and a unit is needed.
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
        units: str | None = None,
    ) -> None:
        """Missing diagnostics default to: error NaN, ncams 0, no camera used, score 1 where a point exists.

        ``units`` (when given) overrides ``metadata["units"]``.
        """
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
        if units is not None:
            self.units = units
        elif "units" in self.metadata:
            with contextlib.suppress(ValueError):  # an unknown spelling stays in the metadata; `units` is None
                self.units = self.metadata["units"]
        self._validate()

    @property
    def units(self) -> str | None:
        """Length unit of ``points``: ``"mm"``, ``"cm"``, ``"m"``, or None when unknown."""
        try:
            return normalize_units(self.metadata.get("units"))
        except ValueError:
            return None

    @units.setter
    def units(self, value: str | None) -> None:
        unit = normalize_units(value, "Poses3D.units")
        if unit is None:
            self.metadata.pop("units", None)
        else:
            self.metadata["units"] = unit

    def require_units(self, purpose: str) -> str:
        """The units, or a :class:`~mocap3d.errors.PoseFileError` sentence saying that ``purpose`` needs them."""
        if self.units is None:
            raise PoseFileError(
                f"{purpose} needs the length unit of the 3D points, which is not known (the calibration or the input "
                "file does not say); pass it explicitly (e.g. --units mm)."
            )
        return self.units

    def with_units(self, units: str) -> Poses3D:
        """A copy with ``points`` converted to ``units`` (the current units must be known)."""
        target = normalize_units(units, "units")
        if target is None:
            raise UnitsError("with_units() needs a unit: mm, cm or m.")
        scale = LENGTH_UNITS[self.require_units(f"converting to {target}")] / LENGTH_UNITS[target]
        meta = {**self.metadata, "units": target}
        return Poses3D(self.keypoints, self.points * scale, self.error, self.ncams, self.cameras_used, self.score,
                       self.views, self.fps, meta)  # fmt: skip

    def replace(self, **changes: Any) -> Poses3D:
        """A copy with some fields replaced (arrays are shared, metadata copied)."""
        fields = {name: getattr(self, name) for name in (
            "keypoints", "points", "error", "ncams", "cameras_used", "score", "views", "fps")}  # fmt: skip
        fields["metadata"] = dict(self.metadata)
        fields.update(changes)
        if "units" not in changes and "metadata" not in changes:
            fields["units"] = self.units
        return Poses3D(**fields)

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
