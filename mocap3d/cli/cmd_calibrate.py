"""``mocap3d calibrate``: board videos -> anipose ``calibration.toml`` with a report."""

from __future__ import annotations

from pathlib import Path

import click

from ..calibration.config import DISTORTION_MODELS, PRESETS, CalibrationConfig
from ._params import overwrite_option


@click.command("calibrate")
@click.argument("videos", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--board", "board_path", required=True, type=click.Path(path_type=Path),
              help="Board TOML: mocap3d's, anipose's config.toml [calibration] or sleap-anipose's board.toml.")
@click.option("--out", "out", default=Path("calibration.toml"), show_default=True, type=click.Path(path_type=Path),
              help="Calibration file to write (anipose layout); the report and pictures go beside it.")
@click.option("--cameras", default=None, help="Camera names in the order of the videos, comma separated "
              "(default: from the file names, cam-A.mp4 -> A).")
@click.option("--config", "config_path", default=None, type=click.Path(exists=True, path_type=Path),
              help="TOML file with solver settings ([calibration] table); options below override it.")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=None, help="Named solver settings.")
@click.option("--distortion", type=click.Choice(list(DISTORTION_MODELS)), default=None,
              help="Pinhole lens terms to estimate [default: k1k2p1p2].")
@click.option("--fisheye", is_flag=True, default=False, help="Use OpenCV's fisheye lens model.")
@click.option("--intrinsics", "intrinsics_file", default=None, type=click.Path(exists=True, path_type=Path),
              help="Keep these intrinsics (anipose/Pose2Sim calibration.toml or caliscope camera_array.toml).")
@click.option("--fix-intrinsics-in-ba", is_flag=True, default=False,
              help="Do not refine intrinsics in bundle adjustment.")
@click.option("--origin-frame", type=click.IntRange(min=0), default=None,
              help="Video frame whose board placement defines the world (e.g. the board lying on the floor); "
              "default: the first camera.")
@click.option("--step", type=click.IntRange(min=1), default=None,
              help="Examine every STEP-th video frame first [default: 5].")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Cameras detected at once.")
@click.option("--cache", type=click.Path(path_type=Path), default=None,
              help="Detections cache [default: <out>_detections.npz]; a re-run with new solver settings reuses it.")
@click.option("--no-pictures", is_flag=True, default=False, help="Skip the report's PNG pictures.")
@overwrite_option("Replace an existing calibration, report and pictures.")
def command(videos, board_path, out, cameras, config_path, preset, distortion, fisheye, intrinsics_file,
            fix_intrinsics_in_ba, origin_frame, step, workers, cache, no_pictures, overwrite) -> None:
    """Calibrate cameras from synchronised videos (or image folders) of a board.

    \b
    Example:
      mocap3d calibrate --board board.toml --out calibration.toml \\
          videos/cam-A.mp4 videos/cam-B.mp4 videos/cam-C.mp4
      mocap3d calibrate --board board.toml --origin-frame 120 --distortion full videos/cam-*.mp4
    \b
    Writes calibration.toml, calibration_report.json and the pictures
    calibration_coverage.png, calibration_errors.png, calibration_rig.png (view pyramids) and
    calibration_physical.png (the board measured with the calibration, with a verdict).
    """
    from ..calibration.calibrate_stage import CalibrateInputs, CalibrateStageConfig, run
    from ..io.outputs import check_output

    inputs = [*videos, board_path, *(p for p in (config_path, intrinsics_file) if p)]
    check_output(out, inputs, overwrite=overwrite, kinds=["calibration"])  # the settings file is an input too
    if config_path and preset:
        raise click.UsageError("give either --config or --preset, not both.")
    config = CalibrationConfig.from_toml(config_path) if config_path else PRESETS[preset or "default"]
    changes = {}
    if distortion:
        changes["distortion"] = distortion
    if fisheye:
        changes["fisheye"] = True
    if intrinsics_file:
        changes["intrinsics_file"] = str(intrinsics_file)
    if fix_intrinsics_in_ba:
        changes["refine_intrinsics"] = False
    if origin_frame is not None:
        changes["origin_frame"] = origin_frame
    names = tuple(n.strip() for n in cameras.split(",")) if cameras else None
    stage = CalibrateStageConfig(calibration=config.replace(**changes), cameras=names, step=step, workers=workers,
                                 pictures=not no_pictures, cache=cache)  # fmt: skip
    run(stage, CalibrateInputs(board_path, tuple(videos)), out, overwrite=overwrite, report=click.echo)
