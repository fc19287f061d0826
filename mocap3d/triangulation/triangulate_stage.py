"""The ``triangulate`` stage: one recording's 2D files + calibration -> its 3D file.

:func:`run` is the stage; ``mocap3d triangulate`` and the project pipeline's
triangulate stage both call it. It reads the calibration and each camera's 2D
file (shifted by the sync offsets when given), then dispatches on the
config: one individual goes through :func:`solve` (2D filters, the
frame-by-frame or spatiotemporal solver of :mod:`.core`, 3D filters); several
individuals (``matching.individuals``) through the association and tracking
of :mod:`.individuals`. :func:`write_output` is the one helper that builds the
output. :func:`triangulate_files` is the same job for Python callers that want
the poses back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import Config
from ..errors import MocapError, TriangulationError
from ..io.calibration import load_calibration_with_metadata, output_units
from ..io.matching import InputMatching, match_files_to_cameras
from ..io.outputs import check_output
from ..io.pose2d import load_track2d
from ..io.pose3d import save_h5, save_poses3d
from ..poses import Poses2D, Poses3D, Track2D, finite_points
from .config import TriangulationConfig
from .core import triangulate

if TYPE_CHECKING:
    from ..camera import CameraRig
    from ..filters import FilterPipeline

__all__ = ["TriangulateStageConfig", "TriangulateInputs", "run", "triangulate_files", "solve", "write_output",
           "summarize", "TriangulationSummary", "OUTPUT_FORMATS"]  # fmt: skip

log = logging.getLogger(__name__)

OUTPUT_FORMATS = {".csv": "anipose CSV", ".h5": "mocap3d HDF5", ".trc": "OpenSim TRC"}
#: Output suffixes with several individuals: one file for all (.nc, .h5), or one per individual.
INDIVIDUALS_FORMATS = (".nc", ".netcdf", ".h5", ".hdf5", ".trc", ".c3d", ".csv", ".nwb")


@dataclass(frozen=True)
class TriangulateStageConfig(Config):
    """Every setting of the triangulate stage.

    Attributes
    ----------
    triangulation : the solver's settings (``[triangulation]``).
    matching : which file is which camera, which individual of multi-animal
        files is used, or ``individuals`` to associate and triangulate them all.
    filters : 2D steps run on each camera before triangulation, 3D steps on the
        result (one individual); None: none.
    keypoint_preset : names of OpenPose JSON keypoints.
    fps : frame rate (TRC output, 3D filters in Hz).
    units : the calibration's length unit, recorded in the output (default: the calibration's).
    keypoints : body parts to keep (default: those common to all files).
    trc_yup : TRC output turned into OpenSim's Y-up frame from a Z-up world.
    check_identities : refuse files whose several individuals' labels disagree
        between cameras (one individual only; see :func:`.individuals.check_identities`).
    session : the project session the output belongs to: its metadata then
        records the session, the input paths relative to ``root`` and the sync
        offsets (None: absolute paths, as the command line records them).
    root : the folder the paths of a session's metadata are relative to.
    """

    triangulation: TriangulationConfig = field(default_factory=TriangulationConfig)
    matching: InputMatching = field(default_factory=InputMatching)
    filters: FilterPipeline | None = None
    keypoint_preset: str | None = None
    fps: float | None = None
    units: str | None = None
    keypoints: tuple[str, ...] | None = None
    trc_yup: bool = True
    check_identities: bool = True
    session: str | None = None
    root: Path | None = None


@dataclass(frozen=True)
class TriangulateInputs:
    """The files the triangulate stage reads: a calibration, one 2D file (or OpenPose folder) per camera, and
    optionally the sync offsets (``sync/offsets.toml``, see :mod:`mocap3d.sync`)."""

    calibration: Path
    pose2d: tuple[Path, ...]
    offsets: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "calibration", Path(self.calibration))
        object.__setattr__(self, "pose2d", tuple(Path(p) for p in self.pose2d))
        if self.offsets is not None:
            object.__setattr__(self, "offsets", Path(self.offsets))

    def paths(self) -> list[Path]:
        return [self.calibration, *self.pose2d, *([self.offsets] if self.offsets else [])]


@dataclass(frozen=True)
class TriangulationSummary:
    """What a triangulation run did, for the CLI's report."""

    out: Path
    n_frames: int
    keypoints: tuple[str, ...]
    views: tuple[str, ...]
    triangulated: float  # fraction of (frame, keypoint) points
    median_error: float  # px
    camera_use: dict[str, float]  # fraction of triangulated points that used each camera

    def lines(self) -> list[str]:
        use = ", ".join(f"{k} {v:.0%}" for k, v in self.camera_use.items())
        return [
            f"triangulated {self.triangulated:.1%} of {self.n_frames} frames x {len(self.keypoints)} body parts "
            f"from {len(self.views)} cameras",
            f"median reprojection error {self.median_error:.2f} px; cameras used: {use}",
            f"wrote {self.out}",
        ]


def _median(values: np.ndarray) -> float:
    """The median of the finite values (NaN when none), as ``np.nanmedian`` gives it, without the import of
    ``numpy.ma`` that ``np.median`` makes (14 ms of a command's start-up)."""
    x = values[np.isfinite(values)]
    if not x.size:
        return float("nan")
    lo, hi = (x.size - 1) // 2, x.size // 2
    part = np.partition(x, [lo, hi])
    return float((part[lo] + part[hi]) / 2)


def summarize(poses: Poses3D, out: Path) -> TriangulationSummary:
    ok = finite_points(poses.points)
    n_ok = int(np.count_nonzero(ok))
    used = np.count_nonzero(poses.cameras_used & ok[..., None], axis=(0, 1))  # per view, without a gathered copy
    return TriangulationSummary(
        out=out,
        n_frames=poses.n_frames,
        keypoints=poses.keypoints,
        views=poses.views,
        triangulated=n_ok / ok.size if ok.size else 0.0,
        median_error=_median(poses.error[ok]),
        camera_use={v: float(used[i] / n_ok) if n_ok else 0.0 for i, v in enumerate(poses.views)},
    )


def run(config: TriangulateStageConfig, inputs: TriangulateInputs, out: str | Path, *, overwrite: bool = False,
        report: Callable[[str], Any] | None = None) -> Path:  # fmt: skip
    """Triangulate one recording's 2D files into ``out`` (format from its suffix); returns ``out``.

    One individual: ``.csv`` anipose CSV, ``.h5`` HDF5 (with the cameras
    used), ``.trc`` OpenSim TRC. Several (``config.matching.individuals``):
    ``.nc``/``.h5`` one file with every individual, ``.trc``/``.c3d``/``.csv``/``.nwb``
    one file per individual (``out_<individual>.trc``). An existing output is
    replaced only with ``overwrite``; an input never is. ``report`` is called
    with each line of the summary. Written atomically; inputs are only read.
    """
    out = Path(out)
    if config.matching.individuals is not None:
        _run_individuals(config, inputs, out, overwrite, report or _quiet)
        return out
    _, summary = _triangulate_one(config, inputs, out, overwrite)
    for line in summary.lines():
        (report or _quiet)(line)
    return out


def _quiet(line: str) -> None:
    log.info(line)


def _load(config: TriangulateStageConfig, inputs: TriangulateInputs, out: Path):
    """The rig, the output's units, every camera's tracks (shifted by the sync offsets) and the offsets."""
    rig, calibration_metadata = load_calibration_with_metadata(inputs.calibration)
    units = output_units(config.units, calibration_metadata, inputs.calibration, out)
    files = match_files_to_cameras(inputs.pose2d, rig.names, config.matching.cam_regex)
    tracks = {cam: load_track2d(p, keypoint_preset=config.keypoint_preset) for cam, p in files.items()}
    offsets: dict[str, int] = {}
    if inputs.offsets is not None:
        from ..sync.offsets import apply_offsets, load_offsets

        offsets = load_offsets(inputs.offsets)
        if offsets:
            tracks = apply_offsets(tracks, offsets)
    return rig, units, tracks, offsets, files


def _provenance(config: TriangulateStageConfig, inputs: TriangulateInputs, views: Sequence[str],
                sources: Sequence[Any], files: Mapping[str, Any], offsets: Mapping[str, int],
                units: str | None) -> dict[str, Any]:  # fmt: skip
    """What the output records about where it came from (its metadata)."""
    meta: dict[str, Any] = {}
    if config.session is not None:  # a project session: paths relative to the project, and the offsets
        root = config.root or Path.cwd()
        meta["session"] = config.session
        meta["calibration"] = inputs.calibration.relative_to(root).as_posix()
        meta["inputs"] = {v: Path(files[v]).relative_to(root).as_posix() for v in views}
        meta["sync_offsets"] = dict(offsets)
    else:
        meta["calibration"] = str(inputs.calibration.resolve())
        meta["inputs"] = {v: str(s) for v, s in zip(views, sources, strict=False)}
        if inputs.offsets is not None:
            meta["sync_offsets"] = dict(offsets)
    if units:
        meta["units"] = units
    return meta


def _triangulate_one(config: TriangulateStageConfig, inputs: TriangulateInputs, out: Path,
                     overwrite: bool) -> tuple[Poses3D, TriangulationSummary]:  # fmt: skip
    if out.suffix.lower() not in OUTPUT_FORMATS:
        known = ", ".join(f"{k} ({v})" for k, v in OUTPUT_FORMATS.items())
        raise MocapError(f"cannot tell the output format from '{out.name}'; end --out with one of: {known}.")
    if out.resolve() in [p.resolve() for p in inputs.paths()]:
        raise MocapError(f"--out '{out}' is one of the inputs; choose another output path (inputs are never modified).")
    check_output(out, inputs.paths(), overwrite=overwrite, kinds=["pose3d"])
    rig, units, tracks, offsets, files = _load(config, inputs, out)
    if config.check_identities and len(tracks) >= 2:
        _check_identities(tracks, rig, config.keypoints)
    poses2d = Poses2D.from_tracks(tracks, individual=config.matching.individual, keypoints=config.keypoints,
                                  fps=config.fps)  # fmt: skip
    if len(poses2d.views) < 2:
        raise MocapError(
            f"only {len(poses2d.views)} of the given files matched a calibration camera ({', '.join(poses2d.views)}); "
            "triangulation needs two or more cameras."
        )
    poses3d = solve(poses2d, rig, config.triangulation, filters=config.filters, fps=config.fps)
    poses3d.metadata.update(_provenance(config, inputs, poses2d.views, poses2d.sources, files, offsets, units))
    write_output(poses3d, out, rig.select(poses2d.views), units=units, fps=config.fps, trc_yup=config.trc_yup)
    summary = summarize(poses3d, out)
    log.info("; ".join(summary.lines()))
    return poses3d, summary


def _check_identities(tracks: dict[str, Track2D], rig: CameraRig, keypoints: Sequence[str] | None) -> None:
    """:func:`.individuals.check_identities`, imported only for files with several individuals (the
    association module's scipy.optimize costs more start-up than a whole single-animal run's reading)."""
    if any(t.points.shape[1] > 1 for t in tracks.values()):
        from .individuals import check_identities

        check_identities(tracks, rig, keypoints)


def _run_individuals(config: TriangulateStageConfig, inputs: TriangulateInputs, out: Path, overwrite: bool,
                     report: Callable[[str], Any]) -> list[Path]:  # fmt: skip
    """Several individuals: association across cameras, identities through time, each one triangulated."""
    from ..io.individuals import individual_paths, save_individuals
    from ..multi.detections import Detections
    from ..multi.tracking import TrackingConfig
    from .individuals import summary_lines, triangulate_individuals

    if out.suffix.lower() not in INDIVIDUALS_FORMATS:
        raise MocapError(f"cannot tell the output format from '{out.name}'; with --individuals end --out with .nc "
                         "(movement), .h5, or .trc/.c3d/.csv/.nwb (one file per individual).")  # fmt: skip
    rig, units, tracks, offsets, files = _load(config, inputs, out)
    if len(tracks) < 2:
        raise MocapError(f"only {len(tracks)} of the given files matched a calibration camera; "
                         "triangulation needs two or more cameras.")  # fmt: skip
    detections = Detections.from_tracks(tracks, keypoints=config.keypoints, fps=config.fps)
    tracking = TrackingConfig(n_individuals=config.matching.n_individuals)
    poses, result = triangulate_individuals(detections, rig, config.triangulation, tracking=tracking)
    if not poses:
        where = f"session {config.session}: " if config.session is not None else ""
        raise TriangulationError(f"{where}no individual could be triangulated: no detections agree between two "
                                 "cameras.")  # fmt: skip
    meta = _provenance(config, inputs, detections.views, detections.sources, files, offsets, units)
    for p in poses.values():
        p.metadata.update(meta)
    for target in sorted(set(individual_paths(out, list(poses)).values())):
        check_output(target, inputs.paths(), overwrite=overwrite, kinds=["pose3d"])
    written = save_individuals(poses, out, fps=config.fps, units=units, yup=config.trc_yup)
    for line in summary_lines(poses, result, written):
        report(line)
    return written


def triangulate_files(
    calibration: str | Path,
    pose_files: Sequence[str | Path],
    out: str | Path,
    config: TriangulationConfig | None = None,
    *,
    keypoint_preset: str | None = None,
    fps: float | None = None,
    units: str | None = None,
    keypoints: Sequence[str] | None = None,
    trc_yup: bool = True,
    filters: FilterPipeline | None = None,
    check_identities: bool = False,
    matching: InputMatching | None = None,
    overwrite: bool = True,
) -> tuple[Poses3D, TriangulationSummary]:
    """The triangulate stage's job for one individual, returning the poses and the summary (Python callers).

    The arguments are the fields of :class:`TriangulateStageConfig` (``config``
    is its ``triangulation``); see :func:`run`.
    """
    stage = TriangulateStageConfig(
        triangulation=config or TriangulationConfig(), matching=matching or InputMatching(), filters=filters,
        keypoint_preset=keypoint_preset, fps=fps, units=units, keypoints=tuple(keypoints) if keypoints else None,
        trc_yup=trc_yup, check_identities=check_identities,
    )  # fmt: skip
    return _triangulate_one(stage, TriangulateInputs(Path(calibration), tuple(Path(p) for p in pose_files)),
                            Path(out), overwrite)  # fmt: skip


def solve(poses2d: Poses2D, rig: CameraRig, config: TriangulationConfig,
          filters: FilterPipeline | None = None, fps: float | None = None) -> Poses3D:  # fmt: skip
    """The triangulation job on aligned 2D points: 2D filters, the solver, 3D filters (recorded in the metadata)."""
    if filters and filters.filter2d:
        from ..filters import apply_filters_2d  # scipy: loaded only when there are filters

        poses2d = apply_filters_2d(poses2d, filters.filter2d)
    poses3d = triangulate(poses2d, rig, config)
    if filters and filters.filter2d:
        poses3d.metadata["filters_2d"] = [step.describe() for step in filters.filter2d]
    if filters and filters.filter3d:
        from ..filters import apply_filters_3d

        poses3d = apply_filters_3d(poses3d, filters.filter3d, fps=fps)
    return poses3d


def write_output(poses3d: Poses3D, out: Path, rig: CameraRig, *, units: str | None = None,
                 fps: float | None = None, trc_yup: bool = True) -> Path:  # fmt: skip
    """Write a triangulation's result, the format from ``out``'s suffix (the one helper that builds the output).

    ``.h5`` keeps the cameras used (``rig``, already selected to the views) and the units; ``.trc`` needs a
    frame rate; anything else is anipose's CSV.
    """
    if out.suffix.lower() == ".h5":
        save_h5(poses3d, out, calibration=rig, units=units)
    elif out.suffix.lower() == ".trc":
        save_poses3d(poses3d, out, fps=fps or poses3d.fps, units=units, yup=trc_yup)
    else:
        save_poses3d(poses3d, out)
    return out
