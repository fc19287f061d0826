"""``mocap3d triangulate``: 2D files of one recording + calibration -> 3D file."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import click_options
from ..triangulation.config import LOSSES, METHODS, PRESETS, TriangulationConfig
from ._params import FPS, overwrite_option


def _individual(text: str) -> str | int:
    return int(text) if text.isdigit() else text


_INDIVIDUAL = click.types.FuncParamType(_individual)


@click.command("triangulate")
@click.option("--calibration", "-c", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Calibration file (anipose calibration.toml, Pose2Sim or caliscope).")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output: .csv (anipose), .h5 (HDF5 with calibration) or .trc (OpenSim).")
@click.option("--method", "-m", type=click.Choice(METHODS), default=None,
              help="dlt: weighted DLT; robust (alias ransac): best camera subset per point; optim: all frames at "
                   "once (reprojection + smoothness + limb lengths), started from robust.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="TOML file with a [triangulation] table and optional [[filter2d]]/[[filter3d]] steps.")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=None, help="Named parameter set.")
@click.option("--no-undistort", is_flag=True, default=False, help="Triangulate distorted pixels (Pose2Sim default).")
@click.option("--cam-regex", default=None, help="Regex whose first group is the camera name in a file name.")
@click.option("--individual", default=None, type=_INDIVIDUAL, help="Individual (name or index) of multi-animal files.")
@click.option("--individuals", default=None,
              help="'all', or the number of individuals: associate the detections of several animals or people "
                   "across cameras and over time (file labels not trusted) and triangulate each one; .nc/.h5 hold "
                   "them all, other formats get one file per individual (out_individual_0.trc...).")
@click.option("--keypoint-preset", default=None, help="Names of OpenPose JSON keypoints (BODY_25B, BODY_25...).")
@click.option("--fps", type=FPS, default=None, help="Frame rate (needed for .trc output).")
@click.option("--keypoints", default=None, help="Comma-separated body parts to keep (default: all in common).")
@click.option("--trc-zup", is_flag=True, default=False,
              help="Write TRC in the calibration's frame (default: OpenSim's Y-up turn of a Z-up world).")
@click.option("--units", default=None, help="Length unit of the calibration, recorded in the output (mm, m).")
@click.option("--constraints", default=None,
              help="optim: rigid segments as comma-separated pairs, e.g. l_hip-l_knee,l_knee-l_ankle.")
@click.option("--constraints-weak", default=None, help="optim: roughly rigid segments, same syntax.")
@click_options(
    TriangulationConfig,
    {
        "score_threshold": "Ignore 2D points scored below this.",
        "min_cameras": "Fewest cameras per point (>= 2).",
        "reproj_threshold": "Robust mode: accepted reprojection error (px).",
        "scale_smooth": "optim: weight of smoothness (unitless).",
        "scale_length": "optim: weight of rigid segments.",
        "scale_length_weak": "optim: weight of weak segments.",
        "n_deriv_smooth": "optim: derivative kept small (1-4).",
        "reproj_loss": "optim: robust loss.",
        "reproj_loss_scale": "optim: robust loss threshold (px).",
        "outlier_threshold": "optim: drop observations this far (px) from the converged solution (0: keep all).",
        "max_gap": "optim: longest run of unseen frames bridged.",
        "chunk_frames": "optim: frames per chunk (default: all at once).",
    },
    choices={"reproj_loss": LOSSES},
)  # the defaults shown are TriangulationConfig's, the one place they are written
@overwrite_option("Replace the output if it exists.")
@click.argument("pose2d", nargs=-1, required=True, type=click.Path(exists=False, path_type=Path))
def command(
    calibration, out, method, config_path, preset, no_undistort, cam_regex, individual, individuals, keypoint_preset,
    fps, keypoints, trc_zup, units, constraints, constraints_weak, overwrite, pose2d, **solver,
) -> None:  # fmt: skip
    """Triangulate one recording's 2D keypoints (one file per camera) into 3D.

    Files are matched to calibration cameras by name: 'cam-A.h5', 'session1_A.h5' or a folder 'A/' go to camera A
    (or use --cam-regex). DeepLabCut .h5/.csv, SLEAP analysis .h5 and OpenPose/RTMPose JSON folders are read.

    \b
    Examples:
      mocap3d triangulate -c calibration.toml -o pose3d.csv pose-2d/*.h5
      mocap3d triangulate -c Calib.toml --preset pose2sim --keypoint-preset BODY_25B \\
          --fps 60 -o trial.trc pose-associated/cam*_json
      mocap3d triangulate -c calibration.toml -o pose3d.h5 --method optim \\
          --constraints l_hip-l_knee,l_knee-l_ankle,r_hip-r_knee,r_knee-r_ankle pose-2d/*.h5
    """
    from ..io.matching import InputMatching
    from ..io.outputs import check_output
    from ..triangulation.triangulate_stage import TriangulateInputs, TriangulateStageConfig, run

    matching = InputMatching.from_toml(config_path) if config_path else InputMatching()
    if individuals is None and individual is None and matching.individuals is not None:
        individuals = str(matching.individuals)  # the config file's [triangulation] individuals
    n_individuals = _individuals(individuals)
    if individuals is not None and individual is not None:
        raise click.BadParameter("--individual picks one individual of identity-consistent files and --individuals "
                                 "associates them all; pass only one of them.", param_hint="--individual")  # fmt: skip
    if individuals is None or out.suffix.lower() in (".nc", ".netcdf", ".h5", ".hdf5"):
        # one output file; per-individual files are checked once their names are known
        check_output(out, [calibration, *pose2d, *([config_path] if config_path else [])], overwrite=overwrite,
                     kinds=["pose3d"])  # fmt: skip
    base = TriangulationConfig.from_toml(config_path).to_dict() if config_path else {}
    filters = None
    if config_path:
        from ..filters import FilterPipeline  # scipy.signal: loaded only when a config file may hold filters
        from ..io.settings import read_toml

        filters = FilterPipeline.from_dict(read_toml(config_path, "config file"))
    overrides = {
        **solver, "preset": preset, "method": method, "undistort": False if no_undistort else None,
        "constraints": _pairs(constraints), "constraints_weak": _pairs(constraints_weak),
    }  # fmt: skip
    if preset:
        base = {}  # a preset on the command line replaces the file's values, then options refine it
    base.update({k: v for k, v in overrides.items() if v is not None})
    given = {"cam_regex": cam_regex, "individual": individual}
    matching = matching.replace(**{k: v for k, v in given.items() if v is not None},
                                individuals=None if individuals is None else (n_individuals or "all"))  # fmt: skip
    config = TriangulateStageConfig(
        triangulation=TriangulationConfig.from_dict(base, "command line"), matching=matching,
        filters=None if individuals is not None else filters, keypoint_preset=keypoint_preset, fps=fps, units=units,
        keypoints=tuple(keypoints.split(",")) if keypoints else None, trc_yup=not trc_zup,
    )  # fmt: skip
    run(config, TriangulateInputs(calibration, tuple(pose2d)), out, overwrite=overwrite, report=click.echo)


def _individuals(text: str | None) -> int | None:
    """``--individuals``: ``all`` -> None (as many as found), a positive number -> that many."""
    if text is None or text.strip().lower() == "all":
        return None
    if text.strip().isdigit() and int(text) >= 1:
        return int(text)
    raise click.BadParameter(f"'{text}' is neither 'all' nor a positive number of individuals.",
                             param_hint="--individuals")  # fmt: skip


def _pairs(text: str | None) -> list[str] | None:
    """``"a-b,c-d"`` -> ``["a-b", "c-d"]`` (split into pairs and checked by the config)."""
    if text is None:
        return None
    return [item.strip() for item in text.split(",") if item.strip()]
