"""The typed configuration of triangulation, with every default in one place."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import toml

from ..errors import MocapError

__all__ = ["TriangulationConfig", "PRESETS"]

METHODS = ("dlt", "robust", "ransac")


@dataclass(frozen=True)
class TriangulationConfig:
    """How 2D detections become 3D points.

    Attributes
    ----------
    method : {"dlt", "robust", "ransac"}
        ``dlt``: weighted DLT over every camera above the score threshold.
        ``robust`` (alias ``ransac``): per point, the camera subset with the
        lowest reprojection error, leaving cameras out until the error is below
        ``reproj_threshold`` (Pose2Sim's rule, evaluated in bulk).
    score_threshold : float
        2D observations with a lower score are ignored (DeepLabCut's pcutoff,
        Pose2Sim's likelihood_threshold_triangulation).
    min_cameras : int
        Fewest cameras that may triangulate a point (>= 2).
    reproj_threshold : float
        Robust mode: mean reprojection error (px) a camera subset must reach.
    max_excluded : int or None
        Robust mode: leave out at most this many cameras per point.
    undistort : bool
        Remove lens distortion before the DLT (True, correct); False reproduces
        Pose2Sim's default (``undistort_points = false``), which triangulates
        distorted pixels with ``K [R|t]``.
    weighted : bool
        Weight each camera's DLT rows by the 2D score.
    check_depth : bool
        Reject 3D points behind a camera that was used to triangulate them
        (off in the ``pose2sim`` preset, which Pose2Sim does not check).
    cam_regex : str or None
        Regular expression whose first group names the camera in a 2D file's
        name (anipose's ``cam_regex``); default: match camera names as tokens.
    individual : str or int
        Which individual of multi-animal files to triangulate.
    """

    method: str = "robust"
    score_threshold: float = 0.3
    min_cameras: int = 2
    reproj_threshold: float = 15.0
    max_excluded: int | None = None
    undistort: bool = True
    weighted: bool = True
    check_depth: bool = True
    cam_regex: str | None = None
    individual: str | int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise MocapError(f"unknown triangulation method '{self.method}'; choose one of {', '.join(METHODS)}.")
        if not 0.0 <= self.score_threshold <= 1e6:
            raise MocapError(f"score_threshold must be >= 0, got {self.score_threshold}.")
        if self.min_cameras < 2:
            raise MocapError(f"min_cameras must be at least 2 (a point needs two views), got {self.min_cameras}.")
        if not self.reproj_threshold > 0:
            raise MocapError(f"reproj_threshold must be positive (px), got {self.reproj_threshold}.")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TriangulationConfig:
        """Build from a mapping; unknown keys are an error (typos must not pass silently)."""
        data = dict(data)
        preset = data.pop("preset", None)
        if preset and preset not in PRESETS:
            raise MocapError(f"{source}: unknown preset '{preset}'; choose one of {', '.join(PRESETS)}.")
        base: dict[str, Any] = dict(PRESETS[preset]) if preset else {}
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        unknown = sorted(set(data) - names)
        if unknown:
            raise MocapError(
                f"{source}: unknown triangulation option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}."
            )
        base.update(data)
        try:
            return cls(**base)
        except TypeError as exc:
            raise MocapError(f"{source}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> TriangulationConfig:
        """Read the ``[triangulation]`` table of a TOML file (or the whole file if it has none)."""
        path = Path(path)
        try:
            data = toml.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MocapError(f"config file '{path}' does not exist.") from None
        except (toml.TomlDecodeError, UnicodeDecodeError) as exc:
            raise MocapError(f"config file '{path}' is not valid TOML: {exc}") from None
        table = data.get("triangulation", data)
        return cls.from_dict(table, str(path))

    def replace(self, **changes) -> TriangulationConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("extra")
        return {k: v for k, v in out.items() if v is not None}


#: Named parameter sets. ``pose2sim`` reproduces Pose2Sim's default
#: triangulation (Config.toml [triangulation]) bit for bit.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "pose2sim": {
        "method": "robust",
        "score_threshold": 0.3,
        "reproj_threshold": 15.0,
        "min_cameras": 2,
        "undistort": False,
        "check_depth": False,
    },
    "anipose": {"method": "dlt", "score_threshold": 0.5, "min_cameras": 2},
}
