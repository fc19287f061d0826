"""``mocap3d overlay``: 2D detections vs reprojected 3D points on a camera's video, and an error summary."""

from __future__ import annotations

from pathlib import Path

import click

from ._params import FPS, overwrite_option


@click.command("overlay")
@click.argument("pose2d", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--calibration", "-c", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="calibration.toml of the rig.")
@click.option("--poses3d", "-p", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The 3D reconstruction (.csv, .h5, .trc, .c3d, .nc).")
@click.option("--camera", default=None, help="Camera to draw (default: the first with 2D poses).")
@click.option("--video", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="That camera's video (default: a blank background).")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Overlay .mp4 (all frames) or .png (--frame).")
@click.option("--frame", type=click.IntRange(min=0), default=None, help="Only this frame (for a .png).")
@click.option("--side-by-side", is_flag=True, default=False, help="Detections and reprojections in two panels.")
@click.option("--summary", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a PNG of reprojection errors per camera and body part over time (+ a .csv table).")
@click.option("--fps", type=FPS, default=None, help="Frame rate of the 2D files when they carry none.")
@overwrite_option("Replace the overlay and summary files if they exist.")
def command(pose2d, calibration, poses3d, camera, video, out, frame, side_by_side, summary, fps, overwrite) -> None:
    """Draw 2D detections and reprojected 3D points to see where a camera or a body part went wrong.

    \b
    Examples:
      mocap3d overlay -c calibration.toml -p pose-3d/walk.csv --camera cam1 --video videos/cam1.mp4 \\
          --out cam1-overlay.mp4 pose-2d/*.h5
      mocap3d overlay -c calibration.toml -p walk.csv --camera cam2 --frame 100 --out cam2.png pose-2d/*.h5
      mocap3d overlay -c calibration.toml -p walk.csv --summary errors.png pose-2d/*.h5
    """
    from ..errors import MocapError
    from ..io.calibration import load_calibration
    from ..io.exports import load_any_poses3d
    from ..io.matching import load_views
    from ..io.outputs import check_output
    from ..viz.overlay import OverlayConfig, write_overlay_image, write_overlay_video, write_reprojection_summary

    if out is None and summary is None:
        raise MocapError("nothing to do: pass --out (overlay image/movie) and/or --summary (error plot).")
    inputs = [*pose2d, calibration, poses3d, *([video] if video else [])]
    if out is not None:
        check_output(out, inputs, overwrite=overwrite, kinds=["video", "image"])
    if summary is not None:
        check_output(summary, inputs, overwrite=overwrite, kinds=["image"], option="--summary")
        check_output(summary.with_suffix(".csv"), inputs, overwrite=overwrite, kinds=["table"], option="--summary")
    rig = load_calibration(calibration)
    poses = load_any_poses3d(poses3d)
    p2d = load_views(list(pose2d), rig.names, keypoints=None, fps=fps)
    config = OverlayConfig(layout="side_by_side" if side_by_side else "overlay")
    camera = camera or p2d.views[0]
    if out is not None:
        if out.suffix.lower() == ".png" or frame is not None:
            write_overlay_image(p2d, poses, rig, camera, out, frame=frame or 0, video=video, config=config)
        else:
            write_overlay_video(p2d, poses, rig, camera, out, video=video, config=config)
        click.echo(f"wrote {out} ({camera})")
    if summary is not None:
        table = write_reprojection_summary(p2d, poses, rig, summary)
        click.echo(f"wrote {summary} and {summary.with_suffix('.csv')}")
        for name, value in table["all"].items():
            click.echo(f"  {name}: median reprojection error {value:.2f} px")
