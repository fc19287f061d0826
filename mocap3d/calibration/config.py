"""Settings of the calibration solver, with every default in one place.

:class:`CalibrationConfig` is a frozen dataclass; numerical functions take
explicit arguments and only :func:`~mocap3d.calibration.pipeline.calibrate`
reads the config. It loads from TOML (``[calibration]`` table or top level)::

    distortion = "k1k2p1p2"
    refine_intrinsics = true
    origin_frame = 120

Named presets are in :data:`PRESETS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..config import Config
from ..errors import CalibrationError, MocapError

__all__ = ["CalibrationConfig", "DISTORTION_MODELS", "PRESETS"]

#: Pinhole lens models: which of OpenCV's (k1, k2, p1, p2, k3) are estimated.
DISTORTION_MODELS: dict[str, tuple[bool, bool, bool, bool, bool]] = {
    "none": (False, False, False, False, False),
    "k1": (True, False, False, False, False),
    "k1k2": (True, True, False, False, False),
    "k1k2p1p2": (True, True, True, True, False),
    "full": (True, True, True, True, True),
}


@dataclass(frozen=True)
class CalibrationConfig(Config):
    """Every setting of :func:`~mocap3d.calibration.pipeline.calibrate`.

    Attributes
    ----------
    distortion : str
        Pinhole lens model, one of :data:`DISTORTION_MODELS` (ignored for fisheye).
    fisheye : bool
        Use OpenCV's fisheye model (k1..k4) for every camera.
    intrinsics_file : str or None
        A calibration file (anipose, Pose2Sim or caliscope ``camera_array.toml``)
        whose intrinsics are used as they are; cameras are matched by name.
    max_intrinsic_views : int
        Cap on the views given to ``cv2.calibrateCamera`` per camera (chosen to
        cover the image and vary the board's tilt); keeps intrinsics fast.
    coverage_grid : (int, int)
        Cells across and down the image used to judge coverage.
    min_corners : int
        Fewest corners for a view to count (ChArUco views are often partial).
    min_views : int
        Fewest usable views per camera; fewer is an error that says so.
    refine_intrinsics : bool
        Let bundle adjustment refine focal lengths, principal points and the
        distortion terms of the lens model (never with fixed intrinsics).
    solver : str
        ``"lm"``: mocap3d's Levenberg-Marquardt with a Schur complement on the
        camera block (default; exact, fast); ``"scipy"``: ``least_squares``
        (trf, lsmr, ``x_scale='jac'``) on the same analytic sparse Jacobian,
        which on a 4-camera rig needed ~40x longer and stopped on its
        evaluation cap (see ``test_bundle_adjustment_solvers_agree``).
    loss, f_scale_px : str, float
        Robust loss of ``scipy.optimize.least_squares`` and its scale (px).
    outlier_factors : tuple of float
        Bundle adjustment first fits every observation under the robust loss;
        then, for each factor, observations whose error exceeds
        ``max(factor * median, outlier_floor_px)`` are dropped and it fits
        again, so the threshold tightens round after round.
    outlier_floor_px : float
        Never drop observations below this error (px).
    max_nfev : int
        Cap on function evaluations per bundle-adjustment round.
    ftol : float
        Relative cost change at which a round stops.
    max_median_error_px : float
        A final median reprojection error above this means the solution did not
        converge (an error is raised).
    max_outlier_fraction, max_gross_fraction : float
        A camera that does not agree with the others (unsynchronised video,
        wrong board) is an error: when more than ``max_outlier_fraction`` of its
        corners were dropped as outliers, or more than ``max_gross_fraction``
        are grossly wrong (error above ``max(gross_error_factor * median,
        gross_error_px)``).
    gross_error_factor, gross_error_px : float
        What counts as grossly wrong for that check.
    origin_frame : int or None
        Video frame index whose board placement defines the world: origin at
        the origin of the board's coordinates (``board.object_points()``), x
        along the board's x axis, z out of the printed face (up, for a board
        lying face up on the floor), y = z x x. None: the first camera's frame.
    """

    distortion: str = "k1k2p1p2"
    fisheye: bool = False
    intrinsics_file: str | None = None
    max_intrinsic_views: int = 40
    coverage_grid: tuple[int, int] = (8, 6)
    min_corners: int = 6
    min_views: int = 4
    refine_intrinsics: bool = True
    solver: str = "lm"
    loss: str = "soft_l1"
    f_scale_px: float = 1.0
    outlier_factors: tuple[float, ...] = field(default=(5.0, 3.0))
    outlier_floor_px: float = 1.0
    max_nfev: int = 100
    ftol: float = 1e-8
    max_median_error_px: float = 5.0
    max_outlier_fraction: float = 0.5
    max_gross_fraction: float = 0.25
    gross_error_factor: float = 10.0
    gross_error_px: float = 3.0
    origin_frame: int | None = None

    section: ClassVar[str] = "calibration"
    what: ClassVar[str] = "calibration setting"
    error: ClassVar[type[MocapError]] = CalibrationError

    @classmethod
    def presets(cls) -> Mapping[str, CalibrationConfig]:
        return PRESETS

    def __post_init__(self) -> None:
        if self.distortion not in DISTORTION_MODELS:
            raise CalibrationError(
                f"unknown distortion model '{self.distortion}'; use one of: {', '.join(DISTORTION_MODELS)}."
            )
        if self.solver not in ("lm", "scipy"):
            raise CalibrationError(f"unknown bundle-adjustment solver '{self.solver}'; use lm or scipy.")
        if self.loss not in ("linear", "soft_l1", "huber", "cauchy", "arctan"):
            raise CalibrationError(f"unknown loss '{self.loss}'; use linear, soft_l1, huber, cauchy or arctan.")
        if not self.outlier_factors:
            raise CalibrationError("outlier_factors must list at least one factor (one outlier threshold per round).")
        object.__setattr__(self, "coverage_grid", tuple(int(v) for v in self.coverage_grid))
        object.__setattr__(self, "outlier_factors", tuple(float(v) for v in self.outlier_factors))

    @property
    def distortion_mask(self) -> tuple[bool, bool, bool, bool, bool]:
        """Which of the 5 distortion slots are estimated (fisheye: k1..k4)."""
        if self.fisheye:
            return (True, True, True, True, False)
        return DISTORTION_MODELS[self.distortion]

    @classmethod
    def from_toml(cls, path: str | Path) -> CalibrationConfig:
        """Load from a TOML file (a ``[calibration]`` table, or settings at the top level)."""
        from ..io.settings import CONFIG_ARRAYS, CONFIG_TABLES, check_tables, read_toml

        path = Path(path)
        data = read_toml(path, "calibration settings", CalibrationError)
        if "calibration" in data:
            check_tables(data, CONFIG_TABLES, str(path), arrays=CONFIG_ARRAYS, error=CalibrationError)
        return cls.from_dict(dict(cls.table_of(data)), str(path))


#: Named presets (``--preset``).
PRESETS: dict[str, CalibrationConfig] = {
    "default": CalibrationConfig(),
    "simple-lens": CalibrationConfig(distortion="k1k2"),
    "full-lens": CalibrationConfig(distortion="full"),
    "fisheye": CalibrationConfig(fisheye=True),
    "fast": CalibrationConfig(max_intrinsic_views=20, outlier_factors=(3.0,), max_nfev=30),
}
