"""The file-level job behind ``mocap3d triangulate``: files in, one file out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import MocapError
from ..io.calibration import load_calibration_with_metadata, output_units
from ..io.matching import InputMatching, load_tracks
from ..io.pose3d import save_h5, save_poses3d
from ..poses import Poses2D, Poses3D, finite_points
from .config import TriangulationConfig
from .core import triangulate

if TYPE_CHECKING:
    from ..camera import CameraRig
    from ..filters import FilterPipeline

__all__ = ["triangulate_files", "solve", "write_output", "TriangulationSummary", "OUTPUT_FORMATS"]

log = logging.getLogger(__name__)

OUTPUT_FORMATS = {".csv": "anipose CSV", ".h5": "mocap3d HDF5", ".trc": "OpenSim TRC"}


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


def summarize(poses: Poses3D, out: Path) -> TriangulationSummary:
    ok = finite_points(poses.points)
    used = poses.cameras_used[ok]
    return TriangulationSummary(
        out=out,
        n_frames=poses.n_frames,
        keypoints=poses.keypoints,
        views=poses.views,
        triangulated=float(ok.mean()) if ok.size else 0.0,
        median_error=float(np.nanmedian(poses.error[ok])) if ok.any() else float("nan"),
        camera_use={v: float(used[:, i].mean()) if len(used) else 0.0 for i, v in enumerate(poses.views)},
    )


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
    check_tracks: Callable | None = None,
    matching: InputMatching | None = None,
) -> tuple[Poses3D, TriangulationSummary]:
    """Triangulate one recording's 2D files with a calibration and write the result.

    Parameters
    ----------
    calibration : anipose/Pose2Sim/caliscope calibration file.
    pose_files : one 2D file (or OpenPose JSON folder) per camera; cameras are
        matched by name (see :func:`mocap3d.io.matching.match_files_to_cameras`).
    out : output path; ``.csv`` anipose CSV, ``.h5`` HDF5 (with the
        calibration), ``.trc`` OpenSim TRC (needs ``fps``).
    units : the calibration's length unit, recorded in the output (``mm`` for
        board-calibrated rigs, ``m`` for Pose2Sim/caliscope files).
    keypoints : body parts to keep (default: those common to all files).
    trc_yup : TRC output turned into OpenSim's Y-up frame from a Z-up world
        (as Pose2Sim writes it).
    filters : 2D steps run on each camera's detections before triangulation,
        3D steps on the result (see :mod:`mocap3d.filters`); recorded in the
        output's metadata.
    check_tracks : called as ``check_tracks(tracks, rig, keypoints)`` with
        every camera's :class:`~mocap3d.poses.Track2D` before one individual
        is taken; the CLI passes :func:`mocap3d.multi.run.check_identities`,
        which refuses files whose individuals' labels disagree between cameras.
    matching : which file is which camera (``cam_regex``) and which individual
        of multi-animal files is used (default: names as tokens, the first).

    The output is written atomically; inputs are only read.
    """
    config = config or TriangulationConfig()
    matching = matching or InputMatching()
    out = Path(out)
    if out.suffix.lower() not in OUTPUT_FORMATS:
        known = ", ".join(f"{k} ({v})" for k, v in OUTPUT_FORMATS.items())
        raise MocapError(f"cannot tell the output format from '{out.name}'; end --out with one of: {known}.")
    inputs = [Path(p).resolve() for p in pose_files]
    if out.resolve() in inputs or out.resolve() == Path(calibration).resolve():
        raise MocapError(f"--out '{out}' is one of the inputs; choose another output path (inputs are never modified).")
    rig, calibration_metadata = load_calibration_with_metadata(calibration)
    units = output_units(units, calibration_metadata, calibration, out)
    tracks = load_tracks(pose_files, rig.names, cam_regex=matching.cam_regex, keypoint_preset=keypoint_preset)
    if check_tracks is not None and len(tracks) >= 2:
        check_tracks(tracks, rig, keypoints)
    poses2d = Poses2D.from_tracks(tracks, individual=matching.individual, keypoints=keypoints, fps=fps)
    if len(poses2d.views) < 2:
        raise MocapError(
            f"only {len(poses2d.views)} of the given files matched a calibration camera ({', '.join(poses2d.views)}); "
            "triangulation needs two or more cameras."
        )
    poses3d = solve(poses2d, rig, config, filters=filters, fps=fps)
    poses3d.metadata.update(
        {
            "calibration": str(Path(calibration).resolve()),
            "inputs": {v: str(s) for v, s in zip(poses2d.views, poses2d.sources, strict=False)},
        }
    )
    if units:
        poses3d.metadata["units"] = units
    write_output(poses3d, out, rig.select(poses2d.views), units=units, fps=fps, trc_yup=trc_yup)
    summary = summarize(poses3d, out)
    log.info("; ".join(summary.lines()))
    return poses3d, summary


def solve(poses2d: Poses2D, rig: CameraRig, config: TriangulationConfig,
          filters: FilterPipeline | None = None, fps: float | None = None) -> Poses3D:  # fmt: skip
    """The triangulation job on aligned 2D points: 2D filters, the solver, 3D filters (recorded in the metadata).

    Shared by :func:`triangulate_files` (the command) and the project pipeline's triangulate stage.
    """
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
