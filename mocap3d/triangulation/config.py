"""The typed configuration of triangulation, with every default in one place (:class:`mocap3d.config.Config`).

Which file is which camera, and which individual of a multi-animal file is
triangulated, are input matching (:class:`mocap3d.io.matching.InputMatching`):
its keys ``cam_regex`` and ``individual`` may stay in the ``[triangulation]``
table, where anipose writes them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..config import Config
from ..errors import MocapError

__all__ = ["TriangulationConfig", "PRESETS"]

METHODS = ("dlt", "robust", "ransac", "optim")
LOSSES = ("soft_l1", "huber", "linear")
FORMULATIONS = ("mocap3d", "anipose")
#: Options that only ``method = "optim"`` reads (left out of other methods' records).
OPTIM_OPTIONS = (
    "scale_smooth", "scale_length", "scale_length_weak", "n_deriv_smooth", "reproj_loss", "reproj_loss_scale",
    "constraints", "constraints_weak", "outlier_threshold", "max_gap", "chunk_frames", "chunk_overlap",
    "max_iterations",
)  # fmt: skip


@dataclass(frozen=True)
class TriangulationConfig(Config):
    """How 2D detections become 3D points.

    Attributes
    ----------
    method : {"dlt", "robust", "ransac", "optim"}
        ``dlt``: weighted DLT over every camera above the score threshold.
        ``robust`` (alias ``ransac``): per point, the camera subset with the
        lowest reprojection error, leaving cameras out until the error is below
        ``reproj_threshold`` (Pose2Sim's rule, evaluated in bulk).
        ``optim``: all frames at once (:mod:`mocap3d.triangulation.optim`),
        started from ``robust``; reprojection + smoothness + limb lengths.
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
    formulation : {"mocap3d", "anipose"}
        How ``dlt`` solves a point (see :mod:`mocap3d.triangulation.dlt`).
        ``mocap3d``: a score-weighted DLT in undistorted pixels, optional depth
        check. ``anipose``: aniposelib 0.8.0's DLT exactly (unweighted, in
        normalised camera coordinates from OpenCV's five-iteration
        ``undistortPoints``, every camera with a score >= ``score_threshold``),
        so results equal anipose's ``triangulate`` (``weighted``, ``undistort``
        and ``check_depth`` are not read).
    scale_smooth : float
        Optim: weight of the smoothness term, unitless: the n-th difference of
        each trajectory is divided by the mean frame-to-frame speed of the
        (median-filtered) initial trajectories, as anipose's ``scale_smooth``.
    scale_length, scale_length_weak : float
        Optim: weights of the strong and weak limb-length terms, whose
        residuals are the length error in percent of the estimated length.
    n_deriv_smooth : int
        Optim: order of the time derivative that is kept small (1 velocity,
        2 acceleration, 3 jerk).
    reproj_loss : {"soft_l1", "huber", "linear"}
        Optim: robust loss on each observation's 2D reprojection distance.
    reproj_loss_scale : float
        Optim: where the robust loss leaves its quadratic zone (px).
    constraints, constraints_weak : tuple of (str, str)
        Optim: pairs of body parts joined by a rigid (strong) or roughly rigid
        (weak) segment; their lengths are estimated with the 3D points.
    outlier_threshold : float or None
        Optim: once converged, observations farther than this (px) from their
        reprojection are dropped and the optimisation continues (0 or None:
        keep every observation, under the robust loss only).
    max_gap : int
        Optim: runs of frames longer than this (frames) where a body part
        could not be triangulated frame by frame (fewer than two agreeing
        cameras) are left NaN instead of being bridged.
    chunk_frames : int or None
        Optim: frames per chunk (None: the whole recording at once while its
        normal matrix's band fits in 1.2 GB, e.g. 20,000 frames of 20 body parts
        with ``n_deriv_smooth = 2``; longer ones are chunked).
    chunk_overlap : int
        Optim: frames shared by consecutive chunks; each chunk's outer quarter
        of the overlap is dropped and the middle half cross-faded linearly.
    max_iterations : int
        Optim: most Levenberg-Marquardt iterations per chunk.
    """

    method: str = "robust"
    score_threshold: float = 0.3
    min_cameras: int = 2
    reproj_threshold: float = 15.0
    max_excluded: int | None = None
    undistort: bool = True
    weighted: bool = True
    check_depth: bool = True
    formulation: str = "mocap3d"
    scale_smooth: float = 4.0
    scale_length: float = 2.0
    scale_length_weak: float = 0.5
    n_deriv_smooth: int = 2
    reproj_loss: str = "soft_l1"
    reproj_loss_scale: float = 3.0
    constraints: tuple[tuple[str, str], ...] = ()
    constraints_weak: tuple[tuple[str, str], ...] = ()
    outlier_threshold: float | None = 10.0
    max_gap: int = 30
    chunk_frames: int | None = None
    chunk_overlap: int = 60
    max_iterations: int = 30
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    section: ClassVar[str] = "triangulation"
    what: ClassVar[str] = "triangulation option"
    error: ClassVar[type[MocapError]] = MocapError
    parsed_by_class: ClassVar[tuple[str, ...]] = ("constraints", "constraints_weak")
    shared_keys: ClassVar[tuple[str, ...]] = ("cam_regex", "individual", "individuals")  # input matching's

    @classmethod
    def presets(cls) -> Mapping[str, TriangulationConfig]:
        return PRESETS

    @classmethod
    def field_names(cls) -> list[str]:
        return [name for name in super().field_names() if name != "extra"]

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise MocapError(f"unknown triangulation method '{self.method}'; choose one of {', '.join(METHODS)}.")
        if self.formulation not in FORMULATIONS:
            raise MocapError(
                f"unknown triangulation formulation '{self.formulation}'; choose one of {', '.join(FORMULATIONS)}."
            )
        if self.formulation == "anipose" and self.method != "dlt":
            raise MocapError(
                f"formulation 'anipose' is aniposelib's DLT and needs method = 'dlt', not '{self.method}'."
            )
        if not 0.0 <= self.score_threshold <= 1e6:
            raise MocapError(f"score_threshold must be >= 0, got {self.score_threshold}.")
        if self.min_cameras < 2:
            raise MocapError(f"min_cameras must be at least 2 (a point needs two views), got {self.min_cameras}.")
        if not self.reproj_threshold > 0:
            raise MocapError(f"reproj_threshold must be positive (px), got {self.reproj_threshold}.")
        self._check_optim()

    def _check_optim(self) -> None:
        for name in ("constraints", "constraints_weak"):
            pairs = []
            for item in getattr(self, name) or ():
                pair = tuple(item.split("-")) if isinstance(item, str) else tuple(item)
                if len(pair) != 2 or not all(isinstance(p, str) and p for p in pair) or pair[0] == pair[1]:
                    raise MocapError(
                        f"{name}: {item!r} is not a pair of two different body parts; write e.g. "
                        f'[["l_hip", "l_knee"], ["l_knee", "l_ankle"]] (or "l_hip-l_knee" when no name has a "-").'
                    )
                pairs.append(pair)
            object.__setattr__(self, name, tuple(pairs))
        for name in ("scale_smooth", "scale_length", "scale_length_weak"):
            if not getattr(self, name) >= 0:
                raise MocapError(f"{name} must be >= 0, got {getattr(self, name)}.")
        if not 1 <= self.n_deriv_smooth <= 4:
            raise MocapError(f"n_deriv_smooth must be 1, 2, 3 or 4, got {self.n_deriv_smooth}.")
        if self.reproj_loss not in LOSSES:
            raise MocapError(f"unknown reproj_loss '{self.reproj_loss}'; choose one of {', '.join(LOSSES)}.")
        if not self.reproj_loss_scale > 0:
            raise MocapError(f"reproj_loss_scale must be positive (px), got {self.reproj_loss_scale}.")
        if self.outlier_threshold is not None and not self.outlier_threshold >= 0:
            raise MocapError(f"outlier_threshold must be >= 0 px (0 turns the gate off), got {self.outlier_threshold}.")
        if self.max_gap < 0 or self.chunk_overlap < 0 or self.max_iterations < 1:
            raise MocapError("max_gap and chunk_overlap must be >= 0 and max_iterations >= 1.")
        if self.chunk_frames is not None and self.chunk_frames < 2 * self.chunk_overlap + 10:
            raise MocapError(
                f"chunk_frames ({self.chunk_frames}) must be at least twice chunk_overlap ({self.chunk_overlap}) "
                "plus 10 frames; raise chunk_frames or lower chunk_overlap."
            )

    @classmethod
    def from_toml(cls, path: str | Path) -> TriangulationConfig:
        """Read the ``[triangulation]`` table of a TOML file (or the whole file if it has none)."""
        from ..io.settings import CONFIG_ARRAYS, CONFIG_TABLES, check_tables, read_toml

        path = Path(path)
        data = read_toml(path, "config file", MocapError)
        check_tables(data, CONFIG_TABLES, str(path), arrays=CONFIG_ARRAYS, error=MocapError)
        table = data.get("triangulation")
        if table is None:  # a flat file of options; other tables ([[filter3d]]...) belong to other stages
            table = {k: v for k, v in data.items() if not isinstance(v, (dict, list))}
        if _is_anipose(data):
            table = from_anipose(table, str(path))
        return cls.from_dict(table, str(path))

    @classmethod
    def table_of(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """The ``[triangulation]`` table, or a flat file's scalar options (other tables belong to other stages)."""
        table = data.get("triangulation")
        if table is None:
            return {k: v for k, v in data.items() if not isinstance(v, (dict, list))}
        return table

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values; the optim-only ones only when ``method`` is ``optim``."""
        out = dataclasses.asdict(self)
        out.pop("extra")
        if self.method != "optim":
            for name in OPTIM_OPTIONS:
                out.pop(name)
        return {k: v for k, v in out.items() if v is not None}


_ANIPOSE_RENAMES = {"reproj_error_threshold": "reproj_threshold", "optim_chunking_size": "chunk_frames"}
_ANIPOSE_SAME = {"score_threshold", "cam_regex", "constraints", "constraints_weak", "scale_smooth", "scale_length",
                 "scale_length_weak", "n_deriv_smooth"}  # fmt: skip
_ANIPOSE_IGNORED = {"triangulate", "ransac", "optim", "optim_chunking", "axes", "reference_point", "cam_align"}


def _is_anipose(data: dict[str, Any]) -> bool:
    tri = data.get("triangulation", {})
    return isinstance(tri, dict) and ("ransac" in tri or "optim" in tri or "nesting" in data)


def from_anipose(table: dict[str, Any], source: str = "anipose config") -> dict[str, Any]:
    """Translate anipose's ``[triangulation]`` table into mocap3d's option names.

    ``optim = true`` selects ``optim``, else ``ransac = true`` selects
    ``robust``, else ``dlt`` with the ``anipose`` formulation (aniposelib's
    DLT); a missing ``score_threshold`` is anipose's default, 0.8. ``axes`` and ``reference_point`` belong to the
    alignment step (``mocap3d export --align``), not to triangulation.
    """
    out: dict[str, Any] = {}
    unknown = []
    for key, value in table.items():
        if key in _ANIPOSE_RENAMES:
            out[_ANIPOSE_RENAMES[key]] = value
        elif key in _ANIPOSE_SAME:
            out[key] = value
        elif key not in _ANIPOSE_IGNORED:
            unknown.append(key)
    if unknown:
        raise MocapError(f"{source}: anipose [triangulation] option(s) {', '.join(sorted(unknown))} are not supported.")
    out["method"] = "optim" if table.get("optim") else "robust" if table.get("ransac") else "dlt"
    out.setdefault("score_threshold", 0.8)  # anipose's default when its config leaves it out
    if out["method"] == "dlt":  # anipose's plain triangulation: aniposelib's DLT, no depth check
        out.update(formulation="anipose", check_depth=False, weighted=False)
    for key in ("constraints", "constraints_weak"):
        if key in out:
            out[key] = tuple(tuple(pair) for pair in out[key])
    return out


#: Named parameter sets. ``pose2sim`` reproduces Pose2Sim's default
#: triangulation (Config.toml [triangulation]) bit for bit.
PRESETS: dict[str, TriangulationConfig] = {
    "default": TriangulationConfig(),
    "pose2sim": TriangulationConfig(
        method="robust", score_threshold=0.3, reproj_threshold=15.0, min_cameras=2, undistort=False, check_depth=False
    ),
    # anipose's triangulate with its default config (ransac = false, optim = false, score_threshold = 0.8):
    # aniposelib's DLT, its results to float64 rounding (see the formulation option)
    "anipose": TriangulationConfig(method="dlt", formulation="anipose", score_threshold=0.8, min_cameras=2,
                                   weighted=False, check_depth=False),
}
